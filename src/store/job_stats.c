/* job_stats.c: the job dashboard's reads of the jobs table (see job_stats.h). */
#include "store/job_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

visor_code visor_job_stats_get(visor_db_conn *conn, int64_t now, visor_job_stats *stats,
                               visor_error *err) {
  memset(stats, 0, sizeof *stats);
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn,
                                  "SELECT kind, status, COUNT(*) AS n FROM jobs"
                                  " GROUP BY kind, status ORDER BY kind, status",
                                  NULL, 0, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  if (rows.row_count && !(stats->counts = calloc(rows.row_count, sizeof *stats->counts))) {
    visor_db_rows_free(&rows);
    return visor_error_set(err, VISOR_ERR_NOMEM, "job stats: no memory for %zu counts",
                           rows.row_count);
  }
  for (size_t i = 0; i < rows.row_count; i++) {
    visor_job_count *c = &stats->counts[stats->count_len++];
    snprintf(c->kind, sizeof c->kind, "%s", visor_db_text(&rows, i, "kind") ?: "");
    snprintf(c->status, sizeof c->status, "%s", visor_db_text(&rows, i, "status") ?: "");
    c->count = visor_db_int(&rows, i, "n");
  }
  visor_db_rows_free(&rows);

  /* Minute buckets over the last VISOR_JOB_STATS_MINUTES (the jobs_finished index). */
  int64_t since = now - (int64_t)VISOR_JOB_STATS_MINUTES * 60000;
  visor_db_value params[] = {VISOR_DB_I(now), VISOR_DB_I(since), VISOR_DB_I(now)};
  code = visor_db_exec(conn,
                       "SELECT (? - finished_at) / 60000 AS minute, status, COUNT(*) AS n"
                       " FROM jobs WHERE finished_at > ? AND finished_at <= ?"
                       " AND status IN ('done', 'failed') GROUP BY 1, status",
                       params, 3, &rows, NULL, err);
  if (code != VISOR_OK) goto fail;
  for (size_t i = 0; i < rows.row_count; i++) {
    int64_t minute = visor_db_int(&rows, i, "minute");
    if (minute < 0 || minute >= VISOR_JOB_STATS_MINUTES) continue;
    const char *status = visor_db_text(&rows, i, "status") ?: "";
    int64_t *bucket = strcmp(status, "done") == 0 ? stats->done : stats->failed;
    bucket[minute] += visor_db_int(&rows, i, "n");
  }
  visor_db_rows_free(&rows);

  code = visor_db_exec(conn,
                       "SELECT id, kind, updated_at FROM jobs WHERE status = 'queued'"
                       " ORDER BY updated_at, id LIMIT 1",
                       NULL, 0, &rows, NULL, err);
  if (code != VISOR_OK) goto fail;
  if (rows.row_count == 1) {
    stats->has_oldest = 1;
    snprintf(stats->oldest_id, sizeof stats->oldest_id, "%s", visor_db_text(&rows, 0, "id") ?: "");
    snprintf(stats->oldest_kind, sizeof stats->oldest_kind, "%s",
             visor_db_text(&rows, 0, "kind") ?: "");
    stats->oldest_since = visor_db_int(&rows, 0, "updated_at");
  }
  visor_db_rows_free(&rows);
  return VISOR_OK;
fail:
  visor_job_stats_free(stats);
  return code;
}

void visor_job_stats_free(visor_job_stats *stats) {
  free(stats->counts);
  stats->counts = NULL;
  stats->count_len = 0;
}

visor_code visor_job_failed_refs(visor_db_conn *conn, const char *kind, size_t limit,
                                 visor_job_ref *refs, size_t *found, int64_t *remaining,
                                 visor_error *err) {
  *found = 0;
  *remaining = 0;
  visor_db_value params[] = {VISOR_DB_S(kind), VISOR_DB_S(kind), VISOR_DB_I((int64_t)limit)};
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn,
                                  "SELECT id, kind FROM jobs WHERE status = 'failed'"
                                  " AND (? IS NULL OR kind = ?)"
                                  " ORDER BY finished_at, id LIMIT ?",
                                  params, 3, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  for (size_t i = 0; i < rows.row_count && i < limit; i++) {
    snprintf(refs[i].id, sizeof refs[i].id, "%s", visor_db_text(&rows, i, "id") ?: "");
    snprintf(refs[i].kind, sizeof refs[i].kind, "%s", visor_db_text(&rows, i, "kind") ?: "");
    (*found)++;
  }
  visor_db_rows_free(&rows);
  code = visor_db_exec(conn,
                       "SELECT COUNT(*) AS n FROM jobs WHERE status = 'failed'"
                       " AND (? IS NULL OR kind = ?)",
                       params, 2, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  int64_t total = visor_db_int(&rows, 0, "n");
  visor_db_rows_free(&rows);
  *remaining = total > (int64_t)*found ? total - (int64_t)*found : 0;
  return VISOR_OK;
}
