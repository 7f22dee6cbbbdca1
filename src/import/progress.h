/* progress.h: what `visor import` (and `visor reindex`) shows while it runs: on a terminal one
 * redrawn bar (rows done / total, images/s, ETA, errors so far); otherwise a plain line at every
 * tenth of the rows, so logs and pipes get no control characters. */
#ifndef VISOR_IMPORT_PROGRESS_H
#define VISOR_IMPORT_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct visor_import_counts {
  long rows_total, rows_done, errors;
  long images_uploaded, images_present, duplicates_skipped;
} visor_import_counts;

typedef struct visor_import_progress {
  FILE *out;
  int terminal;
  int64_t start_ms;
  long next_plain_step; /* rows_done at which the next plain line is due */
  int drawn;            /* a bar is on screen */
  const char *name;     /* what plain lines start with ("import" unless set) */
  const char *unit;     /* NULL: import's rows and images; else what rows count ("images") */
} visor_import_progress;

/* terminal: draw a bar (else plain lines). */
void visor_import_progress_start(visor_import_progress *progress, FILE *out, int terminal);
/* For another command's progress (`visor reindex`): plain lines start with name, and the
 * line counts rows_done of rows_total as unit (with unit/s, ETA and errors). */
void visor_import_progress_set_unit(visor_import_progress *progress, const char *name,
                                    const char *unit);
/* Shows counts (as often as the caller likes: plain lines only at their steps). */
void visor_import_progress_show(visor_import_progress *progress, const visor_import_counts *counts);
/* The last state, and a newline after a bar. */
void visor_import_progress_end(visor_import_progress *progress, const visor_import_counts *counts);
/* Formats the line shown for counts (without control characters) into line. */
void visor_import_progress_format(const visor_import_progress *progress,
                                  const visor_import_counts *counts, int64_t now_ms, char *line,
                                  size_t size);

#endif
