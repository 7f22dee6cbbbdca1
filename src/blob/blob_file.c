/* blob_file.c: the filesystem object store (file://DIR). A key is a relative path under
 * DIR. Writes go to a temp file in DIR/.tmp, are fsync'd, then renamed into place (and
 * the folder fsync'd, and the parent of any folder made for it), so a reader sees either
 * nothing or the whole object, and a committed object survives a power loss (an UNSYNCED
 * one skips the fsyncs: blob.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/blob.h"
#include "core/fsutil.h"
#include "core/uuid.h"

typedef struct file_store {
  visor_blob_store base;
  char *root;
} file_store;

struct visor_blob_writer {
  file_store *store;
  int fd;
  int synced; /* VISOR_BLOB_SYNCED: fsync the file and the folders on commit */
  char temp_path[PATH_MAX];
  char final_path[PATH_MAX];
};

struct visor_blob_reader {
  int fd;
};

static visor_code object_path(file_store *store, const char *key, char *out, size_t size,
                              visor_error *err) {
  if (!visor_blob_key_valid(key))
    return visor_error_set(err, VISOR_ERR_INVALID, "invalid object key '%.80s'", key ? key : "");
  if ((size_t)snprintf(out, size, "%s/%s", store->root, key) >= size)
    return visor_error_set(err, VISOR_ERR_INVALID, "object key '%.80s' is too long", key);
  return VISOR_OK;
}

static visor_blob_writer *file_open_writer(visor_blob_store *base, const char *key,
                                           visor_blob_durability durability, visor_error *err) {
  file_store *store = (file_store *)base;
  visor_blob_writer *writer = calloc(1, sizeof *writer);
  if (!writer) {
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  writer->store = store;
  writer->fd = -1;
  writer->synced = durability == VISOR_BLOB_SYNCED;
  if (object_path(store, key, writer->final_path, sizeof writer->final_path, err) != VISOR_OK) {
    free(writer);
    return NULL;
  }
  char id[VISOR_UUID_LEN + 1];
  visor_uuid_new(id);
  snprintf(writer->temp_path, sizeof writer->temp_path, "%s/.tmp/%s", store->root, id);
  writer->fd = open(writer->temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (writer->fd < 0) {
    visor_error_set(err, VISOR_ERR_IO, "cannot create '%s': %s", writer->temp_path,
                    strerror(errno));
    free(writer);
    return NULL;
  }
  return writer;
}

static visor_code file_write(visor_blob_writer *writer, const void *data, size_t len,
                             visor_error *err) {
  const char *bytes = data;
  while (len > 0) {
    ssize_t written = write(writer->fd, bytes, len);
    if (written < 0) {
      if (errno == EINTR) continue;
      return visor_error_set(err, VISOR_ERR_IO, "cannot write '%s': %s", writer->temp_path,
                             strerror(errno));
    }
    bytes += written;
    len -= (size_t)written;
  }
  return VISOR_OK;
}

static void file_abort(visor_blob_writer *writer) {
  if (!writer) return;
  if (writer->fd >= 0) close(writer->fd);
  unlink(writer->temp_path);
  free(writer);
}

/* Cuts path at its last '/' (the parent folder); 0 when there is none. */
static int to_parent(char *path) {
  char *slash = strrchr(path, '/');
  if (!slash || slash == path) return 0;
  *slash = '\0';
  return 1;
}

/* Creates folder (inside the store's root) if needed, durably: a folder mkdir creates is an
 * entry in its parent, so every parent that got one is fsync'd too (the new folder itself is
 * fsync'd after the rename into it). */
static visor_code make_folder(const file_store *store, const char *folder, int synced,
                              visor_error *err) {
  struct stat st;
  if (stat(folder, &st) == 0 && S_ISDIR(st.st_mode)) return VISOR_OK;
  char existing[PATH_MAX];
  snprintf(existing, sizeof existing, "%s", folder);
  size_t root_len = strlen(store->root);
  while (strlen(existing) > root_len && to_parent(existing)) /* the deepest that exists */
    if (stat(existing, &st) == 0) break;
  visor_code code = visor_mkdirs(folder, err);
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", folder);
  while (code == VISOR_OK && synced && strlen(parent) > strlen(existing) && to_parent(parent))
    code = visor_fsync_dir(parent, err);
  return code;
}

static visor_code file_commit(visor_blob_writer *writer, visor_error *err) {
  visor_code code = VISOR_OK;
  if (writer->synced && fsync(writer->fd) != 0)
    code = visor_error_set(err, VISOR_ERR_IO, "cannot fsync '%s': %s", writer->temp_path,
                           strerror(errno));
  int closed = close(writer->fd);
  writer->fd = -1;
  if (code == VISOR_OK && closed != 0)
    code = visor_error_set(err, VISOR_ERR_IO, "cannot close '%s': %s", writer->temp_path,
                           strerror(errno));
  char folder[PATH_MAX];
  snprintf(folder, sizeof folder, "%s", writer->final_path);
  char *slash = strrchr(folder, '/');
  if (slash) *slash = '\0';
  if (code == VISOR_OK) code = make_folder(writer->store, folder, writer->synced, err);
  if (code == VISOR_OK && rename(writer->temp_path, writer->final_path) != 0)
    code = visor_error_set(err, VISOR_ERR_IO, "cannot rename into '%s': %s", writer->final_path,
                           strerror(errno));
  if (code == VISOR_OK && writer->synced) code = visor_fsync_dir(folder, err);
  if (code != VISOR_OK) unlink(writer->temp_path);
  free(writer);
  return code;
}

static visor_blob_reader *file_open_reader(visor_blob_store *base, const char *key, uint64_t *size,
                                           visor_error *err) {
  file_store *store = (file_store *)base;
  char path[PATH_MAX];
  if (object_path(store, key, path, sizeof path, err) != VISOR_OK) return NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int missing = fd < 0 && errno == ENOENT;
    if (fd >= 0) close(fd);
    visor_error_set(err, missing ? VISOR_ERR_NOT_FOUND : VISOR_ERR_IO, "object '%s' %s", key,
                    missing ? "does not exist" : "cannot be read");
    return NULL;
  }
  visor_blob_reader *reader = malloc(sizeof *reader);
  if (!reader) {
    close(fd);
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  reader->fd = fd;
  *size = (uint64_t)st.st_size;
  return reader;
}

static long file_read_at(visor_blob_reader *reader, uint64_t offset, void *buf, size_t max) {
  ssize_t got;
  do {
    got = pread(reader->fd, buf, max, (off_t)offset);
  } while (got < 0 && errno == EINTR);
  return (long)got;
}

static void file_close_reader(visor_blob_reader *reader) {
  if (!reader) return;
  close(reader->fd);
  free(reader);
}

static visor_code file_remove(visor_blob_store *base, const char *key, visor_error *err) {
  char path[PATH_MAX];
  visor_code code = object_path((file_store *)base, key, path, sizeof path, err);
  if (code != VISOR_OK) return code;
  if (unlink(path) != 0 && errno != ENOENT)
    return visor_error_set(err, VISOR_ERR_IO, "cannot remove '%s': %s", path, strerror(errno));
  /* Drop the folders the key made, while they are empty (rmdir fails on the first that is not). */
  size_t root_len = strlen(((file_store *)base)->root);
  for (char *slash = strrchr(path, '/'); slash && (size_t)(slash - path) > root_len;
       slash = strrchr(path, '/')) {
    *slash = '\0';
    if (rmdir(path) != 0) break;
  }
  return VISOR_OK;
}

static visor_code file_exists(visor_blob_store *base, const char *key, int *exists,
                              visor_error *err) {
  char path[PATH_MAX];
  visor_code code = object_path((file_store *)base, key, path, sizeof path, err);
  if (code != VISOR_OK) return code;
  struct stat st;
  *exists = stat(path, &st) == 0 && S_ISREG(st.st_mode);
  return VISOR_OK;
}

static int64_t modified_ms(const struct stat *st) {
  return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

/* Walks the folder at path (key_len characters of it after root + '/' are the key so far),
 * calling fn for each regular file whose key starts with prefix. Returns 1 when fn stopped. */
static int walk_folder(char *path, size_t root_len, const char *prefix, visor_blob_list_fn fn,
                       void *ctx, visor_code *code, visor_error *err) {
  DIR *dir = opendir(path);
  if (!dir) {
    if (errno != ENOENT && errno != ENOTDIR)
      *code = visor_error_set(err, VISOR_ERR_IO, "cannot list '%s': %s", path, strerror(errno));
    return 0;
  }
  size_t path_len = strlen(path);
  int stopped = 0;
  struct dirent *entry;
  while (!stopped && *code == VISOR_OK && (entry = readdir(dir))) {
    const char *name = entry->d_name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
    if (path_len == root_len && strcmp(name, ".tmp") == 0) continue; /* the temp folder */
    if (path_len + 1 + strlen(name) >= PATH_MAX) continue;
    snprintf(path + path_len, PATH_MAX - path_len, "/%s", name);
    const char *key = path + root_len + 1;
    size_t key_len = strlen(key), prefix_len = strlen(prefix);
    /* Only go where the prefix can still match. */
    size_t common = key_len < prefix_len ? key_len : prefix_len;
    struct stat st;
    if (strncmp(key, prefix, common) == 0 && lstat(path, &st) == 0) {
      if (S_ISDIR(st.st_mode))
        stopped = walk_folder(path, root_len, prefix, fn, ctx, code, err);
      else if (S_ISREG(st.st_mode) && key_len >= prefix_len && visor_blob_key_valid(key))
        stopped = fn(ctx, key, (uint64_t)st.st_size, modified_ms(&st)) != 0;
    }
    path[path_len] = '\0';
  }
  closedir(dir);
  return stopped;
}

static visor_code file_list(visor_blob_store *base, const char *prefix, visor_blob_list_fn fn,
                            void *ctx, visor_error *err) {
  file_store *store = (file_store *)base;
  if (!visor_blob_prefix_valid(prefix))
    return visor_error_set(err, VISOR_ERR_INVALID, "invalid object key prefix '%.80s'",
                           prefix ? prefix : "");
  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof path, "%s", store->root) >= sizeof path)
    return visor_error_set(err, VISOR_ERR_INVALID, "object store path is too long");
  visor_code code = VISOR_OK;
  walk_folder(path, strlen(store->root), prefix, fn, ctx, &code, err);
  return code;
}

/* Temp files (DIR/.tmp/<uuid>) of writes a crash cut off: nothing else refers to them. A
 * write in progress keeps its file's mtime fresh, so only one older than the cutoff goes. */
static visor_code file_sweep_temp(visor_blob_store *base, int64_t older_than_ms, size_t *removed,
                                  visor_error *err) {
  file_store *store = (file_store *)base;
  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof path, "%s/.tmp", store->root) >= sizeof path)
    return visor_error_set(err, VISOR_ERR_INVALID, "object store path is too long");
  DIR *dir = opendir(path);
  if (!dir) {
    if (errno == ENOENT) return VISOR_OK;
    return visor_error_set(err, VISOR_ERR_IO, "cannot list '%s': %s", path, strerror(errno));
  }
  size_t path_len = strlen(path);
  struct dirent *entry;
  while ((entry = readdir(dir))) {
    if (entry->d_name[0] == '.' || path_len + 1 + strlen(entry->d_name) >= sizeof path) continue;
    snprintf(path + path_len, sizeof path - path_len, "/%s", entry->d_name);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && modified_ms(&st) < older_than_ms &&
        unlink(path) == 0)
      (*removed)++;
    path[path_len] = '\0';
  }
  closedir(dir);
  return VISOR_OK;
}

static void file_close(visor_blob_store *base) {
  file_store *store = (file_store *)base;
  free(store->root);
  free(store);
}

static const visor_blob_ops file_ops = {
    .open_writer = file_open_writer,
    .write = file_write,
    .commit = file_commit,
    .abort = file_abort,
    .open_reader = file_open_reader,
    .read_at = file_read_at,
    .close_reader = file_close_reader,
    .remove = file_remove,
    .exists = file_exists,
    .list = file_list,
    .sweep_temp = file_sweep_temp,
    .close = file_close,
};

visor_blob_store *visor_blob_file_open(const char *root, visor_error *err) {
  char temp_dir[PATH_MAX];
  if ((size_t)snprintf(temp_dir, sizeof temp_dir, "%s/.tmp", root) >= sizeof temp_dir) {
    visor_error_set(err, VISOR_ERR_INVALID, "object store path '%.100s' is too long", root);
    return NULL;
  }
  if (visor_mkdirs(temp_dir, err) != VISOR_OK) return NULL;
  file_store *store = calloc(1, sizeof *store);
  if (!store || !(store->root = strdup(root))) {
    free(store);
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  store->base.ops = &file_ops;
  return &store->base;
}
