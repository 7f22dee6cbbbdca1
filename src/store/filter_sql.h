/* filter_sql.h: a filter expression (core/filter_expr.h) as a parameterised SQL condition
 * over the products table (alias p), for catalogue listings. Values are never written into
 * the SQL text: each becomes a `?` parameter. */
#ifndef VISOR_STORE_FILTER_SQL_H
#define VISOR_STORE_FILTER_SQL_H

#include <stddef.h>

#include "core/filter_expr.h"
#include "core/strbuf.h"
#include "store/db.h"

/* Appends the condition to sql and its parameters to params (which grows; the values
 * borrow expr's strings, so expr must outlive the statement). dialect is db->dialect. */
visor_code visor_filter_sql(const visor_filter_expr *expr, const char *dialect, visor_strbuf *sql,
                            visor_db_value **params, size_t *param_count, visor_error *err);

#endif
