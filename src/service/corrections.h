/* corrections.h: the admin corrections service: relabel a region or make it the
 * product's primary one, delete a region, change a product, merge two products, move an
 * image to another product, and undo any of them. Each correction is applied in one
 * metadata transaction together with its audit entry (store/audit.h) and a "sync" task
 * (service/region_vectors.h) for the vectors it touches; after the commit this process
 * brings those vectors in line at once when it has the vector store (so search follows
 * before the answer), and the task repairs whatever that could not do. */
#ifndef VISOR_SERVICE_CORRECTIONS_H
#define VISOR_SERVICE_CORRECTIONS_H

#include <jansson.h>

#include "app/app.h"

typedef struct visor_correction_who {
  const char *actor;      /* token name, or "name/actor" */
  const char *request_id; /* may be NULL */
} visor_correction_who;

/* What a correction answers: *entry is its audit entry (store/audit.h shape) and job_id
 * the task that carries it into the vectors (a "sync" or "meta" job; "" when none). */
typedef struct visor_correction_result {
  json_t *entry;
  char job_id[40];
} visor_correction_result;

/* changes: validated {"label"?: string, "is_primary"?: bool, "box"?: {x, y, w, h}}, at
 * least one. Making a region primary unsets the product's other primary regions in the
 * same transaction. A new box (pixels of the original; VISOR_ERR_INVALID when it is empty
 * or outside the image) gets a new crop key and its region is embedded again by the queued
 * task (out->job_id), which replaces the vector under the same id. */
visor_code visor_correct_region(visor_app *app, const visor_correction_who *who,
                                const char *region_id, const json_t *changes,
                                visor_correction_result *out, visor_error *err);
/* Draws a new region on a live, indexed image of a live product: fields {"box", "label"?,
 * "is_primary"?} (validated shapes). The row (source admin) and the audit entry
 * ("region.create", subject the new region) commit together; the queued task embeds it.
 * NOT_FOUND for an unknown or deleted image, CONFLICT while it is not indexed yet,
 * INVALID for a bad box or a query image. Undo deletes the region and its vector. */
visor_code visor_create_region(visor_app *app, const visor_correction_who *who,
                               const char *image_id, const json_t *fields,
                               visor_correction_result *out, visor_error *err);
/* Soft-deletes the region; its vector leaves the index before this returns (when this
 * process has the vector store) and its crop object goes; undo embeds it again. */
visor_code visor_delete_region(visor_app *app, const visor_correction_who *who,
                               const char *region_id, visor_correction_result *out,
                               visor_error *err);
/* changes: validated product fields (the PATCH /products rules), through the catalogue
 * service's update (a "meta" job for category / labels). */
visor_code visor_correct_product(visor_app *app, const visor_correction_who *who,
                                 const char *product_id, const json_t *changes,
                                 visor_correction_result *out, visor_error *err);
/* Moves every live image of from_id (with its regions and their vectors) to survivor_id
 * and soft-deletes from_id. VISOR_ERR_INVALID when they are the same, NOT_FOUND when
 * either is unknown or deleted. */
visor_code visor_merge_products(visor_app *app, const visor_correction_who *who,
                                const char *survivor_id, const char *from_id,
                                visor_correction_result *out, visor_error *err);
/* Moves one live image (its regions and vectors) to the live product product_id. */
visor_code visor_move_image(visor_app *app, const visor_correction_who *who, const char *image_id,
                            const char *product_id, visor_correction_result *out, visor_error *err);
/* Applies the "before" of audit entry audit_id and records the undo as its own entry.
 * VISOR_ERR_CONFLICT (nothing changed) when it was undone already, is itself an undo, or
 * its subject changed since in a way the undo would overwrite. */
visor_code visor_undo_correction(visor_app *app, const visor_correction_who *who,
                                 const char *audit_id, visor_correction_result *out,
                                 visor_error *err);

void visor_correction_result_free(visor_correction_result *result);

#endif
