/* blob_s3.c: the S3 object store (s3://BUCKET?endpoint=...), over s3_client.c. A writer
 * buffers up to one part (5 MiB) in memory: an object that fits is one PutObject at commit;
 * a larger one becomes a multipart upload (CreateMultipartUpload, UploadPart per full
 * buffer, CompleteMultipartUpload at commit), aborted on abort or on any failure, so
 * nothing is visible under the key before commit succeeds and nothing is left behind.
 * Readers HEAD for the size and ETag, then read with Range GETs pinned to that ETag. The
 * bucket is created at open when it does not exist. */
#include "blob/blob_s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob/s3_client.h"

#define S3_PART_SIZE ((size_t)5 << 20) /* S3's smallest part (all but the last) */
#define S3_MAX_PARTS 10000

typedef struct s3_store {
  visor_blob_store base;
  s3_client *client;
} s3_store;

struct visor_blob_writer {
  s3_store *store;
  char key[VISOR_BLOB_KEY_MAX + 1];
  char *buffer; /* grows up to S3_PART_SIZE, so small objects take little memory */
  size_t len;
  size_t cap;
  uint64_t total;
  char *upload_query; /* "uploadId=..." once the multipart upload exists */
  char **etags;
  int parts;
  int etags_cap;
  visor_code failed; /* set after a failure: the upload is already aborted */
  visor_error failure;
};

struct visor_blob_reader {
  s3_store *store;
  char key[VISOR_BLOB_KEY_MAX + 1];
  uint64_t size;
  char if_match[200];
};

static const visor_blob_ops s3_ops;

static visor_code check_key(const char *key, visor_error *err) {
  if (!visor_blob_key_valid(key))
    return visor_error_set(err, VISOR_ERR_INVALID, "invalid object key '%.80s'", key ? key : "");
  return VISOR_OK;
}

/* "VERB object 'key'" for error messages. */
static const char *describe(char *out, size_t size, const char *what, const char *key) {
  snprintf(out, size, "%s '%s'", what, key);
  return out;
}

/* --- the writer --- */

static visor_blob_writer *s3_open_writer(visor_blob_store *base, const char *key,
                                         visor_blob_durability durability, visor_error *err) {
  (void)durability; /* the server stores an object the same way either way */
  if (check_key(key, err) != VISOR_OK) return NULL;
  visor_blob_writer *writer = calloc(1, sizeof *writer);
  if (!writer) {
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory for the writer of '%s'", key);
    return NULL;
  }
  writer->store = (s3_store *)base;
  snprintf(writer->key, sizeof writer->key, "%s", key);
  return writer;
}

static void abort_upload(visor_blob_writer *writer) {
  if (!writer->upload_query) return;
  s3_response res = {0};
  visor_error ignored = {0};
  s3_request(writer->store->client, "DELETE", writer->key, writer->upload_query, NULL, NULL, 0,
             &res, &ignored);
  s3_response_free(&res);
  free(writer->upload_query);
  writer->upload_query = NULL;
}

static void free_writer(visor_blob_writer *writer) {
  for (int i = 0; i < writer->parts; i++)
    free(writer->etags[i]);
  free(writer->etags);
  free(writer->upload_query);
  free(writer->buffer);
  free(writer);
}

/* Marks the writer failed (aborting its upload) and returns the code. */
static visor_code fail_writer(visor_blob_writer *writer, visor_error *err) {
  abort_upload(writer);
  writer->failed = err && err->code ? err->code : VISOR_ERR_IO;
  if (err) writer->failure = *err;
  return writer->failed;
}

static visor_code create_upload(visor_blob_writer *writer, visor_error *err) {
  s3_client *client = writer->store->client;
  s3_response res = {0};
  char what[VISOR_BLOB_KEY_MAX + 64];
  visor_code code = s3_request(client, "POST", writer->key, "uploads=", NULL, NULL, 0, &res, err);
  if (code == VISOR_OK && res.status != 200)
    code = s3_answer_error(client, &res,
                           describe(what, sizeof what, "start upload of", writer->key), err);
  char *id = code == VISOR_OK ? s3_xml_find(res.body, res.body_len, "UploadId") : NULL;
  if (code == VISOR_OK && (!id || !*id))
    code = visor_error_set(err, VISOR_ERR_IO, "S3 gave no UploadId for '%s'", writer->key);
  if (code == VISOR_OK) {
    size_t size = strlen("uploadId=") + 3 * strlen(id) + 1;
    writer->upload_query = malloc(size);
    if (!writer->upload_query) {
      code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    } else {
      strcpy(writer->upload_query, "uploadId=");
      s3_encode(id, 0, writer->upload_query + strlen("uploadId="));
    }
  }
  free(id);
  s3_response_free(&res);
  return code;
}

/* Sends the buffer as the next part. */
static visor_code upload_part(visor_blob_writer *writer, visor_error *err) {
  s3_client *client = writer->store->client;
  if (writer->parts >= S3_MAX_PARTS)
    return visor_error_set(err, VISOR_ERR_TOO_LARGE, "object '%s' is over %d parts of %zu bytes",
                           writer->key, S3_MAX_PARTS, S3_PART_SIZE);
  if (writer->parts == writer->etags_cap) {
    int cap = writer->etags_cap ? writer->etags_cap * 2 : 8;
    char **grown = realloc(writer->etags, (size_t)cap * sizeof *grown);
    if (!grown) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    writer->etags = grown;
    writer->etags_cap = cap;
  }
  char query[600];
  snprintf(query, sizeof query, "partNumber=%d&%s", writer->parts + 1, writer->upload_query);
  s3_response res = {0};
  char what[VISOR_BLOB_KEY_MAX + 64];
  visor_code code =
      s3_request(client, "PUT", writer->key, query, NULL, writer->buffer, writer->len, &res, err);
  if (code == VISOR_OK && res.status != 200)
    code = s3_answer_error(client, &res,
                           describe(what, sizeof what, "upload a part of", writer->key), err);
  if (code == VISOR_OK && !res.etag[0])
    code = visor_error_set(err, VISOR_ERR_IO, "S3 gave no ETag for part %d of '%s'",
                           writer->parts + 1, writer->key);
  if (code == VISOR_OK) {
    writer->etags[writer->parts] = strdup(res.etag);
    if (!writer->etags[writer->parts])
      code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    else
      writer->parts++;
  }
  s3_response_free(&res);
  writer->len = 0;
  return code;
}

static visor_code s3_write(visor_blob_writer *writer, const void *data, size_t len,
                           visor_error *err) {
  if (writer->failed) {
    if (err) *err = writer->failure;
    return writer->failed;
  }
  const char *bytes = data;
  while (len > 0) {
    if (writer->len == S3_PART_SIZE) { /* full, and more is coming: send it as a part */
      visor_code code = writer->upload_query ? VISOR_OK : create_upload(writer, err);
      if (code == VISOR_OK) code = upload_part(writer, err);
      if (code != VISOR_OK) return fail_writer(writer, err);
    }
    size_t take = S3_PART_SIZE - writer->len;
    if (take > len) take = len;
    if (writer->len + take > writer->cap) {
      size_t cap = writer->cap ? writer->cap : 64 * 1024;
      while (cap < writer->len + take)
        cap *= 2;
      if (cap > S3_PART_SIZE) cap = S3_PART_SIZE;
      char *grown = realloc(writer->buffer, cap);
      if (!grown) {
        visor_error_set(err, VISOR_ERR_NOMEM, "out of memory buffering '%s'", writer->key);
        return fail_writer(writer, err);
      }
      writer->buffer = grown;
      writer->cap = cap;
    }
    memcpy(writer->buffer + writer->len, bytes, take);
    writer->len += take;
    writer->total += take;
    bytes += take;
    len -= take;
  }
  return VISOR_OK;
}

static char *complete_body(visor_blob_writer *writer, size_t *len) {
  size_t size = 128;
  for (int i = 0; i < writer->parts; i++)
    size += 80 + strlen(writer->etags[i]);
  char *body = malloc(size);
  if (!body) return NULL;
  size_t used = (size_t)snprintf(body, size, "<CompleteMultipartUpload>");
  for (int i = 0; i < writer->parts; i++)
    used += (size_t)snprintf(body + used, size - used,
                             "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1,
                             writer->etags[i]);
  used += (size_t)snprintf(body + used, size - used, "</CompleteMultipartUpload>");
  *len = used;
  return body;
}

static visor_code object_size(s3_store *store, const char *key, uint64_t *size, char *etag,
                              size_t etag_size, visor_error *err);

static visor_code complete_upload(visor_blob_writer *writer, visor_error *err) {
  s3_client *client = writer->store->client;
  size_t body_len = 0;
  char *body = complete_body(writer, &body_len);
  if (!body) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  static const char *const headers[] = {"Content-Type: application/xml", NULL};
  s3_response res = {0};
  char what[VISOR_BLOB_KEY_MAX + 64];
  describe(what, sizeof what, "complete the upload of", writer->key);
  visor_code code = s3_request(client, "POST", writer->key, writer->upload_query, headers, body,
                               body_len, &res, err);
  free(body);
  if (code == VISOR_OK && res.status == 404 && res.attempts > 1) {
    /* A retry after a lost answer finds the upload gone: done if the object is whole.
     * (The ETag of Complete is not used: Ceph answers an empty one.) */
    uint64_t size = 0;
    if (object_size(writer->store, writer->key, &size, NULL, 0, NULL) == VISOR_OK &&
        size == writer->total) {
      s3_response_free(&res);
      free(writer->upload_query);
      writer->upload_query = NULL;
      return VISOR_OK;
    }
  }
  if (code == VISOR_OK && res.status != 200) code = s3_answer_error(client, &res, what, err);
  /* S3 may answer 200 and put an <Error> in the body. */
  if (code == VISOR_OK &&
      !s3_xml_root_is(res.body, res.body_len, "CompleteMultipartUploadResult")) {
    char error_code[64], message[200];
    s3_xml_error(res.body, res.body_len, error_code, sizeof error_code, message, sizeof message);
    code = visor_error_set(err, VISOR_ERR_IO, "%s: S3 answered 200 with error '%s' %s", what,
                           error_code, message);
  }
  s3_response_free(&res);
  if (code == VISOR_OK) {
    free(writer->upload_query); /* completed: nothing to abort any more */
    writer->upload_query = NULL;
  }
  return code;
}

static void s3_abort(visor_blob_writer *writer) {
  if (!writer) return;
  abort_upload(writer);
  free_writer(writer);
}

static visor_code s3_commit(visor_blob_writer *writer, visor_error *err) {
  if (writer->failed) {
    visor_code code = writer->failed;
    if (err) *err = writer->failure;
    s3_abort(writer);
    return code;
  }
  s3_client *client = writer->store->client;
  visor_code code = VISOR_OK;
  if (!writer->upload_query) { /* small: one PUT */
    s3_response res = {0};
    char what[VISOR_BLOB_KEY_MAX + 64];
    code =
        s3_request(client, "PUT", writer->key, NULL, NULL, writer->buffer, writer->len, &res, err);
    if (code == VISOR_OK && res.status != 200)
      code = s3_answer_error(client, &res, describe(what, sizeof what, "PUT object", writer->key),
                             err);
    s3_response_free(&res);
  } else {
    code = upload_part(writer, err); /* the last part: 1 byte to 5 MiB */
    if (code == VISOR_OK) code = complete_upload(writer, err);
  }
  s3_abort(writer); /* aborts the upload if it did not complete; frees */
  return code;
}

/* --- reading --- */

/* HEAD: the size and, if etag, the ETag of an object. */
static visor_code object_size(s3_store *store, const char *key, uint64_t *size, char *etag,
                              size_t etag_size, visor_error *err) {
  s3_response res = {0};
  char what[VISOR_BLOB_KEY_MAX + 64];
  visor_code code = s3_request(store->client, "HEAD", key, NULL, NULL, NULL, 0, &res, err);
  if (code == VISOR_OK && res.status == 404)
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "object '%s' does not exist", key);
  else if (code == VISOR_OK && res.status != 200)
    code =
        s3_answer_error(store->client, &res, describe(what, sizeof what, "HEAD object", key), err);
  else if (code == VISOR_OK && !res.has_content_length)
    code = visor_error_set(err, VISOR_ERR_IO, "S3 gave no size for object '%s'", key);
  if (code == VISOR_OK) {
    *size = res.content_length;
    if (etag) snprintf(etag, etag_size, "%s", res.etag);
  }
  s3_response_free(&res);
  return code;
}

static visor_blob_reader *s3_open_reader(visor_blob_store *base, const char *key, uint64_t *size,
                                         visor_error *err) {
  if (check_key(key, err) != VISOR_OK) return NULL;
  visor_blob_reader *reader = calloc(1, sizeof *reader);
  if (!reader) {
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  reader->store = (s3_store *)base;
  snprintf(reader->key, sizeof reader->key, "%s", key);
  char etag[160] = "";
  if (object_size(reader->store, key, &reader->size, etag, sizeof etag, err) != VISOR_OK) {
    free(reader);
    return NULL;
  }
  if (etag[0]) snprintf(reader->if_match, sizeof reader->if_match, "If-Match: %s", etag);
  *size = reader->size;
  return reader;
}

/* One Range GET pinned to the ETag seen at open (so a replaced object fails the read rather
 * than mixing two versions). Returns the bytes read, 0 at the end, -1 on failure. */
static long s3_read_at(visor_blob_reader *reader, uint64_t offset, void *buf, size_t max) {
  if (offset >= reader->size || max == 0) return 0;
  uint64_t last = reader->size - 1;
  if (max > (size_t)64 << 20) max = (size_t)64 << 20; /* one GET within the timeout */
  if (last - offset >= max) last = offset + max - 1;
  char range[64];
  snprintf(range, sizeof range, "Range: bytes=%llu-%llu", (unsigned long long)offset,
           (unsigned long long)last);
  const char *headers[] = {range, reader->if_match[0] ? reader->if_match : NULL, NULL};
  s3_response res = {.into = buf, .into_cap = (size_t)(last - offset + 1)};
  visor_error err = {0};
  visor_code code =
      s3_request(reader->store->client, "GET", reader->key, NULL, headers, NULL, 0, &res, &err);
  long got = -1;
  if (code == VISOR_OK && (res.status == 206 || (res.status == 200 && offset == 0)))
    got = (long)res.into_len;
  s3_response_free(&res);
  return got;
}

static void s3_close_reader(visor_blob_reader *reader) {
  free(reader);
}

/* --- the rest --- */

static visor_code s3_remove(visor_blob_store *base, const char *key, visor_error *err) {
  s3_store *store = (s3_store *)base;
  visor_code code = check_key(key, err);
  if (code != VISOR_OK) return code;
  s3_response res = {0};
  char what[VISOR_BLOB_KEY_MAX + 64];
  code = s3_request(store->client, "DELETE", key, NULL, NULL, NULL, 0, &res, err);
  if (code == VISOR_OK && res.status != 204 && res.status != 200 && res.status != 404)
    code = s3_answer_error(store->client, &res, describe(what, sizeof what, "DELETE object", key),
                           err);
  s3_response_free(&res);
  return code;
}

static visor_code s3_exists(visor_blob_store *base, const char *key, int *exists,
                            visor_error *err) {
  visor_code code = check_key(key, err);
  if (code != VISOR_OK) return code;
  uint64_t size = 0;
  visor_error local = {0};
  code = object_size((s3_store *)base, key, &size, NULL, 0, &local);
  *exists = code == VISOR_OK;
  if (code == VISOR_ERR_NOT_FOUND) return VISOR_OK;
  if (code != VISOR_OK && err) *err = local;
  return code;
}

typedef struct list_state {
  visor_blob_list_fn fn;
  void *ctx;
} list_state;

static int on_listed(void *ctx, const char *key, const char *size, const char *modified) {
  list_state *state = ctx;
  if (!visor_blob_key_valid(key)) return 0;
  return state->fn(state->ctx, key, strtoull(size, NULL, 10), s3_xml_time_ms(modified));
}

/* ListObjectsV2, page by page (continuation tokens). */
static visor_code s3_list(visor_blob_store *base, const char *prefix, visor_blob_list_fn fn,
                          void *ctx, visor_error *err) {
  s3_store *store = (s3_store *)base;
  if (!visor_blob_prefix_valid(prefix))
    return visor_error_set(err, VISOR_ERR_INVALID, "invalid object key prefix '%.80s'",
                           prefix ? prefix : "");
  char encoded_prefix[3 * VISOR_BLOB_KEY_MAX + 1];
  s3_encode(prefix, 0, encoded_prefix);
  char *token = NULL;
  list_state state = {fn, ctx};
  visor_code code = VISOR_OK;
  for (;;) {
    size_t size = 3 * (token ? strlen(token) : 0) + strlen(encoded_prefix) + 96;
    char *query = malloc(size);
    if (!query) {
      code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
      break;
    }
    size_t used = 0;
    if (token) {
      used = (size_t)snprintf(query, size, "continuation-token=");
      s3_encode(token, 0, query + used);
      used = strlen(query);
      query[used++] = '&';
    }
    int page = s3_client_page_size(store->client);
    if (page > 0)
      snprintf(query + used, size - used, "list-type=2&max-keys=%d&prefix=%s", page,
               encoded_prefix);
    else
      snprintf(query + used, size - used, "list-type=2&prefix=%s", encoded_prefix);
    s3_response res = {0};
    code = s3_request(store->client, "GET", NULL, query, NULL, NULL, 0, &res, err);
    free(query);
    if (code == VISOR_OK && res.status != 200)
      code = s3_answer_error(store->client, &res, "list objects", err);
    int truncated = 0, stopped = 0;
    if (code == VISOR_OK) {
      stopped = s3_xml_items(res.body, res.body_len, "Contents", "Key", "Size", "LastModified",
                             on_listed, &state, &truncated);
      if (stopped < 0) code = visor_error_set(err, VISOR_ERR_IO, "S3 listing is not XML");
    }
    free(token);
    token = NULL;
    if (code == VISOR_OK && stopped == 0 && truncated) {
      token = s3_xml_find(res.body, res.body_len, "NextContinuationToken");
      if (!token) code = visor_error_set(err, VISOR_ERR_IO, "S3 listing has no continuation token");
    }
    s3_response_free(&res);
    if (code != VISOR_OK || !token) break;
  }
  free(token);
  return code;
}

/* --- pending multipart uploads (blob_s3.h) --- */

typedef struct uploads_state {
  s3_store *store;
  int abort;
  int64_t older_than_ms; /* abort only uploads initiated before this (0: all) */
  size_t count;
  char last_key[1024];
  char last_id[1024];
  size_t seen; /* uploads listed, aborted or not */
} uploads_state;

static int on_upload(void *ctx, const char *key, const char *upload_id, const char *initiated) {
  uploads_state *state = ctx;
  snprintf(state->last_key, sizeof state->last_key, "%s", key);
  snprintf(state->last_id, sizeof state->last_id, "%s", upload_id);
  state->seen++;
  if (state->older_than_ms) {
    int64_t started = s3_xml_time_ms(initiated);
    if (!started || started >= state->older_than_ms) return 0; /* may still be running */
  }
  state->count++;
  if (state->abort) {
    char query[3200];
    strcpy(query, "uploadId=");
    s3_encode(upload_id, 0, query + strlen(query));
    s3_response res = {0};
    visor_error ignored = {0};
    s3_request(state->store->client, "DELETE", key, query, NULL, NULL, 0, &res, &ignored);
    s3_response_free(&res);
  }
  return 0;
}

static visor_code walk_uploads(visor_blob_store *base, const char *prefix, int abort,
                               int64_t older_than_ms, size_t *count, visor_error *err) {
  if (!visor_blob_is_s3(base))
    return visor_error_set(err, VISOR_ERR_INVALID, "the object store is not S3");
  if (!visor_blob_prefix_valid(prefix))
    return visor_error_set(err, VISOR_ERR_INVALID, "invalid object key prefix '%.80s'",
                           prefix ? prefix : "");
  uploads_state state = {.store = (s3_store *)base, .abort = abort, .older_than_ms = older_than_ms};
  char encoded_prefix[3 * VISOR_BLOB_KEY_MAX + 1];
  s3_encode(prefix, 0, encoded_prefix);
  visor_code code = VISOR_OK;
  int marker = 0;
  for (;;) {
    char query[8000];
    if (marker && (!abort || older_than_ms)) { /* a sweep keeps young uploads: page on */
      char key[3 * sizeof state.last_key], id[3 * sizeof state.last_id];
      s3_encode(state.last_key, 0, key);
      s3_encode(state.last_id, 0, id);
      snprintf(query, sizeof query, "key-marker=%s&prefix=%s&upload-id-marker=%s&uploads=", key,
               encoded_prefix, id);
    } else { /* aborting removes what was seen: start over each page */
      snprintf(query, sizeof query, "prefix=%s&uploads=", encoded_prefix);
    }
    s3_response res = {0};
    size_t before = state.seen;
    code = s3_request(state.store->client, "GET", NULL, query, NULL, NULL, 0, &res, err);
    if (code == VISOR_OK && res.status != 200)
      code = s3_answer_error(state.store->client, &res, "list multipart uploads", err);
    int truncated = 0;
    if (code == VISOR_OK && s3_xml_items(res.body, res.body_len, "Upload", "Key", "UploadId",
                                         "Initiated", on_upload, &state, &truncated) < 0)
      code = visor_error_set(err, VISOR_ERR_IO, "S3 upload listing is not XML");
    s3_response_free(&res);
    if (code != VISOR_OK || !truncated || state.seen == before) break;
    marker = 1;
  }
  *count = state.count;
  return code;
}

int visor_blob_is_s3(const visor_blob_store *store) {
  return store && store->ops == &s3_ops;
}

visor_code visor_blob_s3_pending_uploads(visor_blob_store *store, const char *prefix, size_t *count,
                                         visor_error *err) {
  return walk_uploads(store, prefix, 0, 0, count, err);
}

visor_code visor_blob_s3_abort_uploads(visor_blob_store *store, const char *prefix, size_t *aborted,
                                       visor_error *err) {
  return walk_uploads(store, prefix, 1, 0, aborted, err);
}

/* The S3 form of a temp file: a multipart upload a crash left incomplete (its parts are
 * stored and billed until it is aborted). */
static visor_code s3_sweep_temp(visor_blob_store *store, int64_t older_than_ms, size_t *removed,
                                visor_error *err) {
  return walk_uploads(store, "", 1, older_than_ms > 0 ? older_than_ms : 1, removed, err);
}

/* --- opening --- */

static void s3_close(visor_blob_store *base) {
  s3_store *store = (s3_store *)base;
  s3_client_free(store->client);
  free(store);
}

static const visor_blob_ops s3_ops = {
    .open_writer = s3_open_writer,
    .write = s3_write,
    .commit = s3_commit,
    .abort = s3_abort,
    .open_reader = s3_open_reader,
    .read_at = s3_read_at,
    .close_reader = s3_close_reader,
    .remove = s3_remove,
    .exists = s3_exists,
    .list = s3_list,
    .sweep_temp = s3_sweep_temp,
    .close = s3_close,
};

/* Checks the bucket with a one-key listing (its errors name the cause, unlike HEAD's) and
 * creates it when missing. */
static visor_code ensure_bucket(s3_store *store, const char *region, visor_error *err) {
  s3_client *client = store->client;
  s3_response res = {0};
  visor_code code =
      s3_request(client, "GET", NULL, "list-type=2&max-keys=1", NULL, NULL, 0, &res, err);
  if (code != VISOR_OK || res.status == 200) {
    s3_response_free(&res);
    return code;
  }
  if (res.status != 404) {
    code = s3_answer_error(client, &res, "list the bucket", err);
    s3_response_free(&res);
    return code;
  }
  s3_response_free(&res);
  char body[256] = "";
  if (strcmp(region, "us-east-1") != 0)
    snprintf(body, sizeof body,
             "<CreateBucketConfiguration><LocationConstraint>%s</LocationConstraint>"
             "</CreateBucketConfiguration>",
             region);
  code = s3_request(client, "PUT", NULL, NULL, NULL, body, strlen(body), &res, err);
  int exists = res.status == 409 && res.body && strstr(res.body, "BucketAlreadyOwnedByYou");
  if (code == VISOR_OK && res.status != 200 && !exists)
    code = s3_answer_error(client, &res,
                           "create the missing bucket (create it yourself, or allow "
                           "s3:CreateBucket)",
                           err);
  s3_response_free(&res);
  return code;
}

visor_blob_store *visor_blob_s3_open(const char *url, visor_error *err) {
  s3_store *store = calloc(1, sizeof *store);
  if (!store) {
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  store->base.ops = &s3_ops;
  store->client = s3_client_new(url, err);
  if (!store->client || ensure_bucket(store, s3_client_region(store->client), err) != VISOR_OK) {
    s3_close(&store->base);
    return NULL;
  }
  return &store->base;
}
