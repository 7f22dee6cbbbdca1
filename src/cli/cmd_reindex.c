/* cmd_reindex.c: `visor reindex`: starts a re-index run on a running Visor through its admin
 * API (POST /api/v1/admin/reindex) and follows it to the end with the progress display of
 * `visor import` (a bar on a terminal, plain lines otherwise). Exit 0 when every image was
 * re-indexed, 1 when any failed (or the server could not be reached or refused the token),
 * 2 for bad usage, including a scope the server refuses (unknown product or category). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/clock.h"
#include "import/api_client.h"
#include "import/progress.h"

#define POLL_MS 250

static const char *const usage =
    "Usage: visor reindex (--product ID | --category C | --stale | --all) [--url URL]\n"
    "                     [--admin-token T] [--progress auto|bar|plain|none] [--no-wait]\n"
    "  --product ID     the images of one product\n"
    "  --category C     the images of every product in category C\n"
    "  --stale          the images with a vector of another embedder than the current one\n"
    "                   (after a model change in models.json)\n"
    "  --all            every image\n"
    "  --url            the Visor server (default $VISOR_URL or http://localhost:8080)\n"
    "  --admin-token    an admin token of the server (default $VISOR_ADMIN_TOKEN)\n"
    "  --progress       a bar on a terminal, plain lines otherwise (auto, the default)\n"
    "  --no-wait        print the run's id and return once it is started\n"
    "The current models run on each image again and its new vectors replace the old ones\n"
    "(the product stays searchable). Exit 0 when done, 1 when any image failed.\n";

typedef struct reindex_args {
  const char *scope, *product_id, *category, *url, *token, *progress;
  int no_wait;
} reindex_args;

/* Sets the scope once; a second one is bad usage. */
static int set_scope(reindex_args *args, const char *scope) {
  if (args->scope) {
    fprintf(stderr, "visor reindex: give one of --product, --category, --stale, --all\n");
    return 0;
  }
  args->scope = scope;
  return 1;
}

static int parse(int argc, char **argv, reindex_args *args) {
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    int has_value = i + 1 < argc;
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      printf("%s", usage);
      return 0;
    } else if (!strcmp(arg, "--product") && has_value) {
      if (!set_scope(args, "product")) return 2;
      args->product_id = argv[++i];
    } else if (!strcmp(arg, "--category") && has_value) {
      if (!set_scope(args, "category")) return 2;
      args->category = argv[++i];
    } else if (!strcmp(arg, "--stale") || !strcmp(arg, "--all")) {
      if (!set_scope(args, arg + 2)) return 2;
    } else if (!strcmp(arg, "--url") && has_value) {
      args->url = argv[++i];
    } else if (!strcmp(arg, "--admin-token") && has_value) {
      args->token = argv[++i];
    } else if (!strcmp(arg, "--progress") && has_value) {
      args->progress = argv[++i];
    } else if (!strcmp(arg, "--no-wait")) {
      args->no_wait = 1;
    } else {
      fprintf(stderr, "visor reindex: unexpected argument '%s'\n%s", arg, usage);
      return 2;
    }
  }
  if (!args->scope) {
    fprintf(stderr, "visor reindex: no scope given\n%s", usage);
    return 2;
  }
  if (!args->token || !*args->token) {
    fprintf(stderr, "visor reindex: no admin token (--admin-token or $VISOR_ADMIN_TOKEN)\n");
    return 2;
  }
  if (strcmp(args->progress, "auto") && strcmp(args->progress, "bar") &&
      strcmp(args->progress, "plain") && strcmp(args->progress, "none")) {
    fprintf(stderr, "visor reindex: --progress '%s' is not auto, bar, plain or none\n",
            args->progress);
    return 2;
  }
  return -1;
}

static long count(const json_t *run, const char *key) {
  return (long)json_integer_value(json_object_get(run, key));
}

static visor_import_counts counts_of(const json_t *run) {
  long failed = count(run, "failed") + count(run, "cancelled");
  return (visor_import_counts){.rows_total = count(run, "total"),
                               .rows_done = count(run, "done") + failed,
                               .errors = failed};
}

/* Polls the run until it is no longer running; *run receives the last answer. */
static visor_code follow(visor_api_client *client, const char *id, const reindex_args *args,
                         json_t **run, visor_error *err) {
  visor_import_progress progress;
  FILE *out = strcmp(args->progress, "none") ? stderr : NULL;
  visor_import_progress_start(&progress, out,
                              !strcmp(args->progress, "bar") ||
                                  (!strcmp(args->progress, "auto") && isatty(2)));
  visor_import_progress_set_unit(&progress, "reindex", "images");
  char path[128];
  snprintf(path, sizeof path, "/api/v1/admin/reindex/%s", id);
  for (;;) {
    visor_code code = visor_api_call_json(client, "GET", path, NULL, run, err);
    if (code != VISOR_OK) return code;
    visor_import_counts counts = counts_of(*run);
    if (strcmp(json_string_value(json_object_get(*run, "status")) ?: "", "running") != 0) {
      if (out) visor_import_progress_end(&progress, &counts);
      return VISOR_OK;
    }
    if (out) visor_import_progress_show(&progress, &counts);
    json_decref(*run);
    *run = NULL;
    visor_sleep_ms(POLL_MS);
  }
}

int visor_cmd_reindex(int argc, char **argv) {
  reindex_args args = {
      .url = getenv("VISOR_URL"), .token = getenv("VISOR_ADMIN_TOKEN"), .progress = "auto"};
  if (!args.url || !*args.url) args.url = "http://localhost:8080";
  int status = parse(argc, argv, &args);
  if (status >= 0) return status;
  char *url = strdup(args.url);
  for (size_t len = strlen(url); len > 0 && url[len - 1] == '/';)
    url[--len] = '\0';
  size_t auth_size = strlen(args.token) + 32;
  char *authorization = malloc(auth_size);
  snprintf(authorization, auth_size, "Authorization: Bearer %s", args.token);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  visor_api_client client = {0};
  visor_error err = {0};
  json_t *run = NULL, *body = json_pack("{s:s}", "scope", args.scope);
  if (args.product_id) json_object_set_new(body, "product_id", json_string(args.product_id));
  if (args.category) json_object_set_new(body, "category", json_string(args.category));
  visor_code code = visor_api_client_init(&client, url, 30, &err);
  if (code == VISOR_OK) {
    client.authorization = authorization;
    code = visor_api_call_json(&client, "POST", "/api/v1/admin/reindex", body, &run, &err);
    /* A scope the server refuses is bad usage; a refused token or a server error is not. */
    if (code != VISOR_OK) status = client.status == 400 || client.status == 404 ? 2 : 1;
  } else {
    status = 1;
  }
  char id[40] = "";
  if (code == VISOR_OK) {
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(run, "id")) ?: "");
    printf("re-index run %s: %ld images of scope %s with %s\n", id, count(run, "total"), args.scope,
           json_string_value(json_object_get(run, "model")) ?: "?");
    fflush(stdout);
    json_decref(run);
    run = NULL;
    status = 0;
    if (!args.no_wait && (code = follow(&client, id, &args, &run, &err)) != VISOR_OK) status = 1;
  }
  if (code == VISOR_OK && run) {
    long failed = count(run, "failed"), cancelled = count(run, "cancelled");
    printf("re-index run %s %s: %ld of %ld images re-indexed, %ld failed, %ld cancelled\n", id,
           json_string_value(json_object_get(run, "status")) ?: "?", count(run, "done"),
           count(run, "total"), failed, cancelled);
    status = failed || cancelled ? 1 : 0;
  }
  if (code != VISOR_OK) fprintf(stderr, "visor reindex: %s\n", err.message);
  json_decref(run);
  json_decref(body);
  visor_api_client_close(&client);
  curl_global_cleanup();
  free(authorization);
  free(url);
  return status;
}
