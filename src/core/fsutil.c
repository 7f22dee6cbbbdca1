/* fsutil.c: small filesystem helpers. */
#include "core/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

visor_code visor_mkdirs(const char *path, visor_error *err) {
  char buffer[PATH_MAX];
  if ((size_t)snprintf(buffer, sizeof buffer, "%s", path) >= sizeof buffer)
    return visor_error_set(err, VISOR_ERR_INVALID, "path '%.100s...' is too long", path);
  for (char *p = buffer + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      *p = '\0';
      if (mkdir(buffer, 0755) != 0 && errno != EEXIST)
        return visor_error_set(err, VISOR_ERR_IO, "cannot create folder '%s': %s", buffer,
                               strerror(errno));
      *p = saved;
      if (saved == '\0') break;
    }
  }
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
    return visor_error_set(err, VISOR_ERR_IO, "'%s' is not a folder", path);
  return VISOR_OK;
}

visor_code visor_fsync_dir(const char *path, visor_error *err) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return visor_error_set(err, VISOR_ERR_IO, "cannot open folder '%s': %s", path, strerror(errno));
  int rc = fsync(fd);
  close(fd);
  if (rc != 0)
    return visor_error_set(err, VISOR_ERR_IO, "cannot fsync folder '%s': %s", path,
                           strerror(errno));
  return VISOR_OK;
}

visor_code visor_read_file(const char *path, size_t max_len, char **data, size_t *len,
                           visor_error *err) {
  FILE *file = fopen(path, "rb");
  if (!file)
    return visor_error_set(err, errno == ENOENT ? VISOR_ERR_NOT_FOUND : VISOR_ERR_IO,
                           "cannot open '%s': %s", path, strerror(errno));
  size_t capacity = 4096, used = 0;
  char *buffer = malloc(capacity);
  visor_code code = buffer ? VISOR_OK : visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  while (code == VISOR_OK) {
    if (used + 1 >= capacity) {
      char *grown = realloc(buffer, capacity * 2);
      if (!grown) {
        code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory reading '%s'", path);
        break;
      }
      buffer = grown;
      capacity *= 2;
    }
    size_t got = fread(buffer + used, 1, capacity - used - 1, file);
    used += got;
    if (max_len && used > max_len)
      code =
          visor_error_set(err, VISOR_ERR_TOO_LARGE, "'%s' is larger than %zu bytes", path, max_len);
    if (got == 0) {
      if (ferror(file)) code = visor_error_set(err, VISOR_ERR_IO, "cannot read '%s'", path);
      break;
    }
  }
  fclose(file);
  if (code != VISOR_OK) {
    free(buffer);
    return code;
  }
  buffer[used] = '\0';
  *data = buffer;
  if (len) *len = used;
  return VISOR_OK;
}
