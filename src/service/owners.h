/* owners.h: which objects of the object store the metadata store owns (an image's
 * original, a live region's crop) and the listing of the object store's catalogue
 * prefixes: shared by the consistency check (consistency.c) and the orphan sweeper
 * (sweeper.c), so both agree on what an orphan is. */
#ifndef VISOR_SERVICE_OWNERS_H
#define VISOR_SERVICE_OWNERS_H

#include <glib.h>
#include <jansson.h>

#include "app/app.h"
#include "blob/blob.h"

/* *owned: a set of the object keys rows name (g_hash_table_destroy it). *regions (may be
 * NULL): every live region's {"id","vector_id","crop_key"} (caller decrefs). */
visor_code visor_owned_objects(visor_app *app, GHashTable **owned, json_t **regions,
                               visor_error *err);
/* Lists every object under the prefixes Visor writes (images/, crops/). */
visor_code visor_list_catalogue_objects(visor_app *app, visor_blob_list_fn fn, void *ctx,
                                        visor_error *err);

#endif
