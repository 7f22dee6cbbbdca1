/* routes_products.c: /api/v1/products: create (JSON, or multipart with images), list with
 * paging / sorting / category and text filters, get (with images and their jobs), update,
 * soft delete, and adding images to a product. Each image upload queues an index job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "api/uploads.h"
#include "api/validate.h"
#include "core/uuid.h"
#include "service/catalogue.h"
#include "service/reindex.h"
#include "store/catalog.h"
#include "store/duplicates.h"

/* Builds the product object from multipart text fields (labels as JSON text, number fields
 * through the parser JSON bodies' rules use). */
static visor_code product_from_form(visor_http_request *req, json_t **out, visor_error *err) {
  const char *const *names, *const *values;
  size_t count = visor_http_form_fields(req, &names, &values);
  json_t *product = json_object();
  for (size_t i = 0; i < count; i++) {
    json_t *value = NULL;
    const visor_field_rule *rule;
    if (strcmp(names[i], "labels") == 0) {
      value = json_loads(values[i], 0, NULL);
      if (!value) {
        json_decref(product);
        return visor_error_set(err, VISOR_ERR_INVALID,
                               "field 'labels' must be a JSON object of strings");
      }
    } else if ((rule = visor_field_rule_find(visor_product_rules, visor_product_rule_count,
                                             names[i])) &&
               (rule->type == VISOR_FIELD_NUMBER || rule->type == VISOR_FIELD_INTEGER)) {
      if (!*values[i]) continue; /* an empty number field is absent */
      visor_code code = visor_validate_number_text(rule, values[i], &value, err);
      if (code != VISOR_OK) {
        json_decref(product);
        return code;
      }
    } else {
      value = json_string(values[i]);
    }
    json_object_set_new(product, names[i], value);
  }
  *out = product;
  return VISOR_OK;
}

/* Inserts one image row per upload, each with a queued index job, on conn (inside the
 * caller's transaction); appends {image, job_id} to images_out. */
static visor_code insert_images(visor_app *app, visor_http_request *req, visor_db_conn *conn,
                                const char *product_id, const visor_uploaded_image *images,
                                size_t count, json_t *images_out, visor_error *err) {
  for (size_t i = 0; i < count; i++) {
    const visor_uploaded_image *image = &images[i];
    char job_id[40];
    visor_image_record record = {.id = image->id,
                                 .purpose = "product",
                                 .object_key = image->key,
                                 .filename = image->filename,
                                 .content_type = image->content_type,
                                 .width = image->info.width,
                                 .height = image->info.height,
                                 .format = image->info.format,
                                 .size_bytes = (int64_t)image->size,
                                 .sha256 = image->sha256};
    visor_code code = visor_catalogue_add_image(app, conn, product_id, &record, job_id, err);
    if (code == VISOR_OK) code = visor_route_tag_job(req, conn, job_id, err);
    if (code != VISOR_OK) return code;
    json_t *stored = NULL, *duplicates = NULL;
    if (visor_image_get(conn, image->id, &stored, err) == VISOR_OK) {
      /* Exact duplicates: the same bytes already under another product, answered and
       * recorded now (near ones are found when the image is indexed). */
      code = visor_images_with_sha256(conn, image->sha256, product_id, &duplicates, err);
      size_t index;
      json_t *other;
      json_array_foreach(code == VISOR_OK ? duplicates : NULL, index, other) {
        code = visor_duplicate_upsert(
            conn, image->id, product_id, json_string_value(json_object_get(other, "image_id")),
            json_string_value(json_object_get(other, "product_id")), "exact", 1.0, err);
        if (code != VISOR_OK) break;
      }
      json_object_set_new(stored, "duplicates", duplicates ? duplicates : json_array());
      json_array_append_new(images_out, stored);
      if (code != VISOR_OK) return code;
    }
  }
  return VISOR_OK;
}

/* Checks the uploads and writes product (when given) + images + jobs in one transaction.
 * On any failure the uploaded objects are removed and an error response is sent. */
static json_t *store_product_and_images(visor_app *app, visor_http_request *req,
                                        visor_http_response *res, const char *product_id,
                                        const json_t *new_product) {
  visor_http_upload *uploads = NULL;
  size_t count = visor_http_uploads(req, &uploads);
  visor_error err = {0};
  visor_uploaded_image *images = count ? calloc(count, sizeof *images) : NULL;
  visor_code code = VISOR_OK;
  if (count && !images) code = visor_error_set(&err, VISOR_ERR_NOMEM, "out of memory");
  if (code == VISOR_OK && count > (size_t)app->config->max_images_per_product)
    code = visor_error_set(&err, VISOR_ERR_INVALID, "%zu images in one request, the limit is %ld",
                           count, app->config->max_images_per_product);
  if (code == VISOR_OK && !visor_route_client_admit(app, req, res, count)) {
    visor_uploads_discard(app, uploads, count);
    free(images);
    return NULL;
  }
  if (code == VISOR_OK) code = visor_uploads_check(app, uploads, count, images, &err);
  json_t *result = NULL;
  visor_db_conn *conn = NULL;
  if (code == VISOR_OK && !(conn = visor_db_acquire(app->db, &err))) code = err.code;
  if (code == VISOR_OK) code = visor_db_begin(conn, &err);
  if (code == VISOR_OK) {
    if (new_product)
      code = visor_product_insert(conn, product_id, new_product, &err);
    else { /* adding to an existing product: it must be live */
      json_t *existing = NULL;
      code = visor_product_get(conn, product_id, &existing, &err);
      json_decref(existing);
    }
    json_t *image_list = json_array();
    if (code == VISOR_OK)
      code = insert_images(app, req, conn, product_id, images, count, image_list, &err);
    if (code == VISOR_OK)
      code = visor_db_commit(conn, &err);
    else
      visor_db_rollback(conn);
    if (code == VISOR_OK) {
      json_t *product = NULL;
      if (visor_product_get(conn, product_id, &product, &err) == VISOR_OK) {
        json_object_set_new(product, "images", image_list);
        result = product;
      } else {
        json_decref(image_list);
        code = err.code;
      }
    } else {
      json_decref(image_list);
    }
  }
  visor_db_release(conn);
  free(images);
  if (code != VISOR_OK) {
    visor_uploads_discard(app, uploads, count);
    visor_route_fail(res, &err);
    return NULL;
  }
  visor_uploads_release(uploads, count);
  if (count) visor_app_jobs_committed(app);
  return result;
}

static void create_product(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  visor_error err = {0};
  json_t *product = NULL;
  if (visor_http_is_multipart(req)) {
    if (product_from_form(req, &product, &err) != VISOR_OK) {
      visor_http_upload *uploads = NULL;
      visor_uploads_discard(app, uploads, visor_http_uploads(req, &uploads));
      visor_route_fail(res, &err);
      return;
    }
  } else {
    json_t *body = visor_http_json_body(req, res);
    if (!body) return;
    product = json_incref(body);
  }
  if (visor_validate_object(product, visor_product_rules, visor_product_rule_count, 0, &err) !=
      VISOR_OK) {
    json_decref(product);
    visor_http_upload *uploads = NULL;
    visor_uploads_discard(app, uploads, visor_http_uploads(req, &uploads));
    visor_route_fail(res, &err);
    return;
  }
  char id[40];
  visor_uuid_new(id);
  json_t *created = store_product_and_images(app, req, res, id, product);
  json_decref(product);
  if (!created) return;
  char location[80];
  snprintf(location, sizeof location, "/api/v1/products/%s", id);
  visor_http_set_header(res, "Location", location);
  visor_http_respond_json(res, 201, created);
}

static void add_images(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  visor_http_upload *uploads = NULL;
  size_t count = visor_http_uploads(req, &uploads);
  const char *id = visor_route_id(req, res, "id");
  if (!id || !visor_http_is_multipart(req) || count == 0) {
    visor_uploads_discard(app, uploads, count);
    if (id)
      visor_http_respond_error(res, 400, "invalid_argument",
                               "send the images as multipart/form-data field 'images'");
    return;
  }
  json_t *product = store_product_and_images(app, req, res, id, NULL);
  if (!product) return;
  json_t *images = json_incref(json_object_get(product, "images"));
  json_decref(product);
  visor_http_respond_json(res, 201, json_pack("{s:o}", "images", images));
}

/* Adds images (each with its job and regions) to a product object. */
visor_code visor_api_product_details(visor_app *app, visor_db_conn *conn, json_t *product,
                                     visor_error *err) {
  json_t *images = NULL;
  visor_code code =
      visor_image_list(conn, json_string_value(json_object_get(product, "id")), &images, err);
  if (code != VISOR_OK) return code;
  size_t index;
  json_t *image;
  json_array_foreach(images, index, image) {
    code = visor_api_image_details(app, conn, image, err);
    if (code != VISOR_OK) break;
  }
  json_object_set_new(product, "images", images);
  if (code == VISOR_OK) code = visor_reindex_mark_stale(app, conn, product, err);
  return code;
}

static void get_product(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  const char *id = NULL;
  visor_db_conn *conn = visor_route_id_conn(app, req, res, &id);
  if (!conn) return;
  visor_error err = {0};
  json_t *product = NULL;
  visor_code code = visor_product_get(conn, id, &product, &err);
  if (code == VISOR_OK) code = visor_api_product_details(app, conn, product, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    json_decref(product);
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(res, 200, product);
}

/* GET /api/v1/products?sku=: the live product with that SKU, as a page of 0 or 1 items. */
static void find_product_by_sku(visor_app *app, visor_http_response *res, const char *sku) {
  visor_db_conn *conn = visor_route_conn(app, res);
  if (!conn) return;
  visor_error err = {0};
  json_t *product = NULL, *items = json_array();
  visor_code code = visor_product_find_by_sku(conn, sku, &product, &err);
  visor_db_release(conn);
  if (code == VISOR_OK)
    json_array_append_new(items, product);
  else if (code != VISOR_ERR_NOT_FOUND) {
    json_decref(items);
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(res, 200, visor_route_page(items, (int64_t)json_array_size(items), 1, 0));
}

static void list_products(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  const char *sku = visor_http_query(req, "sku");
  if (sku) {
    find_product_by_sku(app, res, sku);
    return;
  }
  visor_product_query query = {.category = visor_http_query(req, "category"),
                               .text = visor_http_query(req, "q"),
                               .sort = visor_http_query(req, "sort")};
  if (!visor_route_paging(req, res, 24, 200, &query.limit, &query.offset)) return;
  if (query.text && strlen(query.text) > 200) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "query parameter 'q' is longer than 200 characters");
    return;
  }
  visor_error err = {0};
  const char *filter_text = visor_http_query(req, "filter");
  visor_filter_expr *filter = NULL;
  if (filter_text && *filter_text &&
      visor_filter_parse(filter_text, VISOR_FILTER_FIELDS_LISTING, &filter, &err) != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  query.filter = filter;
  visor_db_conn *conn = visor_route_conn(app, res);
  if (!conn) {
    visor_filter_free(filter);
    return;
  }
  json_t *items = NULL;
  int64_t total = 0;
  visor_code code = visor_product_list(conn, &query, &items, &total, &err);
  visor_db_release(conn);
  visor_filter_free(filter);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(res, 200, visor_route_page(items, total, query.limit, query.offset));
}

static void update_product(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  const char *id = visor_route_id(req, res, "id");
  if (!id) return;
  json_t *changes = visor_http_json_body(req, res);
  if (!changes) return;
  visor_error err = {0};
  if (visor_validate_object(changes, visor_product_rules, visor_product_rule_count, 1, &err) !=
      VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  json_t *product = NULL;
  char job_id[40];
  if (visor_catalogue_update_product(app, id, changes, &product, job_id, &err) != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  /* The job that carries a new category, labels or price into the vectors' metadata. */
  if (job_id[0]) json_object_set_new(product, "meta_job_id", json_string(job_id));
  visor_http_respond_json(res, 200, product);
}

static void delete_product(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  const char *id = NULL;
  visor_db_conn *conn = visor_route_id_conn(app, req, res, &id);
  if (!conn) return;
  visor_error err = {0};
  visor_code code = visor_product_soft_delete(conn, id, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_bytes(res, 204, "application/json", NULL, 0);
}

static void list_categories(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)req;
  visor_db_conn *conn = visor_route_conn(ctx, res);
  if (!conn) return;
  visor_error err = {0};
  json_t *categories = NULL;
  visor_code code = visor_category_list(conn, &categories, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(res, 200, json_pack("{s:o}", "items", categories));
}

visor_code visor_api_register_products(visor_http_server *server, visor_app *app,
                                       visor_error *err) {
  visor_route_options uploads = {
      .max_body = app->max_upload_bytes, .sink = &visor_image_upload_sink, .sink_ctx = app};
  struct {
    const char *method, *pattern;
    visor_http_handler handler;
    const visor_route_options *options;
  } routes[] = {{"POST", "/api/v1/products", create_product, &uploads},
                {"GET", "/api/v1/products", list_products, NULL},
                {"GET", "/api/v1/products/{id}", get_product, NULL},
                {"PATCH", "/api/v1/products/{id}", update_product, NULL},
                {"DELETE", "/api/v1/products/{id}", delete_product, NULL},
                {"POST", "/api/v1/products/{id}/images", add_images, &uploads},
                {"GET", "/api/v1/categories", list_categories, NULL}};
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    visor_code code = visor_http_route(server, routes[i].method, routes[i].pattern,
                                       routes[i].handler, app, routes[i].options, err);
    if (code != VISOR_OK) return code;
  }
  return VISOR_OK;
}
