/* api_client.h: the few REST calls `visor import` (and `visor reindex`) make to a running Visor,
 * over one libcurl easy handle (one per uploading thread). Throttling answers (429, with
 * Retry-After: the rate limit or the per-client job cap) and 502/503/transport errors are
 * retried with back-off until the deadline; other failures name the server's message. */
#ifndef VISOR_IMPORT_API_CLIENT_H
#define VISOR_IMPORT_API_CLIENT_H

#include <curl/curl.h>
#include <jansson.h>

#include "core/error.h"
#include "import/image_source.h"

typedef struct visor_api_client {
  CURL *curl;
  const char *base_url;      /* e.g. http://localhost:8080, no trailing slash */
  double retry_seconds;      /* give up retrying a throttled or unreachable call after this */
  long status;               /* HTTP status of the last answer (0: none) */
  const char *authorization; /* an "Authorization: ..." header line for every call, or NULL */
} visor_api_client;

visor_code visor_api_client_init(visor_api_client *client, const char *base_url,
                                 double retry_seconds, visor_error *err);
void visor_api_client_close(visor_api_client *client);

/* The id of the live product with this SKU into id (empty when there is none). */
visor_code visor_api_find_product(visor_api_client *client, const char *sku, char id[40],
                                  visor_error *err);
/* The product's images (with their sha256). */
visor_code visor_api_product_images(visor_api_client *client, const char *id, json_t **images,
                                    visor_error *err);
/* Live product images with these bytes: [{image_id, product_id, sku, name}]. */
visor_code visor_api_images_with_digest(visor_api_client *client, const char *sha256,
                                        json_t **images, visor_error *err);
/* Creates the product from fields, with image when not NULL; its id into id. A taken SKU
 * is VISOR_ERR_CONFLICT. *answer (may be NULL) receives the created product. */
visor_code visor_api_create_product(visor_api_client *client, const json_t *fields,
                                    const visor_image_bytes *image, char id[40], json_t **answer,
                                    visor_error *err);
/* Adds one image to product id; *answer (may be NULL) receives the stored image. */
visor_code visor_api_add_image(visor_api_client *client, const char *id,
                               const visor_image_bytes *image, json_t **answer, visor_error *err);

/* Any call with a JSON body (or none): *answer (may be NULL) receives a 2xx answer's JSON.
 * Errors as above: VISOR_ERR_NOT_FOUND (404), VISOR_ERR_CONFLICT (409), VISOR_ERR_INVALID
 * (another 4xx), VISOR_ERR_UNAVAILABLE (5xx, unreachable); client->status says which. */
visor_code visor_api_call_json(visor_api_client *client, const char *method, const char *path,
                               const json_t *body, json_t **answer, visor_error *err);

#endif
