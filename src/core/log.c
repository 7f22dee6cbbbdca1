/* log.c: levelled logging to stderr as plain text or JSON lines; one write per line so
 * lines from different threads never interleave. */
#include "core/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

static visor_log_level current_level = VISOR_LOG_INFO;
static visor_log_format current_format = VISOR_LOG_PLAIN;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void visor_log_setup(visor_log_level level, visor_log_format format) {
  current_level = level;
  current_format = format;
}

int visor_log_level_parse(const char *name) {
  for (int i = 0; i < 4; i++)
    if (name && strcmp(name, level_names[i]) == 0) return i;
  return -1;
}

int visor_log_enabled(visor_log_level level) {
  return level >= current_level;
}

static void write_line(visor_log_level level, const char *const *fields, const char *message) {
  char when[32];
  visor_format_time(visor_now_ms(), when);
  char *line = NULL;
  if (current_format == VISOR_LOG_JSON) {
    json_t *object =
        json_pack("{s:s, s:s, s:s}", "time", when, "level", level_names[level], "msg", message);
    for (size_t i = 0; fields && fields[i]; i += 2)
      json_object_set_new(object, fields[i],
                          fields[i + 1] ? json_string(fields[i + 1]) : json_null());
    line = json_dumps(object, JSON_COMPACT);
    json_decref(object);
  } else {
    size_t size = strlen(message) + 64;
    for (size_t i = 0; fields && fields[i]; i += 2)
      size += strlen(fields[i]) + (fields[i + 1] ? strlen(fields[i + 1]) : 4) + 4;
    line = malloc(size);
    if (line) {
      int used = snprintf(line, size, "%s %-5s %s", when, level_names[level], message);
      for (size_t i = 0; fields && fields[i]; i += 2)
        used += snprintf(line + used, size - (size_t)used, " %s=%s", fields[i],
                         fields[i + 1] ? fields[i + 1] : "null");
    }
  }
  if (!line) return;
  pthread_mutex_lock(&log_lock);
  fprintf(stderr, "%s\n", line);
  fflush(stderr);
  pthread_mutex_unlock(&log_lock);
  free(line);
}

static void vlog(visor_log_level level, const char *const *fields, const char *fmt, va_list ap) {
  if (!visor_log_enabled(level)) return;
  char message[2048];
  vsnprintf(message, sizeof message, fmt, ap);
  write_line(level, fields, message);
}

void visor_log_fields(visor_log_level level, const char *const *fields, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(level, fields, fmt, ap);
  va_end(ap);
}

void visor_log(visor_log_level level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(level, NULL, fmt, ap);
  va_end(ap);
}
