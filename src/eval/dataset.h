/* dataset.h: reading a labelled image dataset laid out like the Grocery Store Dataset:
 * classes.csv (fine class name, fine id, coarse class name, coarse id, catalogue
 * ("iconic") image path, ...; an optional header line) and train.txt / test.txt ("path,
 * fine_id, coarse_id" per line). Paths are relative to the dataset folder (a leading '/'
 * also means the dataset folder, as upstream writes them). Every referenced image must
 * exist; errors name the file and the line. */
#ifndef VISOR_EVAL_DATASET_H
#define VISOR_EVAL_DATASET_H

#include <stddef.h>

#include "core/error.h"

typedef struct visor_eval_class {
  char *name;        /* fine class, e.g. "Granny-Smith" */
  char *coarse_name; /* e.g. "Apple" */
  int fine_id, coarse_id;
  char *iconic_path; /* full path of the catalogue image */
} visor_eval_class;

typedef struct visor_eval_sample {
  char *path; /* full path */
  int fine_id, coarse_id;
} visor_eval_sample;

typedef struct visor_eval_dataset {
  char *dir;
  visor_eval_class *classes; /* in file order */
  size_t class_count;
  visor_eval_sample *train; /* empty when train.txt is absent */
  size_t train_count;
  visor_eval_sample *test;
  size_t test_count;
} visor_eval_dataset;

/* Reads dir/classes.csv, dir/train.txt (optional) and dir/test.txt. On failure the
 * dataset is left empty and err names the file and line (VISOR_ERR_INVALID for bad
 * content, VISOR_ERR_NOT_FOUND for a missing file or image). */
visor_code visor_eval_dataset_load(const char *dir, visor_eval_dataset *dataset, visor_error *err);
void visor_eval_dataset_free(visor_eval_dataset *dataset);

/* The index in dataset->classes of fine class id, or -1. */
int visor_eval_class_index(const visor_eval_dataset *dataset, int fine_id);

#endif
