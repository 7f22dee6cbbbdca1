/* log.h: levelled logging to stderr, as plain text or JSON lines. Thread-safe. A line
 * carries the time, level, a message and optional key=value fields. */
#ifndef VISOR_CORE_LOG_H
#define VISOR_CORE_LOG_H

typedef enum visor_log_level {
  VISOR_LOG_DEBUG,
  VISOR_LOG_INFO,
  VISOR_LOG_WARN,
  VISOR_LOG_ERROR,
} visor_log_level;

typedef enum visor_log_format { VISOR_LOG_PLAIN, VISOR_LOG_JSON } visor_log_format;

void visor_log_setup(visor_log_level level, visor_log_format format);
/* Parses "debug" / "info" / "warn" / "error"; returns -1 if unknown. */
int visor_log_level_parse(const char *name);
int visor_log_enabled(visor_log_level level);

/* fields: NULL-terminated list of alternating key, value strings (may be NULL). */
void visor_log_fields(visor_log_level level, const char *const *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void visor_log(visor_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define visor_log_debug(...) visor_log(VISOR_LOG_DEBUG, __VA_ARGS__)
#define visor_log_info(...) visor_log(VISOR_LOG_INFO, __VA_ARGS__)
#define visor_log_warn(...) visor_log(VISOR_LOG_WARN, __VA_ARGS__)
#define visor_log_error(...) visor_log(VISOR_LOG_ERROR, __VA_ARGS__)

#endif
