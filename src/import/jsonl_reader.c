/* jsonl_reader.c: the JSON Lines catalogue format: one product object per line, with the
 * API's product fields and an "images" array of image references (paths or URLs). Blank
 * lines are skipped. */
#include <stdlib.h>
#include <string.h>

#include "import/readers.h"

static void read_line(visor_import_row *row, const char *text) {
  json_error_t json_err;
  json_t *object = json_loads(text, JSON_REJECT_DUPLICATES, &json_err);
  if (!json_is_object(object)) {
    visor_import_row_fail(row, object ? "not a JSON object" : "not JSON: %s", json_err.text);
    json_decref(object);
    return;
  }
  const char *sku = json_string_value(json_object_get(object, "sku"));
  row->sku = strdup(sku ? sku : "");
  json_t *images = json_incref(json_object_get(object, "images"));
  json_object_del(object, "images");
  char *problem = visor_import_check_fields(object);
  if (problem) {
    visor_import_row_fail(row, "%s", problem);
    free(problem);
  } else if (!json_is_array(images) || json_array_size(images) == 0) {
    visor_import_row_fail(row, images ? "images must be a non-empty array of paths or URLs"
                                      : "missing image");
  }
  size_t index;
  json_t *image;
  json_array_foreach(row->error ? NULL : images, index, image) {
    const char *ref = json_string_value(image);
    if (!ref || !*ref)
      visor_import_row_fail(row, "images[%zu] is not a path or URL", index);
    else if (!visor_import_row_add_image(row, ref))
      visor_import_row_fail(row, "out of memory");
  }
  json_decref(images);
  if (row->error)
    json_decref(object);
  else
    row->fields = object;
}

visor_code visor_import_read_jsonl(FILE *in, const char *path, visor_catalogue_file *file,
                                   visor_error *err) {
  (void)path;
  char *line = NULL;
  size_t capacity = 0;
  ssize_t len;
  long number = 0;
  visor_code code = VISOR_OK;
  while (code == VISOR_OK && (len = getline(&line, &capacity, in)) > 0) {
    number++;
    size_t start = number == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    if (strspn(line + start, " \t\r\n") == (size_t)len - start) continue;
    visor_import_row *row = visor_import_row_append(file, number);
    if (!row) {
      code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
      break;
    }
    read_line(row, line + start);
  }
  free(line);
  return code;
}
