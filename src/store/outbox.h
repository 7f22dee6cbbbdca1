/* outbox.h: the job outbox repository. A job's queue task is written here in the same
 * metadata transaction as the job row (and the business rows it is for); the relay
 * (jobs/outbox.h) later publishes each row to the queue backend and deletes it. */
#ifndef VISOR_STORE_OUTBOX_H
#define VISOR_STORE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

typedef struct visor_outbox_entry {
  char job_id[64];
  char kind[32];
  int64_t available_at; /* Unix ms: when the task should become ready */
} visor_outbox_entry;

visor_code visor_outbox_insert(visor_db_conn *conn, const char *job_id, const char *kind,
                               int64_t available_at, visor_error *err);
/* Up to max entries, oldest first; *count is how many. */
visor_code visor_outbox_pending(visor_db_conn *conn, visor_outbox_entry *entries, size_t max,
                                size_t *count, visor_error *err);
/* Removes job_id's entry (published, or its job was cancelled); missing is OK. */
visor_code visor_outbox_delete(visor_db_conn *conn, const char *job_id, visor_error *err);

#endif
