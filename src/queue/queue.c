/* queue.c: queue backend dispatch by URL. */
#include "queue/queue.h"

#include <string.h>

visor_queue *visor_queue_local_open(visor_db *db, visor_error *err); /* queue_local.c */

visor_queue *visor_queue_open(const char *url, visor_db *db, visor_error *err) {
  if (url && strcmp(url, "local") == 0) return visor_queue_local_open(db, err);
  visor_error_set(err, VISOR_ERR_INVALID, "queue URL '%s' is not supported (expected local)",
                  url ? url : "");
  return NULL;
}

void visor_queue_close(visor_queue *queue) {
  if (queue) queue->ops->close(queue);
}
