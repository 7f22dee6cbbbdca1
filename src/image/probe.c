/* probe.c: what an encoded image is (format, upright size) from its header alone, and
 * what decoding it will cost. */
#include "image/image_internal.h"

#include <string.h>

visor_code visor_image_probe(const void *data, size_t len, size_t max_pixels,
                             visor_image_info *info, visor_error *err) {
  VipsImage *image = NULL;
  visor_code code = visor_image_open(data, len, max_pixels, 1, &image, info, err);
  if (image) g_object_unref(image);
  return code;
}

uint64_t visor_image_decode_pixels(const visor_image_info *info, int max_side) {
  uint64_t width = info->width > 0 ? (uint64_t)info->width : 0;
  uint64_t height = info->height > 0 ? (uint64_t)info->height : 0;
  uint64_t longer = width > height ? width : height;
  if (max_side <= 0 || longer <= (uint64_t)max_side) return width * height;
  if (strcmp(info->format, "jpeg") == 0) { /* DCT scaling: the largest shrink still >= max_side */
    uint64_t shrink = 1;
    while (shrink < 8 && longer / (shrink * 2) >= (uint64_t)max_side)
      shrink *= 2;
    return ((width + shrink - 1) / shrink) * ((height + shrink - 1) / shrink);
  }
  if (strcmp(info->format, "webp") == 0) { /* scaled decode straight to the target */
    double scale = (double)max_side / (double)longer;
    return (uint64_t)((double)width * scale + 1) * (uint64_t)((double)height * scale + 1);
  }
  return width * height;
}

visor_code visor_image_check_decode(const visor_image_info *info, int max_side,
                                    uint64_t max_decode_pixels, visor_error *err) {
  uint64_t pixels = visor_image_decode_pixels(info, max_side);
  if (max_decode_pixels == 0 || pixels <= max_decode_pixels) return VISOR_OK;
  return visor_error_set(err, VISOR_ERR_TOO_LARGE,
                         "%s image is %dx%d and decodes to %llu pixels, over the limit of %llu "
                         "decoded pixels (a %s cannot be shrunk while it is decoded: send a "
                         "smaller image, or a JPEG)",
                         info->format, info->width, info->height, (unsigned long long)pixels,
                         (unsigned long long)max_decode_pixels, info->format);
}
