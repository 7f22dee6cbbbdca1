/* consistency.c: the consistency check (see consistency.h). */
#include "service/consistency.h"

#include <glib.h>
#include <string.h>

#include "service/owners.h"

typedef struct check_state {
  GHashTable *object_owners; /* object keys rows name */
  GHashTable *vector_owners; /* vector ids of live regions */
  GHashTable *vectors_seen;  /* vector ids the store has */
  json_int_t objects, orphan_objects, vectors, orphan_vectors;
  json_t *orphan_object_examples, *orphan_vector_examples;
  size_t max_examples;
} check_state;

static int visit_object(void *ctx, const char *key, uint64_t size, int64_t modified_ms) {
  (void)size;
  (void)modified_ms;
  check_state *state = ctx;
  state->objects++;
  if (!g_hash_table_contains(state->object_owners, key)) {
    state->orphan_objects++;
    if (json_array_size(state->orphan_object_examples) < state->max_examples)
      json_array_append_new(state->orphan_object_examples, json_string(key));
  }
  return 0;
}

static int visit_vector(void *ctx, const char *id, const char *product_id) {
  (void)product_id;
  check_state *state = ctx;
  state->vectors++;
  g_hash_table_add(state->vectors_seen, g_strdup(id));
  if (!g_hash_table_contains(state->vector_owners, id)) {
    state->orphan_vectors++;
    if (json_array_size(state->orphan_vector_examples) < state->max_examples)
      json_array_append_new(state->orphan_vector_examples, json_string(id));
  }
  return 0;
}

visor_code visor_consistency_check(visor_app *app, size_t max_examples, json_t **report,
                                   size_t *problems, visor_error *err) {
  *report = NULL;
  *problems = 0;
  if (!app->vectors)
    return visor_error_set(err, VISOR_ERR_INVALID, "the check needs the vector store");
  json_t *regions = NULL;
  GHashTable *owned = NULL;
  visor_code code = visor_owned_objects(app, &owned, &regions, err);
  if (code != VISOR_OK) return code;
  check_state state = {.object_owners = owned,
                       .vector_owners =
                           g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
                       .vectors_seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
                       .orphan_object_examples = json_array(),
                       .orphan_vector_examples = json_array(),
                       .max_examples = max_examples};
  size_t index;
  json_t *row;
  json_array_foreach(regions, index, row) {
    const char *vector_id = json_string_value(json_object_get(row, "vector_id"));
    if (vector_id) g_hash_table_add(state.vector_owners, g_strdup(vector_id));
  }
  code = visor_list_catalogue_objects(app, visit_object, &state, err);
  if (code == VISOR_OK) code = app->vectors->ops->list(app->vectors, visit_vector, &state, err);
  json_int_t without_vector = 0;
  json_t *missing_examples = json_array();
  json_array_foreach(code == VISOR_OK ? regions : NULL, index, row) {
    const char *vector_id = json_string_value(json_object_get(row, "vector_id"));
    if (vector_id && g_hash_table_contains(state.vectors_seen, vector_id)) continue;
    without_vector++;
    if (json_array_size(missing_examples) < max_examples)
      json_array_append(missing_examples, json_object_get(row, "id"));
  }
  if (code == VISOR_OK) {
    *report =
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:{s:O, s:O, s:O}}", "objects", state.objects,
                  "orphan_objects", state.orphan_objects, "vectors", state.vectors,
                  "orphan_vectors", state.orphan_vectors, "regions",
                  (json_int_t)json_array_size(regions), "regions_without_vector", without_vector,
                  "examples", "orphan_objects", state.orphan_object_examples, "orphan_vectors",
                  state.orphan_vector_examples, "regions_without_vector", missing_examples);
    *problems = (size_t)(state.orphan_objects + state.orphan_vectors + without_vector);
  }
  json_decref(missing_examples);
  json_decref(state.orphan_object_examples);
  json_decref(state.orphan_vector_examples);
  g_hash_table_destroy(state.object_owners);
  g_hash_table_destroy(state.vector_owners);
  g_hash_table_destroy(state.vectors_seen);
  json_decref(regions);
  return code;
}
