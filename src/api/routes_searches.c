/* routes_searches.c: /api/v1/searches: submit a query photo with k and filters (queues a
 * "search" job; ?wait=SECONDS returns the results inline when they are ready in time),
 * optionally a drawn `box` to search that region alone, or `search_id` to search the query
 * image of an earlier search again without uploading it (with a `box`, or the `region`
 * ordinal of one of that search's regions: "search with this object"); get a search with
 * its results
 * (optionally waiting), and the query image. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "jobs/job_state.h"
#include "api/uploads.h"
#include "core/uuid.h"
#include "store/catalog.h"
#include "store/searches.h"

#define MAX_WAIT_S 60
#define MAX_K 100
#define MAX_FILTER_VALUES 16
#define MIN_BOX_SIDE 8 /* pixels: smaller regions hold too little to embed */
#define MAX_OFFSET 400

/* What a search request asks besides k and filters. */
typedef struct search_fields {
  json_t *box;          /* {"x","y","w","h"} as sent, or NULL */
  const char *reuse_id; /* search_id: search that search's query image again */
  int region;           /* the ordinal of one of that search's regions, or -1 */
  int offset;           /* the page of k results after the first `offset` */
  const char *group;    /* "product" (one result per product) or "none" (every crop) */
} search_fields;

/* Parses the box field: a JSON object of exactly the numbers x, y, w, h. */
static visor_code parse_box(const char *text, json_t **box, visor_error *err) {
  static const char *const keys[] = {"x", "y", "w", "h"};
  json_t *parsed = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
  visor_code code = VISOR_OK;
  if (!json_is_object(parsed) || json_object_size(parsed) != 4)
    code = visor_error_set(err, VISOR_ERR_INVALID,
                           "field 'box' must be a JSON object {\"x\", \"y\", \"w\", \"h\"} of "
                           "numbers in image pixels");
  for (size_t i = 0; code == VISOR_OK && i < 4; i++) {
    json_t *value = json_object_get(parsed, keys[i]);
    if (!json_is_number(value) || !isfinite(json_number_value(value)))
      code = visor_error_set(err, VISOR_ERR_INVALID, "field 'box' needs a number '%s'", keys[i]);
  }
  if (code != VISOR_OK) {
    json_decref(parsed);
    return code;
  }
  *box = parsed;
  return VISOR_OK;
}

/* The box must lie inside the width x height image and be at least MIN_BOX_SIDE a side. */
static visor_code check_box(const json_t *box, int64_t width, int64_t height, visor_error *err) {
  double x = json_number_value(json_object_get(box, "x")),
         y = json_number_value(json_object_get(box, "y")),
         w = json_number_value(json_object_get(box, "w")),
         h = json_number_value(json_object_get(box, "h"));
  if (w < MIN_BOX_SIDE || h < MIN_BOX_SIDE)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "field 'box' is %gx%g pixels: each side must be at least %d", w, h,
                           MIN_BOX_SIDE);
  if (x < 0 || y < 0 || x + w > (double)width + 0.5 || y + h > (double)height + 0.5)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "field 'box' {x %g, y %g, w %g, h %g} is not inside the %lldx%lld image",
                           x, y, w, h, (long long)width, (long long)height);
  return VISOR_OK;
}

/* Reads k, offset, group, category, label, filter, box, search_id and region fields into k,
 * fields and filters {"categories", "labels"[, "expression"]}; a filter expression is parsed
 * here, so a bad one is a 400 naming its column. */
static visor_code read_search_fields(visor_http_request *req, int *k, json_t **filters,
                                     search_fields *fields, visor_error *err) {
  const char *const *names, *const *values;
  size_t count = visor_http_form_fields(req, &names, &values);
  json_t *categories = json_array(), *labels = json_array();
  *filters = json_pack("{s:o, s:o}", "categories", categories, "labels", labels);
  *k = 10;
  fields->offset = 0;
  fields->group = "product";
  for (size_t i = 0; i < count; i++) {
    const char *name = names[i], *value = values[i];
    if (strcmp(name, "offset") == 0) {
      char *end = NULL;
      long parsed = strtol(value, &end, 10);
      if (!*value || *end || parsed < 0 || parsed > MAX_OFFSET)
        return visor_error_set(err, VISOR_ERR_INVALID,
                               "field 'offset' must be an integer from 0 to %d", MAX_OFFSET);
      fields->offset = (int)parsed;
    } else if (strcmp(name, "group") == 0) {
      if (strcmp(value, "product") != 0 && strcmp(value, "none") != 0)
        return visor_error_set(err, VISOR_ERR_INVALID,
                               "field 'group' must be 'product' or 'none', got '%.32s'", value);
      fields->group = strcmp(value, "none") == 0 ? "none" : "product";
    } else if (strcmp(name, "filter") == 0) {
      if (!*value) continue;
      if (json_object_get(*filters, "expression"))
        return visor_error_set(err, VISOR_ERR_INVALID, "field 'filter' given twice");
      visor_filter_expr *expr = NULL;
      visor_code code = visor_filter_parse(value, VISOR_FILTER_FIELDS_SEARCH, &expr, err);
      visor_filter_free(expr);
      if (code != VISOR_OK) return code;
      json_object_set_new(*filters, "expression", json_string(value));
    } else if (strcmp(name, "k") == 0) {
      char *end = NULL;
      long parsed = strtol(value, &end, 10);
      if (!*value || *end || parsed < 1 || parsed > MAX_K)
        return visor_error_set(err, VISOR_ERR_INVALID, "field 'k' must be an integer from 1 to %d",
                               MAX_K);
      *k = (int)parsed;
    } else if (strcmp(name, "category") == 0) {
      if (!*value) continue;
      if (strlen(value) > 100)
        return visor_error_set(err, VISOR_ERR_INVALID,
                               "field 'category' is longer than 100 characters");
      json_array_append_new(categories, json_string(value));
    } else if (strcmp(name, "label") == 0) {
      if (!*value) continue;
      const char *equals = strchr(value, '=');
      if (!equals || equals == value || strlen(value) > 321)
        return visor_error_set(err, VISOR_ERR_INVALID,
                               "field 'label' must look like key=value, got '%.64s'", value);
      json_array_append_new(labels, json_string(value));
    } else if (strcmp(name, "box") == 0) {
      if (!*value) continue;
      if (fields->box) return visor_error_set(err, VISOR_ERR_INVALID, "field 'box' is given twice");
      visor_code code = parse_box(value, &fields->box, err);
      if (code != VISOR_OK) return code;
    } else if (strcmp(name, "region") == 0) {
      char *end = NULL;
      long ordinal = strtol(value, &end, 10);
      if (!*value || *end || ordinal < 0 || ordinal > 1000)
        return visor_error_set(err, VISOR_ERR_INVALID,
                               "field 'region' must be a region ordinal (0, 1, ...) of the "
                               "search named by 'search_id'");
      fields->region = (int)ordinal;
    } else if (strcmp(name, "search_id") == 0) {
      if (!visor_uuid_valid(value))
        return visor_error_set(err, VISOR_ERR_INVALID,
                               "field 'search_id' must be a search id (a UUID), got '%.64s'",
                               value);
      fields->reuse_id = value;
    } else {
      return visor_error_set(
          err, VISOR_ERR_INVALID,
          "unknown field '%.64s' (expected image, k, offset, group, category, label, filter, box, "
          "search_id, region)",
          name);
    }
  }
  if (json_array_size(categories) > MAX_FILTER_VALUES ||
      json_array_size(labels) > MAX_FILTER_VALUES)
    return visor_error_set(err, VISOR_ERR_INVALID, "at most %d categories and %d labels",
                           MAX_FILTER_VALUES, MAX_FILTER_VALUES);
  return VISOR_OK;
}

/* The search object with crop URLs. */
static visor_code load_search(visor_app *app, const char *id, json_t **search, visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_code code = visor_search_get(conn, id, search, err);
  visor_db_release(conn);
  if (code != VISOR_OK) return code;
  size_t index;
  json_t *region;
  json_array_foreach(json_object_get(*search, "regions"), index, region)
      visor_api_set_crop_urls(json_object_get(region, "results"), "region_id");
  visor_api_set_crop_urls(json_object_get(*search, "products"), "region_id");
  return VISOR_OK;
}

static int search_finished(const json_t *search) {
  const char *status = json_string_value(json_object_get(search, "status"));
  return status && (!strcmp(status, "done") || !strcmp(status, "failed"));
}

static void respond_search(visor_http_response *res, json_t *search, int accepted_status) {
  visor_http_respond_json(res, search_finished(search) ? 200 : accepted_status, search);
}

/* ?wait=: the request is parked (it holds no HTTP thread) and re-checked when a search
 * finishes in this process (visor_app_signal wakes the server), every 200 ms for searches
 * finished elsewhere, and at the end of the wait. */
typedef struct search_wait {
  visor_app *app;
  char id[VISOR_UUID_LEN + 1];
  int accepted_status;
} search_wait;

static int recheck_search(visor_http_request *req, visor_http_response *res, void *ctx, int last) {
  (void)req;
  search_wait *wait = ctx;
  visor_error err = {0};
  json_t *search = NULL;
  if (load_search(wait->app, wait->id, &search, &err) != VISOR_OK) {
    visor_route_fail(res, &err);
    return 1;
  }
  if (!search_finished(search) && !last) {
    json_decref(search);
    return 0;
  }
  respond_search(res, search, wait->accepted_status);
  return 1;
}

/* Answers now when the search is finished or there is no wait; else parks the request. */
static void answer_search(visor_http_request *req, visor_http_response *res, visor_app *app,
                          const char *id, int64_t wait_s, int accepted_status) {
  visor_error err = {0};
  json_t *search = NULL;
  if (load_search(app, id, &search, &err) != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  search_wait *wait = NULL;
  if (search_finished(search) || wait_s <= 0 || !(wait = calloc(1, sizeof *wait))) {
    respond_search(res, search, accepted_status);
    return;
  }
  json_decref(search);
  wait->app = app;
  snprintf(wait->id, sizeof wait->id, "%s", id);
  wait->accepted_status = accepted_status;
  visor_http_respond_later(req, res, (double)wait_s, 0, recheck_search, wait, free);
}

/* The query image of an earlier search: its id and size; with fields->region >= 0, that
 * region's box becomes fields->box. */
static visor_code load_reused_image(visor_db_conn *conn, search_fields *fields, char *image_id,
                                    size_t image_id_size, int64_t *width, int64_t *height,
                                    visor_error *err) {
  json_t *earlier = NULL;
  visor_code code = visor_search_get(conn, fields->reuse_id, &earlier, err);
  if (code != VISOR_OK) return code;
  json_t *image = json_object_get(earlier, "image");
  const char *id = json_string_value(json_object_get(image, "id"));
  if (!id)
    code =
        visor_error_set(err, VISOR_ERR_NOT_FOUND, "search %s has no query image", fields->reuse_id);
  else
    snprintf(image_id, image_id_size, "%s", id);
  *width = json_integer_value(json_object_get(image, "width"));
  *height = json_integer_value(json_object_get(image, "height"));
  if (code == VISOR_OK && fields->region >= 0) {
    json_t *region = json_array_get(json_object_get(earlier, "regions"), (size_t)fields->region);
    if (!region)
      code = visor_error_set(err, VISOR_ERR_INVALID, "search %s has no region %d", fields->reuse_id,
                             fields->region);
    else
      fields->box = json_incref(json_object_get(region, "box"));
  }
  json_decref(earlier);
  return code;
}

static void create_search(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  visor_http_upload *uploads = NULL;
  size_t count = visor_http_uploads(req, &uploads);
  visor_error err = {0};
  json_t *filters = NULL;
  search_fields fields = {.region = -1};
  int k = 10;
  int64_t wait_s = 0;
  visor_uploaded_image image;
  char search_id[40], job_id[40], image_id[40] = "";
  int64_t width = 0, height = 0;
  visor_code code = VISOR_OK;
  if (!visor_route_int_query(req, res, "wait", 0, 0, MAX_WAIT_S, &wait_s)) {
    visor_uploads_discard(app, uploads, count);
    return;
  }
  if (!visor_http_is_multipart(req))
    code = visor_error_set(&err, VISOR_ERR_INVALID,
                           "send exactly one photo as multipart/form-data field 'image'");
  if (code == VISOR_OK) code = read_search_fields(req, &k, &filters, &fields, &err);
  if (code == VISOR_OK && fields.reuse_id && count != 0)
    code = visor_error_set(&err, VISOR_ERR_INVALID,
                           "send either a photo (field 'image') or 'search_id', not both");
  else if (code == VISOR_OK && !fields.reuse_id && count != 1)
    code = visor_error_set(&err, VISOR_ERR_INVALID,
                           "send exactly one photo as multipart/form-data field 'image'");
  if (code == VISOR_OK && fields.region >= 0 && (!fields.reuse_id || fields.box))
    code =
        visor_error_set(&err, VISOR_ERR_INVALID, "field 'region' needs 'search_id' and no 'box'");
  if (code == VISOR_OK && !visor_route_client_admit(app, req, res, 1)) {
    visor_uploads_discard(app, uploads, count);
    json_decref(filters);
    json_decref(fields.box);
    return;
  }
  visor_db_conn *conn = NULL;
  if (code == VISOR_OK && !fields.reuse_id) {
    code = visor_uploads_check(app, uploads, 1, &image, &err);
    if (code == VISOR_OK) {
      snprintf(image_id, sizeof image_id, "%s", image.id);
      width = image.info.width;
      height = image.info.height;
    }
  }
  if (code == VISOR_OK && !(conn = visor_db_acquire(app->db, &err))) code = err.code;
  if (code == VISOR_OK && fields.reuse_id)
    code = load_reused_image(conn, &fields, image_id, sizeof image_id, &width, &height, &err);
  if (code == VISOR_OK && fields.box) code = check_box(fields.box, width, height, &err);
  if (code == VISOR_OK) code = visor_db_begin(conn, &err);
  if (code == VISOR_OK) {
    visor_uuid_new(search_id);
    char payload[96];
    snprintf(payload, sizeof payload, "{\"search_id\":\"%s\"}", search_id);
    char *filters_text = json_dumps(filters, JSON_COMPACT);
    char *box_text = fields.box ? json_dumps(fields.box, JSON_COMPACT) : NULL;
    if (!fields.reuse_id) {
      visor_image_record record = {.id = image.id,
                                   .purpose = "query",
                                   .object_key = image.key,
                                   .filename = image.filename,
                                   .content_type = image.content_type,
                                   .width = image.info.width,
                                   .height = image.info.height,
                                   .format = image.info.format,
                                   .size_bytes = (int64_t)image.size,
                                   .sha256 = image.sha256};
      code = visor_image_insert(conn, &record, &err);
    }
    if (code == VISOR_OK)
      code = visor_jobs_create(conn, "search", search_id, payload, app->job_attempts, job_id, &err);
    if (code == VISOR_OK) code = visor_route_tag_job(req, conn, job_id, &err);
    if (code == VISOR_OK)
      code = visor_search_insert(conn, search_id, image_id, job_id, k, filters_text, fields.offset,
                                 fields.group, &err);
    if (code == VISOR_OK && box_text) code = visor_search_set_box(conn, search_id, box_text, &err);
    free(filters_text);
    free(box_text);
    if (code == VISOR_OK)
      code = visor_db_commit(conn, &err);
    else
      visor_db_rollback(conn);
  }
  visor_db_release(conn);
  json_decref(filters);
  json_decref(fields.box);
  if (code != VISOR_OK) {
    visor_uploads_discard(app, uploads, count);
    visor_route_fail(res, &err);
    return;
  }
  visor_uploads_release(uploads, count);
  visor_app_jobs_committed(app);
  char location[80];
  snprintf(location, sizeof location, "/api/v1/searches/%s", search_id);
  visor_http_set_header(res, "Location", location);
  answer_search(req, res, app, search_id, wait_s, 202);
}

static void get_search(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  const char *id = visor_route_id(req, res, "id");
  int64_t wait_s = 0;
  if (!id || !visor_route_int_query(req, res, "wait", 0, 0, MAX_WAIT_S, &wait_s)) return;
  answer_search(req, res, app, id, wait_s, 200);
}

static void get_search_image(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  const char *id = NULL;
  visor_db_conn *conn = visor_route_id_conn(app, req, res, &id);
  if (!conn) return;
  visor_error err = {0};
  json_t *search = NULL;
  visor_code code = visor_search_load(conn, id, &search, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  const char *format = json_string_value(json_object_get(search, "format"));
  char content_type[32];
  snprintf(content_type, sizeof content_type, "image/%s", format ? format : "jpeg");
  visor_api_send_object(app, res, json_string_value(json_object_get(search, "object_key")),
                        content_type);
  json_decref(search);
}

static void wake_server(void *server) {
  visor_http_wake(server);
}

visor_code visor_api_register_searches(visor_http_server *server, visor_app *app,
                                       visor_error *err) {
  visor_app_set_signal_hook(app, wake_server, server); /* cleared by visor_api_unregister */
  visor_route_options upload = {
      .max_body = app->max_upload_bytes, .sink = &visor_image_upload_sink, .sink_ctx = app};
  visor_code code =
      visor_http_route(server, "POST", "/api/v1/searches", create_search, app, &upload, err);
  if (code == VISOR_OK)
    code = visor_http_route(server, "GET", "/api/v1/searches/{id}", get_search, app, NULL, err);
  if (code == VISOR_OK)
    code = visor_http_route(server, "GET", "/api/v1/searches/{id}/image", get_search_image, app,
                            NULL, err);
  return code;
}
