/* image_seed_gen.c: writes the seed corpus of fuzz_image with libvips: tiny generated
 * images (an 8x6 RGB gradient as PNG, JPEG, WebP and GIF, a 4x4 grey PNG with alpha, and a
 * 100x100 PNG that is over fuzz_image's 64x64 pixel limit). Nothing is copied from a data
 * set. Usage: image_seed_gen OUT_DIR (run once; the seeds are kept in
 * tests/fuzz/corpus/image). */
#include <stdio.h>
#include <stdlib.h>
#include <vips/vips.h>

static void save(VipsImage *image, const char *out, const char *name, const char *suffix) {
  void *buf = NULL;
  size_t len = 0;
  if (vips_image_write_to_buffer(image, suffix, &buf, &len, NULL) != 0) {
    fprintf(stderr, "%s: %s\n", name, vips_error_buffer());
    exit(1);
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", out, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(buf, 1, len, f) != len) exit(1);
  fclose(f);
  g_free(buf);
}

static VipsImage *gradient(int w, int h, int bands) {
  unsigned char *pixels = malloc((size_t)w * h * bands);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int b = 0; b < bands; b++)
        pixels[((size_t)y * w + x) * bands + b] =
            (unsigned char)(b == 3 ? 128 : x * 30 + y * 40 + b * 60);
  VipsImage *image = vips_image_new_from_memory_copy(pixels, (size_t)w * h * bands, w, h, bands,
                                                     VIPS_FORMAT_UCHAR);
  free(pixels);
  return image;
}

int main(int argc, char **argv) {
  if (argc != 2 || VIPS_INIT(argv[0])) return 2;
  VipsImage *rgb = gradient(8, 6, 3);
  save(rgb, argv[1], "gradient.png", ".png");
  save(rgb, argv[1], "gradient.jpg", ".jpg[Q=80]");
  save(rgb, argv[1], "gradient.webp", ".webp");
  save(rgb, argv[1], "gradient.gif", ".gif");
  VipsImage *grey_alpha = gradient(4, 4, 2);
  save(grey_alpha, argv[1], "grey-alpha.png", ".png");
  VipsImage *big = gradient(100, 100, 3);
  save(big, argv[1], "over-limit.png", ".png");
  g_object_unref(rgb);
  g_object_unref(grey_alpha);
  g_object_unref(big);
  vips_shutdown();
  return 0;
}
