/* cmd_check.c: the consistency commands. `visor check`: objects and vectors no row owns,
 * live regions without their vector (service/consistency.h); prints a summary (or --json)
 * and exits 1 when it found any. `visor sweep`: one run of the orphan sweeper
 * (service/sweeper.h) with --sweep-grace-seconds, printing what it removed. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "pipeline/pipeline.h"
#include "service/consistency.h"
#include "service/sweeper.h"

int visor_cmd_check(int argc, char **argv) {
  int json_output = 0;
  int kept = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0)
      json_output = 1;
    else
      argv[kept++] = argv[i];
  }
  visor_config config;
  int done = visor_cli_load_config("check", kept, argv, &config);
  if (done >= 0) return done;
  visor_error err = {0};
  visor_app app;
  if (visor_app_open(&app, &config, VISOR_PIPELINE_APP_PARTS, VISOR_APP_REQUIRE_LATEST, &err) !=
      VISOR_OK) {
    fprintf(stderr, "visor check: %s\n", err.message);
    visor_config_free(&config);
    return visor_cli_exit_code(&err);
  }
  json_t *report = NULL;
  size_t problems = 0;
  int status = 0;
  if (visor_consistency_check(&app, 10, &report, &problems, &err) != VISOR_OK) {
    fprintf(stderr, "visor check: %s\n", err.message);
    status = visor_cli_exit_code(&err);
  } else {
    if (json_output) {
      json_dumpf(report, stdout, JSON_INDENT(2));
      printf("\n");
    } else {
      printf("objects %lld (orphans %lld), vectors %lld (orphans %lld), regions %lld (without "
             "a vector %lld)\n",
             (long long)json_integer_value(json_object_get(report, "objects")),
             (long long)json_integer_value(json_object_get(report, "orphan_objects")),
             (long long)json_integer_value(json_object_get(report, "vectors")),
             (long long)json_integer_value(json_object_get(report, "orphan_vectors")),
             (long long)json_integer_value(json_object_get(report, "regions")),
             (long long)json_integer_value(json_object_get(report, "regions_without_vector")));
      const char *key;
      json_t *examples;
      json_object_foreach(json_object_get(report, "examples"), key, examples) {
        size_t index;
        json_t *example;
        json_array_foreach(examples, index, example)
            printf("  %s: %s\n", key, json_string_value(example));
      }
    }
    status = problems ? 1 : 0;
  }
  json_decref(report);
  visor_app_close(&app);
  visor_config_free(&config);
  return status;
}

int visor_cmd_sweep(int argc, char **argv) {
  visor_config config;
  int done = visor_cli_load_config("sweep", argc, argv, &config);
  if (done >= 0) return done;
  visor_error err = {0};
  visor_app app;
  if (visor_app_open(&app, &config, 0, VISOR_APP_REQUIRE_LATEST, &err) != VISOR_OK) {
    fprintf(stderr, "visor sweep: %s\n", err.message);
    visor_config_free(&config);
    return visor_cli_exit_code(&err);
  }
  visor_sweep_report report;
  int status = 0;
  if (visor_sweep_once(&app, (int64_t)(config.sweep_grace_seconds * 1000), &report, &err) !=
      VISOR_OK) {
    fprintf(stderr, "visor sweep: %s\n", err.message);
    status = visor_cli_exit_code(&err);
  } else {
    printf("listed %zu objects: removed %zu without a row and %zu temp files; %zu younger than "
           "%g s kept\n",
           report.objects, report.orphans, report.temp_removed, report.young,
           config.sweep_grace_seconds);
  }
  visor_app_close(&app);
  visor_config_free(&config);
  return status;
}
