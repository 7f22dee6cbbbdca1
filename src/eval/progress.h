/* progress.h: a one-line progress bar ("indexing [#####.....] 120/400  35.2/s") redrawn
 * in place on a terminal. */
#ifndef VISOR_EVAL_PROGRESS_H
#define VISOR_EVAL_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

typedef struct visor_progress {
  FILE *out; /* NULL = draw nothing */
  const char *label;
  size_t total;
  double started;
} visor_progress;

void visor_progress_start(visor_progress *progress, FILE *out, const char *label, size_t total);
void visor_progress_update(visor_progress *progress, size_t done);
/* Draws the final state and ends the line. */
void visor_progress_finish(visor_progress *progress, size_t done);

#endif
