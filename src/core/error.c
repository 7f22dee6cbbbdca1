/* error.c: setting, wrapping and naming visor_error values. */
#include "core/error.h"

#include <stdio.h>
#include <string.h>

visor_code visor_error_setv(visor_error *err, visor_code code, const char *fmt, va_list ap) {
  if (err) {
    err->code = code;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
  }
  return code;
}

visor_code visor_error_set(visor_error *err, visor_code code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  visor_error_setv(err, code, fmt, ap);
  va_end(ap);
  return code;
}

visor_code visor_error_wrap(visor_error *err, const char *fmt, ...) {
  if (!err) return VISOR_ERR_INTERNAL;
  char prefix[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  char old[sizeof err->message];
  memcpy(old, err->message, sizeof old);
  size_t used = strlen(prefix);
  if (used > sizeof err->message - 3) used = sizeof err->message - 3;
  memcpy(err->message, prefix, used);
  memcpy(err->message + used, ": ", 2);
  size_t room = sizeof err->message - used - 3;
  size_t old_len = strnlen(old, room);
  memcpy(err->message + used + 2, old, old_len);
  err->message[used + 2 + old_len] = '\0';
  return err->code;
}

void visor_error_clear(visor_error *err) {
  if (err) {
    err->code = VISOR_OK;
    err->message[0] = '\0';
  }
}

const char *visor_code_name(visor_code code) {
  switch (code) {
  case VISOR_OK:
    return "ok";
  case VISOR_ERR_INVALID:
    return "invalid_argument";
  case VISOR_ERR_NOT_FOUND:
    return "not_found";
  case VISOR_ERR_CONFLICT:
    return "conflict";
  case VISOR_ERR_TOO_LARGE:
    return "too_large";
  case VISOR_ERR_UNSUPPORTED:
    return "unsupported_media_type";
  case VISOR_ERR_UNAVAILABLE:
    return "unavailable";
  case VISOR_ERR_PERMISSION:
    return "permission_denied";
  case VISOR_ERR_IO:
    return "io_error";
  case VISOR_ERR_NOMEM:
    return "out_of_memory";
  case VISOR_ERR_INTERNAL:
    return "internal";
  }
  return "internal";
}

int visor_code_http_status(visor_code code) {
  switch (code) {
  case VISOR_OK:
    return 200;
  case VISOR_ERR_INVALID:
    return 400;
  case VISOR_ERR_NOT_FOUND:
    return 404;
  case VISOR_ERR_CONFLICT:
    return 409;
  case VISOR_ERR_TOO_LARGE:
    return 413;
  case VISOR_ERR_UNSUPPORTED:
    return 415;
  case VISOR_ERR_UNAVAILABLE:
    return 503;
  case VISOR_ERR_PERMISSION:
    return 403;
  case VISOR_ERR_IO:
  case VISOR_ERR_NOMEM:
  case VISOR_ERR_INTERNAL:
    return 500;
  }
  return 500;
}
