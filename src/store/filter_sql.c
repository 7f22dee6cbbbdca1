/* filter_sql.c: filter expressions in SQL (see filter_sql.h). SQL's own three-valued logic
 * gives the language's meaning: a missing field is NULL (an empty category too), every
 * comparison with NULL is unknown, and NOT unknown stays unknown. A label's value is read
 * from the labels JSON text with the dialect's JSON function, its key a parameter. */
#include "store/filter_sql.h"

#include <stdlib.h>
#include <string.h>

typedef struct builder {
  visor_strbuf *sql;
  visor_db_value *params;
  size_t count, capacity;
  int postgres;
  int failed;
} builder;

static void add_param(builder *b, visor_db_value value) {
  if (b->count == b->capacity) {
    size_t capacity = b->capacity ? b->capacity * 2 : 16;
    visor_db_value *grown = realloc(b->params, capacity * sizeof *grown);
    if (!grown) {
      b->failed = 1;
      return;
    }
    b->params = grown;
    b->capacity = capacity;
  }
  b->params[b->count++] = value;
}

static void emit(builder *b, const char *text) {
  visor_strbuf_append(b->sql, text, strlen(text));
}

static void emit_field(builder *b, const visor_filter_node *n) {
  switch (n->field) {
  case VISOR_FILTER_CATEGORY:
    emit(b, "NULLIF(p.category, '')");
    return;
  case VISOR_FILTER_PRICE:
    emit(b, "p.price");
    return;
  case VISOR_FILTER_SKU:
    emit(b, "p.sku");
    return;
  case VISOR_FILTER_NAME:
    emit(b, "p.name");
    return;
  case VISOR_FILTER_LABEL:
    emit(b, b->postgres ? "(p.labels::jsonb ->> ?)"
                        : "(SELECT j.value FROM json_each(p.labels) j WHERE j.key = ?)");
    add_param(b, VISOR_DB_S(n->label_key));
    return;
  }
}

static void emit_value(builder *b, const visor_filter_value *v) {
  emit(b, "?");
  add_param(b, v->text ? VISOR_DB_S(v->text) : VISOR_DB_D(v->number));
}

static void emit_node(builder *b, const visor_filter_node *n) {
  switch (n->kind) {
  case VISOR_FILTER_AND:
  case VISOR_FILTER_OR:
    emit(b, "(");
    for (size_t i = 0; i < n->child_count; i++) {
      if (i) emit(b, n->kind == VISOR_FILTER_AND ? " AND " : " OR ");
      emit_node(b, n->children[i]);
    }
    emit(b, ")");
    return;
  case VISOR_FILTER_NOT:
    emit(b, "(NOT ");
    emit_node(b, n->children[0]);
    emit(b, ")");
    return;
  case VISOR_FILTER_COMPARE: {
    static const char *const ops[] = {" = ", " <> ", " < ", " <= ", " > ", " >= "};
    emit(b, "(");
    emit_field(b, n);
    emit(b, ops[n->op]);
    emit_value(b, &n->values[0]);
    emit(b, ")");
    return;
  }
  case VISOR_FILTER_IN:
    emit(b, "(");
    emit_field(b, n);
    emit(b, n->negated ? " NOT IN (" : " IN (");
    for (size_t i = 0; i < n->value_count; i++) {
      if (i) emit(b, ", ");
      emit_value(b, &n->values[i]);
    }
    emit(b, "))");
    return;
  }
}

visor_code visor_filter_sql(const visor_filter_expr *expr, const char *dialect, visor_strbuf *sql,
                            visor_db_value **params, size_t *param_count, visor_error *err) {
  builder b = {.sql = sql,
               .params = *params,
               .count = *param_count,
               .capacity = *param_count,
               .postgres = dialect && strcmp(dialect, "postgres") == 0};
  emit_node(&b, expr->root);
  *params = b.params;
  *param_count = b.count;
  if (b.failed || sql->failed)
    return visor_error_set(err, VISOR_ERR_NOMEM, "filter: out of memory building the SQL");
  return VISOR_OK;
}
