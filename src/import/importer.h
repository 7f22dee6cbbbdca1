/* importer.h: `visor import`: loads a catalogue file into a running Visor over its REST
 * API with several uploads in flight. Resumable and idempotent: a product whose SKU
 * exists gets only the images whose sha256 it does not have yet, so an interrupted import
 * is simply run again. Every failed row is reported with its line and reason. */
#ifndef VISOR_IMPORT_IMPORTER_H
#define VISOR_IMPORT_IMPORTER_H

#include <stdatomic.h>
#include <stdio.h>

#include "import/catalogue_file.h"
#include "import/progress.h"

typedef struct visor_import_options {
  const char *url;      /* the server, e.g. http://localhost:8080 */
  int parallel;         /* products uploaded at once (threads) */
  int dry_run;          /* check the file (and that local images are readable) only */
  int skip_duplicates;  /* skip images another product already has (same sha256) */
  int terminal;         /* draw a progress bar (else plain lines) */
  FILE *progress_out;   /* where progress goes (NULL: none) */
  double retry_seconds; /* how long one call may be retried while throttled/unreachable */
  size_t max_image_bytes;
  const atomic_int *stop; /* when set and non-zero, no further product is started (NULL: none) */
} visor_import_options;

typedef struct visor_import_failure {
  long line;
  char *sku;
  char *reason;
} visor_import_failure;

typedef struct visor_import_result {
  visor_import_counts counts;
  long rows_failed;
  long products_created;
  visor_import_failure *failures; /* sorted by line */
  size_t failure_count;
} visor_import_result;

/* Runs the import of file. VISOR_OK when it ran (rows may have failed: see result);
 * an error when it could not run at all (the server unreachable). */
visor_code visor_import_run(const visor_catalogue_file *file, const visor_import_options *options,
                            visor_import_result *result, visor_error *err);
/* Writes the failures as CSV with the header line,sku,reason. */
visor_code visor_import_write_failures(const visor_import_result *result, const char *path,
                                       visor_error *err);
void visor_import_result_free(visor_import_result *result);

#endif
