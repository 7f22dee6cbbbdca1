/* duplicates.h: near-duplicate detection at indexing time: once an image's whole-image
 * vector is written, the other products' images that are the same picture (same sha256,
 * or whole-image cosine at or above --duplicate-threshold) are recorded as duplicates. */
#ifndef VISOR_PIPELINE_DUPLICATES_H
#define VISOR_PIPELINE_DUPLICATES_H

#include "app/app.h"
#include "ml/ml.h"

/* Records the duplicates of image_id (of product_id) given its analysis (the whole-image
 * region's embedding). Found pairs are upserted, so a retry is harmless. */
visor_code visor_pipeline_record_duplicates(visor_app *app, const char *image_id,
                                            const char *product_id, const visor_analysis *analysis,
                                            visor_error *err);

/* The same, for the index pipeline: a failure is logged (the image is indexed anyway). */
void visor_pipeline_note_duplicates(visor_app *app, const char *image_id, const char *product_id,
                                    const visor_analysis *analysis);

#endif
