/* fuzz_image.c: libFuzzer harness for the image probe and decode path (src/image):
 * visor_image_probe, then visor_image_load with a small pixel limit (64 x 64) and a
 * shrink-on-load size, then a crop of the loaded image, as the index and search tasks do.
 * An image over the limit must be refused with VISOR_ERR_TOO_LARGE before its pixels are
 * decoded. libvips itself is not instrumented: coverage counts Visor's code only. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

#define MAX_PIXELS (64u * 64u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  if (!ready) {
    visor_error err = {0};
    if (visor_image_init(&err) != VISOR_OK) abort();
    ready = 1;
  }
  visor_error err = {0};
  visor_image_info info;
  visor_code probed = visor_image_probe(data, size, MAX_PIXELS, &info, &err);
  if (probed == VISOR_OK &&
      (info.width <= 0 || info.height <= 0 || (size_t)info.width * info.height > MAX_PIXELS))
    abort();

  visor_image *image = NULL;
  visor_error load_err = {0};
  visor_code loaded = visor_image_load(data, size, MAX_PIXELS, 32, &image, &load_err);
  if (loaded == VISOR_OK) {
    if (!image) abort();
    visor_box box = {1, 1, 8, 8};
    void *jpeg = NULL;
    size_t jpeg_len = 0;
    visor_error crop_err = {0};
    if (visor_image_crop_encode_loaded(image, &box, 16, 0, &jpeg, &jpeg_len, &crop_err) == VISOR_OK)
      free(jpeg);
    visor_image_free(image);
  } else if (image) {
    abort();
  }
  /* Whatever the probe refused as too large, the decode must refuse too. */
  if (probed == VISOR_ERR_TOO_LARGE && loaded == VISOR_OK) abort();
  return 0;
}
