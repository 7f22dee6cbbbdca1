/* admin_checks.c: checks shared by the admin API tests (see admin_checks.h). */
#include "admin_checks.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "service/consistency.h"

void wait_for_jobs(int timeout_s) {
  double deadline = visor_monotonic_s() + timeout_s;
  while (visor_monotonic_s() < deadline) {
    test_response queued = test_get("/api/v1/jobs?status=queued&limit=1");
    test_response running = test_get("/api/v1/jobs?status=running&limit=1");
    json_int_t pending = json_integer_value(json_object_get(queued.json, "total")) +
                         json_integer_value(json_object_get(running.json, "total"));
    test_response_free(&queued);
    test_response_free(&running);
    if (pending == 0) return;
    visor_sleep_ms(100);
  }
  fail_msg("jobs still pending after %d s", timeout_s);
}

void expect_error(test_response *res, long status, const char *code) {
  if (res->status != status || strcmp(test_error_code(res), code) != 0)
    fail_msg("expected %ld %s, got %ld %s", status, code, res->status, res->body);
  test_response_free(res);
}

void expect_consistent_app(visor_app *app) {
  wait_for_jobs(120);
  json_t *report = NULL;
  size_t problems = 0;
  visor_error err = {0};
  assert_int_equal(visor_consistency_check(app, 5, &report, &problems, &err), VISOR_OK);
  if (problems) {
    char *text = json_dumps(report, JSON_COMPACT);
    fail_msg("visor check: %zu problems: %s", problems, text);
  }
  json_decref(report);
}

void audit_id_of(const test_response *res, char out[40]) {
  snprintf(out, 40, "%s",
           json_string_value(json_object_get(json_object_get(res->json, "audit"), "id")) ?: "");
  assert_int_equal(strlen(out), 36);
}

size_t vector_count_app(visor_app *app) {
  return app->vectors->ops->count(app->vectors);
}

void add_backend_options(const char *prefix, char **options, int *count) {
  static const char *const flags[] = {"--metadata", "--vectors"};
  static const char *const suffixes[] = {"METADATA_URL", "VECTOR_URL"};
  for (int i = 0; i < 2; i++) {
    char name[128];
    snprintf(name, sizeof name, "%s_%s", prefix, suffixes[i]);
    char *value = getenv(name);
    if (value && *value) {
      options[(*count)++] = (char *)flags[i];
      options[(*count)++] = value;
    }
  }
}
