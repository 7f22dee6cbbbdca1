/* test_projection.c: the catalogue projection (src/tune): a fit is deterministic (same
 * bytes twice), applying it gives unit-norm vectors, the artefact round-trips and refuses
 * damage, and the fusion ranks a product the fit did not see on its raw similarity. The
 * samples are drawn from a fixed-seed generator: clusters around class centres. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tune/fusion.h"
#include "tune/projection.h"

#define DIM 64
#define CLASSES 10
#define PER_CLASS 12

static uint64_t rng_state;
static double uniform(void) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}
static double gaussian(void) {
  double u = uniform() + 1e-12, v = uniform();
  return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static void normalise(float *v, size_t dim) {
  double norm = 0;
  for (size_t j = 0; j < dim; j++)
    norm += (double)v[j] * v[j];
  for (size_t j = 0; j < dim; j++)
    v[j] = (float)(v[j] / sqrt(norm));
}

/* n = CLASSES * PER_CLASS unit vectors; the first of each class is its reference. */
static void make_samples(float *samples, int *labels, int *reference) {
  rng_state = 42;
  float centres[CLASSES][DIM];
  for (int c = 0; c < CLASSES; c++)
    for (int j = 0; j < DIM; j++)
      centres[c][j] = (float)gaussian();
  for (int c = 0; c < CLASSES; c++)
    for (int i = 0; i < PER_CLASS; i++) {
      size_t row = (size_t)c * PER_CLASS + i;
      for (int j = 0; j < DIM; j++)
        samples[row * DIM + j] = centres[c][j] + (float)(1.5 * gaussian());
      normalise(samples + row * DIM, DIM);
      labels[row] = c;
      reference[row] = i == 0;
    }
}

static const char *names[CLASSES] = {"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"};

static void fit(visor_projection *projection) {
  static float samples[CLASSES * PER_CLASS * DIM];
  static int labels[CLASSES * PER_CLASS], reference[CLASSES * PER_CLASS];
  make_samples(samples, labels, reference);
  visor_projection_fit_options options = {.out_dim = CLASSES - 1, .shrinkage = 0.1};
  visor_error err = {0};
  assert_int_equal(visor_projection_fit(samples, labels, CLASSES * PER_CLASS, DIM, names, CLASSES,
                                        &options, projection, &err),
                   VISOR_OK);
}

static void test_fit_is_deterministic(void **state) {
  (void)state;
  visor_projection a, b;
  fit(&a);
  fit(&b);
  void *bytes_a = NULL, *bytes_b = NULL;
  size_t len_a = 0, len_b = 0;
  visor_error err = {0};
  assert_int_equal(visor_projection_serialize(&a, &bytes_a, &len_a, &err), VISOR_OK);
  assert_int_equal(visor_projection_serialize(&b, &bytes_b, &len_b, &err), VISOR_OK);
  assert_int_equal(len_a, len_b);
  assert_memory_equal(bytes_a, bytes_b, len_a);
  free(bytes_a);
  free(bytes_b);
  visor_projection_free(&a);
  visor_projection_free(&b);
}

static void test_apply_is_unit_norm_and_separates(void **state) {
  (void)state;
  visor_projection projection;
  fit(&projection);
  static float samples[CLASSES * PER_CLASS * DIM];
  static int labels[CLASSES * PER_CLASS], reference[CLASSES * PER_CLASS];
  make_samples(samples, labels, reference);
  float out[CLASSES * PER_CLASS][CLASSES - 1];
  visor_error err = {0};
  for (size_t i = 0; i < CLASSES * PER_CLASS; i++) {
    assert_int_equal(visor_projection_apply(&projection, samples + i * DIM, out[i], &err),
                     VISOR_OK);
    double norm = 0;
    for (size_t j = 0; j < CLASSES - 1; j++)
      norm += (double)out[i][j] * out[i][j];
    assert_true(fabs(norm - 1) < 1e-5);
  }
  /* The projected class members are closer to their reference than to other classes'. */
  size_t correct = 0;
  for (size_t i = 0; i < CLASSES * PER_CLASS; i++) {
    if (reference[i]) continue;
    int best = -1;
    double best_sim = -2;
    for (int c = 0; c < CLASSES; c++) {
      double sim = 0;
      for (size_t j = 0; j < CLASSES - 1; j++)
        sim += (double)out[i][j] * out[(size_t)c * PER_CLASS][j];
      if (sim > best_sim) best_sim = sim, best = c;
    }
    correct += best == labels[i];
  }
  assert_true(correct >= (CLASSES * (PER_CLASS - 1)) * 9 / 10);
  assert_true(visor_projection_has_class(&projection, "p3"));
  assert_false(visor_projection_has_class(&projection, "p10"));
  visor_projection_free(&projection);
}

static void test_artefact_round_trip(void **state) {
  (void)state;
  visor_projection projection, back;
  fit(&projection);
  snprintf(projection.model, sizeof projection.model, "%s", "embedder@1");
  projection.version = 7;
  projection.seen_weight = 0.8f;
  void *bytes = NULL, *again = NULL;
  size_t len = 0, again_len = 0;
  visor_error err = {0};
  assert_int_equal(visor_projection_serialize(&projection, &bytes, &len, &err), VISOR_OK);
  assert_int_equal(visor_projection_parse(bytes, len, &back, &err), VISOR_OK);
  assert_string_equal(back.model, "embedder@1");
  assert_int_equal(back.version, 7);
  assert_int_equal(back.class_count, CLASSES);
  assert_true(back.seen_weight == 0.8f);
  assert_int_equal(visor_projection_serialize(&back, &again, &again_len, &err), VISOR_OK);
  assert_int_equal(again_len, len);
  assert_memory_equal(again, bytes, len);
  visor_projection damaged;
  assert_int_equal(visor_projection_parse(bytes, len - 1, &damaged, &err), VISOR_ERR_INVALID);
  ((char *)bytes)[0] = 'X';
  assert_int_equal(visor_projection_parse(bytes, len, &damaged, &err), VISOR_ERR_INVALID);
  free(bytes);
  free(again);
  visor_projection_free(&projection);
  visor_projection_free(&back);
}

static void test_bad_fit_input(void **state) {
  (void)state;
  float samples[3 * DIM] = {0};
  int labels[3] = {0, 1, 5};
  visor_projection projection;
  visor_error err = {0};
  assert_int_equal(visor_projection_fit(samples, labels, 3, DIM, names, 2, NULL, &projection, &err),
                   VISOR_ERR_INVALID);
}

/* An unseen candidate with the best raw similarity wins when unseen_weight is 0, even
 * though a seen one has the best projected similarity. */
static void test_fusion_keeps_unseen_on_raw(void **state) {
  (void)state;
  visor_fusion_candidate candidates[3] = {
      {.raw = 0.9f, .projected = NAN, .seen = 0},
      {.raw = 0.7f, .projected = 0.95f, .seen = 1},
      {.raw = 0.5f, .projected = 0.1f, .seen = 1},
  };
  float scores[3];
  visor_fusion_scores(0.5f, 0.0f, 0.0f, candidates, 3, scores);
  assert_true(scores[0] > scores[1] && scores[1] > scores[2]);
  visor_fusion_scores(1.0f, 0.0f, 0.0f, candidates, 3, scores);
  assert_true(scores[1] > scores[2]);
}

static void test_fusion_choice_keeps_unseen_level(void **state) {
  (void)state;
  static float samples[CLASSES * PER_CLASS * DIM];
  static int labels[CLASSES * PER_CLASS], reference[CLASSES * PER_CLASS];
  make_samples(samples, labels, reference);
  visor_projection_fit_options options = {.out_dim = CLASSES / 2 - 1, .shrinkage = 0.1};
  visor_fusion_choice choice;
  visor_error err = {0};
  assert_int_equal(visor_fusion_choose(samples, labels, reference, CLASSES * PER_CLASS, DIM,
                                       CLASSES, &options, &choice, &err),
                   VISOR_OK);
  assert_true(choice.unseen_top1 >= choice.raw_unseen_top1);
  assert_true(choice.unseen_top5 >= choice.raw_unseen_top5);
  assert_true(choice.seen_queries > 0 && choice.unseen_queries > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fit_is_deterministic),
      cmocka_unit_test(test_apply_is_unit_norm_and_separates),
      cmocka_unit_test(test_artefact_round_trip),
      cmocka_unit_test(test_bad_fit_input),
      cmocka_unit_test(test_fusion_keeps_unseen_on_raw),
      cmocka_unit_test(test_fusion_choice_keeps_unseen_level),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
