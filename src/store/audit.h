/* audit.h: the audit trail of admin corrections (table audit_log): who did what to which
 * subject, the subject's state before and after (JSON), when, under which request, and
 * whether (and by which later entry) it was undone. */
#ifndef VISOR_STORE_AUDIT_H
#define VISOR_STORE_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "store/db.h"

typedef struct visor_audit_record {
  const char *id;
  const char *actor;
  const char *action;       /* e.g. "region.update", "product.merge", "undo" */
  const char *subject_kind; /* "region", "product", "image", "audit" */
  const char *subject_id;
  const json_t *before, *after;
  const char *request_id; /* may be NULL */
  const char *undo_of;    /* the entry an "undo" entry undoes, else NULL */
  const char *search_id;  /* the search a match feedback answers, else NULL */
} visor_audit_record;

visor_code visor_audit_insert(visor_db_conn *conn, const visor_audit_record *record,
                              visor_error *err);
/* {id, actor, action, subject_kind, subject_id, before, after, request_id, created_at,
 * undone_at, undone_by, undo_of}; VISOR_ERR_NOT_FOUND for an unknown id. */
visor_code visor_audit_get(visor_db_conn *conn, const char *id, json_t **entry, visor_error *err);

typedef enum visor_audit_undone_filter {
  VISOR_AUDIT_ANY = 0,
  VISOR_AUDIT_UNDONE,     /* only entries undone since */
  VISOR_AUDIT_NOT_UNDONE, /* only entries still in force */
} visor_audit_undone_filter;

typedef struct visor_audit_query {
  const char *action, *subject_id, *actor, *subject_kind; /* exact; NULL = any */
  visor_audit_undone_filter undone;
  int64_t limit, offset;
} visor_audit_query;

/* Newest first. */
visor_code visor_audit_list(visor_db_conn *conn, const visor_audit_query *query, json_t **items,
                            int64_t *total, visor_error *err);
/* Marks id undone by actor unless it already is (*marked = 0 then); the undo's own entry
 * names id in undo_of. */
visor_code visor_audit_mark_undone(visor_db_conn *conn, const char *id, const char *actor,
                                   int *marked, visor_error *err);

#endif
