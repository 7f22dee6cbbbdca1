/* cmd_import.c: `visor import FILE`: bulk import of a product catalogue (CSV or JSON
 * Lines) into a running Visor over its REST API (src/import does the work). Exit 0 when
 * every row was imported (or was there already), 1 when any row failed or the server
 * could not be reached, 2 for bad usage or an unreadable / malformed file. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "import/importer.h"

#define SHOWN_FAILURES 20

static const char *const usage =
    "Usage: visor import FILE [--url URL] [--parallel N] [--errors FILE.csv] [--dry-run]\n"
    "                         [--skip-duplicates] [--format csv|jsonl] [--retry-seconds S]\n"
    "                         [--progress auto|bar|plain|none]\n"
    "  FILE              CSV with the header sku,name,description,category,labels,price,\n"
    "                    currency,image (labels as k=v;k=v; one row per image, rows with one\n"
    "                    SKU make one product), or JSON Lines (.jsonl: one product object per\n"
    "                    line with an \"images\" array). Images: a path (relative to FILE's\n"
    "                    folder), file:// or http(s):// URL.\n"
    "  --url             the Visor server (default $VISOR_URL or http://localhost:8080)\n"
    "  --parallel        products uploaded at once (default 4)\n"
    "  --errors          write every failed row (line, sku, reason) to this CSV file\n"
    "  --dry-run         check the file and that local images are readable; upload nothing\n"
    "  --skip-duplicates skip images that another product already has (same sha256)\n"
    "  --format          the file's format when its name does not say (.csv, .jsonl)\n"
    "  --retry-seconds   how long one call is retried while the server throttles or is\n"
    "                    unreachable (default 600)\n"
    "  --progress        a bar on a terminal, plain lines otherwise (auto, the default)\n"
    "A rerun skips products and images that are there already (same SKU, same sha256),\n"
    "so an interrupted import is simply run again.\n";

static int parse_int(const char *text, int min, int max, int *out) {
  char *end = NULL;
  long value = strtol(text, &end, 10);
  if (!*text || *end || value < min || value > max) return 0;
  *out = (int)value;
  return 1;
}

int visor_cmd_import(int argc, char **argv) {
  const char *path = NULL, *errors_path = NULL, *format = NULL, *progress = "auto";
  visor_import_options options = {.url = getenv("VISOR_URL"),
                                  .parallel = 4,
                                  .retry_seconds = 600,
                                  .max_image_bytes = 64u << 20};
  if (!options.url || !*options.url) options.url = "http://localhost:8080";
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    int has_value = i + 1 < argc;
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      printf("%s", usage);
      return 0;
    } else if (!strcmp(arg, "--dry-run")) {
      options.dry_run = 1;
    } else if (!strcmp(arg, "--skip-duplicates")) {
      options.skip_duplicates = 1;
    } else if (!strcmp(arg, "--url") && has_value) {
      options.url = argv[++i];
    } else if (!strcmp(arg, "--errors") && has_value) {
      errors_path = argv[++i];
    } else if (!strcmp(arg, "--format") && has_value) {
      format = argv[++i];
    } else if (!strcmp(arg, "--progress") && has_value) {
      progress = argv[++i];
    } else if (!strcmp(arg, "--parallel") && has_value) {
      if (!parse_int(argv[++i], 1, 64, &options.parallel)) {
        fprintf(stderr, "visor import: --parallel '%s' is not a number from 1 to 64\n", argv[i]);
        return 2;
      }
    } else if (!strcmp(arg, "--retry-seconds") && has_value) {
      int seconds = 0;
      if (!parse_int(argv[++i], 0, 86400, &seconds)) {
        fprintf(stderr, "visor import: --retry-seconds '%s' is not a number from 0 to 86400\n",
                argv[i]);
        return 2;
      }
      options.retry_seconds = seconds;
    } else if (arg[0] != '-' && !path) {
      path = arg;
    } else {
      fprintf(stderr, "visor import: unexpected argument '%s'\n%s", arg, usage);
      return 2;
    }
  }
  if (!path) {
    fprintf(stderr, "visor import: no FILE given\n%s", usage);
    return 2;
  }
  if (strcmp(progress, "auto") && strcmp(progress, "bar") && strcmp(progress, "plain") &&
      strcmp(progress, "none")) {
    fprintf(stderr, "visor import: --progress '%s' is not auto, bar, plain or none\n", progress);
    return 2;
  }
  size_t url_len = strlen(options.url);
  char *url = strdup(options.url);
  while (url && url_len > 0 && url[url_len - 1] == '/')
    url[--url_len] = '\0';
  options.url = url;
  options.progress_out = strcmp(progress, "none") ? stderr : NULL;
  options.terminal = !strcmp(progress, "bar") || (!strcmp(progress, "auto") && isatty(2));

  visor_error err = {0};
  visor_catalogue_file file;
  if (visor_catalogue_file_read(path, format, &file, &err) != VISOR_OK) {
    fprintf(stderr, "visor import: %s\n", err.message);
    free(url);
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  visor_import_result result;
  int status = 0;
  if (visor_import_run(&file, &options, &result, &err) != VISOR_OK) {
    fprintf(stderr, "visor import: %s\n", err.message);
    status = 1;
  } else {
    for (size_t i = 0; i < result.failure_count && i < SHOWN_FAILURES; i++)
      fprintf(stderr, "visor import: line %ld (sku '%s'): %s\n", result.failures[i].line,
              result.failures[i].sku, result.failures[i].reason);
    if (result.failure_count > SHOWN_FAILURES)
      fprintf(stderr, "visor import: ... and %zu more failed rows%s\n",
              result.failure_count - SHOWN_FAILURES, errors_path ? " (see --errors)" : "");
    const visor_import_counts *counts = &result.counts;
    if (options.dry_run)
      printf("dry run: %ld rows, %ld valid, %ld failed, %zu products\n", counts->rows_total,
             counts->rows_total - result.rows_failed, result.rows_failed, file.product_count);
    else
      printf("imported %ld of %ld rows: %ld products created, %ld images uploaded, %ld already "
             "there, %ld skipped as duplicates of another product; %ld rows failed\n",
             counts->rows_total - result.rows_failed, counts->rows_total, result.products_created,
             counts->images_uploaded, counts->images_present, counts->duplicates_skipped,
             result.rows_failed);
    if (errors_path && visor_import_write_failures(&result, errors_path, &err) != VISOR_OK) {
      fprintf(stderr, "visor import: %s\n", err.message);
      status = 1;
    }
    if (result.rows_failed) status = 1;
    visor_import_result_free(&result);
  }
  visor_catalogue_file_free(&file);
  curl_global_cleanup();
  free(url);
  return status;
}
