/* readers.h: the two catalogue file formats behind visor_catalogue_file_read, and what
 * they share: appending a row. */
#ifndef VISOR_IMPORT_READERS_H
#define VISOR_IMPORT_READERS_H

#include <stdio.h>

#include "import/catalogue_file.h"

/* Appends a row (zeroed but for line) and returns it, or NULL without memory. */
visor_import_row *visor_import_row_append(visor_catalogue_file *file, long line);
/* Appends a copy of image to row's images; 0 without memory. */
int visor_import_row_add_image(visor_import_row *row, const char *image);
/* Sets the row's error (printf-style) unless it has one already. */
void visor_import_row_fail(visor_import_row *row, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

visor_code visor_import_read_csv(FILE *in, const char *path, visor_catalogue_file *file,
                                 visor_error *err);
visor_code visor_import_read_jsonl(FILE *in, const char *path, visor_catalogue_file *file,
                                   visor_error *err);

#endif
