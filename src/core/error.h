/* error.h: the one error type of Visor. Functions that can fail return a visor_code
 * (VISOR_OK == 0) and fill a caller-owned visor_error with a message that says what failed
 * and with what. The code maps to an HTTP status and to a CLI exit code. */
#ifndef VISOR_CORE_ERROR_H
#define VISOR_CORE_ERROR_H

#include <stdarg.h>

typedef enum visor_code {
  VISOR_OK = 0,
  VISOR_ERR_INVALID,     /* bad input from the caller (HTTP 400) */
  VISOR_ERR_NOT_FOUND,   /* 404 */
  VISOR_ERR_CONFLICT,    /* e.g. duplicate SKU (409) */
  VISOR_ERR_TOO_LARGE,   /* over a size or pixel limit (413) */
  VISOR_ERR_UNSUPPORTED, /* e.g. not an image (415) */
  VISOR_ERR_UNAVAILABLE, /* a backend is down or busy (503) */
  VISOR_ERR_PERMISSION,  /* credentials refused or access denied, e.g. by S3 (403) */
  VISOR_ERR_IO,          /* disk or network failure (500) */
  VISOR_ERR_NOMEM,       /* out of memory (500) */
  VISOR_ERR_INTERNAL,    /* a bug or an unexpected library failure (500) */
} visor_code;

typedef struct visor_error {
  visor_code code;
  char message[512];
} visor_error;

/* Sets err (if not NULL) and returns code, so callers can `return visor_error_set(...)`. */
visor_code visor_error_set(visor_error *err, visor_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
visor_code visor_error_setv(visor_error *err, visor_code code, const char *fmt, va_list ap);
/* Prefixes the existing message with context: "context: old message". */
visor_code visor_error_wrap(visor_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void visor_error_clear(visor_error *err);

/* Stable machine name ("invalid_argument", "not_found", ...) and HTTP status of a code. */
const char *visor_code_name(visor_code code);
int visor_code_http_status(visor_code code);

#endif
