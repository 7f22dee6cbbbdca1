/* dataset.c: reading classes.csv, train.txt and test.txt of a labelled dataset (see
 * dataset.h). */
#include "eval/dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FIELDS 8

/* Splits line in place on commas into at most MAX_FIELDS trimmed fields (surrounding
 * double quotes removed); returns the field count. */
static size_t split_fields(char *line, char **fields) {
  size_t count = 0;
  char *start = line;
  for (;;) {
    char *comma = strchr(start, ',');
    if (comma) *comma = '\0';
    while (*start == ' ' || *start == '\t')
      start++;
    char *end = start + strlen(start);
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
      *--end = '\0';
    if (end - start >= 2 && *start == '"' && end[-1] == '"') {
      end[-1] = '\0';
      start++;
    }
    if (count < MAX_FIELDS) fields[count] = start;
    count++;
    if (!comma) break;
    start = comma + 1;
  }
  return count;
}

static int parse_id(const char *text, int *out) {
  char *end = NULL;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (!*text || errno || *end || value < 0 || value > 1000000) return 0;
  *out = (int)value;
  return 1;
}

/* dir + "/" + relative (a leading '/' of relative is the dataset folder). */
static char *join_path(const char *dir, const char *relative) {
  while (*relative == '/')
    relative++;
  size_t size = strlen(dir) + strlen(relative) + 2;
  char *path = malloc(size);
  if (path) snprintf(path, size, "%s/%s", dir, relative);
  return path;
}

static int is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Joins and checks an image path of file:line. */
static visor_code image_path(const char *dir, const char *file, size_t line, const char *relative,
                             char **out, visor_error *err) {
  if (!*relative)
    return visor_error_set(err, VISOR_ERR_INVALID, "%s line %zu: the image path is empty", file,
                           line);
  *out = join_path(dir, relative);
  if (!*out) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  if (!is_file(*out))
    return visor_error_set(err, VISOR_ERR_NOT_FOUND, "%s line %zu: image '%s' not found (%s)", file,
                           line, relative, *out);
  return VISOR_OK;
}

static visor_code open_file(const char *dir, const char *name, int required, FILE **out,
                            visor_error *err) {
  char *path = join_path(dir, name);
  if (!path) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  *out = fopen(path, "r");
  visor_code code = VISOR_OK;
  if (!*out && (required || errno != ENOENT))
    code = visor_error_set(err, errno == ENOENT ? VISOR_ERR_NOT_FOUND : VISOR_ERR_IO, "%s: %s",
                           path, strerror(errno));
  free(path);
  return code;
}

static int grow(void **items, size_t *capacity, size_t count, size_t item_size) {
  if (count < *capacity) return 1;
  size_t next = *capacity ? *capacity * 2 : 64;
  void *bigger = realloc(*items, next * item_size);
  if (!bigger) return 0;
  *items = bigger;
  *capacity = next;
  return 1;
}

static visor_code read_classes(visor_eval_dataset *dataset, visor_error *err) {
  FILE *file = NULL;
  visor_code code = open_file(dataset->dir, "classes.csv", 1, &file, err);
  if (code != VISOR_OK) return code;
  char *line = NULL;
  size_t line_size = 0, capacity = 0, number = 0;
  while (code == VISOR_OK && getline(&line, &line_size, file) >= 0) {
    number++;
    char *fields[MAX_FIELDS];
    if (strspn(line, " \t\r\n") == strlen(line)) continue;
    size_t count = split_fields(line, fields);
    int fine = 0, coarse = 0;
    if (count >= 2 && number == 1 && !parse_id(fields[1], &fine)) continue; /* header */
    if (count < 5) {
      code = visor_error_set(err, VISOR_ERR_INVALID,
                             "classes.csv line %zu: expected 'name, id, coarse name, coarse id, "
                             "image path', found %zu field%s",
                             number, count, count == 1 ? "" : "s");
      break;
    }
    if (!*fields[0] || !parse_id(fields[1], &fine) || !parse_id(fields[3], &coarse)) {
      code = visor_error_set(err, VISOR_ERR_INVALID,
                             "classes.csv line %zu: bad class '%s' (id '%s', coarse id '%s')",
                             number, fields[0], fields[1], fields[3]);
      break;
    }
    if (visor_eval_class_index(dataset, fine) >= 0) {
      code = visor_error_set(err, VISOR_ERR_INVALID,
                             "classes.csv line %zu: class id %d appears twice", number, fine);
      break;
    }
    if (!grow((void **)&dataset->classes, &capacity, dataset->class_count,
              sizeof *dataset->classes)) {
      code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
      break;
    }
    visor_eval_class *class = &dataset->classes[dataset->class_count++];
    memset(class, 0, sizeof *class);
    class->fine_id = fine;
    class->coarse_id = coarse;
    class->name = strdup(fields[0]);
    class->coarse_name = strdup(*fields[2] ? fields[2] : fields[0]);
    if (!class->name || !class->coarse_name)
      code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    if (code == VISOR_OK)
      code = image_path(dataset->dir, "classes.csv", number, fields[4], &class->iconic_path, err);
  }
  if (code == VISOR_OK && dataset->class_count == 0)
    code = visor_error_set(err, VISOR_ERR_INVALID, "classes.csv: no classes");
  free(line);
  fclose(file);
  return code;
}

static visor_code read_samples(visor_eval_dataset *dataset, const char *name, int required,
                               visor_eval_sample **samples, size_t *sample_count,
                               visor_error *err) {
  FILE *file = NULL;
  visor_code code = open_file(dataset->dir, name, required, &file, err);
  if (code != VISOR_OK || !file) return code;
  char *line = NULL;
  size_t line_size = 0, capacity = 0, number = 0;
  while (code == VISOR_OK && getline(&line, &line_size, file) >= 0) {
    number++;
    if (strspn(line, " \t\r\n") == strlen(line)) continue;
    char *fields[MAX_FIELDS];
    size_t count = split_fields(line, fields);
    int fine = 0, coarse = 0;
    if (count != 3 || !parse_id(fields[1], &fine) || !parse_id(fields[2], &coarse)) {
      code = visor_error_set(err, VISOR_ERR_INVALID,
                             "%s line %zu: expected 'path, fine_id, coarse_id'", name, number);
      break;
    }
    if (visor_eval_class_index(dataset, fine) < 0) {
      code = visor_error_set(err, VISOR_ERR_INVALID,
                             "%s line %zu: class id %d is not in classes.csv", name, number, fine);
      break;
    }
    if (!grow((void **)samples, &capacity, *sample_count, sizeof **samples)) {
      code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
      break;
    }
    visor_eval_sample *sample = &(*samples)[(*sample_count)++];
    memset(sample, 0, sizeof *sample);
    sample->fine_id = fine;
    sample->coarse_id = coarse;
    code = image_path(dataset->dir, name, number, fields[0], &sample->path, err);
  }
  free(line);
  fclose(file);
  return code;
}

visor_code visor_eval_dataset_load(const char *dir, visor_eval_dataset *dataset, visor_error *err) {
  memset(dataset, 0, sizeof *dataset);
  dataset->dir = strdup(dir);
  if (!dataset->dir) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  size_t len = strlen(dataset->dir);
  while (len > 1 && dataset->dir[len - 1] == '/')
    dataset->dir[--len] = '\0';
  visor_code code = read_classes(dataset, err);
  if (code == VISOR_OK)
    code = read_samples(dataset, "train.txt", 0, &dataset->train, &dataset->train_count, err);
  if (code == VISOR_OK)
    code = read_samples(dataset, "test.txt", 1, &dataset->test, &dataset->test_count, err);
  if (code == VISOR_OK && dataset->test_count == 0)
    code = visor_error_set(err, VISOR_ERR_INVALID, "test.txt: no queries");
  if (code != VISOR_OK) {
    visor_error_wrap(err, "dataset %s", dir);
    visor_eval_dataset_free(dataset);
  }
  return code;
}

static void free_samples(visor_eval_sample *samples, size_t count) {
  for (size_t i = 0; i < count; i++)
    free(samples[i].path);
  free(samples);
}

void visor_eval_dataset_free(visor_eval_dataset *dataset) {
  for (size_t i = 0; i < dataset->class_count; i++) {
    free(dataset->classes[i].name);
    free(dataset->classes[i].coarse_name);
    free(dataset->classes[i].iconic_path);
  }
  free(dataset->classes);
  free_samples(dataset->train, dataset->train_count);
  free_samples(dataset->test, dataset->test_count);
  free(dataset->dir);
  memset(dataset, 0, sizeof *dataset);
}

int visor_eval_class_index(const visor_eval_dataset *dataset, int fine_id) {
  for (size_t i = 0; i < dataset->class_count; i++)
    if (dataset->classes[i].fine_id == fine_id) return (int)i;
  return -1;
}
