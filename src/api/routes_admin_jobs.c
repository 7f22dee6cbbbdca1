/* routes_admin_jobs.c: the job dashboard's admin routes: GET /api/v1/admin/jobs/stats
 * (counts per kind and status, throughput over the last minutes, the job waiting longest,
 * the queue's own depths) and POST /api/v1/admin/jobs/retry-failed (every failed job, or
 * those of one kind, back to the queue; bounded per call and idempotent). */
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "api/validate.h"
#include "core/clock.h"
#include "jobs/job_state.h"
#include "store/job_stats.h"

#define RETRY_FAILED_DEFAULT 500
#define RETRY_FAILED_MAX 1000

/* The jobs finished in the last minutes (1..VISOR_JOB_STATS_MINUTES). */
static json_t *window_json(const visor_job_stats *stats, int minutes) {
  int64_t done = 0, failed = 0;
  for (int i = 0; i < minutes; i++)
    done += stats->done[i], failed += stats->failed[i];
  return json_pack("{s:i, s:I, s:I, s:f}", "minutes", minutes, "done", (json_int_t)done, "failed",
                   (json_int_t)failed, "per_minute", (double)(done + failed) / minutes);
}

static json_t *stats_json(visor_app *app, const visor_job_stats *stats, int64_t now) {
  json_t *counts = json_array();
  json_t *totals = json_pack("{s:i, s:i, s:i, s:i, s:i}", "queued", 0, "running", 0, "done", 0,
                             "failed", 0, "cancelled", 0);
  for (size_t i = 0; i < stats->count_len; i++) {
    const visor_job_count *c = &stats->counts[i];
    json_array_append_new(counts, json_pack("{s:s, s:s, s:I}", "kind", c->kind, "status", c->status,
                                            "count", (json_int_t)c->count));
    json_int_t sum = json_integer_value(json_object_get(totals, c->status));
    json_object_set_new(totals, c->status, json_integer(sum + c->count));
  }
  json_t *done = json_array(), *failed = json_array();
  for (int i = 0; i < VISOR_JOB_STATS_MINUTES; i++) {
    json_array_append_new(done, json_integer(stats->done[i]));
    json_array_append_new(failed, json_integer(stats->failed[i]));
  }
  json_t *oldest =
      stats->has_oldest
          ? json_pack(
                "{s:s, s:s, s:I}", "id", stats->oldest_id, "kind", stats->oldest_kind,
                "age_seconds",
                (json_int_t)(now > stats->oldest_since ? (now - stats->oldest_since) / 1000 : 0))
          : json_null();
  json_t *queue = json_null(), *queue_error = json_null();
  visor_queue_counts q;
  visor_error err = {0};
  if (app->queue->ops->counts(app->queue, &q, &err) == VISOR_OK)
    queue = json_pack("{s:I, s:I, s:I, s:I, s:b}", "ready", (json_int_t)q.ready, "delayed",
                      (json_int_t)q.delayed, "leased", (json_int_t)q.leased, "dead",
                      (json_int_t)q.dead, "paused", q.paused);
  else
    queue_error = json_string(err.message);
  return json_pack("{s:o, s:o, s:[o, o, o], s:{s:o, s:o}, s:o, s:o, s:o, s:I}", "counts", counts,
                   "totals", totals, "throughput", window_json(stats, 1), window_json(stats, 5),
                   window_json(stats, VISOR_JOB_STATS_MINUTES), "per_minute", "done", done,
                   "failed", failed, "oldest_queued", oldest, "queue", queue, "queue_error",
                   queue_error, "generated_at", (json_int_t)now);
}

static void job_stats(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  if (!visor_route_admin(app, req, res)) return;
  visor_db_conn *conn = visor_route_conn(app, res);
  if (!conn) return;
  int64_t now = visor_now_ms();
  visor_job_stats stats;
  visor_error err = {0};
  visor_code code = visor_job_stats_get(conn, now, &stats, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  json_t *body = stats_json(app, &stats, now);
  visor_job_stats_free(&stats);
  visor_http_respond_json(res, 200, body);
}

static const visor_field_rule retry_failed_rules[] = {
    {"kind", VISOR_FIELD_STRING, 0, 1, 31, 0, 0, NULL, 0},
    {"limit", VISOR_FIELD_INTEGER, 0, 0, 0, 1, RETRY_FAILED_MAX, NULL, 0},
};

/* The optional body: {kind?, limit?} (*body is borrowed from the request); 0 when answered
 * with 400. */
static int retry_failed_input(visor_http_request *req, visor_http_response *res, json_t **body,
                              const char **kind, size_t *limit) {
  size_t len = 0;
  visor_http_body(req, &len);
  *body = NULL;
  *kind = NULL;
  *limit = RETRY_FAILED_DEFAULT;
  if (len == 0) return 1;
  if (!(*body = visor_http_json_body(req, res))) return 0;
  visor_error err = {0};
  if (!json_is_object(*body))
    visor_error_set(&err, VISOR_ERR_INVALID, "the body must be a JSON object");
  else
    visor_validate_object(*body, retry_failed_rules, 2, 1, &err);
  if (err.code != VISOR_OK) {
    visor_route_fail(res, &err);
    return 0;
  }
  *kind = json_string_value(json_object_get(*body, "kind"));
  for (const char *c = *kind; c && *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || *c == '_' || *c == '-')) {
      visor_http_respond_error(res, 400, "invalid_argument",
                               "field 'kind' must be a job kind (a-z, '_', '-'), e.g. index");
      return 0;
    }
  json_t *limit_value = json_object_get(*body, "limit");
  if (limit_value) *limit = (size_t)json_integer_value(limit_value);
  return 1;
}

static void retry_failed(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  if (!visor_route_admin(app, req, res)) return;
  json_t *body;
  const char *kind;
  size_t limit;
  if (!retry_failed_input(req, res, &body, &kind, &limit)) return;
  visor_db_conn *conn = visor_route_conn(app, res);
  if (!conn) return;
  visor_job_ref *refs = calloc(limit, sizeof *refs);
  json_t *ids = json_array();
  visor_error err = {0};
  size_t found = 0;
  int64_t remaining = 0;
  visor_code code =
      refs ? visor_db_begin(conn, &err)
           : visor_error_set(&err, VISOR_ERR_NOMEM, "retry-failed: no memory for %zu jobs", limit);
  if (code == VISOR_OK) {
    code = visor_job_failed_refs(conn, kind, limit, refs, &found, &remaining, &err);
    for (size_t i = 0; code == VISOR_OK && i < found; i++) {
      int applied = 0;
      code = visor_jobs_requeue(conn, refs[i].id, refs[i].kind, &applied, &err);
      if (code == VISOR_OK && applied) json_array_append_new(ids, json_string(refs[i].id));
    }
    if (code == VISOR_OK)
      code = visor_db_commit(conn, &err);
    else
      visor_db_rollback(conn);
  }
  visor_db_release(conn);
  free(refs);
  if (code != VISOR_OK) {
    json_decref(ids);
    visor_route_fail(res, &err);
    return;
  }
  if (json_array_size(ids)) visor_app_jobs_committed(app);
  visor_http_respond_json(res, 200,
                          json_pack("{s:I, s:I, s:o}", "retried", (json_int_t)json_array_size(ids),
                                    "remaining", (json_int_t)remaining, "job_ids", ids));
}

visor_code visor_api_register_admin_jobs(visor_http_server *server, visor_app *app,
                                         visor_error *err) {
  visor_code code =
      visor_http_route(server, "GET", "/api/v1/admin/jobs/stats", job_stats, app, NULL, err);
  if (code == VISOR_OK)
    code = visor_http_route(server, "POST", "/api/v1/admin/jobs/retry-failed", retry_failed, app,
                            NULL, err);
  return code;
}
