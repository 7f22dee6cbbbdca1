/* job_stats.h: what the job dashboard reads from the jobs table: how many jobs there are
 * per (kind, status), how many finished in each of the last minutes, the job waiting
 * longest, and the failed jobs a bulk retry picks up. Times are Unix ms. */
#ifndef VISOR_STORE_JOB_STATS_H
#define VISOR_STORE_JOB_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

#define VISOR_JOB_STATS_MINUTES 15

typedef struct visor_job_count {
  char kind[32];
  char status[16];
  int64_t count;
} visor_job_count;

typedef struct visor_job_stats {
  visor_job_count *counts; /* sorted by kind, status; free with visor_job_stats_free */
  size_t count_len;
  /* done[i] / failed[i]: jobs that finished i minutes ago (0 = in the last 60 s) */
  int64_t done[VISOR_JOB_STATS_MINUTES];
  int64_t failed[VISOR_JOB_STATS_MINUTES];
  int has_oldest; /* a queued job exists */
  char oldest_id[40];
  char oldest_kind[32];
  int64_t oldest_since; /* when the oldest queued job was last queued (created or retried) */
} visor_job_stats;

visor_code visor_job_stats_get(visor_db_conn *conn, int64_t now, visor_job_stats *stats,
                               visor_error *err);
void visor_job_stats_free(visor_job_stats *stats);

typedef struct visor_job_ref {
  char id[40];
  char kind[32];
} visor_job_ref;

/* Up to limit failed jobs (of kind, or any when NULL), oldest failure first, into refs
 * (caller-owned, limit entries); *found is how many, *remaining how many failed jobs of
 * that kind are left beyond them. */
visor_code visor_job_failed_refs(visor_db_conn *conn, const char *kind, size_t limit,
                                 visor_job_ref *refs, size_t *found, int64_t *remaining,
                                 visor_error *err);

#endif
