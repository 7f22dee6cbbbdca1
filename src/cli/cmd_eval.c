/* cmd_eval.c: `visor eval DATASET_DIR`: measures retrieval accuracy on a labelled dataset
 * (laid out like the Grocery Store Dataset) for the iconic and/or iconic+train catalogue,
 * each indexed through the real indexing pipeline in a fresh temporary Visor, and prints
 * top-1 / top-k accuracy (fine and coarse), mAP and throughput as a table or JSON.
 * The eval-only flags (and the pipeline settings to experiment with) are taken out of
 * argv before the configuration loader sees the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "eval/eval.h"
#include "pipeline/settings.h"

typedef struct eval_args {
  const char *dataset_dir;
  const char *catalogue; /* iconic, iconic+train, both */
  size_t queries;        /* 0 = all */
  int k;
  int json;
  int tune;
  int feedback;
  const char *embedding_cache;
  visor_pipeline_settings settings;
} eval_args;

static const char *const usage_options =
    "Eval options:\n"
    "  --catalogue C       iconic, iconic+train, both (default), or with --tune unseen (only\n"
    "                      the unseen-products report)\n"
    "  --queries N|all     evaluate N evenly spaced test photos (default all)\n"
    "  --k K               the top-k cut-off besides top-1 (default 5)\n"
    "  --json              print JSON instead of a table\n"
    "  --tune              fit a catalogue projection on the train photos (+ iconic images)\n"
    "                      before indexing; adds the unseen-products report\n"
    "  --embedding-cache F keep the fit photos' embeddings in file F (reused by later runs)\n"
    "  --feedback          split the (--queries) test photos in two by a hash of the file name;\n"
    "                      confirm one half as references of their products and reject their\n"
    "                      wrong top-1 (the admin feedback service), measure the other half\n"
    "                      before and after (docs/EVALUATION.md, \"Feedback\")\n"
    "Pipeline settings to experiment with (defaults: the pipeline's):\n"
    "  --index-regions N   regions per catalogue image, whole image included (1 = whole only, 0 = "
    "detector default)\n"
    "  --index-min-score S detector threshold for catalogue images (0 = model default)\n"
    "  --query-regions N   regions per query image (1 = whole only)\n"
    "  --query-min-score S detector threshold for query images\n"
    "  --overall whole|all which query regions vote in the overall ranking\n"
    "  --detection-weight W  weight of a detected query region's similarity (0..1)\n"
    "  --top-n N           product score = mean of its best N crop similarities\n"
    "  --index-views S,..  centred crops (fraction of the side) of a catalogue image (none = "
    "off)\n"
    "  --index-views-as average|regions  averaged into its whole-image embedding (default) or "
    "indexed as extra regions\n"
    "  --query-views S,..  centred crops averaged into the query's whole-image embedding (none = "
    "off)\n";

static int parse_number(const char *name, const char *value, double min, double max, double *out) {
  char *end = NULL;
  double number = strtod(value, &end);
  if (!*value || *end || number < min || number > max) {
    fprintf(stderr, "visor eval: %s '%s' must be a number in [%g, %g]\n", name, value, min, max);
    return 0;
  }
  *out = number;
  return 1;
}

/* Takes the eval flags and DATASET_DIR out of argv into args; the rest goes to rest
 * (rest_count). Returns 0 on success, else the exit code. */
static int take_eval_args(int argc, char **argv, eval_args *args, char **rest, int *rest_count) {
  visor_pipeline_settings_default(&args->settings);
  args->catalogue = "both";
  args->k = 5;
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--json") == 0) {
      args->json = 1;
      continue;
    }
    if (strcmp(arg, "--tune") == 0) {
      args->tune = 1;
      continue;
    }
    if (strcmp(arg, "--feedback") == 0) {
      args->feedback = 1;
      continue;
    }
    static const char *const valued[] = {
        "--catalogue",       "--queries",         "--k",
        "--index-regions",   "--index-min-score", "--query-regions",
        "--query-min-score", "--overall",         "--detection-weight",
        "--top-n",           "--index-views",     "--query-views",
        "--index-views-as",  "--embedding-cache"};
    const char *name = NULL, *value = NULL;
    for (size_t v = 0; v < sizeof valued / sizeof valued[0]; v++) {
      size_t len = strlen(valued[v]);
      if (strncmp(arg, valued[v], len) == 0 && (arg[len] == '\0' || arg[len] == '=')) {
        name = valued[v];
        if (arg[len] == '=')
          value = arg + len + 1;
        else if (i + 1 < argc)
          value = argv[++i];
        else {
          fprintf(stderr, "visor eval: option '%s' needs a value\n", name);
          return 2;
        }
      }
    }
    double number = 0;
    if (!name) {
      if (strncmp(arg, "-", 1) == 0) { /* a configuration flag (and its value) */
        rest[(*rest_count)++] = argv[i];
        if (strncmp(arg, "--", 2) == 0 && !strchr(arg, '=') && strcmp(arg, "--help") &&
            i + 1 < argc)
          rest[(*rest_count)++] = argv[++i];
      } else if (!args->dataset_dir) {
        args->dataset_dir = arg;
      } else {
        fprintf(stderr, "visor eval: unexpected argument '%s' (one DATASET_DIR)\n", arg);
        return 2;
      }
    } else if (strcmp(name, "--embedding-cache") == 0) {
      args->embedding_cache = value;
    } else if (strcmp(name, "--catalogue") == 0) {
      if (strcmp(value, "iconic") && strcmp(value, "iconic+train") && strcmp(value, "both") &&
          strcmp(value, "unseen")) {
        fprintf(stderr,
                "visor eval: --catalogue '%s' is not iconic, iconic+train, both or unseen\n",
                value);
        return 2;
      }
      args->catalogue = value;
    } else if (strcmp(name, "--queries") == 0) {
      if (strcmp(value, "all") == 0)
        args->queries = 0;
      else if (parse_number(name, value, 1, 1e9, &number))
        args->queries = (size_t)number;
      else
        return 2;
    } else if (strcmp(name, "--k") == 0) {
      if (!parse_number(name, value, 1, 1000, &number)) return 2;
      args->k = (int)number;
    } else if (strcmp(name, "--overall") == 0) {
      if (strcmp(value, "whole") && strcmp(value, "all")) {
        fprintf(stderr, "visor eval: --overall '%s' is not whole or all\n", value);
        return 2;
      }
      args->settings.overall_all_regions = strcmp(value, "all") == 0;
    } else if (strcmp(name, "--index-views-as") == 0) {
      if (strcmp(value, "average") && strcmp(value, "regions")) {
        fprintf(stderr, "visor eval: --index-views-as '%s' is not average or regions\n", value);
        return 2;
      }
      args->settings.index_views_averaged = strcmp(value, "average") == 0;
    } else if (strcmp(name, "--index-views") == 0 || strcmp(name, "--query-views") == 0) {
      int index = strcmp(name, "--index-views") == 0;
      float *scales = index ? args->settings.index_views : args->settings.query_views;
      size_t *count = index ? &args->settings.index_view_count : &args->settings.query_view_count;
      *count = 0;
      char list[128];
      snprintf(list, sizeof list, "%s", strcmp(value, "none") == 0 ? "" : value);
      for (char *save = NULL, *item = strtok_r(list, ",", &save); item;
           item = strtok_r(NULL, ",", &save)) {
        if (*count >= VISOR_PIPELINE_MAX_VIEWS) {
          fprintf(stderr, "visor eval: %s takes at most %d scales\n", name,
                  VISOR_PIPELINE_MAX_VIEWS);
          return 2;
        }
        if (!parse_number(name, item, 0.05, 1, &number)) return 2;
        scales[(*count)++] = (float)number;
      }
    } else {
      double max = strstr(name, "score") || strstr(name, "weight") ? 1 : 64;
      if (!parse_number(name, value, 0, max, &number)) return 2;
      if (strcmp(name, "--index-regions") == 0) args->settings.index.max_regions = (size_t)number;
      if (strcmp(name, "--query-regions") == 0) args->settings.query.max_regions = (size_t)number;
      if (strcmp(name, "--index-min-score") == 0) args->settings.index.min_score = (float)number;
      if (strcmp(name, "--query-min-score") == 0) args->settings.query.min_score = (float)number;
      if (strcmp(name, "--detection-weight") == 0) args->settings.detection_weight = (float)number;
      if (strcmp(name, "--top-n") == 0) args->settings.product_top_n = number < 1 ? 1 : (int)number;
    }
  }
  return 0;
}

int visor_cmd_eval(int argc, char **argv) {
  eval_args args = {0};
  char **rest = calloc((size_t)argc + 3, sizeof *rest);
  if (!rest) return 1;
  int rest_count = 0;
  /* Quiet workers unless the user asks for a log level (a later flag wins). */
  static char log_flag[] = "--log-level", log_warn[] = "warn";
  if (!getenv("VISOR_LOG_LEVEL")) {
    rest[rest_count++] = log_flag;
    rest[rest_count++] = log_warn;
  }
  int status = take_eval_args(argc, argv, &args, rest, &rest_count);
  if (status) {
    free(rest);
    return status;
  }
  visor_config config;
  int done = visor_cli_load_config("eval", rest_count, rest, &config);
  free(rest);
  if (done >= 0) {
    if (done == 0) printf("%s", usage_options);
    return done;
  }
  if (!args.dataset_dir) {
    fprintf(stderr, "visor eval: missing DATASET_DIR (see visor eval --help)\n");
    visor_config_free(&config);
    return 2;
  }
  visor_pipeline_settings_set(&args.settings);
  visor_error err = {0};
  visor_eval_dataset dataset;
  if (visor_eval_dataset_load(args.dataset_dir, &dataset, &err) != VISOR_OK) {
    fprintf(stderr, "visor eval: %s\n", err.message);
    visor_config_free(&config);
    return err.code == VISOR_ERR_NOMEM ? 1 : 2;
  }
  visor_eval_catalogue catalogues[2];
  size_t catalogue_count = 0;
  int unseen_only = strcmp(args.catalogue, "unseen") == 0;
  if (unseen_only && !args.tune) {
    fprintf(stderr, "visor eval: --catalogue unseen is a report of --tune\n");
    visor_eval_dataset_free(&dataset);
    visor_config_free(&config);
    return 2;
  }
  if (!unseen_only && strcmp(args.catalogue, "iconic+train") != 0)
    catalogues[catalogue_count++] = VISOR_EVAL_ICONIC;
  if (!unseen_only && strcmp(args.catalogue, "iconic") != 0)
    catalogues[catalogue_count++] = VISOR_EVAL_ICONIC_TRAIN;
  if (catalogue_count && catalogues[catalogue_count - 1] == VISOR_EVAL_ICONIC_TRAIN &&
      dataset.train_count == 0) {
    fprintf(stderr, "visor eval: the iconic+train catalogue needs %s/train.txt\n", dataset.dir);
    visor_eval_dataset_free(&dataset);
    visor_config_free(&config);
    return 2;
  }
  if (args.tune && dataset.train_count == 0) {
    fprintf(stderr, "visor eval: --tune fits on the train photos: it needs %s/train.txt\n",
            dataset.dir);
    visor_eval_dataset_free(&dataset);
    visor_config_free(&config);
    return 2;
  }
  /* With --tune, the unseen-products report runs last, on the iconic catalogue. */
  visor_eval_report reports[3];
  size_t run_count = catalogue_count + (args.tune ? 1 : 0);
  for (size_t i = 0; status == 0 && i < run_count; i++) {
    int unseen = i == catalogue_count;
    visor_eval_options options = {.catalogue = unseen ? VISOR_EVAL_ICONIC : catalogues[i],
                                  .max_queries = args.queries,
                                  .k = args.k,
                                  .progress = isatty(STDERR_FILENO) ? stderr : NULL,
                                  .tune = args.tune,
                                  .unseen = unseen,
                                  .embedding_cache = args.embedding_cache,
                                  .feedback = args.feedback && !unseen};
    if (visor_eval_run(&config, &dataset, &options, &reports[i], &err) != VISOR_OK) {
      fprintf(stderr, "visor eval: %s\n", err.message);
      status = visor_cli_exit_code(&err);
    }
  }
  if (status == 0) {
    if (args.json)
      visor_eval_print_json(stdout, dataset.dir, reports, run_count, args.k);
    else
      visor_eval_print_table(stdout, reports, run_count, args.k);
  }
  visor_eval_dataset_free(&dataset);
  visor_config_free(&config);
  return status;
}
