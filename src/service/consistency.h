/* consistency.h: the consistency check behind `visor check`: every object in the object
 * store and every vector in the embedder's collection must be owned by a row of the
 * metadata store (an image's original, a live region's crop or vector), and every live
 * region must have its vector. Reads everything into memory: meant for catalogues that
 * fit (millions of regions), run while nothing is indexing. */
#ifndef VISOR_SERVICE_CONSISTENCY_H
#define VISOR_SERVICE_CONSISTENCY_H

#include <jansson.h>

#include "app/app.h"

/* Fills *report (caller decrefs) with counts and up to max_examples of each problem:
 * {"objects":N, "orphan_objects":N, "vectors":N, "orphan_vectors":N,
 *  "regions":N, "regions_without_vector":N, "examples":{...}}. app needs the vector store
 * (VISOR_APP_VECTORS). *problems is the sum of the orphan and missing counts. */
visor_code visor_consistency_check(visor_app *app, size_t max_examples, json_t **report,
                                   size_t *problems, visor_error *err);

#endif
