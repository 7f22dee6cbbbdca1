/* row_json.c: result-set rows as JSON objects (see row_json.h). */
#include "store/row_json.h"

#include <string.h>

#include "core/clock.h"

static int is_json_column(const char *name, const char *const *json_columns) {
  for (size_t i = 0; json_columns && json_columns[i]; i++)
    if (strcmp(json_columns[i], name) == 0) return 1;
  return 0;
}

static int is_time_column(const char *name) {
  size_t len = strlen(name);
  return len > 3 && strcmp(name + len - 3, "_at") == 0;
}

json_t *visor_row_to_json(const visor_db_rows *rows, size_t row, const char *const *json_columns) {
  json_t *object = json_object();
  for (size_t c = 0; object && c < rows->column_count; c++) {
    const char *name = rows->column_names[c];
    const visor_db_value *value = visor_db_cell(rows, row, c);
    json_t *item = NULL;
    switch (value->type) {
    case VISOR_DB_NULL:
      item = json_null();
      break;
    case VISOR_DB_INT:
      if (is_time_column(name)) {
        char when[32];
        visor_format_time(value->i, when);
        item = json_string(when);
      } else {
        item = json_integer(value->i);
      }
      break;
    case VISOR_DB_REAL:
      item = json_real(value->d);
      break;
    case VISOR_DB_TEXT:
      if (is_json_column(name, json_columns)) item = json_loads(value->s, JSON_DECODE_ANY, NULL);
      if (!item) item = json_string(value->s);
      break;
    }
    json_object_set_new(object, name, item ? item : json_null());
  }
  return object;
}

json_t *visor_rows_to_json(const visor_db_rows *rows, const char *const *json_columns) {
  json_t *array = json_array();
  for (size_t r = 0; array && r < rows->row_count; r++)
    json_array_append_new(array, visor_row_to_json(rows, r, json_columns));
  return array;
}

visor_code visor_select_by_id(visor_db_conn *conn, const char *sql, const char *id,
                              const char *what, const char *const *json_columns, json_t **out,
                              visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(id)};
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn, sql, params, 1, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  if (rows.row_count == 0)
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "%s %s not found", what, id);
  else
    *out = visor_row_to_json(&rows, 0, json_columns);
  visor_db_rows_free(&rows);
  return code;
}

visor_code visor_select_json(visor_db_conn *conn, const char *sql, const visor_db_value *params,
                             size_t param_count, const char *const *json_columns, json_t **out,
                             visor_error *err) {
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn, sql, params, param_count, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  *out = visor_rows_to_json(&rows, json_columns);
  visor_db_rows_free(&rows);
  return VISOR_OK;
}
