/* image.h: image decoding and encoding with libvips. Decodes JPEG, PNG, WebP, GIF (first
 * frame), TIFF from memory; applies EXIF orientation; flattens alpha on white; converts
 * grey / CMYK / 16-bit to 8-bit sRGB; checks a pixel limit from the header before decoding.
 * Also crops, makes thumbnails and encodes JPEG / WebP. Call visor_image_init() once. */
#ifndef VISOR_IMAGE_IMAGE_H
#define VISOR_IMAGE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define VISOR_IMAGE_DEFAULT_MAX_PIXELS (40u * 1000u * 1000u)

typedef struct visor_box {
  float x, y, w, h; /* in pixels of the upright (EXIF-rotated) original image */
} visor_box;

/* What the header says, without decoding the pixels. */
typedef struct visor_image_info {
  int width, height; /* upright (after EXIF orientation) */
  char format[16];   /* "jpeg", "png", "webp", "gif", "tiff" */
} visor_image_info;

/* An 8-bit sRGB image, 3 bands, row-major interleaved RGB. Owned by the caller. */
typedef struct visor_rgb_image {
  int width, height;
  uint8_t *pixels; /* width * height * 3 bytes */
} visor_rgb_image;

visor_code visor_image_init(visor_error *err);

/* Reads the header: VISOR_ERR_UNSUPPORTED when the bytes are not an image libvips decodes,
 * VISOR_ERR_TOO_LARGE when width*height > max_pixels (0 = default). */
visor_code visor_image_probe(const void *data, size_t len, size_t max_pixels,
                             visor_image_info *info, visor_error *err);

/* The side the pipelines decode originals at (the ML backend and the crops): larger images
 * are shrunk on load to it. */
#define VISOR_IMAGE_WORK_SIDE 1024
/* How many pixels decoding an image of info shrunk on load to max_side costs: JPEG decodes
 * at 1/2, 1/4 or 1/8 scale, WebP at the target size; PNG, GIF, TIFF and HEIF decode whole
 * (a 105 KB PNG can decode to 36 MP). */
uint64_t visor_image_decode_pixels(const visor_image_info *info, int max_side);
/* VISOR_ERR_TOO_LARGE when decoding info at max_side costs more than max_decode_pixels
 * (0 = no limit). */
visor_code visor_image_check_decode(const visor_image_info *info, int max_side,
                                    uint64_t max_decode_pixels, visor_error *err);

/* Decodes to upright 8-bit RGB. max_side > 0 shrinks on load so that the longer side is
 * at most max_side (scale factor returned in *scale = decoded / original, else 1). */
visor_code visor_image_decode_rgb(const void *data, size_t len, size_t max_pixels, int max_side,
                                  visor_rgb_image *out, float *scale, visor_error *err);
void visor_rgb_image_free(visor_rgb_image *image);

/* Crops box (clamped to the image) from the encoded image and encodes it as JPEG (or WebP
 * when webp != 0), scaled down so the longer side is at most max_side (0 = no limit).
 * *out is malloc'd; the caller frees it. */
visor_code visor_image_crop_encode(const void *data, size_t len, size_t max_pixels,
                                   const visor_box *box, int max_side, int webp, void **out,
                                   size_t *out_len, visor_error *err);

/* An image decoded once (upright, 8-bit sRGB, in memory) to cut many crops from. With
 * max_side > 0 it is decoded shrunk so its longer side is at most max_side (crops are
 * made from that; boxes stay in original pixels). */
typedef struct visor_image visor_image;

visor_code visor_image_load(const void *data, size_t len, size_t max_pixels, int max_side,
                            visor_image **out, visor_error *err);
/* visor_image_crop_encode on an image loaded with visor_image_load. */
visor_code visor_image_crop_encode_loaded(const visor_image *image, const visor_box *box,
                                          int max_side, int webp, void **out, size_t *out_len,
                                          visor_error *err);
void visor_image_free(visor_image *image);

/* Cuts box (pixels of image, clamped to it; NULL = the whole image) out of an RGB image in
 * memory and resizes it to exactly out_w x out_h (triangle filter, antialiased on reduction;
 * sub-pixel box edges). The aspect ratio is the caller's choice. out->pixels is malloc'd
 * (visor_rgb_image_free). */
visor_code visor_rgb_image_resize(const visor_rgb_image *image, const visor_box *box, int out_w,
                                  int out_h, visor_rgb_image *out, visor_error *err);

#endif
