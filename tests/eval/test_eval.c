/* test_eval.c: `visor eval`'s building blocks: the metrics (top-1 / top-k for fine and
 * coarse classes, mAP as mean reciprocal rank) on hand-made rankings, and the dataset
 * reader on a tiny dataset written to a temporary folder, with its errors for a missing
 * classes.csv, a bad line and a missing image naming the file and the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval/dataset.h"
#include "eval/metrics.h"

/* ---- metrics ---- */

static void test_metrics_top_k_and_map(void **state) {
  (void)state;
  visor_eval_metrics metrics;
  visor_eval_metrics_init(&metrics, 5);
  /* Classes 0..6; coarse class = fine / 2. */
  int fine_a[] = {3, 1, 2, 0, 4, 5}, coarse_a[] = {1, 0, 1, 0, 2, 2};
  visor_eval_metrics_add(&metrics, fine_a, coarse_a, 6, 3, 1); /* rank 1 */
  int fine_b[] = {1, 0, 2, 4, 5, 6}, coarse_b[] = {0, 0, 1, 2, 2, 3};
  visor_eval_metrics_add(&metrics, fine_b, coarse_b, 6, 2, 1); /* rank 3, coarse rank 3 */
  int fine_c[] = {5, 4, 3, 2, 1, 0}, coarse_c[] = {2, 2, 1, 1, 0, 0};
  visor_eval_metrics_add(&metrics, fine_c, coarse_c, 6, 0, 0); /* rank 6: outside top-5 */
  int fine_d[] = {4, 6}, coarse_d[] = {2, 3};
  visor_eval_metrics_add(&metrics, fine_d, coarse_d, 2, 1, 0); /* not ranked at all */
  int fine_e[] = {5, 4, 0}, coarse_e[] = {2, 2, 0};
  visor_eval_metrics_add(&metrics, fine_e, coarse_e, 3, 4, 2); /* rank 2, coarse rank 1 */
  assert_int_equal(metrics.queries, 5);
  assert_int_equal(metrics.fine_top1, 1);
  assert_int_equal(metrics.fine_topk, 3);
  assert_int_equal(metrics.coarse_top1, 2);
  assert_int_equal(metrics.coarse_topk, 4); /* a, b, c (coarse 0 at rank 5), e */
  visor_eval_scores scores = visor_eval_metrics_scores(&metrics);
  assert_true(fabs(scores.fine_top1 - 0.2) < 1e-12);
  assert_true(fabs(scores.fine_topk - 0.6) < 1e-12);
  assert_true(fabs(scores.coarse_top1 - 0.4) < 1e-12);
  assert_true(fabs(scores.coarse_topk - 0.8) < 1e-12);
  double map = (1.0 + 1.0 / 3 + 1.0 / 6 + 0 + 0.5) / 5;
  assert_true(fabs(scores.map - map) < 1e-12);
}

static void test_metrics_k1_merge_and_empty(void **state) {
  (void)state;
  visor_eval_metrics a, b;
  visor_eval_metrics_init(&a, 1);
  visor_eval_metrics_init(&b, 1);
  visor_eval_scores none = visor_eval_metrics_scores(&a);
  assert_true(none.fine_top1 == 0 && none.map == 0);
  int fine[] = {7, 8}, coarse[] = {1, 1};
  visor_eval_metrics_add(&a, fine, coarse, 2, 8, 1); /* rank 2: not in top-1, coarse top-1 */
  visor_eval_metrics_add(&b, fine, coarse, 2, 7, 1); /* rank 1 */
  visor_eval_metrics_merge(&a, &b);
  visor_eval_scores scores = visor_eval_metrics_scores(&a);
  assert_int_equal(a.queries, 2);
  assert_true(fabs(scores.fine_top1 - 0.5) < 1e-12);
  assert_true(fabs(scores.fine_topk - 0.5) < 1e-12);
  assert_true(fabs(scores.coarse_top1 - 1.0) < 1e-12);
  assert_true(fabs(scores.map - 0.75) < 1e-12);
}

/* ---- dataset reader ---- */

typedef struct tiny_dataset {
  char dir[64];
} tiny_dataset;

static void write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  char folder[512];
  snprintf(folder, sizeof folder, "%s", path);
  for (char *slash = strchr(folder + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
    *slash = '\0';
    mkdir(folder, 0755);
    *slash = '/';
  }
  FILE *file = fopen(path, "w");
  assert_non_null(file);
  fputs(text, file);
  fclose(file);
}

static const char *const classes_csv =
    "Class Name (str),Class ID (int),Coarse Class Name (str),Coarse Class ID (int),Iconic Image "
    "Path (str),"
    "Product Description Path (str)\n"
    "Granny-Smith,0,Apple,0,/iconic/Granny-Smith.jpg,/iconic/Granny-Smith.txt\n"
    "Pink-Lady,1,Apple,0,/iconic/Pink-Lady.jpg,/iconic/Pink-Lady.txt\n"
    "Oatly-Oat-Milk,2,Oat-Milk,1,/iconic/Oatly.jpg,/iconic/Oatly.txt"; /* no final newline */

static int setup_dataset(void **state) {
  tiny_dataset *tiny = calloc(1, sizeof *tiny);
  const char *base = getenv("TMPDIR");
  snprintf(tiny->dir, sizeof tiny->dir, "%s/visor-eval-test-XXXXXX",
           base && strlen(base) < 30 ? base : "/tmp");
  if (!mkdtemp(tiny->dir)) return -1;
  write_file(tiny->dir, "classes.csv", classes_csv);
  const char *images[] = {
      "iconic/Granny-Smith.jpg", "iconic/Pink-Lady.jpg", "iconic/Oatly.jpg", "train/a_1.jpg",
      "train/b_1.jpg",           "test/a_2.jpg",         "test/c_2.jpg"};
  for (size_t i = 0; i < sizeof images / sizeof images[0]; i++)
    write_file(tiny->dir, images[i], "jpeg bytes");
  write_file(tiny->dir, "train.txt", "train/a_1.jpg, 0, 0\ntrain/b_1.jpg, 1, 0\n");
  write_file(tiny->dir, "test.txt", "test/a_2.jpg, 0, 0\n\ntest/c_2.jpg, 2, 1\n");
  *state = tiny;
  return 0;
}

static int teardown_dataset(void **state) {
  tiny_dataset *tiny = *state;
  char command[128];
  snprintf(command, sizeof command, "rm -rf '%s'", tiny->dir);
  int status = system(command);
  free(tiny);
  return status == 0 ? 0 : -1;
}

static void test_dataset_reads_tiny_dataset(void **state) {
  tiny_dataset *tiny = *state;
  visor_eval_dataset dataset;
  visor_error err = {0};
  assert_int_equal(visor_eval_dataset_load(tiny->dir, &dataset, &err), VISOR_OK);
  assert_int_equal(dataset.class_count, 3);
  assert_string_equal(dataset.classes[2].name, "Oatly-Oat-Milk");
  assert_string_equal(dataset.classes[2].coarse_name, "Oat-Milk");
  assert_int_equal(dataset.classes[2].fine_id, 2);
  assert_int_equal(dataset.classes[2].coarse_id, 1);
  char expected[512];
  snprintf(expected, sizeof expected, "%s/iconic/Oatly.jpg", tiny->dir);
  assert_string_equal(dataset.classes[2].iconic_path, expected);
  assert_int_equal(dataset.train_count, 2);
  assert_int_equal(dataset.train[1].fine_id, 1);
  assert_int_equal(dataset.test_count, 2); /* the blank line is skipped */
  snprintf(expected, sizeof expected, "%s/test/c_2.jpg", tiny->dir);
  assert_string_equal(dataset.test[1].path, expected);
  assert_int_equal(dataset.test[1].coarse_id, 1);
  assert_int_equal(visor_eval_class_index(&dataset, 1), 1);
  assert_int_equal(visor_eval_class_index(&dataset, 9), -1);
  visor_eval_dataset_free(&dataset);
  assert_null(dataset.classes);
}

/* Loads and expects failure with code and every fragment in the message. */
static void expect_error(const char *dir, visor_code code, const char *fragment1,
                         const char *fragment2) {
  visor_eval_dataset dataset;
  visor_error err = {0};
  assert_int_equal(visor_eval_dataset_load(dir, &dataset, &err), code);
  if (!strstr(err.message, fragment1) || (fragment2 && !strstr(err.message, fragment2)))
    fail_msg("error '%s' does not name '%s' / '%s'", err.message, fragment1,
             fragment2 ? fragment2 : "");
  assert_null(dataset.classes);
  assert_null(dataset.test);
}

static void test_dataset_missing_classes_csv(void **state) {
  tiny_dataset *tiny = *state;
  char path[512];
  snprintf(path, sizeof path, "%s/classes.csv", tiny->dir);
  assert_int_equal(unlink(path), 0);
  expect_error(tiny->dir, VISOR_ERR_NOT_FOUND, "classes.csv", NULL);
}

static void test_dataset_bad_lines(void **state) {
  tiny_dataset *tiny = *state;
  /* Too few fields on line 3 of classes.csv. */
  write_file(tiny->dir, "classes.csv",
             "Class Name,Class ID,Coarse Name,Coarse ID,Iconic Path\n"
             "Granny-Smith,0,Apple,0,/iconic/Granny-Smith.jpg\nPink-Lady,1\n");
  expect_error(tiny->dir, VISOR_ERR_INVALID, "classes.csv line 3", NULL);
  /* A class id that is not a number (on line 1 that is a header line, so line 2). */
  write_file(tiny->dir, "classes.csv",
             "Granny-Smith,0,Apple,0,/iconic/Granny-Smith.jpg\nPink-Lady,one,Apple,0,/iconic/"
             "Pink-Lady.jpg\n");
  expect_error(tiny->dir, VISOR_ERR_INVALID, "classes.csv line 2", "'one'");
  /* A bad line in test.txt: a missing coarse id. */
  write_file(tiny->dir, "classes.csv", classes_csv);
  write_file(tiny->dir, "test.txt", "test/a_2.jpg, 0, 0\ntest/c_2.jpg, 2\n");
  expect_error(tiny->dir, VISOR_ERR_INVALID, "test.txt line 2", NULL);
  /* A class that classes.csv does not have. */
  write_file(tiny->dir, "test.txt", "test/a_2.jpg, 7, 0\n");
  expect_error(tiny->dir, VISOR_ERR_INVALID, "test.txt line 1", "class id 7");
}

static void test_dataset_missing_image(void **state) {
  tiny_dataset *tiny = *state;
  write_file(tiny->dir, "train.txt", "train/a_1.jpg, 0, 0\ntrain/gone.jpg, 1, 0\n");
  expect_error(tiny->dir, VISOR_ERR_NOT_FOUND, "train.txt line 2", "train/gone.jpg");
  write_file(tiny->dir, "train.txt", "train/a_1.jpg, 0, 0\n");
  write_file(
      tiny->dir, "classes.csv",
      "Granny-Smith,0,Apple,0,/iconic/Granny-Smith.jpg\nPink-Lady,1,Apple,0,/iconic/missing.jpg\n");
  expect_error(tiny->dir, VISOR_ERR_NOT_FOUND, "classes.csv line 2", "iconic/missing.jpg");
  /* Without test.txt there is nothing to evaluate. */
  write_file(tiny->dir, "classes.csv", classes_csv);
  char path[512];
  snprintf(path, sizeof path, "%s/test.txt", tiny->dir);
  assert_int_equal(unlink(path), 0);
  expect_error(tiny->dir, VISOR_ERR_NOT_FOUND, "test.txt", NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_metrics_top_k_and_map),
      cmocka_unit_test(test_metrics_k1_merge_and_empty),
      cmocka_unit_test_setup_teardown(test_dataset_reads_tiny_dataset, setup_dataset,
                                      teardown_dataset),
      cmocka_unit_test_setup_teardown(test_dataset_missing_classes_csv, setup_dataset,
                                      teardown_dataset),
      cmocka_unit_test_setup_teardown(test_dataset_bad_lines, setup_dataset, teardown_dataset),
      cmocka_unit_test_setup_teardown(test_dataset_missing_image, setup_dataset, teardown_dataset),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
