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

#endif
