/* test_colour.c: the colour descriptor (ml/colour.h): a one-colour image fills one bin, a
 * box reads only its own pixels, two colours share by area, greys and the hue circle's
 * ends land where they should, the result is unit-length, an empty region gives zeros. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ml/colour.h"

static const visor_colour_bins bins = {12, 3, 3};

/* A width x height image, the left half one colour and the right half another. */
static visor_rgb_image two_halves(int width, int height, const uint8_t left[3],
                                  const uint8_t right[3]) {
  visor_rgb_image image = {width, height, malloc((size_t)width * height * 3)};
  assert_non_null(image.pixels);
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      memcpy(image.pixels + ((size_t)y * width + x) * 3, x < width / 2 ? left : right, 3);
  return image;
}

static size_t bin(int hue, int saturation, int value) {
  return ((size_t)hue * bins.saturation + (size_t)saturation) * bins.value + (size_t)value;
}

static double norm(const float *v, size_t dim) {
  double sum = 0;
  for (size_t i = 0; i < dim; i++)
    sum += (double)v[i] * v[i];
  return sqrt(sum);
}

static void test_dim(void **state) {
  (void)state;
  assert_int_equal(visor_colour_dim(&bins), 108);
  visor_colour_bins off = {0, 3, 3};
  assert_int_equal(visor_colour_dim(&off), 0);
  assert_int_equal(visor_colour_dim(NULL), 0);
}

static void test_one_colour_and_boxes(void **state) {
  (void)state;
  const uint8_t red[3] = {250, 10, 10}, blue[3] = {10, 10, 250};
  visor_rgb_image image = two_halves(200, 100, red, blue);
  float h[108];
  visor_box left = {0, 0, 100, 100}, right = {100, 0, 100, 100};
  visor_colour_histogram(&image, &left, &bins, h);
  assert_float_equal(h[bin(0, 2, 2)], 1.0f, 1e-6f);
  assert_float_equal(norm(h, 108), 1.0, 1e-6);
  visor_colour_histogram(&image, &right, &bins, h);
  assert_float_equal(h[bin(8, 2, 2)], 1.0f, 1e-6f); /* blue: 240 degrees = bin 8 of 12 */
  /* The whole image: each half's bin holds half of the pixels, sqrt(0.5) after the root. */
  visor_colour_histogram(&image, NULL, &bins, h);
  assert_float_equal(h[bin(0, 2, 2)], sqrtf(0.5f), 1e-6f);
  assert_float_equal(h[bin(8, 2, 2)], sqrtf(0.5f), 1e-6f);
  assert_float_equal(norm(h, 108), 1.0, 1e-6);
  /* A box reaching past the image reads the part inside it. */
  visor_box past = {-50, -50, 100, 300};
  visor_colour_histogram(&image, &past, &bins, h);
  assert_float_equal(h[bin(0, 2, 2)], 1.0f, 1e-6f);
  free(image.pixels);
}

static void test_greys_and_hue_wrap(void **state) {
  (void)state;
  const uint8_t white[3] = {255, 255, 255}, black[3] = {0, 0, 0};
  visor_rgb_image image = two_halves(64, 64, white, black);
  float h[108];
  visor_colour_histogram(&image, NULL, &bins, h);
  /* No chroma: hue 0, saturation 0; white in the top value bin, black in the bottom. */
  assert_float_equal(h[bin(0, 0, 2)], sqrtf(0.5f), 1e-6f);
  assert_float_equal(h[bin(0, 0, 0)], sqrtf(0.5f), 1e-6f);
  free(image.pixels);
  /* Magenta-red (hue just under 360 degrees) is in the last hue bin, not past it. */
  const uint8_t rose[3] = {255, 0, 20};
  image = two_halves(8, 8, rose, rose);
  visor_colour_histogram(&image, NULL, &bins, h);
  assert_float_equal(h[bin(11, 2, 2)], 1.0f, 1e-6f);
  free(image.pixels);
}

static void test_empty_region(void **state) {
  (void)state;
  const uint8_t grey[3] = {128, 128, 128};
  visor_rgb_image image = two_halves(16, 16, grey, grey);
  float h[108];
  memset(h, 0xff, sizeof h);
  visor_box outside = {100, 100, 10, 10};
  visor_colour_histogram(&image, &outside, &bins, h);
  assert_float_equal(norm(h, 108), 0.0, 0.0);
  visor_box zero = {4, 4, 0, 0};
  visor_colour_histogram(&image, &zero, &bins, h);
  assert_float_equal(norm(h, 108), 0.0, 0.0);
  free(image.pixels);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dim),
      cmocka_unit_test(test_one_colour_and_boxes),
      cmocka_unit_test(test_greys_and_hue_wrap),
      cmocka_unit_test(test_empty_region),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
