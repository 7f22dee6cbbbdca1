/* row_json.h: turns result-set rows into JSON objects for the API: INTEGER → integer,
 * REAL → real, TEXT → string, NULL → null; columns named *_at (Unix ms) → RFC 3339
 * strings; columns listed in json_columns (JSON kept as TEXT) → parsed JSON. */
#ifndef VISOR_STORE_ROW_JSON_H
#define VISOR_STORE_ROW_JSON_H

#include <jansson.h>

#include "store/db.h"

/* json_columns: NULL-terminated list of column names, or NULL. */
json_t *visor_row_to_json(const visor_db_rows *rows, size_t row, const char *const *json_columns);
json_t *visor_rows_to_json(const visor_db_rows *rows, const char *const *json_columns);

/* Runs sql, which takes one parameter, id, and returns its first row as JSON; none is
 * VISOR_ERR_NOT_FOUND "<what> <id> not found". */
visor_code visor_select_by_id(visor_db_conn *conn, const char *sql, const char *id,
                              const char *what, const char *const *json_columns, json_t **out,
                              visor_error *err);
/* Runs sql and returns every row, as a JSON array. */
visor_code visor_select_json(visor_db_conn *conn, const char *sql, const visor_db_value *params,
                             size_t param_count, const char *const *json_columns, json_t **out,
                             visor_error *err);

#endif
