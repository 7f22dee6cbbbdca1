/* grocery.c: the Grocery Store data set as a catalogue (see grocery.h). classes.csv has
 * no quoted fields: Class Name, Class ID, Coarse Class Name, Coarse Class ID, Iconic Image
 * Path, Product Description Path (paths start with '/', under the data set folder). */
#include "import/grocery.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/readers.h"

#define DESCRIPTION_MAX 4000

/* The description file's text with runs of white space made one space. */
static char *read_description(const char *path) {
  FILE *in = fopen(path, "rb");
  if (!in) return strdup("");
  char *text = malloc(DESCRIPTION_MAX + 1);
  size_t len = 0;
  int c, space = 0;
  while (text && (c = fgetc(in)) != EOF && len < DESCRIPTION_MAX) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      space = len > 0;
      continue;
    }
    if (space && len < DESCRIPTION_MAX - 1) text[len++] = ' ';
    space = 0;
    text[len++] = (char)c;
  }
  if (text) text[len] = '\0';
  fclose(in);
  return text;
}

static void add_class(visor_catalogue_file *file, const char *dir, long line, char **cols) {
  visor_import_row *row = visor_import_row_append(file, line);
  if (!row) return;
  long id = strtol(cols[1], NULL, 10);
  char sku[32], name[128], image[4096], description_path[4096], group[64] = "";
  snprintf(sku, sizeof sku, "GROCERY-%03ld", id);
  snprintf(name, sizeof name, "%s", cols[0]);
  for (char *c = name; *c; c++)
    if (*c == '-') *c = ' ';
  sscanf(cols[4], "/%*[^/]/%63[^/]", group); /* /iconic-images-and-descriptions/GROUP/... */
  snprintf(image, sizeof image, "%s%s", dir, cols[4]);
  snprintf(description_path, sizeof description_path, "%s%s", dir, cols[5]);
  char *description = read_description(description_path);
  row->sku = strdup(sku);
  row->fields = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:f, s:s}", "sku", sku, "name", name,
                          "description", description ? description : "", "category", cols[2],
                          "labels", "group", group, "class", cols[0], "price",
                          0.5 + (double)(id * 37 % 40) / 10, "currency", "EUR");
  free(description);
  if (!row->sku || !row->fields || !visor_import_row_add_image(row, image))
    visor_import_row_fail(row, "out of memory");
}

visor_code visor_grocery_catalogue(const char *dataset_dir, visor_catalogue_file *file,
                                   visor_error *err) {
  memset(file, 0, sizeof *file);
  char *absolute = realpath(dataset_dir, NULL); /* image paths must not depend on a folder */
  if (!absolute)
    return visor_error_set(err, VISOR_ERR_INVALID, "cannot read %s: %s", dataset_dir,
                           strerror(errno));
  char path[4096];
  snprintf(path, sizeof path, "%s/classes.csv", absolute);
  FILE *in = fopen(path, "r");
  if (!in) {
    free(absolute);
    return visor_error_set(err, VISOR_ERR_INVALID, "cannot read %s: %s", path, strerror(errno));
  }
  file->dir = absolute;
  char *line = NULL;
  size_t capacity = 0;
  long number = 0;
  while (getline(&line, &capacity, in) > 0) {
    if (++number == 1) continue; /* the header */
    line[strcspn(line, "\r\n")] = '\0';
    char *cols[6] = {0}, *save = NULL;
    int count = 0;
    for (char *col = strtok_r(line, ",", &save); col && count < 6; col = strtok_r(NULL, ",", &save))
      cols[count++] = col;
    if (count == 6) add_class(file, absolute, number, cols);
  }
  free(line);
  fclose(in);
  visor_code code = file->row_count
                        ? visor_catalogue_file_group(file, err)
                        : visor_error_set(err, VISOR_ERR_INVALID, "%s lists no classes", path);
  if (code != VISOR_OK) visor_catalogue_file_free(file);
  return code;
}
