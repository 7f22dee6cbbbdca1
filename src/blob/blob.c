/* blob.c: backend dispatch by URL, key validation and whole-object helpers. */
#include "blob/blob.h"

#include <stdlib.h>
#include <string.h>

visor_blob_store *visor_blob_file_open(const char *root, visor_error *err); /* blob_file.c */
visor_blob_store *visor_blob_s3_open(const char *url, visor_error *err);    /* blob_s3.c */

int visor_blob_url_supported(const char *url, visor_error *err) {
  if (url && strncmp(url, "file://", 7) == 0 && url[7]) return 1;
  if (url && strncmp(url, "s3://", 5) == 0) return 1;
  visor_error_set(err, VISOR_ERR_INVALID,
                  "object store URL '%s' is not supported (expected file:///path/blobs or "
                  "s3://bucket?endpoint=...)",
                  url ? url : "");
  return 0;
}

visor_blob_store *visor_blob_open(const char *url, visor_error *err) {
  if (!visor_blob_url_supported(url, err)) return NULL;
  if (strncmp(url, "s3://", 5) == 0) return visor_blob_s3_open(url, err);
  return visor_blob_file_open(url + 7, err);
}

void visor_blob_close(visor_blob_store *store) {
  if (store) store->ops->close(store);
}

int visor_blob_key_valid(const char *key) {
  if (!key || !*key || key[0] == '/') return 0;
  size_t len = strlen(key);
  if (len > VISOR_BLOB_KEY_MAX) return 0;
  const char *segment = key;
  for (size_t i = 0; i <= len; i++) {
    char c = key[i];
    if (c == '/' || c == '\0') {
      size_t segment_len = (size_t)(key + i - segment);
      if (segment_len == 0 || segment_len > VISOR_BLOB_SEGMENT_MAX) return 0;
      if (segment_len == 1 && segment[0] == '.') return 0;
      if (segment_len == 2 && segment[0] == '.' && segment[1] == '.') return 0;
      segment = key + i + 1;
      continue;
    }
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    if (!ok) return 0;
  }
  return 1;
}

int visor_blob_prefix_valid(const char *prefix) {
  if (!prefix) return 0;
  size_t len = strlen(prefix);
  if (len == 0) return 1;
  if (prefix[len - 1] != '/') return visor_blob_key_valid(prefix);
  if (len == 1 || len > VISOR_BLOB_KEY_MAX) return 0;
  char copy[VISOR_BLOB_KEY_MAX + 1];
  memcpy(copy, prefix, len - 1);
  copy[len - 1] = '\0';
  return visor_blob_key_valid(copy);
}

visor_code visor_blob_put(visor_blob_store *store, const char *key, const void *data, size_t len,
                          visor_error *err) {
  visor_blob_writer *writer = store->ops->open_writer(store, key, VISOR_BLOB_SYNCED, err);
  if (!writer) return err ? err->code : VISOR_ERR_IO;
  visor_code code = store->ops->write(writer, data, len, err);
  if (code != VISOR_OK) {
    store->ops->abort(writer);
    return code;
  }
  return store->ops->commit(writer, err);
}

visor_code visor_blob_get(visor_blob_store *store, const char *key, size_t max_len, void **data,
                          size_t *len, visor_error *err) {
  uint64_t size = 0;
  visor_blob_reader *reader = store->ops->open_reader(store, key, &size, err);
  if (!reader) return err ? err->code : VISOR_ERR_IO;
  if (max_len && size > max_len) {
    store->ops->close_reader(reader);
    return visor_error_set(err, VISOR_ERR_TOO_LARGE, "object '%s' is %llu bytes, over %zu", key,
                           (unsigned long long)size, max_len);
  }
  char *buffer = malloc(size ? size : 1);
  if (!buffer) {
    store->ops->close_reader(reader);
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory reading '%s'", key);
  }
  uint64_t done = 0;
  while (done < size) {
    long got = store->ops->read_at(reader, done, buffer + done, (size_t)(size - done));
    if (got <= 0) {
      free(buffer);
      store->ops->close_reader(reader);
      return visor_error_set(err, VISOR_ERR_IO, "short read of object '%s'", key);
    }
    done += (uint64_t)got;
  }
  store->ops->close_reader(reader);
  *data = buffer;
  *len = size;
  return VISOR_OK;
}

visor_code visor_blob_remove(visor_blob_store *store, const char *key, visor_error *err) {
  return store->ops->remove(store, key, err);
}

visor_code visor_blob_list(visor_blob_store *store, const char *prefix, visor_blob_list_fn fn,
                           void *ctx, visor_error *err) {
  if (!visor_blob_prefix_valid(prefix))
    return visor_error_set(err, VISOR_ERR_INVALID, "invalid object key prefix '%.80s'",
                           prefix ? prefix : "");
  return store->ops->list(store, prefix, fn, ctx, err);
}

visor_code visor_blob_sweep_temp(visor_blob_store *store, int64_t older_than_ms, size_t *removed,
                                 visor_error *err) {
  *removed = 0;
  return store->ops->sweep_temp ? store->ops->sweep_temp(store, older_than_ms, removed, err)
                                : VISOR_OK;
}
