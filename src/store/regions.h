/* regions.h: regions (crops) of catalogue images: box, labels, crop object, vector id,
 * the model that made the vector, and whether the model or an admin set them. */
#ifndef VISOR_STORE_REGIONS_H
#define VISOR_STORE_REGIONS_H

#include <jansson.h>

#include "store/db.h"

/* A region's vector carries its product's labels and, when the region has a label, the
 * label "region_label=LABEL", so searches can filter on what is in the crop. */
#define VISOR_REGION_LABEL_KEY "region_label"

typedef struct visor_region_record {
  const char *id;
  const char *image_id;
  const char *product_id;
  double x, y, w, h;
  int whole_image;
  const char *label; /* best labeller label */
  double label_score;
  const char *labeller;       /* model name@version */
  const char *labels_json;    /* [{"name","score"}...] */
  const char *detector_label; /* NULL for the whole-image region */
  double detector_score;
  const char *source; /* "model" or "admin" */
  int is_primary;
  const char *crop_key;
  const char *vector_id;
  const char *model; /* embedder name@version */
} visor_region_record;

visor_code visor_region_insert(visor_db_conn *conn, const visor_region_record *region,
                               visor_error *err);
/* Ids and vector ids of an image's live regions (JSON array of {id, vector_id, crop_key}). */
visor_code visor_region_keys(visor_db_conn *conn, const char *image_id, json_t **keys,
                             visor_error *err);
/* Like visor_region_keys, deleted regions included (cleaning up after a deleted image). */
visor_code visor_region_keys_any(visor_db_conn *conn, const char *image_id, json_t **keys,
                                 visor_error *err);
/* live[i] = region ids[i] exists, is not deleted, and its product is not deleted; one
 * query per 100 ids. */
visor_code visor_regions_live(visor_db_conn *conn, const char *const *ids, size_t count, int *live,
                              visor_error *err);
/* Every live region's vector_id and crop_key, and every image's id and object_key
 * (deleted ones included: a soft-deleted image keeps its original), as JSON arrays of
 * objects, for consistency checks. */
/* The vector ids of product_id's live regions: a JSON array of
 * {"id","image_id","vector_id","whole_image","label"}. */
visor_code visor_region_vectors_of_product(visor_db_conn *conn, const char *product_id,
                                           json_t **regions, visor_error *err);
visor_code visor_region_all_keys(visor_db_conn *conn, json_t **regions, visor_error *err);
visor_code visor_image_all_keys(visor_db_conn *conn, json_t **images, visor_error *err);
visor_code visor_region_soft_delete_for_image(visor_db_conn *conn, const char *image_id,
                                              visor_error *err);
visor_code visor_region_delete_for_image(visor_db_conn *conn, const char *image_id,
                                         visor_error *err);
/* API shapes: box as {x,y,w,h}, booleans, labels parsed (the API adds crop_url). */
visor_code visor_region_list(visor_db_conn *conn, const char *image_id, json_t **regions,
                             visor_error *err);
visor_code visor_region_get(visor_db_conn *conn, const char *id, json_t **region, visor_error *err);

#endif
