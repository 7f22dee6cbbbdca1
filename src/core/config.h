/* config.h: Visor's configuration. Every option has a flag (--name), an environment
 * variable (VISOR_NAME) and a key in an optional JSON config file (--config / VISOR_CONFIG);
 * flags win over the environment, which wins over the file. Every value is validated at
 * start, with a message that names the bad value. Backend URLs default to the embedded
 * backends under the data folder. */
#ifndef VISOR_CORE_CONFIG_H
#define VISOR_CORE_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "core/error.h"

typedef struct visor_config {
  char *config_file;
  char *data_dir;
  char *host;
  long port;
  char *metadata_url;
  char *queue_url;
  char *blob_url;
  char *vector_url;
  char *ml_url;
  char *models_dir;
  char *model_manifest;
  char *web_dir;
  char *admin_token;
  char *admin_tokens; /* "name:token,..." (core/admin_tokens.h) */
  long http_threads;
  long workers;
  char *kinds;
  double lease_seconds;
  long relay_ms;
  long ml_threads;
  long ml_batch;
  long ml_batch_wait_ms;
  long max_upload_mb;
  long max_pixels;
  long max_decode_pixels; /* pixels one image may decode to at the work size */
  long max_images_per_product;
  double rate_limit;
  long rate_burst;
  long http_max_connections;
  long http_max_per_ip;
  double http_header_timeout;
  double http_body_timeout;
  long job_attempts;
  long client_jobs;           /* index/search jobs one client IP may have queued or running */
  double sweep_seconds;       /* the orphan sweeper's period (0 = only at start) */
  double sweep_grace_seconds; /* age before an unowned object or a temp file is removed */
  double duplicate_threshold; /* whole-image cosine of a near duplicate */
  long refit_after;           /* labelled images since the current projection's fit (0 = off) */
  char *demo_dir;             /* serve --demo: the Grocery Store data set to import */
  char *log_level;
  char *log_format;

  /* The admin review queue (store/review.h): what is listed as below a threshold. */
  double review_detector_score; /* detected regions whose detector score is below this */
  double review_label_score;    /* regions whose label score is below this */
  double review_product_score;  /* products with no detected region scoring this */
  double review_search_score;   /* searches whose best score is below this */
  double review_search_days;    /* searches of the last this many days (0 = all) */
} visor_config;

/* Fills config from defaults, the config file, VISOR_* variables, then argv (the
 * subcommand's arguments, after its name). Unknown flags, bad numbers and out-of-range
 * values are VISOR_ERR_INVALID naming the option and the value. *help is set when
 * --help was given. */
visor_code visor_config_load(visor_config *config, int argc, char **argv, int *help,
                             visor_error *err);
void visor_config_free(visor_config *config);
/* Prints every option with its variable, default and description. */
void visor_config_print_help(FILE *out);

#endif
