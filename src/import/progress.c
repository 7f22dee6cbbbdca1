/* progress.c: the import progress display (see progress.h). */
#include "import/progress.h"

#include <string.h>

#include "core/clock.h"

#define BAR_WIDTH 24

void visor_import_progress_start(visor_import_progress *progress, FILE *out, int terminal) {
  memset(progress, 0, sizeof *progress);
  progress->out = out;
  progress->terminal = terminal;
  progress->start_ms = visor_now_ms();
}

void visor_import_progress_set_unit(visor_import_progress *progress, const char *name,
                                    const char *unit) {
  progress->name = name;
  progress->unit = unit;
}

static void format_duration(double seconds, char *out, size_t size) {
  long total = (long)(seconds + 0.5);
  if (total >= 3600)
    snprintf(out, size, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  else
    snprintf(out, size, "%ld:%02ld", total / 60, total % 60);
}

void visor_import_progress_format(const visor_import_progress *progress,
                                  const visor_import_counts *counts, int64_t now_ms, char *line,
                                  size_t size) {
  double elapsed = (double)(now_ms - progress->start_ms) / 1000.0;
  double rate = elapsed > 0 ? (double)counts->images_uploaded / elapsed : 0;
  char eta[32] = "-";
  if (counts->rows_done > 0 && counts->rows_done < counts->rows_total)
    format_duration(elapsed * (double)(counts->rows_total - counts->rows_done) /
                        (double)counts->rows_done,
                    eta, sizeof eta);
  else if (counts->rows_done >= counts->rows_total)
    snprintf(eta, sizeof eta, "0:00");
  if (progress->unit) {
    rate = elapsed > 0 ? (double)counts->rows_done / elapsed : 0;
    snprintf(line, size, "%ld/%ld %s, %.1f %s/s, ETA %s, %ld error%s", counts->rows_done,
             counts->rows_total, progress->unit, rate, progress->unit, eta, counts->errors,
             counts->errors == 1 ? "" : "s");
    return;
  }
  snprintf(line, size, "%ld/%ld rows, %ld images uploaded, %.1f images/s, ETA %s, %ld error%s",
           counts->rows_done, counts->rows_total, counts->images_uploaded, rate, eta,
           counts->errors, counts->errors == 1 ? "" : "s");
}

static void draw(visor_import_progress *progress, const visor_import_counts *counts) {
  char line[256];
  visor_import_progress_format(progress, counts, visor_now_ms(), line, sizeof line);
  int filled = counts->rows_total ? (int)(BAR_WIDTH * counts->rows_done / counts->rows_total) : 0;
  char bar[BAR_WIDTH + 1];
  for (int i = 0; i < BAR_WIDTH; i++)
    bar[i] = i < filled ? '#' : '-';
  bar[BAR_WIDTH] = '\0';
  fprintf(progress->out, "\r\033[K[%s] %s", bar, line);
  fflush(progress->out);
  progress->drawn = 1;
}

static void plain(visor_import_progress *progress, const visor_import_counts *counts) {
  char line[256];
  visor_import_progress_format(progress, counts, visor_now_ms(), line, sizeof line);
  fprintf(progress->out, "%s: %s\n", progress->name ? progress->name : "import", line);
  fflush(progress->out);
}

void visor_import_progress_show(visor_import_progress *progress,
                                const visor_import_counts *counts) {
  if (progress->terminal) {
    draw(progress, counts);
    return;
  }
  long step = counts->rows_total / 10 > 0 ? counts->rows_total / 10 : 1;
  if (counts->rows_done < progress->next_plain_step || counts->rows_done >= counts->rows_total)
    return;
  plain(progress, counts);
  progress->next_plain_step = (counts->rows_done / step + 1) * step;
}

void visor_import_progress_end(visor_import_progress *progress, const visor_import_counts *counts) {
  if (progress->terminal) {
    draw(progress, counts);
    fputc('\n', progress->out);
    fflush(progress->out);
  } else {
    plain(progress, counts);
  }
}
