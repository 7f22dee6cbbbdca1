/* correction_edit.h: how a correction is written, for the services that add corrections
 * of their own (service/feedback.c): an apply function reads its subject, checks it,
 * writes the change on the transaction's connection and fills the edit (its audit entry's
 * action, subject, before and after, and the regions whose vectors follow);
 * visor_correction_run wraps it in one transaction with the audit entry and the "sync"
 * task, and brings those vectors in line at once after the commit. */
#ifndef VISOR_SERVICE_CORRECTION_EDIT_H
#define VISOR_SERVICE_CORRECTION_EDIT_H

#include "service/corrections.h"

typedef struct visor_correction_edit {
  const char *actor;
  const char *action, *subject_kind; /* static strings */
  char subject_id[40];
  json_t *before, *after; /* owned */
  json_t *sync;           /* region ids whose vectors follow (owned) */
  json_t *reembed;        /* region ids whose box moved or was drawn: embedded again (owned) */
  json_t *drop_objects;   /* object keys no row names after the commit (owned) */
  int queued_elsewhere;   /* a "meta" job already carries the change (job_id) */
  char undo_of[40];
  char search_id[40]; /* a match feedback: the search it answers (takes it out of review) */
  char job_id[40];
} visor_correction_edit;

typedef visor_code (*visor_correction_apply_fn)(visor_app *app, visor_db_conn *conn,
                                                const void *args, visor_correction_edit *e,
                                                visor_error *err);

visor_code visor_correction_run(visor_app *app, const visor_correction_who *who,
                                visor_correction_apply_fn apply, const void *args,
                                visor_correction_result *out, visor_error *err);

#endif
