/* wire.c: JSON of regions, analyses and models for `visor ml` (see wire.h). */
#include "ml/wire.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *visor_base64_encode(const void *data, size_t len) {
  const uint8_t *in = data;
  char *out = malloc((len + 2) / 3 * 4 + 1);
  if (!out) return NULL;
  size_t o = 0, i = 0;
  for (; i + 2 < len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = alphabet[(v >> 6) & 63];
    out[o++] = alphabet[v & 63];
  }
  if (i < len) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  out[o] = '\0';
  return out;
}

static int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

visor_code visor_base64_decode(const char *text, size_t len, void **out, size_t *out_len,
                               visor_error *err) {
  *out = NULL;
  *out_len = 0;
  while (len > 0 && text[len - 1] == '=')
    len--;
  if (len % 4 == 1) return visor_error_set(err, VISOR_ERR_INVALID, "base64 of bad length");
  uint8_t *bytes = malloc(len / 4 * 3 + 3);
  if (!bytes) return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for %zu bytes", len);
  size_t n = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    int v = sextet(text[i]);
    if (v < 0) {
      free(bytes);
      return visor_error_set(err, VISOR_ERR_INVALID, "base64: bad character at offset %zu", i);
    }
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[n++] = (uint8_t)(acc >> bits);
    }
  }
  *out = bytes;
  *out_len = n;
  return VISOR_OK;
}

/* float32 ↔ little-endian bytes, whatever the host order. */
static void floats_to_le(const float *in, size_t count, uint8_t *out) {
  for (size_t i = 0; i < count; i++) {
    uint32_t v;
    memcpy(&v, &in[i], 4);
    out[4 * i] = (uint8_t)v;
    out[4 * i + 1] = (uint8_t)(v >> 8);
    out[4 * i + 2] = (uint8_t)(v >> 16);
    out[4 * i + 3] = (uint8_t)(v >> 24);
  }
}

static void le_to_floats(const uint8_t *in, size_t count, float *out) {
  for (size_t i = 0; i < count; i++) {
    uint32_t v = (uint32_t)in[4 * i] | (uint32_t)in[4 * i + 1] << 8 |
                 (uint32_t)in[4 * i + 2] << 16 | (uint32_t)in[4 * i + 3] << 24;
    memcpy(&out[i], &v, 4);
  }
}

json_t *visor_wire_model_info(const visor_model_info *info) {
  json_t *json = json_pack("{s:s, s:s}", "name", info->name, "version", info->version);
  if (json && info->dim) json_object_set_new(json, "dim", json_integer((json_int_t)info->dim));
  return json;
}

static json_t *label_json(const visor_label *label) {
  return json_pack("{s:s, s:f}", "name", label->name, "score", (double)label->score);
}

json_t *visor_wire_region(const visor_region *region, size_t dim, unsigned parts) {
  const visor_box *b = &region->box;
  json_t *json = json_pack("{s:{s:f, s:f, s:f, s:f}}", "box", "x", (double)b->x, "y", (double)b->y,
                           "w", (double)b->w, "h", (double)b->h);
  if (!json) return NULL;
  if (parts & VISOR_WIRE_DETECTOR) {
    json_object_set_new(json, "whole_image", json_boolean(region->whole_image));
    json_object_set_new(json, "detector", label_json(&region->detector));
  }
  if (parts & VISOR_WIRE_LABELS) {
    json_t *labels = json_array();
    for (size_t i = 0; i < region->label_count && i < VISOR_ML_MAX_LABELS; i++)
      json_array_append_new(labels, label_json(&region->labels[i]));
    json_object_set_new(json, "labels", labels);
  }
  if ((parts & VISOR_WIRE_EMBEDDING) && region->embedding && dim) {
    uint8_t *bytes = malloc(dim * 4);
    char *text =
        bytes ? (floats_to_le(region->embedding, dim, bytes), visor_base64_encode(bytes, dim * 4))
              : NULL;
    free(bytes);
    if (!text) {
      json_decref(json);
      return NULL;
    }
    json_object_set_new(json, "embedding", json_string(text));
    free(text);
  }
  return json;
}

json_t *visor_wire_analysis(const visor_analysis *a, unsigned parts) {
  json_t *regions = json_array();
  if (!regions) return NULL;
  for (size_t i = 0; i < a->region_count; i++) {
    json_t *region = visor_wire_region(&a->regions[i], a->dim, parts);
    if (!region || json_array_append_new(regions, region)) {
      json_decref(regions);
      return NULL;
    }
  }
  return json_pack("{s:i, s:i, s:s, s:I, s:o, s:o, s:o, s:o}", "width", a->width, "height",
                   a->height, "format", a->format, "dim", (json_int_t)a->dim, "embedder",
                   visor_wire_model_info(&a->embedder), "detector",
                   visor_wire_model_info(&a->detector), "labeller",
                   visor_wire_model_info(&a->labeller), "regions", regions);
}

/* ---- parsing ------------------------------------------------------------------------ */

static visor_code copy_string(const json_t *value, const char *what, char *out, size_t size,
                              visor_error *err) {
  if (!json_is_string(value))
    return visor_error_set(err, VISOR_ERR_INVALID, "%s is not a string", what);
  snprintf(out, size, "%s", json_string_value(value));
  return VISOR_OK;
}

visor_code visor_wire_parse_model_info(const json_t *json, visor_model_info *out,
                                       visor_error *err) {
  memset(out, 0, sizeof *out);
  if (!json || json_is_null(json)) return VISOR_OK;
  if (!json_is_object(json))
    return visor_error_set(err, VISOR_ERR_INVALID, "a model description is not an object");
  visor_code code;
  if ((code = copy_string(json_object_get(json, "name"), "model name", out->name, sizeof out->name,
                          err)) ||
      (code = copy_string(json_object_get(json, "version"), "model version", out->version,
                          sizeof out->version, err)))
    return code;
  json_t *dim = json_object_get(json, "dim");
  if (json_is_integer(dim) && json_integer_value(dim) > 0)
    out->dim = (size_t)json_integer_value(dim);
  return VISOR_OK;
}

visor_code visor_wire_parse_box(const json_t *json, visor_box *out, visor_error *err) {
  const json_t *v[4];
  if (json_is_array(json) && json_array_size(json) == 4) {
    for (size_t i = 0; i < 4; i++)
      v[i] = json_array_get(json, i);
  } else if (json_is_object(json)) {
    v[0] = json_object_get(json, "x");
    v[1] = json_object_get(json, "y");
    v[2] = json_object_get(json, "w");
    v[3] = json_object_get(json, "h");
  } else {
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "a box must be {\"x\",\"y\",\"w\",\"h\"} or [x, y, w, h]");
  }
  for (int i = 0; i < 4; i++)
    if (!json_is_number(v[i]))
      return visor_error_set(err, VISOR_ERR_INVALID, "box field %c is not a number", "xywh"[i]);
  *out = (visor_box){(float)json_number_value(v[0]), (float)json_number_value(v[1]),
                     (float)json_number_value(v[2]), (float)json_number_value(v[3])};
  return VISOR_OK;
}

static visor_code parse_label(const json_t *json, visor_label *out, visor_error *err) {
  memset(out, 0, sizeof *out);
  if (!json_is_object(json))
    return visor_error_set(err, VISOR_ERR_INVALID, "a label is not an object");
  visor_code code =
      copy_string(json_object_get(json, "name"), "label name", out->name, sizeof out->name, err);
  if (code) return code;
  json_t *score = json_object_get(json, "score");
  if (!json_is_number(score))
    return visor_error_set(err, VISOR_ERR_INVALID, "label score is not a number");
  out->score = (float)json_number_value(score);
  return VISOR_OK;
}

visor_code visor_wire_parse_region(const json_t *json, size_t dim, visor_region *out,
                                   visor_error *err) {
  if (!json_is_object(json))
    return visor_error_set(err, VISOR_ERR_INVALID, "a region is not an object");
  visor_code code = visor_wire_parse_box(json_object_get(json, "box"), &out->box, err);
  if (code) return code;
  out->whole_image = json_is_true(json_object_get(json, "whole_image"));
  json_t *detector = json_object_get(json, "detector");
  if (detector && (code = parse_label(detector, &out->detector, err))) return code;
  json_t *labels = json_object_get(json, "labels");
  out->label_count = 0;
  if (labels) {
    if (!json_is_array(labels))
      return visor_error_set(err, VISOR_ERR_INVALID, "region labels are not an array");
    for (size_t i = 0; i < json_array_size(labels) && i < VISOR_ML_MAX_LABELS; i++) {
      if ((code = parse_label(json_array_get(labels, i), &out->labels[i], err))) return code;
      out->label_count = i + 1;
    }
  }
  json_t *embedding = json_object_get(json, "embedding");
  out->embedding = NULL;
  if (embedding) {
    if (!json_is_string(embedding))
      return visor_error_set(err, VISOR_ERR_INVALID, "region embedding is not a string");
    void *bytes;
    size_t len;
    if ((code = visor_base64_decode(json_string_value(embedding), json_string_length(embedding),
                                    &bytes, &len, err)))
      return visor_error_wrap(err, "region embedding");
    if (dim == 0 || len != dim * 4) {
      free(bytes);
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "region embedding has %zu bytes, expected %zu floats", len, dim);
    }
    out->embedding = malloc(dim * sizeof(float));
    if (!out->embedding) {
      free(bytes);
      return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for an embedding");
    }
    le_to_floats(bytes, dim, out->embedding);
    free(bytes);
  }
  return VISOR_OK;
}

visor_code visor_wire_parse_analysis(const json_t *json, visor_analysis *out, visor_error *err) {
  memset(out, 0, sizeof *out);
  if (!json_is_object(json))
    return visor_error_set(err, VISOR_ERR_INVALID, "the analysis is not an object");
  json_t *width = json_object_get(json, "width"), *height = json_object_get(json, "height");
  json_t *dim = json_object_get(json, "dim"), *regions = json_object_get(json, "regions");
  if (!json_is_integer(width) || !json_is_integer(height) || !json_is_integer(dim) ||
      json_integer_value(dim) < 0 || !json_is_array(regions))
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "the analysis lacks width, height, dim or regions");
  out->width = (int)json_integer_value(width);
  out->height = (int)json_integer_value(height);
  out->dim = (size_t)json_integer_value(dim);
  visor_code code;
  if ((code = copy_string(json_object_get(json, "format"), "format", out->format,
                          sizeof out->format, err)) ||
      (code =
           visor_wire_parse_model_info(json_object_get(json, "embedder"), &out->embedder, err)) ||
      (code =
           visor_wire_parse_model_info(json_object_get(json, "detector"), &out->detector, err)) ||
      (code = visor_wire_parse_model_info(json_object_get(json, "labeller"), &out->labeller, err)))
    return code;
  size_t count = json_array_size(regions);
  if (count) {
    out->regions = calloc(count, sizeof *out->regions);
    if (!out->regions)
      return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for %zu regions", count);
  }
  for (size_t i = 0; i < count; i++) {
    code = visor_wire_parse_region(json_array_get(regions, i), out->dim, &out->regions[i], err);
    out->region_count = i + 1; /* the failed one holds no embedding */
    if (code) {
      visor_error_wrap(err, "region %zu", i);
      visor_analysis_free(out);
      return code;
    }
  }
  return VISOR_OK;
}
