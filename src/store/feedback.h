/* feedback.h: what match feedback (service/feedback.h) reads and writes: a search's query
 * region with its stored embedding, and the negative references of products (query
 * embeddings an admin marked as a wrong match of that product), which ranking reads to
 * demote a product for queries close to one of them. */
#ifndef VISOR_STORE_FEEDBACK_H
#define VISOR_STORE_FEEDBACK_H

#include <jansson.h>

#include "store/db.h"

/* Query region `ordinal` of search_id: {ordinal, box_x, box_y, box_w, box_h, whole_image,
 * label, embedding (base64 float32, or null for searches made before it was stored)};
 * VISOR_ERR_NOT_FOUND when the search has no such region. */
visor_code visor_feedback_search_region(visor_db_conn *conn, const char *search_id, int ordinal,
                                        json_t **region, visor_error *err);

typedef struct visor_negative_record {
  const char *id;
  const char *product_id;
  const char *search_id; /* may be NULL */
  int query_ordinal;
  const char *model;     /* embedder name@version of the embedding */
  const char *embedding; /* base64 of the float32 vector */
} visor_negative_record;

visor_code visor_negative_insert(visor_db_conn *conn, const visor_negative_record *record,
                                 visor_error *err);
/* Soft-deletes (deleted = 1) or restores (0) one negative reference; VISOR_ERR_CONFLICT
 * when it is not in the other state (or does not exist). */
visor_code visor_negative_set_deleted(visor_db_conn *conn, const char *id, int deleted,
                                      visor_error *err);
/* Calls fn for every live negative reference of model among product_ids (count of them),
 * newest first per product. One query per 100 ids. */
typedef void (*visor_negative_fn)(void *ctx, const char *product_id, const char *embedding);
visor_code visor_negatives_of_products(visor_db_conn *conn, const char *model,
                                       const char *const *product_ids, size_t count,
                                       visor_negative_fn fn, void *ctx, visor_error *err);

#endif
