/* test_admin_jobs.c: the admin routes of the job dashboard and the audit page's filters
 * against a real server in this process (no workers, so jobs stay where the test puts
 * them): GET /api/v1/admin/jobs/stats
 * (counts per kind and status, per-status totals, throughput over the last 1/5/15 minutes,
 * the job queued longest, the queue's depths and paused flag) and POST
 * /api/v1/admin/jobs/retry-failed (of one kind or all, bounded by limit, idempotent, each
 * retried job queued again with attempts 0), 401 / 403, bad bodies (400, nothing
 * retried), and GET /api/v1/admin/audit's subject_kind and undone filters. Runs on the embedded
 * store, and again on VISOR_TEST_ADMIN_JOBS_METADATA_URL when set (an empty PostgreSQL database,
 * e.g. from scripts/servers/postgres.sh newdb). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/uuid.h"
#include "http_client.h"
#include "jobs/job_state.h"
#include "test_server.h"

#define TOKEN "dashboard-token-0123456789"

static test_server test;

static test_response admin(const char *method, const char *path, const char *token,
                           const char *body) {
  char auth[256];
  const char *headers[2] = {0};
  if (token) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    headers[0] = auth;
  }
  return test_request_headers(method, path, headers, body);
}

static test_response stats(void) {
  test_response res = admin("GET", "/api/v1/admin/jobs/stats", TOKEN, NULL);
  if (res.status != 200) fail_msg("stats: %ld %s", res.status, res.body);
  return res;
}

static json_int_t count_of(const json_t *body, const char *kind, const char *status) {
  size_t i;
  json_t *item;
  json_array_foreach(json_object_get(body, "counts"), i, item) {
    if (strcmp(json_string_value(json_object_get(item, "kind")), kind) == 0 &&
        strcmp(json_string_value(json_object_get(item, "status")), status) == 0)
      return json_integer_value(json_object_get(item, "count"));
  }
  return 0;
}

static json_int_t int_at(const json_t *object, const char *a, const char *b) {
  return json_integer_value(json_object_get(json_object_get(object, a), b));
}

/* A queued job of kind made the way the API makes them (job row + outbox entry). */
static void create_job(const char *kind, char id[40]) {
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(test.app.db, &err);
  if (!conn) fail_msg("acquire: %s", err.message);
  char subject[VISOR_UUID_LEN + 1];
  visor_uuid_new(subject);
  if (visor_db_begin(conn, &err) != VISOR_OK ||
      visor_jobs_create(conn, kind, subject, NULL, 3, id, &err) != VISOR_OK ||
      visor_db_commit(conn, &err) != VISOR_OK)
    fail_msg("create %s job: %s", kind, err.message);
  visor_db_release(conn);
  visor_sleep_ms(3); /* distinct queued times, so "oldest" is well defined */
}

/* What a worker does with a job: run it, then done or failed for good. */
static void finish_job(const char *id, int failed) {
  visor_error err = {0};
  visor_job_start start;
  if (visor_jobs_start(test.app.db, id, &start, &err) != VISOR_OK || !start.runnable)
    fail_msg("start %s: %s", id, err.message);
  visor_code code = failed ? visor_jobs_failed(test.app.db, id, "made to fail by the test", &err)
                           : visor_jobs_done(test.app.db, id, &err);
  if (code != VISOR_OK) fail_msg("finish %s: %s", id, err.message);
}

static void expect_job(const char *id, const char *status, json_int_t attempts) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/jobs/%s", id);
  test_response res = test_get(path);
  assert_int_equal(res.status, 200);
  assert_string_equal(json_string_value(json_object_get(res.json, "status")), status);
  assert_int_equal(json_integer_value(json_object_get(res.json, "attempts")), attempts);
  test_response_free(&res);
}

static test_response retry_failed(const char *body, long want_status) {
  test_response res = admin("POST", "/api/v1/admin/jobs/retry-failed", TOKEN, body);
  if (res.status != want_status)
    fail_msg("retry-failed %s: want %ld, got %ld %s", body ? body : "(no body)", want_status,
             res.status, res.body);
  return res;
}

static void expect_retried(const char *body, json_int_t retried, json_int_t remaining) {
  test_response res = retry_failed(body, 200);
  assert_int_equal(json_integer_value(json_object_get(res.json, "retried")), retried);
  assert_int_equal(json_integer_value(json_object_get(res.json, "remaining")), remaining);
  assert_int_equal(json_array_size(json_object_get(res.json, "job_ids")), retried);
  test_response_free(&res);
}

/* ---- setup ---------------------------------------------------------------------------- */

static int start_with(const char *metadata) {
  char *options[8] = {"--rate-limit", "0", "--admin-token", TOKEN};
  int count = 4;
  if (metadata) {
    options[count++] = "--metadata";
    options[count++] = (char *)metadata;
  }
  test_server_start(&test, options, count, 0);
  return 0;
}

static int start_embedded(void **state) {
  (void)state;
  return start_with(NULL);
}

static int start_postgres(void **state) {
  (void)state;
  return start_with(getenv("VISOR_TEST_ADMIN_JOBS_METADATA_URL"));
}

static int stop_server(void **state) {
  (void)state;
  test_server_stop(&test);
  return 0;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void admin_token_required(void **state) {
  (void)state;
  const char *paths[][2] = {{"GET", "/api/v1/admin/jobs/stats"},
                            {"POST", "/api/v1/admin/jobs/retry-failed"}};
  for (size_t i = 0; i < 2; i++) {
    test_response res = admin(paths[i][0], paths[i][1], NULL, NULL);
    assert_int_equal(res.status, 401);
    test_response_free(&res);
    res = admin(paths[i][0], paths[i][1], "not-the-token-at-all", NULL);
    assert_int_equal(res.status, 403);
    test_response_free(&res);
  }
}

static void empty_dashboard(void **state) {
  (void)state;
  test_response res = stats();
  assert_int_equal(json_array_size(json_object_get(res.json, "counts")), 0);
  assert_true(json_is_null(json_object_get(res.json, "oldest_queued")));
  assert_int_equal(int_at(res.json, "totals", "queued"), 0);
  json_t *windows = json_object_get(res.json, "throughput");
  assert_int_equal(json_array_size(windows), 3);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(windows, 2), "minutes")), 15);
  assert_int_equal(
      json_array_size(json_object_get(json_object_get(res.json, "per_minute"), "done")), 15);
  assert_false(json_is_true(json_object_get(json_object_get(res.json, "queue"), "paused")));
  test_response_free(&res);
}

static char index_ids[4][40], meta_ids[2][40];

static void counts_throughput_and_oldest(void **state) {
  (void)state;
  for (int i = 0; i < 4; i++)
    create_job("index", index_ids[i]);
  for (int i = 0; i < 2; i++)
    create_job("meta", meta_ids[i]);
  finish_job(index_ids[0], 0);
  finish_job(index_ids[1], 1);
  finish_job(index_ids[3], 1);
  finish_job(meta_ids[0], 1);
  /* queued: index 2 (the oldest), meta 1 */
  test_response res = stats();
  assert_int_equal(count_of(res.json, "index", "done"), 1);
  assert_int_equal(count_of(res.json, "index", "failed"), 2);
  assert_int_equal(count_of(res.json, "index", "queued"), 1);
  assert_int_equal(count_of(res.json, "meta", "failed"), 1);
  assert_int_equal(count_of(res.json, "meta", "queued"), 1);
  assert_int_equal(int_at(res.json, "totals", "queued"), 2);
  assert_int_equal(int_at(res.json, "totals", "failed"), 3);
  assert_int_equal(int_at(res.json, "totals", "done"), 1);
  assert_int_equal(int_at(res.json, "totals", "running"), 0);
  json_t *last_minute = json_array_get(json_object_get(res.json, "throughput"), 0);
  assert_int_equal(json_integer_value(json_object_get(last_minute, "minutes")), 1);
  assert_int_equal(json_integer_value(json_object_get(last_minute, "done")), 1);
  assert_int_equal(json_integer_value(json_object_get(last_minute, "failed")), 3);
  assert_true(json_real_value(json_object_get(last_minute, "per_minute")) == 4.0);
  json_t *five = json_array_get(json_object_get(res.json, "throughput"), 1);
  assert_true(json_real_value(json_object_get(five, "per_minute")) == 4.0 / 5);
  json_t *per_minute = json_object_get(res.json, "per_minute");
  assert_int_equal(json_integer_value(json_array_get(json_object_get(per_minute, "done"), 0)), 1);
  assert_int_equal(json_integer_value(json_array_get(json_object_get(per_minute, "failed"), 0)), 3);
  assert_int_equal(json_integer_value(json_array_get(json_object_get(per_minute, "failed"), 1)), 0);
  json_t *oldest = json_object_get(res.json, "oldest_queued");
  assert_string_equal(json_string_value(json_object_get(oldest, "id")), index_ids[2]);
  assert_string_equal(json_string_value(json_object_get(oldest, "kind")), "index");
  assert_true(json_integer_value(json_object_get(oldest, "age_seconds")) >= 0);
  assert_true(json_is_integer(json_object_get(json_object_get(res.json, "queue"), "ready")));
  test_response_free(&res);
}

static void bad_bodies_retry_nothing(void **state) {
  (void)state;
  const char *bodies[] = {"[1]",
                          "{\"limit\": 0}",
                          "{\"limit\": 5000}",
                          "{\"limit\": 1.5}",
                          "{\"kind\": \"Bad Kind\"}",
                          "{\"kind\": \"\"}",
                          "{\"kind\": 3}",
                          "{\"other\": 1}",
                          "{not json"};
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    test_response res = retry_failed(bodies[i], 400);
    assert_string_equal(test_error_code(&res), "invalid_argument");
    test_response_free(&res);
  }
  test_response res = stats();
  assert_int_equal(int_at(res.json, "totals", "failed"), 3);
  test_response_free(&res);
}

static void retry_failed_of_one_kind_then_all_bounded(void **state) {
  (void)state;
  expect_retried("{\"kind\": \"meta\"}", 1, 0);
  expect_job(meta_ids[0], "queued", 0);
  expect_job(index_ids[1], "failed", 1);
  expect_retried("{\"kind\": \"meta\"}", 0, 0); /* idempotent */
  expect_retried("{\"kind\": \"search\"}", 0, 0);
  expect_retried("{\"limit\": 1}", 1, 1); /* bounded: the older failure first */
  expect_job(index_ids[1], "queued", 0);
  expect_job(index_ids[3], "failed", 1);
  expect_retried(NULL, 1, 0); /* no body: every kind */
  expect_job(index_ids[3], "queued", 0);
  expect_retried("{}", 0, 0);
  test_response res = stats();
  assert_int_equal(int_at(res.json, "totals", "failed"), 0);
  assert_int_equal(int_at(res.json, "totals", "queued"), 5);
  /* the oldest queued job is now the one that waited longest since it was last queued */
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(res.json, "oldest_queued"), "id")),
      index_ids[2]);
  test_response_free(&res);
}

static void paused_queue_shows(void **state) {
  (void)state;
  test_response res = admin("POST", "/api/v1/admin/queue/pause", TOKEN, NULL);
  assert_int_equal(res.status, 200);
  test_response_free(&res);
  res = stats();
  assert_true(json_is_true(json_object_get(json_object_get(res.json, "queue"), "paused")));
  test_response_free(&res);
  res = admin("POST", "/api/v1/admin/queue/resume", TOKEN, NULL);
  assert_int_equal(res.status, 200);
  test_response_free(&res);
  res = stats();
  assert_false(json_is_true(json_object_get(json_object_get(res.json, "queue"), "paused")));
  test_response_free(&res);
}

static json_int_t audit_total(const char *query) {
  char path[256];
  snprintf(path, sizeof path, "/api/v1/admin/audit?%s", query);
  test_response res = admin("GET", path, TOKEN, NULL);
  if (res.status != 200) fail_msg("audit %s: %ld %s", query, res.status, res.body);
  json_int_t total = json_integer_value(json_object_get(res.json, "total"));
  test_response_free(&res);
  return total;
}

static void audit_filters_by_subject_kind_and_undone(void **state) {
  (void)state;
  test_response res =
      test_post_json("/api/v1/products", "{\"sku\": \"AUDIT-1\", \"name\": \"One\"}");
  if (res.status != 201) fail_msg("create: %ld %s", res.status, res.body);
  char id[40], path[128], first[40];
  snprintf(id, sizeof id, "%s", json_string_value(json_object_get(res.json, "id")));
  test_response_free(&res);
  snprintf(path, sizeof path, "/api/v1/admin/products/%s", id);
  const char *names[] = {"{\"name\": \"Two\"}", "{\"category\": \"three\"}"};
  for (int i = 0; i < 2; i++) {
    res = admin("PATCH", path, TOKEN, names[i]);
    if (res.status != 200) fail_msg("patch: %ld %s", res.status, res.body);
    if (i == 0)
      snprintf(first, sizeof first, "%s",
               json_string_value(json_object_get(json_object_get(res.json, "audit"), "id")));
    test_response_free(&res);
  }
  snprintf(path, sizeof path, "/api/v1/admin/audit/%s/undo", first);
  res = admin("POST", path, TOKEN, NULL);
  if (res.status != 200) fail_msg("undo: %ld %s", res.status, res.body);
  test_response_free(&res);
  /* two product.update entries (the first undone) and the undo */
  assert_int_equal(audit_total("subject_kind=product"), 3);
  assert_int_equal(audit_total("subject_kind=region"), 0);
  assert_int_equal(audit_total("undone=true"), 1);
  assert_int_equal(audit_total("undone=false"), 2);
  assert_int_equal(audit_total("undone=false&action=product.update"), 1);
  assert_int_equal(audit_total("undone=true&subject_kind=product&action=product.update"), 1);
  const char *bad[] = {"subject_kind=job", "undone=yes", "undone="};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(path, sizeof path, "/api/v1/admin/audit?%s", bad[i]);
    res = admin("GET", path, TOKEN, NULL);
    if (res.status != 400) fail_msg("audit %s: want 400, got %ld %s", bad[i], res.status, res.body);
    test_response_free(&res);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(admin_token_required),
      cmocka_unit_test(empty_dashboard),
      cmocka_unit_test(counts_throughput_and_oldest),
      cmocka_unit_test(bad_bodies_retry_nothing),
      cmocka_unit_test(retry_failed_of_one_kind_then_all_bounded),
      cmocka_unit_test(paused_queue_shows),
      cmocka_unit_test(audit_filters_by_subject_kind_and_undone),
  };
  int failures = cmocka_run_group_tests_name("embedded", tests, start_embedded, stop_server);
  const char *postgres = getenv("VISOR_TEST_ADMIN_JOBS_METADATA_URL");
  if (postgres && *postgres)
    failures += cmocka_run_group_tests_name("postgres", tests, start_postgres, stop_server);
  else
    printf("# VISOR_TEST_ADMIN_JOBS_METADATA_URL not set: PostgreSQL not tested\n");
  return failures;
}
