/* wire.h: the JSON wire format of `visor ml` shared by its server (ml_server.c) and its
 * client (ml_http.c): regions, analyses and model descriptions, with embeddings as base64
 * of little-endian float32 so vectors cross the wire bit for bit. */
#ifndef VISOR_ML_WIRE_H
#define VISOR_ML_WIRE_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"
#include "ml/ml.h"

/* What a region's JSON holds beyond its box. */
#define VISOR_WIRE_DETECTOR 1u  /* whole_image, detector {name, score} */
#define VISOR_WIRE_LABELS 2u    /* labels [{name, score}] */
#define VISOR_WIRE_EMBEDDING 4u /* embedding (when the region has one) */

/* Standard base64 (with padding). encode returns a malloc'd string (NULL: no memory). */
char *visor_base64_encode(const void *data, size_t len);
/* *out is malloc'd (caller frees); fails on characters outside the alphabet. */
visor_code visor_base64_decode(const char *text, size_t len, void **out, size_t *out_len,
                               visor_error *err);

json_t *visor_wire_model_info(const visor_model_info *info);
json_t *visor_wire_region(const visor_region *region, size_t dim, unsigned parts);
/* {width, height, format, dim, embedder, detector, labeller, regions} */
json_t *visor_wire_analysis(const visor_analysis *analysis, unsigned parts);

visor_code visor_wire_parse_model_info(const json_t *json, visor_model_info *out, visor_error *err);
/* Fills out from a region object (box, and whatever else it holds); an embedding must be
 * dim floats and is malloc'd into out->embedding. */
visor_code visor_wire_parse_region(const json_t *json, size_t dim, visor_region *out,
                                   visor_error *err);
visor_code visor_wire_parse_analysis(const json_t *json, visor_analysis *out, visor_error *err);
/* A box from {x, y, w, h} or [x, y, w, h]. */
visor_code visor_wire_parse_box(const json_t *json, visor_box *out, visor_error *err);

#endif
