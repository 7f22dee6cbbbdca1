/* feedback.h: match feedback, the admin correction that feeds back into ranking. An admin
 * marks one result of a query region as right ("confirm") or wrong ("reject"):
 * - confirm: the query region becomes a new reference region of the product: the query
 *   photo is stored as a new image of the product (status indexed, no index job) with one
 *   region, source "admin", whose box is the query region's; its vector is written through
 *   service/region_vectors.h (after the commit, and by the correction's "sync" task);
 * - reject: the query region's embedding is kept as a negative reference of the product,
 *   which ranking uses to demote it for queries close to it (pipeline/negatives.h).
 * Both are corrections (service/correction_edit.h): one transaction with their audit
 * entry (actions "match.confirm" / "match.reject", subject the product), undone through
 * visor_undo_correction (the reference image, region and vector go; the negative goes). */
#ifndef VISOR_SERVICE_FEEDBACK_H
#define VISOR_SERVICE_FEEDBACK_H

#include "image/image.h"
#include "service/correction_edit.h"

/* A query region to give feedback on. */
typedef struct visor_feedback_query {
  const char *search_id; /* the search it came from (recorded; NULL: not a stored search) */
  int ordinal;           /* its region in that search */
  const void *image;     /* confirm: the query photo's bytes */
  size_t image_len;
  visor_box box;          /* confirm: the region, in the photo's upright pixels */
  int whole_image;        /* confirm: the box is the whole photo */
  const char *label;      /* confirm: the region's label (may be NULL) */
  const float *embedding; /* reject: the region's query embedding (app->vectors->dim) */
} visor_feedback_query;

/* VISOR_ERR_NOT_FOUND when product_id is unknown or deleted (nothing stored then). */
visor_code visor_feedback_confirm(visor_app *app, const visor_correction_who *who,
                                  const char *product_id, const visor_feedback_query *query,
                                  visor_correction_result *out, visor_error *err);
visor_code visor_feedback_reject(visor_app *app, const visor_correction_who *who,
                                 const char *product_id, const visor_feedback_query *query,
                                 visor_correction_result *out, visor_error *err);

/* Feedback on region `ordinal` of a stored search: verdict "confirm" or "reject"
 * (VISOR_ERR_INVALID otherwise); VISOR_ERR_NOT_FOUND for an unknown search, region or
 * product; VISOR_ERR_CONFLICT when the search is not done (or, for reject, kept no
 * embedding: made before they were kept). Nothing changes on any error. */
visor_code visor_feedback_on_search(visor_app *app, const visor_correction_who *who,
                                    const char *search_id, int ordinal, const char *product_id,
                                    const char *verdict, visor_correction_result *out,
                                    visor_error *err);

/* For visor_undo_correction: whether action is one of these, and its undo (fills e). */
int visor_feedback_is_action(const char *action);
visor_code visor_feedback_undo(visor_app *app, visor_db_conn *conn, const json_t *entry,
                               visor_correction_edit *e, visor_error *err);

#endif
