/* queue.c: queue backend dispatch by URL; the one place that says which queue URLs
 * this build accepts. */
#include "queue/queue.h"

#include <string.h>

visor_queue *visor_queue_local_open(visor_db *db, visor_error *err);    /* queue_local.c */
visor_queue *visor_queue_redis_open(const char *url, visor_error *err); /* queue_redis.c */

static const char accepted[] = "local, redis://[:password@]host[:port][/db][?prefix=P]";

int visor_queue_url_supported(const char *url, visor_error *err) {
  if (url && (strcmp(url, "local") == 0 || strncmp(url, "redis://", 8) == 0)) return 1;
  visor_error_set(err, VISOR_ERR_INVALID, "queue URL '%s' is not supported (expected %s)",
                  url ? url : "", accepted);
  return 0;
}

visor_queue *visor_queue_open(const char *url, visor_db *db, visor_error *err) {
  if (!visor_queue_url_supported(url, err)) return NULL;
  if (strncmp(url, "redis://", 8) == 0) return visor_queue_redis_open(url, err);
  return visor_queue_local_open(db, err);
}

void visor_queue_close(visor_queue *queue) {
  if (queue) queue->ops->close(queue);
}
