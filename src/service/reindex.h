/* reindex.h: starting a re-index run: the images of one product, one category, those
 * whose regions another embedder made (stale) or all, each given a "reindex" task
 * (pipeline/reindex.c) in one transaction with the run row and its audit entry (action
 * "reindex"); and what the admin sees of model versions: the embedder the pipelines run
 * now and how many images and products still have vectors of another one. */
#ifndef VISOR_SERVICE_REINDEX_H
#define VISOR_SERVICE_REINDEX_H

#include <jansson.h>

#include "app/app.h"
#include "service/corrections.h"

typedef struct visor_reindex_request {
  const char *scope;      /* "product", "category", "stale" or "all" */
  const char *product_id; /* scope product: a live product (else VISOR_ERR_NOT_FOUND) */
  const char *category;   /* scope category: non-empty, some live product has it */
} visor_reindex_request;

/* Validates request (nothing is written when it is bad), then writes the run, one task per
 * image in scope and the audit entry in one transaction and publishes the tasks; *run
 * receives the run (store/reindex.h shape). VISOR_ERR_UNAVAILABLE when no process has
 * recorded the current embedder yet (no worker ever started). */
visor_code visor_reindex_start(visor_app *app, const visor_correction_who *who,
                               const visor_reindex_request *request, json_t **run,
                               visor_error *err);

/* The embedder the pipelines run now ("name@version"): this process's own when it has the
 * ML backend, else the one the workers recorded; "" when none did. */
visor_code visor_reindex_current_model(visor_app *app, visor_db_conn *conn, char *out, size_t size,
                                       visor_error *err);
/* {model, images, products}: the stale counts under the current model. */
visor_code visor_reindex_stale_summary(visor_app *app, visor_db_conn *conn, json_t **summary,
                                       visor_error *err);

/* Sets "stale" on a product object (its "id"): true when a live region of it has a vector
 * of another embedder than the current one (searches see only the current one's). */
visor_code visor_reindex_mark_stale(visor_app *app, visor_db_conn *conn, json_t *product,
                                    visor_error *err);

#endif
