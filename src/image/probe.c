/* probe.c: what an encoded image is (format, upright size) from its header alone. */
#include "image/image_internal.h"

visor_code visor_image_probe(const void *data, size_t len, size_t max_pixels,
                             visor_image_info *info, visor_error *err) {
  VipsImage *image = NULL;
  visor_code code = visor_image_open(data, len, max_pixels, 1, &image, info, err);
  if (image) g_object_unref(image);
  return code;
}
