/* negatives.h: the demotion of products an admin marked as a wrong match ("reject"
 * feedback, service/feedback.h). A product's negative references are query embeddings of
 * searches where it was wrong; when a query region is close to one of them, the
 * product's score for that region drops:
 *
 *   s       = max cosine(query, n) over the product's newest VISOR_NEGATIVES_PER_PRODUCT
 *             negatives n (of the current embedder)
 *   penalty = VISOR_NEGATIVE_PENALTY * (s - VISOR_NEGATIVE_THRESHOLD) / (1 - threshold)
 *             when s > VISOR_NEGATIVE_THRESHOLD, else 0
 *   score   = score - penalty
 *
 * (the threshold and penalty are pipeline settings, settings.h, defaulting to the
 * constants below) so the very query that was rejected loses the whole penalty and queries less
 * like it lose less; a product without negatives is untouched. One indexed query per query region
 * for its candidate products, at most VISOR_NEGATIVES_PER_PRODUCT dot products each. */
#ifndef VISOR_PIPELINE_NEGATIVES_H
#define VISOR_PIPELINE_NEGATIVES_H

#include <stddef.h>

#include "app/app.h"

#define VISOR_NEGATIVES_PER_PRODUCT 16
#define VISOR_NEGATIVE_THRESHOLD 0.90f
#define VISOR_NEGATIVE_PENALTY 0.25f

/* penalties[i] (>= 0) for product_ids[i] (count of them; repeats allowed) against the
 * query region's L2-normalised embedding query of app->vectors->dim floats. */
visor_code visor_negative_penalties(visor_app *app, visor_db_conn *conn, const float *query,
                                    const char *const *product_ids, size_t count, float *penalties,
                                    visor_error *err);

#endif
