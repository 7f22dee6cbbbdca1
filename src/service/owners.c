/* owners.c: the objects rows own and the catalogue's object listing (see owners.h). */
#include "service/owners.h"

#include "store/regions.h"

static void own(GHashTable *set, const json_t *rows, const char *column) {
  size_t index;
  json_t *row;
  json_array_foreach(rows, index, row) {
    const char *value = json_string_value(json_object_get(row, column));
    if (value) g_hash_table_add(set, g_strdup(value));
  }
}

visor_code visor_owned_objects(visor_app *app, GHashTable **owned, json_t **regions_out,
                               visor_error *err) {
  *owned = NULL;
  if (regions_out) *regions_out = NULL;
  json_t *regions = NULL, *images = NULL;
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_code code = visor_region_all_keys(conn, &regions, err);
  if (code == VISOR_OK) code = visor_image_all_keys(conn, &images, err);
  visor_db_release(conn);
  if (code == VISOR_OK) {
    *owned = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    own(*owned, images, "object_key");
    own(*owned, regions, "crop_key");
  }
  if (code == VISOR_OK && regions_out)
    *regions_out = regions;
  else
    json_decref(regions);
  json_decref(images);
  return code;
}

visor_code visor_list_catalogue_objects(visor_app *app, visor_blob_list_fn fn, void *ctx,
                                        visor_error *err) {
  static const char *const prefixes[] = {"images/", "crops/"};
  visor_code code = VISOR_OK;
  for (size_t i = 0; code == VISOR_OK && i < sizeof prefixes / sizeof prefixes[0]; i++)
    code = visor_blob_list(app->blobs, prefixes[i], fn, ctx, err);
  return code;
}
