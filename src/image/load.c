/* load.c: opening an encoded image from memory: format whitelist, header read, EXIF-aware
 * size and pixel-limit check before any pixel is decoded; and the conversion of whatever
 * libvips decoded (grey, CMYK, 16-bit, alpha, ICC profiles) to plain 8-bit sRGB. */
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include "image/image_internal.h"

/* libvips loader nickname prefix → the format name Visor reports. Anything else (SVG, PDF,
 * matrix, raw formats, ...) is refused: user uploads only get these decoders. */
static const struct {
  const char *loader;
  const char *format;
} accepted_formats[] = {
    {"VipsForeignLoadJpeg", "jpeg"}, {"VipsForeignLoadPng", "png"},
    {"VipsForeignLoadWebp", "webp"}, {"VipsForeignLoadGif", "gif"},
    {"VipsForeignLoadNsgif", "gif"}, {"VipsForeignLoadTiff", "tiff"},
    {"VipsForeignLoadHeif", "heif"},
};

static const char *format_of_loader(const char *loader) {
  for (size_t i = 0; i < sizeof accepted_formats / sizeof accepted_formats[0]; i++)
    if (strncmp(loader, accepted_formats[i].loader, strlen(accepted_formats[i].loader)) == 0)
      return accepted_formats[i].format;
  return NULL;
}

visor_code visor_image_open(const void *data, size_t len, size_t max_pixels, int sequential,
                            VipsImage **out, visor_image_info *info, visor_error *err) {
  *out = NULL;
  visor_code code = visor_image_init(err);
  if (code) return code;
  if (!data || len == 0) return visor_error_set(err, VISOR_ERR_INVALID, "image is empty (0 bytes)");
  if (max_pixels == 0) max_pixels = VISOR_IMAGE_DEFAULT_MAX_PIXELS;

  const char *loader = vips_foreign_find_load_buffer(data, len);
  if (!loader) {
    vips_error_clear();
    return visor_error_set(err, VISOR_ERR_UNSUPPORTED,
                           "the %zu bytes are not an image (JPEG, PNG, WebP, GIF, TIFF)", len);
  }
  const char *format = format_of_loader(loader);
  if (!format) {
    /* Name the format ("svg" of VipsForeignLoadSvgBuffer), not the library's loader class. */
    const char *name = loader;
    if (strncmp(name, "VipsForeignLoad", 15) == 0) name += 15;
    char shown[17];
    size_t n = 0;
    for (; name[n] && n < sizeof shown - 1; n++) {
      if (n > 0 && (strncmp(name + n, "Buffer", 6) == 0 || strncmp(name + n, "File", 4) == 0 ||
                    strncmp(name + n, "Source", 6) == 0))
        break;
      if (!isalnum((unsigned char)name[n])) break;
      shown[n] = (char)tolower((unsigned char)name[n]);
    }
    shown[n] = '\0';
    return visor_error_set(err, VISOR_ERR_UNSUPPORTED,
                           "the image format %s is not accepted (JPEG, PNG, WebP, GIF, TIFF only)",
                           n ? shown : "of the file");
  }

  VipsImage *image = vips_image_new_from_buffer(
      data, len, "", "access", sequential ? VIPS_ACCESS_SEQUENTIAL : VIPS_ACCESS_RANDOM, "fail_on",
      VIPS_FAIL_ON_TRUNCATED, NULL);
  if (!image) {
    char what[64];
    snprintf(what, sizeof what, "cannot read the %s header", format);
    return visor_vips_error(err, VISOR_ERR_INVALID, what);
  }

  int width = image->Xsize, height = image->Ysize;
  if (vips_image_get_orientation_swap(image)) {
    width = image->Ysize;
    height = image->Xsize;
  }
  unsigned long long pixels = (unsigned long long)width * (unsigned long long)height;
  if (pixels > max_pixels) {
    g_object_unref(image);
    return visor_error_set(err, VISOR_ERR_TOO_LARGE,
                           "%s image is %dx%d = %llu pixels, over the limit of %zu pixels", format,
                           width, height, pixels, max_pixels);
  }
  if (info) {
    info->width = width;
    info->height = height;
    snprintf(info->format, sizeof info->format, "%s", format);
  }
  *out = image;
  return VISOR_OK;
}

visor_code visor_image_to_srgb8(VipsImage *in, int colour_manage, VipsImage **out,
                                visor_error *err) {
  VipsImage *scope = vips_image_new();
  VipsImage **t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(scope), 8);
  VipsImage *x = in;
  visor_code code = VISOR_OK;
  *out = NULL;

  VipsInterpretation interpretation = vips_image_guess_interpretation(x);
  int has_icc = colour_manage && vips_image_get_typeof(x, VIPS_META_ICC_NAME) != 0;
  if (interpretation == VIPS_INTERPRETATION_CMYK || has_icc) {
    /* CMYK without a profile gets libvips' built-in CMYK profile. */
    if (vips_icc_transform(x, &t[0], "srgb", "embedded", TRUE, "input_profile",
                           interpretation == VIPS_INTERPRETATION_CMYK ? "cmyk" : "srgb", NULL)) {
      if (interpretation == VIPS_INTERPRETATION_CMYK) {
        code = visor_vips_error(err, VISOR_ERR_INVALID, "cannot convert the CMYK image to sRGB");
        goto done;
      }
      vips_error_clear(); /* a broken profile on an RGB image: use the pixels as they are */
    } else {
      x = t[0];
      interpretation = vips_image_guess_interpretation(x);
    }
  }
  if (interpretation != VIPS_INTERPRETATION_sRGB) {
    if (x->Type != interpretation) {
      if (vips_copy(x, &t[1], "interpretation", interpretation, NULL)) {
        code = visor_vips_error(err, VISOR_ERR_INTERNAL, "cannot tag the image colour space");
        goto done;
      }
      x = t[1];
    }
    if (vips_colourspace_issupported(x)) {
      if (vips_colourspace(x, &t[2], VIPS_INTERPRETATION_sRGB, NULL)) {
        code = visor_vips_error(err, VISOR_ERR_INVALID, "cannot convert the image to sRGB");
        goto done;
      }
      x = t[2];
    }
  }
  if (x->BandFmt != VIPS_FORMAT_UCHAR) {
    VipsImage *src = x;
    if (x->BandFmt == VIPS_FORMAT_USHORT) {
      if (vips_rshift_const1(x, &t[3], 8, NULL)) {
        code = visor_vips_error(err, VISOR_ERR_INTERNAL, "cannot reduce 16-bit pixels to 8-bit");
        goto done;
      }
      src = t[3];
    }
    if (vips_cast(src, &t[4], VIPS_FORMAT_UCHAR, NULL)) {
      code = visor_vips_error(err, VISOR_ERR_INTERNAL, "cannot convert the pixels to 8-bit");
      goto done;
    }
    x = t[4];
  }
  if (vips_image_hasalpha(x)) {
    double white[3] = {255, 255, 255};
    VipsArrayDouble *background = vips_array_double_new(white, x->Bands - 1 >= 3 ? 3 : 1);
    int failed = vips_flatten(x, &t[5], "background", background, NULL);
    vips_area_unref(VIPS_AREA(background));
    if (failed) {
      code = visor_vips_error(err, VISOR_ERR_INTERNAL, "cannot flatten the alpha channel");
      goto done;
    }
    x = t[5];
  }
  if (x->Bands == 1 || x->Bands == 2) {
    VipsImage *grey[3];
    if (x->Bands == 2) {
      if (vips_extract_band(x, &t[7], 0, NULL)) {
        code = visor_vips_error(err, VISOR_ERR_INTERNAL, "cannot take the grey band");
        goto done;
      }
      x = t[7];
    }
    grey[0] = grey[1] = grey[2] = x;
    if (vips_bandjoin(grey, &t[6], 3, NULL)) {
      code = visor_vips_error(err, VISOR_ERR_INTERNAL, "cannot expand grey to RGB");
      goto done;
    }
    x = t[6];
  } else if (x->Bands > 3) {
    if (vips_extract_band(x, &t[6], 0, "n", 3, NULL)) {
      code = visor_vips_error(err, VISOR_ERR_INTERNAL, "cannot take the RGB bands");
      goto done;
    }
    x = t[6];
  }
  g_object_ref(x);
  *out = x;
done:
  g_object_unref(scope);
  return code;
}

visor_code visor_image_to_rgb(VipsImage *in, visor_rgb_image *out, visor_error *err) {
  memset(out, 0, sizeof *out);
  if (in->Bands != 3 || in->BandFmt != VIPS_FORMAT_UCHAR)
    return visor_error_set(err, VISOR_ERR_INTERNAL, "expected an 8-bit RGB image, got %d bands",
                           in->Bands);
  size_t size = 0;
  void *pixels = vips_image_write_to_memory(in, &size);
  if (!pixels) return visor_vips_error(err, VISOR_ERR_INVALID, "cannot decode the image pixels");
  out->pixels = malloc(size);
  if (!out->pixels) {
    g_free(pixels);
    return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for a %dx%d RGB image", in->Xsize,
                           in->Ysize);
  }
  memcpy(out->pixels, pixels, size);
  g_free(pixels);
  out->width = in->Xsize;
  out->height = in->Ysize;
  return VISOR_OK;
}
