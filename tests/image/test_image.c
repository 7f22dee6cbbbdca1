/* test_image.c: src/image on real photos and on inputs generated here: empty, not an
 * image, truncated JPEG, a PNG header claiming 100000x100000, 1x1, 16-bit PNG, CMYK JPEG,
 * animated GIF, huge EXIF block, EXIF rotation, grey + alpha. Each gives a clear error or a
 * correct result, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <vips/vips.h>

#include "image/image.h"

static void *read_shared(const char *relative, size_t *len) {
  const char *shared = getenv("VISOR_SHARED_DIR");
  assert_non_null(shared);
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", shared, relative);
  FILE *file = fopen(path, "rb");
  if (!file) fail_msg("cannot open %s", path);
  fseek(file, 0, SEEK_END);
  *len = (size_t)ftell(file);
  fseek(file, 0, SEEK_SET);
  void *data = malloc(*len);
  assert_int_equal(fread(data, 1, *len, file), *len);
  fclose(file);
  return data;
}

/* A width x height sRGB test card: red left half, blue right half. */
static VipsImage *make_card(int width, int height) {
  VipsImage *scope = vips_image_new();
  VipsImage **t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(scope), 6);
  double red[3] = {220, 30, 30}, blue[3] = {30, 30, 220};
  assert_int_equal(vips_black(&t[0], width / 2, height, "bands", 3, NULL), 0);
  assert_int_equal(vips_linear(t[0], &t[1], (double[]){1, 1, 1}, red, 3, "uchar", TRUE, NULL), 0);
  assert_int_equal(vips_black(&t[2], width - width / 2, height, "bands", 3, NULL), 0);
  assert_int_equal(vips_linear(t[2], &t[3], (double[]){1, 1, 1}, blue, 3, "uchar", TRUE, NULL), 0);
  assert_int_equal(vips_join(t[1], t[3], &t[4], VIPS_DIRECTION_HORIZONTAL, NULL), 0);
  assert_int_equal(vips_copy(t[4], &t[5], "interpretation", VIPS_INTERPRETATION_sRGB, NULL), 0);
  VipsImage *card = t[5];
  g_object_ref(card);
  g_object_unref(scope); /* frees t */
  return card;
}

static void *encode_jpeg(VipsImage *image, size_t *len) {
  void *buffer = NULL;
  assert_int_equal(vips_jpegsave_buffer(image, &buffer, len, "Q", 90, NULL), 0);
  return buffer;
}

/* Decodes and checks size and the colour of the pixel at (x, y) within tolerance. */
static void expect_decoded(const void *data, size_t len, int width, int height, int x, int y, int r,
                           int g, int b, int tolerance) {
  visor_rgb_image image;
  visor_error err = {0};
  float scale = 0;
  visor_code code = visor_image_decode_rgb(data, len, 0, 0, &image, &scale, &err);
  if (code) fail_msg("decode failed: %s", err.message);
  assert_int_equal(image.width, width);
  assert_int_equal(image.height, height);
  const uint8_t *p = image.pixels + ((size_t)y * width + x) * 3;
  if (abs(p[0] - r) > tolerance || abs(p[1] - g) > tolerance || abs(p[2] - b) > tolerance)
    fail_msg("pixel (%d,%d) is %d,%d,%d, expected about %d,%d,%d", x, y, p[0], p[1], p[2], r, g, b);
  visor_rgb_image_free(&image);
}

static void test_real_photo(void **state) {
  (void)state;
  size_t len;
  void *data = read_shared("datasets/grocery/test/Fruit/Banana/Banana_001.jpg", &len);
  visor_image_info info;
  visor_error err = {0};
  assert_int_equal(visor_image_probe(data, len, 0, &info, &err), VISOR_OK);
  assert_int_equal(info.width, 348);
  assert_int_equal(info.height, 348);
  assert_string_equal(info.format, "jpeg");

  visor_rgb_image image;
  float scale = 0;
  assert_int_equal(visor_image_decode_rgb(data, len, 0, 100, &image, &scale, &err), VISOR_OK);
  assert_true(image.width <= 100 && image.height <= 100 && image.width >= 99);
  assert_true(scale > 0.28f && scale < 0.29f);
  visor_rgb_image_free(&image);
  assert_int_equal(visor_image_decode_rgb(data, len, 0, 0, &image, &scale, &err), VISOR_OK);
  assert_int_equal(image.width, 348);
  assert_true(scale == 1.0f);

  visor_rgb_image resized;
  visor_box box = {10, 20, 100, 50};
  assert_int_equal(visor_rgb_image_resize(&image, &box, 64, 32, &resized, &err), VISOR_OK);
  assert_int_equal(resized.width, 64);
  assert_int_equal(resized.height, 32);
  visor_rgb_image_free(&resized);
  visor_box outside = {500, 500, 10, 10};
  assert_int_equal(visor_rgb_image_resize(&image, &outside, 64, 32, &resized, &err),
                   VISOR_ERR_INVALID);
  visor_rgb_image_free(&image);

  void *crop = NULL;
  size_t crop_len = 0;
  visor_box big = {-50, 100, 1000, 100}; /* clamped to the image */
  assert_int_equal(visor_image_crop_encode(data, len, 0, &big, 64, 0, &crop, &crop_len, &err),
                   VISOR_OK);
  assert_int_equal(visor_image_probe(crop, crop_len, 0, &info, &err), VISOR_OK);
  assert_string_equal(info.format, "jpeg");
  assert_int_equal(info.width, 64);
  free(crop);
  assert_int_equal(visor_image_crop_encode(data, len, 0, &box, 0, 1, &crop, &crop_len, &err),
                   VISOR_OK);
  assert_int_equal(visor_image_probe(crop, crop_len, 0, &info, &err), VISOR_OK);
  assert_string_equal(info.format, "webp");
  assert_int_equal(info.width, 100);
  assert_int_equal(info.height, 50);
  free(crop);
  assert_int_equal(visor_image_crop_encode(data, len, 0, &outside, 0, 0, &crop, &crop_len, &err),
                   VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "outside"));
  assert_null(crop);
  free(data);
}

static void test_empty_and_not_image(void **state) {
  (void)state;
  visor_error err = {0};
  visor_image_info info;
  visor_rgb_image image;
  assert_int_equal(visor_image_probe("", 0, 0, &info, &err), VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "empty"));
  assert_int_equal(visor_image_decode_rgb(NULL, 0, 0, 0, &image, NULL, &err), VISOR_ERR_INVALID);
  const char text[] = "name,price\nbanana,1.20\n this is a CSV file, not a photo";
  assert_int_equal(visor_image_probe(text, sizeof text, 0, &info, &err), VISOR_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.message, "not an image"));
  assert_int_equal(visor_image_decode_rgb(text, sizeof text, 0, 256, &image, NULL, &err),
                   VISOR_ERR_UNSUPPORTED);
  const char svg[] = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>";
  assert_int_not_equal(visor_image_probe(svg, sizeof svg - 1, 0, &info, &err), VISOR_OK);
}

static void test_truncated_jpeg(void **state) {
  (void)state;
  size_t len;
  void *data = read_shared("datasets/grocery/test/Fruit/Banana/Banana_001.jpg", &len);
  visor_error err = {0};
  visor_rgb_image image;
  for (size_t keep = 2; keep < len; keep = keep * 3 / 2 + 1) {
    visor_code code = visor_image_decode_rgb(data, keep, 0, 0, &image, NULL, &err);
    if (code == VISOR_OK) fail_msg("a JPEG cut to %zu of %zu bytes decoded", keep, len);
    assert_true(strlen(err.message) > 0);
    code = visor_image_decode_rgb(data, keep, 0, 100, &image, NULL, &err);
    assert_int_not_equal(code, VISOR_OK);
  }
  visor_image_decode_rgb(data, len / 2, 0, 0, &image, NULL, &err);
  assert_non_null(strstr(err.message, "jpeg"));
  free(data);
}

static uint32_t crc32_of(const uint8_t *data, size_t len) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < len; i++) {
    crc ^= data[i];
    for (int k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static void test_png_bomb_header(void **state) {
  (void)state;
  /* Signature, IHDR 100000 x 100000 RGB 8-bit, a tiny IDAT, IEND: 40 G pixels claimed. */
  uint8_t png[8 + 25 + 12 + 12 + 12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  uint8_t *p = png + 8;
  put32(p, 13);
  memcpy(p + 4, "IHDR", 4);
  put32(p + 8, 100000);
  put32(p + 12, 100000);
  p[16] = 8, p[17] = 2, p[18] = 0, p[19] = 0, p[20] = 0;
  put32(p + 21, crc32_of(p + 4, 17));
  p += 25;
  put32(p, 0);
  memcpy(p + 4, "IDAT", 4);
  put32(p + 8, crc32_of(p + 4, 4));
  p += 12;
  put32(p, 0);
  memcpy(p + 4, "IEND", 4);
  put32(p + 8, crc32_of(p + 4, 4));
  visor_error err = {0};
  visor_image_info info;
  visor_rgb_image image;
  assert_int_equal(visor_image_probe(png, sizeof png, 0, &info, &err), VISOR_ERR_TOO_LARGE);
  assert_non_null(strstr(err.message, "100000x100000"));
  assert_int_equal(visor_image_decode_rgb(png, sizeof png, 0, 0, &image, NULL, &err),
                   VISOR_ERR_TOO_LARGE);
  assert_int_equal(visor_image_decode_rgb(png, sizeof png, 0, 512, &image, NULL, &err),
                   VISOR_ERR_TOO_LARGE);
  void *crop;
  size_t crop_len;
  visor_box box = {0, 0, 10, 10};
  assert_int_equal(visor_image_crop_encode(png, sizeof png, 0, &box, 0, 0, &crop, &crop_len, &err),
                   VISOR_ERR_TOO_LARGE);
  /* A caller's lower limit applies too. */
  VipsImage *card = make_card(200, 100);
  size_t len;
  void *jpeg = encode_jpeg(card, &len);
  assert_int_equal(visor_image_probe(jpeg, len, 19999, &info, &err), VISOR_ERR_TOO_LARGE);
  assert_int_equal(visor_image_probe(jpeg, len, 20000, &info, &err), VISOR_OK);
  g_free(jpeg);
  g_object_unref(card);
}

/* What decoding at the work size costs: JPEG shrinks by up to 8 on load, PNG never. */
static void test_decode_pixels(void **state) {
  (void)state;
  visor_image_info png = {.width = 6000, .height = 6000, .format = "png"};
  visor_image_info jpeg = {.width = 6000, .height = 6000, .format = "jpeg"};
  visor_image_info small = {.width = 800, .height = 600, .format = "png"};
  assert_int_equal(visor_image_decode_pixels(&png, 1024), 36000000u);
  assert_int_equal(visor_image_decode_pixels(&jpeg, 1024), 1500u * 1500u); /* shrink 4 */
  assert_int_equal(visor_image_decode_pixels(&small, 1024), 480000u);
  visor_error err = {0};
  assert_int_equal(visor_image_check_decode(&png, 1024, 16000000, &err), VISOR_ERR_TOO_LARGE);
  assert_non_null(strstr(err.message, "decodes to 36000000 pixels"));
  assert_int_equal(visor_image_check_decode(&jpeg, 1024, 16000000, &err), VISOR_OK);
  assert_int_equal(visor_image_check_decode(&png, 1024, 0, &err), VISOR_OK);
}

static void test_one_pixel(void **state) {
  (void)state;
  VipsImage *card = make_card(2, 1), *one = NULL;
  assert_int_equal(vips_extract_area(card, &one, 0, 0, 1, 1, NULL), 0);
  void *png = NULL;
  size_t len;
  assert_int_equal(vips_pngsave_buffer(one, &png, &len, NULL), 0);
  expect_decoded(png, len, 1, 1, 0, 0, 220, 30, 30, 2);
  visor_rgb_image image;
  visor_error err = {0};
  float scale;
  assert_int_equal(visor_image_decode_rgb(png, len, 0, 64, &image, &scale, &err), VISOR_OK);
  assert_int_equal(image.width, 1);
  visor_rgb_image_free(&image);
  g_free(png);
  g_object_unref(one);
  g_object_unref(card);
}

static void test_sixteen_bit_png(void **state) {
  (void)state;
  VipsImage *card = make_card(40, 20), *wide = NULL, *tagged = NULL;
  assert_int_equal(vips_linear1(card, &wide, 257.0, 0.0, NULL), 0); /* 0..255 → 0..65535 */
  VipsImage *ushort = NULL;
  assert_int_equal(vips_cast(wide, &ushort, VIPS_FORMAT_USHORT, NULL), 0);
  assert_int_equal(vips_copy(ushort, &tagged, "interpretation", VIPS_INTERPRETATION_RGB16, NULL),
                   0);
  void *png = NULL;
  size_t len;
  assert_int_equal(vips_pngsave_buffer(tagged, &png, &len, "bitdepth", 16, NULL), 0);
  visor_image_info info;
  visor_error err = {0};
  assert_int_equal(visor_image_probe(png, len, 0, &info, &err), VISOR_OK);
  assert_string_equal(info.format, "png");
  expect_decoded(png, len, 40, 20, 5, 5, 220, 30, 30, 3);
  expect_decoded(png, len, 40, 20, 35, 5, 30, 30, 220, 3);
  g_free(png);
  g_object_unref(tagged);
  g_object_unref(ushort);
  g_object_unref(wide);
  g_object_unref(card);
}

static void test_cmyk_jpeg(void **state) {
  (void)state;
  VipsImage *card = make_card(64, 32), *cmyk = NULL;
  if (vips_icc_export(card, &cmyk, "output_profile", "cmyk", NULL)) {
    vips_error_clear();
    skip(); /* libvips built without lcms */
  }
  assert_int_equal(cmyk->Bands, 4);
  void *jpeg = NULL;
  size_t len;
  assert_int_equal(vips_jpegsave_buffer(cmyk, &jpeg, &len, "Q", 95, NULL), 0);
  /* Saturated blue is outside the CMYK gamut: check the hue survives, not the values. */
  visor_rgb_image image;
  visor_error err = {0};
  assert_int_equal(visor_image_decode_rgb(jpeg, len, 0, 0, &image, NULL, &err), VISOR_OK);
  assert_int_equal(image.width, 64);
  const uint8_t *left = image.pixels + (16 * 64 + 8) * 3,
                *right = image.pixels + (16 * 64 + 56) * 3;
  assert_true(left[0] > left[1] + 80 && left[0] > left[2] + 80);
  assert_true(right[2] > right[0] + 40 && right[2] > right[1] + 40);
  visor_rgb_image_free(&image);
  /* and shrunk on load */
  assert_int_equal(visor_image_decode_rgb(jpeg, len, 0, 16, &image, NULL, &err), VISOR_OK);
  assert_int_equal(image.width, 16);
  assert_true(image.pixels[0] > 150 && image.pixels[2] < 100);
  visor_rgb_image_free(&image);
  g_free(jpeg);
  g_object_unref(cmyk);
  g_object_unref(card);
}

static void test_animated_gif(void **state) {
  (void)state;
  /* Three 16x16 frames stacked: red, blue, red. The first frame is what counts. */
  VipsImage *red = make_card(2, 16), *frames = NULL, *tall = NULL, *first = NULL;
  VipsImage *blocks[3];
  assert_int_equal(vips_extract_area(red, &first, 0, 0, 1, 16, NULL), 0);
  VipsImage *blue = NULL;
  assert_int_equal(vips_extract_area(red, &blue, 1, 0, 1, 16, NULL), 0);
  VipsImage *red16 = NULL, *blue16 = NULL;
  assert_int_equal(
      vips_resize(first, &red16, 16, "vscale", 1.0, "kernel", VIPS_KERNEL_NEAREST, NULL), 0);
  assert_int_equal(
      vips_resize(blue, &blue16, 16, "vscale", 1.0, "kernel", VIPS_KERNEL_NEAREST, NULL), 0);
  blocks[0] = red16, blocks[1] = blue16, blocks[2] = red16;
  assert_int_equal(vips_arrayjoin(blocks, &frames, 3, "across", 1, NULL), 0);
  assert_int_equal(vips_copy(frames, &tall, NULL), 0);
  vips_image_set_int(tall, "page-height", 16);
  void *gif = NULL;
  size_t len;
  if (vips_gifsave_buffer(tall, &gif, &len, NULL)) {
    vips_error_clear();
    skip();
  }
  visor_image_info info;
  visor_error err = {0};
  assert_int_equal(visor_image_probe(gif, len, 0, &info, &err), VISOR_OK);
  assert_string_equal(info.format, "gif");
  assert_int_equal(info.height, 16);
  expect_decoded(gif, len, 16, 16, 8, 8, 220, 30, 30, 30);
  g_free(gif);
  VipsImage *all[] = {red, frames, tall, first, blue, red16, blue16};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    g_object_unref(all[i]);
}

static void test_exif(void **state) {
  (void)state;
  VipsImage *card = make_card(60, 30), *tagged = NULL;
  assert_int_equal(vips_copy(card, &tagged, NULL), 0);
  vips_image_set_int(tagged, VIPS_META_ORIENTATION, 6); /* rotate 90° clockwise to view */
  size_t len;
  void *jpeg = encode_jpeg(tagged, &len);
  visor_image_info info;
  visor_error err = {0};
  assert_int_equal(visor_image_probe(jpeg, len, 0, &info, &err), VISOR_OK);
  assert_int_equal(info.width, 30);
  assert_int_equal(info.height, 60);
  /* Upright: red (left) is now on top, blue at the bottom. */
  expect_decoded(jpeg, len, 30, 60, 15, 5, 220, 30, 30, 30);
  expect_decoded(jpeg, len, 30, 60, 15, 55, 30, 30, 220, 30);
  visor_rgb_image image;
  float scale;
  assert_int_equal(visor_image_decode_rgb(jpeg, len, 0, 20, &image, &scale, &err), VISOR_OK);
  assert_int_equal(image.width, 10);
  assert_int_equal(image.height, 20);
  visor_rgb_image_free(&image);

  /* A huge EXIF block: 65 KB APP1 of junk after a valid TIFF header, before the image. */
  size_t junk = 65000, big_len = len + junk + 4;
  uint8_t *big = malloc(big_len);
  memcpy(big, jpeg, 2); /* SOI */
  big[2] = 0xff, big[3] = 0xe1;
  big[4] = (uint8_t)((junk + 2) >> 8), big[5] = (uint8_t)(junk + 2);
  memset(big + 6, 0xa5, junk);
  memcpy(big + 6, "Exif\0\0II*\0\x08\0\0\0\xff\xff", 16); /* 65535 IFD entries claimed */
  memcpy(big + 6 + junk, (uint8_t *)jpeg + 2, len - 2);
  visor_code code = visor_image_decode_rgb(big, big_len, 0, 0, &image, NULL, &err);
  if (code == VISOR_OK) {
    assert_true(image.width == 60 || image.width == 30);
    visor_rgb_image_free(&image);
  } else {
    assert_true(strlen(err.message) > 0);
  }
  code = visor_image_probe(big, big_len, 0, &info, &err);
  assert_true(code == VISOR_OK || strlen(err.message) > 0);
  free(big);
  g_free(jpeg);
  g_object_unref(tagged);
  g_object_unref(card);
}

static void test_grey_alpha(void **state) {
  (void)state;
  /* Grey + alpha, fully transparent: flattened on white. */
  VipsImage *black = NULL, *joined = NULL, *tagged = NULL;
  assert_int_equal(vips_black(&black, 8, 8, "bands", 2, NULL), 0);
  assert_int_equal(vips_cast(black, &joined, VIPS_FORMAT_UCHAR, NULL), 0);
  assert_int_equal(vips_copy(joined, &tagged, "interpretation", VIPS_INTERPRETATION_B_W, NULL), 0);
  void *png = NULL;
  size_t len;
  assert_int_equal(vips_pngsave_buffer(tagged, &png, &len, NULL), 0);
  expect_decoded(png, len, 8, 8, 4, 4, 255, 255, 255, 1);
  g_free(png);
  g_object_unref(tagged);
  g_object_unref(joined);
  g_object_unref(black);
}

static void test_resize_colours(void **state) {
  (void)state;
  VipsImage *card = make_card(60, 30);
  visor_rgb_image image = {60, 30, NULL}, out;
  size_t size;
  image.pixels = vips_image_write_to_memory(card, &size);
  visor_error err = {0};
  int sizes[][2] = {{20, 10}, {7, 3}, {150, 80}, {1, 1}};
  for (size_t i = 0; i < 4; i++) {
    int w = sizes[i][0], h = sizes[i][1];
    assert_int_equal(visor_rgb_image_resize(&image, NULL, w, h, &out, &err), VISOR_OK);
    assert_int_equal(out.width, w);
    if (w > 1) {
      assert_int_equal(out.pixels[0], 220); /* left edge: red, exactly */
      assert_int_equal(out.pixels[((size_t)(h - 1) * w + w - 1) * 3 + 2], 220); /* right: blue */
    }
    visor_rgb_image_free(&out);
  }
  visor_box right = {34.25f, 2.5f, 25.5f, 10.0f}; /* sub-pixel box inside the blue half */
  assert_int_equal(visor_rgb_image_resize(&image, &right, 16, 16, &out, &err), VISOR_OK);
  for (size_t p = 0; p < 16 * 16; p++)
    assert_int_equal(out.pixels[p * 3 + 2], 220);
  visor_rgb_image_free(&out);
  assert_int_equal(visor_rgb_image_resize(&image, NULL, 0, 5, &out, &err), VISOR_ERR_INVALID);
  g_free(image.pixels);
  g_object_unref(card);
}

int main(void) {
  visor_error err = {0};
  if (visor_image_init(&err)) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_real_photo),     cmocka_unit_test(test_empty_and_not_image),
      cmocka_unit_test(test_truncated_jpeg), cmocka_unit_test(test_png_bomb_header),
      cmocka_unit_test(test_one_pixel),      cmocka_unit_test(test_sixteen_bit_png),
      cmocka_unit_test(test_cmyk_jpeg),      cmocka_unit_test(test_animated_gif),
      cmocka_unit_test(test_exif),           cmocka_unit_test(test_grey_alpha),
      cmocka_unit_test(test_resize_colours), cmocka_unit_test(test_decode_pixels),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
