/* init.c: one-time, thread-safe libvips start-up for a server process (small operation
 * cache, one worker thread per image unless VIPS_CONCURRENCY says otherwise), and the
 * translation of libvips errors into visor_error. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

static pthread_once_t vips_once = PTHREAD_ONCE_INIT;
static int vips_init_failed;

/* libvips reports recoverable problems (e.g. a damaged JPEG tile) as GLib warnings on
 * stderr; Visor returns errors instead, so they go nowhere. */
static void drop_log(const gchar *domain, GLogLevelFlags level, const gchar *message,
                     gpointer data) {
  (void)domain, (void)level, (void)message, (void)data;
}

static void start_vips(void) {
  g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO, drop_log,
                    NULL);
  if (VIPS_INIT("visor")) {
    vips_init_failed = 1;
    return;
  }
  /* A server sees each image once: the operation cache only holds memory. */
  vips_cache_set_max(0);
  vips_cache_set_max_mem(0);
  vips_cache_set_max_files(0);
  /* Requests run in parallel already; one thread per image avoids oversubscription. */
  if (!getenv("VIPS_CONCURRENCY")) vips_concurrency_set(1);
}

visor_code visor_image_init(visor_error *err) {
  pthread_once(&vips_once, start_vips);
  if (vips_init_failed) return visor_vips_error(err, VISOR_ERR_INTERNAL, "libvips start-up failed");
  return VISOR_OK;
}

visor_code visor_vips_error(visor_error *err, visor_code code, const char *what) {
  char *message = vips_error_buffer_copy(); /* takes and clears the (global) buffer */
  size_t n = message ? strlen(message) : 0;
  while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == ' '))
    message[--n] = '\0';
  /* libvips messages can span lines: keep the error on one line. */
  for (size_t i = 0; i < n; i++)
    if (message[i] == '\n') message[i] = ';';
  visor_code result = n ? visor_error_set(err, code, "%s: %s", what, message)
                        : visor_error_set(err, code, "%s", what);
  g_free(message);
  return result;
}
