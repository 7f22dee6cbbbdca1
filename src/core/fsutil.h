/* fsutil.h: small filesystem helpers: make folders, fsync a folder, read a whole file. */
#ifndef VISOR_CORE_FSUTIL_H
#define VISOR_CORE_FSUTIL_H

#include <stddef.h>

#include "core/error.h"

visor_code visor_mkdirs(const char *path, visor_error *err); /* mkdir -p */
visor_code visor_fsync_dir(const char *path, visor_error *err);
/* Reads a whole file into a malloc'd NUL-terminated buffer (caller frees). */
visor_code visor_read_file(const char *path, size_t max_len, char **data, size_t *len,
                           visor_error *err);

#endif
