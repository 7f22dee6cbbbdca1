/* config.c: loading and validating visor_config (see config.h), driven by one table of
 * options. */
#include "core/config.h"

#include "core/admin_tokens.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum option_type { OPT_STRING, OPT_LONG, OPT_DOUBLE } option_type;

typedef struct option_spec {
  const char *name; /* flag without "--", and the config file key */
  const char *env;
  option_type type;
  size_t offset;
  const char *default_value; /* NULL: unset (derived or optional) */
  double min, max;           /* numbers */
  const char *help;
} option_spec;

#define FIELD(f) offsetof(visor_config, f)

static const option_spec options[] = {
    {"config", "VISOR_CONFIG", OPT_STRING, FIELD(config_file), NULL, 0, 0,
     "JSON config file with the same keys as the flags"},
    {"data-dir", "VISOR_DATA_DIR", OPT_STRING, FIELD(data_dir), "./data", 0, 0,
     "folder for the embedded backends"},
    {"host", "VISOR_HOST", OPT_STRING, FIELD(host), "0.0.0.0", 0, 0, "address to listen on"},
    {"port", "VISOR_PORT", OPT_LONG, FIELD(port), "8080", 0, 65535,
     "port to listen on (0 = any free port)"},
    {"metadata", "VISOR_METADATA", OPT_STRING, FIELD(metadata_url), NULL, 0, 0,
     "metadata URL: sqlite://PATH or postgres://... (default sqlite://DATA/visor.db)"},
    {"queue", "VISOR_QUEUE", OPT_STRING, FIELD(queue_url), "local", 0, 0,
     "queue URL: local (in the metadata DB) or redis://host:port/db"},
    {"objects", "VISOR_OBJECTS", OPT_STRING, FIELD(blob_url), NULL, 0, 0,
     "object store URL (default file://DATA/blobs)"},
    {"vectors", "VISOR_VECTORS", OPT_STRING, FIELD(vector_url), NULL, 0, 0,
     "vector store URL (default hnsw://DATA/vectors)"},
    {"ml", "VISOR_ML", OPT_STRING, FIELD(ml_url), "local", 0, 0,
     "ML service: local (in-process) or http://host:port"},
    {"models", "VISOR_MODELS", OPT_STRING, FIELD(models_dir), "./models", 0, 0,
     "folder with the ONNX model files"},
    {"model-manifest", "VISOR_MODEL_MANIFEST", OPT_STRING, FIELD(model_manifest), NULL, 0, 0,
     "models.json (default MODELS/models.json, else the one shipped with Visor)"},
    {"web-dir", "VISOR_WEB_DIR", OPT_STRING, FIELD(web_dir), NULL, 0, 0,
     "built web app to serve at / (default: the one built with Visor)"},
    {"admin-token", "VISOR_ADMIN_TOKEN", OPT_STRING, FIELD(admin_token), NULL, 0, 0,
     "token for admin routes, named \"admin\" (unset, like admin-tokens: admin routes are "
     "refused)"},
    {"admin-tokens", "VISOR_ADMIN_TOKENS", OPT_STRING, FIELD(admin_tokens), NULL, 0, 0,
     "more admin tokens as name:token,name:token (16+ characters each); the name is recorded "
     "as who made a correction"},
    {"http-threads", "VISOR_HTTP_THREADS", OPT_LONG, FIELD(http_threads), "16", 1, 256,
     "HTTP worker threads"},
    {"workers", "VISOR_WORKERS", OPT_LONG, FIELD(workers), "2", 0, 64,
     "task worker threads in this process (0 = none; --concurrency is the same)"},
    {"kinds", "VISOR_KINDS", OPT_STRING, FIELD(kinds), "index,search,meta,sync,reindex,tune", 0, 0,
     "task kinds this process's workers run (comma-separated)"},
    {"lease-seconds", "VISOR_LEASE_SECONDS", OPT_DOUBLE, FIELD(lease_seconds), "15", 0.1, 3600,
     "task lease, renewed every third of it while a task runs; a dead worker's task is "
     "taken over after this long"},
    {"relay-ms", "VISOR_RELAY_MS", OPT_LONG, FIELD(relay_ms), "1000", 10, 60000,
     "how often the outbox relay looks for tasks left unpublished (a crash after commit)"},
    {"ml-threads", "VISOR_ML_THREADS", OPT_LONG, FIELD(ml_threads), "0", 0, 64,
     "ONNX Runtime intra-op threads (0 = its default)"},
    {"ml-batch", "VISOR_ML_BATCH", OPT_LONG, FIELD(ml_batch), "8", 1, 256,
     "visor ml: largest batch of concurrent requests run together"},
    {"ml-batch-wait-ms", "VISOR_ML_BATCH_WAIT_MS", OPT_LONG, FIELD(ml_batch_wait_ms), "5", 0, 1000,
     "visor ml: longest wait for a batch to fill, in ms"},
    {"max-upload-mb", "VISOR_MAX_UPLOAD_MB", OPT_LONG, FIELD(max_upload_mb), "25", 1, 1024,
     "largest request body with uploads, in MiB"},
    {"max-pixels", "VISOR_MAX_PIXELS", OPT_LONG, FIELD(max_pixels), "40000000", 1, 1000000000,
     "largest image, in pixels (checked before decoding)"},
    {"max-decode-pixels", "VISOR_MAX_DECODE_PIXELS", OPT_LONG, FIELD(max_decode_pixels), "16000000",
     0, 1000000000,
     "most pixels an upload may decode to when shrunk on load to the 1024-pixel work size "
     "(JPEG and WebP shrink while decoding, PNG, GIF, TIFF and HEIF do not); bounds a "
     "worker's decode time (0 = no limit)"},
    {"max-images", "VISOR_MAX_IMAGES", OPT_LONG, FIELD(max_images_per_product), "20", 1, 1000,
     "most images in one upload"},
    {"rate-limit", "VISOR_RATE_LIMIT", OPT_DOUBLE, FIELD(rate_limit), "50", 0, 1e6,
     "requests per second per client IP (0 = off)"},
    {"rate-burst", "VISOR_RATE_BURST", OPT_LONG, FIELD(rate_burst), "100", 1, 1000000,
     "burst size of the rate limit"},
    {"http-max-connections", "VISOR_HTTP_MAX_CONNECTIONS", OPT_LONG, FIELD(http_max_connections),
     "1000", 1, 100000, "HTTP connections open at once; more are refused"},
    {"http-max-per-ip", "VISOR_HTTP_MAX_PER_IP", OPT_LONG, FIELD(http_max_per_ip), "64", 0, 100000,
     "HTTP connections open at once from one client address (0 = no cap, e.g. behind a proxy)"},
    {"http-header-timeout", "VISOR_HTTP_HEADER_TIMEOUT", OPT_DOUBLE, FIELD(http_header_timeout),
     "10", 0, 3600,
     "seconds for a request line and headers to arrive in full, not reset by each byte "
     "(0 = none); then 408"},
    {"http-body-timeout", "VISOR_HTTP_BODY_TIMEOUT", OPT_DOUBLE, FIELD(http_body_timeout), "120", 0,
     86400, "seconds for a request body to arrive in full after its headers (0 = none); then 408"},
    {"job-attempts", "VISOR_JOB_ATTEMPTS", OPT_LONG, FIELD(job_attempts), "5", 1, 100,
     "attempts before a job fails"},
    {"client-jobs", "VISOR_CLIENT_JOBS", OPT_LONG, FIELD(client_jobs), "32", 0, 1000000,
     "index and search jobs one client IP may have queued or running; more get 429 with "
     "Retry-After (0 = no cap)"},
    {"sweep-seconds", "VISOR_SWEEP_SECONDS", OPT_DOUBLE, FIELD(sweep_seconds), "3600", 0, 1e7,
     "how often processes with workers remove orphaned objects and temp files (0 = at start "
     "only)"},
    {"sweep-grace-seconds", "VISOR_SWEEP_GRACE_SECONDS", OPT_DOUBLE, FIELD(sweep_grace_seconds),
     "3600", 0, 1e8,
     "age an object without a row, or an object store temp file, must reach before the "
     "sweeper removes it"},
    {"demo", "VISOR_DEMO", OPT_STRING, FIELD(demo_dir), NULL, 0, 0,
     "visor serve: import the Grocery Store data set at DIR (its 81 products) at start, through "
     "the API; products already there are skipped"},
    {"duplicate-threshold", "VISOR_DUPLICATE_THRESHOLD", OPT_DOUBLE, FIELD(duplicate_threshold),
     "0.97", 0, 1.01,
     "whole-image cosine similarity at or above which an indexed image is recorded as a near "
     "duplicate of another product's image (above 1 = never)"},
    {"review-detector-score", "VISOR_REVIEW_DETECTOR_SCORE", OPT_DOUBLE,
     FIELD(review_detector_score), "0.5", 0, 1,
     "admin review queue: a detected region whose detector score is below this is listed"},
    {"review-label-score", "VISOR_REVIEW_LABEL_SCORE", OPT_DOUBLE, FIELD(review_label_score), "0.3",
     0, 1, "admin review queue: a region whose label score is below this is listed"},
    {"review-product-score", "VISOR_REVIEW_PRODUCT_SCORE", OPT_DOUBLE, FIELD(review_product_score),
     "0.5", 0, 1,
     "admin review queue: an indexed product with no detected region scoring at least this is "
     "listed"},
    {"review-search-score", "VISOR_REVIEW_SEARCH_SCORE", OPT_DOUBLE, FIELD(review_search_score),
     "0.6", -1, 1,
     "admin review queue: a search whose best product scores below this (cosine) is listed"},
    {"review-search-days", "VISOR_REVIEW_SEARCH_DAYS", OPT_DOUBLE, FIELD(review_search_days), "7",
     0, 3650, "admin review queue: searches of the last this many days (0 = all)"},
    {"refit-after", "VISOR_REFIT_AFTER", OPT_LONG, FIELD(refit_after), "0", 0, 100000000,
     "refit the current catalogue projection in the background (a \"tune\" task) once this "
     "many labelled images (of products with 2 or more) were added since its fit (0 = off)"},
    {"log-level", "VISOR_LOG_LEVEL", OPT_STRING, FIELD(log_level), "info", 0, 0,
     "debug, info, warn or error"},
    {"log-format", "VISOR_LOG_FORMAT", OPT_STRING, FIELD(log_format), "plain", 0, 0,
     "plain or json"},
};
#define OPTION_COUNT (sizeof options / sizeof options[0])

static visor_code set_value(visor_config *config, const option_spec *spec, const char *value,
                            const char *source, visor_error *err) {
  char *base = (char *)config;
  if (spec->type == OPT_STRING) {
    char **slot = (char **)(base + spec->offset);
    char *copy = strdup(value);
    if (!copy) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    free(*slot);
    *slot = copy;
    return VISOR_OK;
  }
  char *end = NULL;
  errno = 0;
  double number = spec->type == OPT_LONG ? (double)strtol(value, &end, 10) : strtod(value, &end);
  if (!*value || errno || !end || *end)
    return visor_error_set(err, VISOR_ERR_INVALID, "%s: %s '%s' is not a %s", source, spec->name,
                           value, spec->type == OPT_LONG ? "whole number" : "number");
  if (number < spec->min || number > spec->max)
    return visor_error_set(err, VISOR_ERR_INVALID, "%s: %s %s is out of range [%g, %g]", source,
                           spec->name, value, spec->min, spec->max);
  if (spec->type == OPT_LONG)
    *(long *)(base + spec->offset) = (long)number;
  else
    *(double *)(base + spec->offset) = number;
  return VISOR_OK;
}

static const option_spec *find_option(const char *name) {
  if (strcmp(name, "concurrency") == 0) name = "workers"; /* visor worker's usual name */
  for (size_t i = 0; i < OPTION_COUNT; i++)
    if (strcmp(options[i].name, name) == 0) return &options[i];
  return NULL;
}

static visor_code load_file(visor_config *config, const char *path, visor_error *err) {
  json_error_t json_err;
  json_t *root = json_load_file(path, 0, &json_err);
  if (!root)
    return visor_error_set(err, VISOR_ERR_INVALID, "config file '%s': %s (line %d)", path,
                           json_err.text, json_err.line);
  visor_code code = VISOR_OK;
  if (!json_is_object(root))
    code =
        visor_error_set(err, VISOR_ERR_INVALID, "config file '%s' must hold a JSON object", path);
  const char *key;
  json_t *value;
  json_object_foreach(root, key, value) {
    if (code != VISOR_OK) break;
    const option_spec *spec = find_option(key);
    if (!spec || strcmp(key, "config") == 0) {
      code =
          visor_error_set(err, VISOR_ERR_INVALID, "config file '%s': unknown key '%s'", path, key);
      break;
    }
    char number[64];
    const char *text = NULL;
    if (json_is_string(value))
      text = json_string_value(value);
    else if (json_is_integer(value))
      snprintf(number, sizeof number, "%lld", (long long)json_integer_value(value)), text = number;
    else if (json_is_real(value))
      snprintf(number, sizeof number, "%.17g", json_real_value(value)), text = number;
    if (!text) {
      code = visor_error_set(err, VISOR_ERR_INVALID,
                             "config file '%s': '%s' must be a string or number", path, key);
      break;
    }
    char source[300];
    snprintf(source, sizeof source, "config file '%.200s'", path);
    code = set_value(config, spec, text, source, err);
  }
  json_decref(root);
  return code;
}

/* Fills URLs that default to the data folder. */
static visor_code derive_defaults(visor_config *config, visor_error *err) {
  struct {
    char **slot;
    const char *format;
  } derived[] = {{&config->metadata_url, "sqlite://%s/visor.db"},
                 {&config->blob_url, "file://%s/blobs"},
                 {&config->vector_url, "hnsw://%s/vectors"}};
  for (size_t i = 0; i < sizeof derived / sizeof derived[0]; i++) {
    if (*derived[i].slot) continue;
    size_t size = strlen(config->data_dir) + 32;
    *derived[i].slot = malloc(size);
    if (!*derived[i].slot) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    snprintf(*derived[i].slot, size, derived[i].format, config->data_dir);
  }
  return VISOR_OK;
}

static visor_code validate(const visor_config *config, visor_error *err) {
  if (strcmp(config->log_level, "debug") && strcmp(config->log_level, "info") &&
      strcmp(config->log_level, "warn") && strcmp(config->log_level, "error"))
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "log-level '%s' is not debug, info, warn or error", config->log_level);
  if (strcmp(config->log_format, "plain") && strcmp(config->log_format, "json"))
    return visor_error_set(err, VISOR_ERR_INVALID, "log-format '%s' is not plain or json",
                           config->log_format);
  if (!*config->data_dir) return visor_error_set(err, VISOR_ERR_INVALID, "data-dir is empty");
  if (config->admin_token && strlen(config->admin_token) < VISOR_ADMIN_TOKEN_MIN)
    return visor_error_set(err, VISOR_ERR_INVALID, "admin-token must be at least %d characters",
                           VISOR_ADMIN_TOKEN_MIN);
  visor_admin_tokens tokens;
  visor_code code =
      visor_admin_tokens_parse(config->admin_token, config->admin_tokens, &tokens, err);
  if (code != VISOR_OK) return code;
  visor_admin_tokens_free(&tokens);
  if (!*config->kinds) return visor_error_set(err, VISOR_ERR_INVALID, "kinds is empty");
  /* Backend URLs are checked by the backends' dispatchers (app/app.h). */
  return VISOR_OK;
}

visor_code visor_config_load(visor_config *config, int argc, char **argv, int *help,
                             visor_error *err) {
  memset(config, 0, sizeof *config);
  *help = 0;
  visor_code code = VISOR_OK;
  for (size_t i = 0; code == VISOR_OK && i < OPTION_COUNT; i++)
    if (options[i].default_value)
      code = set_value(config, &options[i], options[i].default_value, "default", err);
  /* The config file's path may come from a flag or the environment: find it first. */
  const char *file = getenv("VISOR_CONFIG");
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
      file = argv[i + 1];
    else if (strncmp(argv[i], "--config=", 9) == 0)
      file = argv[i] + 9;
  }
  if (code == VISOR_OK && file && *file) code = load_file(config, file, err);
  for (size_t i = 0; code == VISOR_OK && i < OPTION_COUNT; i++) {
    const char *value = getenv(options[i].env);
    if (value && options[i].offset != FIELD(config_file)) {
      char source[64];
      snprintf(source, sizeof source, "environment %s", options[i].env);
      code = set_value(config, &options[i], value, source, err);
    }
  }
  for (int i = 0; code == VISOR_OK && i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      *help = 1;
      continue;
    }
    if (strncmp(arg, "--", 2) != 0) {
      code = visor_error_set(err, VISOR_ERR_INVALID, "unexpected argument '%s'", arg);
      break;
    }
    char name[64];
    const char *value = NULL;
    const char *equals = strchr(arg, '=');
    size_t name_len = equals ? (size_t)(equals - arg - 2) : strlen(arg + 2);
    if (name_len >= sizeof name) name_len = sizeof name - 1;
    memcpy(name, arg + 2, name_len);
    name[name_len] = '\0';
    const option_spec *spec = find_option(name);
    if (!spec) {
      code = visor_error_set(err, VISOR_ERR_INVALID, "unknown option '--%s' (see --help)", name);
      break;
    }
    if (equals)
      value = equals + 1;
    else if (i + 1 < argc)
      value = argv[++i];
    else {
      code = visor_error_set(err, VISOR_ERR_INVALID, "option '--%s' needs a value", name);
      break;
    }
    code = set_value(config, spec, value, "flag", err);
  }
  if (code == VISOR_OK) code = derive_defaults(config, err);
  if (code == VISOR_OK && !*help) code = validate(config, err);
  if (code != VISOR_OK) visor_config_free(config);
  return code;
}

void visor_config_free(visor_config *config) {
  for (size_t i = 0; i < OPTION_COUNT; i++)
    if (options[i].type == OPT_STRING) {
      char **slot = (char **)((char *)config + options[i].offset);
      free(*slot);
      *slot = NULL;
    }
}

void visor_config_print_help(FILE *out) {
  fprintf(out, "Options (flag, environment variable, default):\n");
  for (size_t i = 0; i < OPTION_COUNT; i++)
    fprintf(out, "  --%-16s %-22s %-12s %s\n", options[i].name, options[i].env,
            options[i].default_value ? options[i].default_value : "-", options[i].help);
}
