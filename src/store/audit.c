/* audit.c: the audit trail repository (see audit.h). */
#include "store/audit.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/clock.h"
#include "store/row_json.h"

#define AUDIT_COLUMNS                                                                              \
  "id, actor, action, subject_kind, subject_id, before_value AS before, after_value AS after,"     \
  " request_id, created_at, undone_at, undone_by, undo_of"

static const char *const audit_json_columns[] = {"before", "after", NULL};

visor_code visor_audit_insert(visor_db_conn *conn, const visor_audit_record *r, visor_error *err) {
  char *before = json_dumps(r->before ? r->before : json_object(), JSON_COMPACT | JSON_SORT_KEYS);
  char *after = json_dumps(r->after ? r->after : json_object(), JSON_COMPACT | JSON_SORT_KEYS);
  visor_code code = VISOR_OK;
  if (!before || !after) {
    code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  } else {
    visor_db_value params[] = {
        VISOR_DB_S(r->id),           VISOR_DB_S(r->actor),      VISOR_DB_S(r->action),
        VISOR_DB_S(r->subject_kind), VISOR_DB_S(r->subject_id), VISOR_DB_S(before),
        VISOR_DB_S(after),           VISOR_DB_S(r->request_id), VISOR_DB_I(visor_now_ms()),
        VISOR_DB_S(r->undo_of),      VISOR_DB_S(r->search_id)};
    code = visor_db_exec(conn,
                         "INSERT INTO audit_log(id, actor, action, subject_kind, subject_id,"
                         " before_value, after_value, request_id, created_at, undo_of, search_id)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         params, 11, NULL, NULL, err);
  }
  free(before);
  free(after);
  return code;
}

visor_code visor_audit_get(visor_db_conn *conn, const char *id, json_t **entry, visor_error *err) {
  return visor_select_by_id(conn, "SELECT " AUDIT_COLUMNS " FROM audit_log WHERE id = ?", id,
                            "audit entry", audit_json_columns, entry, err);
}

visor_code visor_audit_list(visor_db_conn *conn, const visor_audit_query *q, json_t **items,
                            int64_t *total, visor_error *err) {
  const char *where = " FROM audit_log WHERE (? IS NULL OR action = ?)"
                      " AND (? IS NULL OR subject_id = ?)"
                      " AND (? IS NULL OR actor = ?)"
                      " AND (? IS NULL OR subject_kind = ?)"
                      " AND (? = 0 OR (? = 1 AND undone_at IS NOT NULL)"
                      " OR (? = 2 AND undone_at IS NULL))";
  int64_t undone = (int64_t)q->undone;
  visor_db_value params[] = {
      VISOR_DB_S(q->action),       VISOR_DB_S(q->action),       VISOR_DB_S(q->subject_id),
      VISOR_DB_S(q->subject_id),   VISOR_DB_S(q->actor),        VISOR_DB_S(q->actor),
      VISOR_DB_S(q->subject_kind), VISOR_DB_S(q->subject_kind), VISOR_DB_I(undone),
      VISOR_DB_I(undone),          VISOR_DB_I(undone),          VISOR_DB_I(q->limit),
      VISOR_DB_I(q->offset)};
  char sql[512];
  snprintf(sql, sizeof sql, "SELECT COUNT(*) AS n%s", where);
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn, sql, params, 11, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  *total = visor_db_int(&rows, 0, "n");
  visor_db_rows_free(&rows);
  snprintf(sql, sizeof sql,
           "SELECT " AUDIT_COLUMNS "%s ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?", where);
  return visor_select_json(conn, sql, params, 13, audit_json_columns, items, err);
}

visor_code visor_audit_mark_undone(visor_db_conn *conn, const char *id, const char *actor,
                                   int *marked, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_I(visor_now_ms()), VISOR_DB_S(actor), VISOR_DB_S(id)};
  int64_t changed = 0;
  visor_code code = visor_db_exec(conn,
                                  "UPDATE audit_log SET undone_at = ?, undone_by = ?"
                                  " WHERE id = ? AND undone_at IS NULL",
                                  params, 3, NULL, &changed, err);
  *marked = changed == 1;
  return code;
}
