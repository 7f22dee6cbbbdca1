/* test_core.c: unit tests of src/core: errors, UUIDs, configuration, metrics, strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "core/metrics.h"
#include "core/strbuf.h"
#include "core/uuid.h"

static void error_wrap_prefixes_context(void **state) {
  (void)state;
  visor_error err = {0};
  assert_int_equal(visor_error_set(&err, VISOR_ERR_NOT_FOUND, "image %d missing", 7),
                   VISOR_ERR_NOT_FOUND);
  visor_error_wrap(&err, "index job %s", "j1");
  assert_string_equal(err.message, "index job j1: image 7 missing");
  assert_int_equal(visor_code_http_status(VISOR_ERR_CONFLICT), 409);
  assert_string_equal(visor_code_name(VISOR_ERR_UNSUPPORTED), "unsupported_media_type");
}

static void uuids_are_valid_unique_and_ordered(void **state) {
  (void)state;
  char previous[VISOR_UUID_LEN + 1] = "";
  for (int i = 0; i < 10000; i++) {
    char id[VISOR_UUID_LEN + 1];
    visor_uuid_new(id);
    assert_true(visor_uuid_valid(id));
    assert_int_equal(id[14], '7'); /* version 7 */
    assert_true(strcmp(previous, id) < 0);
    strcpy(previous, id);
  }
  assert_false(visor_uuid_valid("not-a-uuid"));
  assert_false(visor_uuid_valid("01a20c6c-4d66-7462-9b6f-bb71cfb9781"));
  assert_false(visor_uuid_valid("01a20c6c-4d66-7462-9b6f-bb71cfb9781ez"));
  assert_false(visor_uuid_valid("../../../../etc/passwd-aaaaaaaaaaaa"));
}

static void config_precedence_flag_env_file(void **state) {
  (void)state;
  char path[] = "/tmp/visor-config-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *text = "{\"port\": 7000, \"workers\": 3, \"log-level\": \"warn\"}";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  setenv("VISOR_CONFIG", path, 1);
  setenv("VISOR_WORKERS", "4", 1);
  char *argv[] = {"--port", "7100", "--data-dir=/tmp/x"};
  visor_config config;
  visor_error err = {0};
  int help = 0;
  assert_int_equal(visor_config_load(&config, 3, argv, &help, &err), VISOR_OK);
  assert_int_equal(config.port, 7100);           /* flag beats file */
  assert_int_equal(config.workers, 4);           /* env beats file */
  assert_string_equal(config.log_level, "warn"); /* file beats default */
  assert_string_equal(config.metadata_url, "sqlite:///tmp/x/visor.db");
  assert_string_equal(config.blob_url, "file:///tmp/x/blobs");
  visor_config_free(&config);
  unsetenv("VISOR_CONFIG");
  unsetenv("VISOR_WORKERS");
  unlink(path);
}

static void config_errors_name_the_bad_value(void **state) {
  (void)state;
  struct {
    char *args[2];
    const char *expected;
  } cases[] = {{{"--port", "99999"}, "port 99999 is out of range"},
               {{"--port", "12ab"}, "port '12ab' is not a whole number"},
               {{"--nope", "1"}, "unknown option '--nope'"},
               {{"--lease-seconds", "0"}, "lease-seconds 0 is out of range"},
               {{"--log-level", "loud"}, "log-level 'loud'"},
               {{"--admin-token", "short"}, "admin-token must be at least 16"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    visor_config config;
    visor_error err = {0};
    int help = 0;
    assert_int_equal(visor_config_load(&config, 2, cases[i].args, &help, &err), VISOR_ERR_INVALID);
    if (!strstr(err.message, cases[i].expected))
      fail_msg("'%s' lacks '%s'", err.message, cases[i].expected);
  }
}

static void metrics_render_prometheus_text(void **state) {
  (void)state;
  visor_metrics_reset();
  visor_metrics_counter_add("t_requests_total", "Requests", "route=\"/a\"", 2);
  visor_metrics_counter_add("t_requests_total", "Requests", "route=\"/b\"", 1);
  visor_metrics_gauge_set("t_depth", "Depth", NULL, 5);
  visor_metrics_observe("t_seconds", "Latency", NULL, 0.02);
  char *text = visor_metrics_render();
  assert_non_null(strstr(text, "# TYPE t_requests_total counter\n"));
  assert_non_null(strstr(text, "t_requests_total{route=\"/a\"} 2\n"));
  assert_non_null(strstr(text, "t_depth 5\n"));
  assert_non_null(strstr(text, "t_seconds_bucket{le=\"0.025\"} 1\n"));
  assert_non_null(strstr(text, "t_seconds_bucket{le=\"0.01\"} 0\n"));
  assert_non_null(strstr(text, "t_seconds_count 1\n"));
  free(text);
  visor_metrics_reset();
}

static void strbuf_grows(void **state) {
  (void)state;
  visor_strbuf buf;
  visor_strbuf_init(&buf);
  for (int i = 0; i < 1000; i++)
    visor_strbuf_appendf(&buf, "%d,", i);
  char *text = visor_strbuf_take(&buf);
  assert_int_equal(strncmp(text, "0,1,2,", 6), 0);
  assert_non_null(strstr(text, "999,"));
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(error_wrap_prefixes_context),
      cmocka_unit_test(uuids_are_valid_unique_and_ordered),
      cmocka_unit_test(config_precedence_flag_env_file),
      cmocka_unit_test(config_errors_name_the_bad_value),
      cmocka_unit_test(metrics_render_prometheus_text),
      cmocka_unit_test(strbuf_grows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
