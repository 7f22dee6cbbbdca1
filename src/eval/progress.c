/* progress.c: the progress bar of `visor eval` (see progress.h). */
#include "eval/progress.h"

#include "core/clock.h"

#define BAR_WIDTH 30

void visor_progress_start(visor_progress *progress, FILE *out, const char *label, size_t total) {
  progress->out = out;
  progress->label = label;
  progress->total = total;
  progress->started = visor_monotonic_s();
  visor_progress_update(progress, 0);
}

void visor_progress_update(visor_progress *progress, size_t done) {
  if (!progress->out) return;
  size_t total = progress->total ? progress->total : 1;
  if (done > total) done = total;
  size_t filled = done * BAR_WIDTH / total;
  char bar[BAR_WIDTH + 1];
  for (size_t i = 0; i < BAR_WIDTH; i++)
    bar[i] = i < filled ? '#' : '.';
  bar[BAR_WIDTH] = '\0';
  double elapsed = visor_monotonic_s() - progress->started;
  fprintf(progress->out, "\r%-10s [%s] %zu/%zu  %.1f/s ", progress->label, bar, done,
          progress->total, elapsed > 0 ? (double)done / elapsed : 0.0);
  fflush(progress->out);
}

void visor_progress_finish(visor_progress *progress, size_t done) {
  if (!progress->out) return;
  visor_progress_update(progress, done);
  fputc('\n', progress->out);
  fflush(progress->out);
}
