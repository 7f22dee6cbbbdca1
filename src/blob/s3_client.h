/* s3_client.h: the S3 HTTP client under blob_s3.c: one bucket's settings, a pool of curl
 * handles (connections are reused; any thread may send), SigV4 signing by curl, retries
 * with backoff, and the mapping of S3 answers to visor_code. The XML answers are read by
 * s3_xml.c. Internal to src/blob. */
#ifndef VISOR_BLOB_S3_CLIENT_H
#define VISOR_BLOB_S3_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct s3_client s3_client;

/* What one request got back. body holds error bodies and, without into, the whole body. */
typedef struct s3_response {
  long status;
  char *body; /* malloc'd, NUL-terminated (caller frees with s3_response_free) */
  size_t body_len;
  char *into; /* optional: a 2xx body goes here instead (range reads), at most into_cap */
  size_t into_cap;
  size_t into_len;
  uint64_t content_length;
  int has_content_length;
  char etag[160];
  int attempts;
} s3_response;

/* Parses "s3://BUCKET?endpoint=...&region=...&path_style=1&timeout=S&connect_timeout=S
 * &page_size=N" and
 * reads the credentials from the environment. Does not touch the network. */
s3_client *s3_client_new(const char *url, visor_error *err);
void s3_client_free(s3_client *client);
const char *s3_client_bucket(const s3_client *client);
const char *s3_client_endpoint(const s3_client *client);
const char *s3_client_region(const s3_client *client);
int s3_client_page_size(const s3_client *client); /* 0 = server default */

/* One request on the bucket (key NULL) or an object. query is sorted and percent-encoded
 * already ("uploads=", "partNumber=1&uploadId=x"), or NULL; headers is a NULL-terminated list
 * of "Name: value" or NULL. Retries connection failures, 500/502/503/504 and SlowDown a few
 * times with backoff. Returns VISOR_OK when an answer came (any status: see res->status),
 * VISOR_ERR_UNAVAILABLE when the server could not be reached or stayed busy. */
visor_code s3_request(s3_client *client, const char *method, const char *key, const char *query,
                      const char *const *headers, const void *body, size_t body_len,
                      s3_response *res, visor_error *err);
void s3_response_free(s3_response *res);

/* Sets err from a non-2xx answer: 403 → VISOR_ERR_PERMISSION (naming the bucket, the
 * endpoint and the key variables), 404 → NOT_FOUND, 409/412 → CONFLICT, 5xx → UNAVAILABLE,
 * else IO. what says what was asked ("PUT object 'a/b'"). Returns the code. */
visor_code s3_answer_error(s3_client *client, const s3_response *res, const char *what,
                           visor_error *err);

/* Percent-encodes text as SigV4 wants (unreserved kept; keep_slash keeps '/'); out must hold
 * 3 * strlen(text) + 1. */
void s3_encode(const char *text, int keep_slash, char *out);

/* --- s3_xml.c --- */

/* The Code and Message of an <Error> body (empty strings when absent). */
void s3_xml_error(const char *body, size_t len, char *code, size_t code_size, char *message,
                  size_t message_size);
/* The text of the first element named name anywhere in the body (malloc'd), or NULL. */
char *s3_xml_find(const char *body, size_t len, const char *name);
/* The root element's name is name. */
int s3_xml_root_is(const char *body, size_t len, const char *name);
/* Calls fn for each element named item (Contents, Upload) with the texts of its children
 * named field_a, field_b and field_c ("" when absent or field_c is NULL). *truncated gets
 * IsTruncated. Returns -1 when the body is not XML, 1 when fn stopped, else 0. */
typedef int (*s3_xml_item_fn)(void *ctx, const char *a, const char *b, const char *c);
int s3_xml_items(const char *body, size_t len, const char *item, const char *field_a,
                 const char *field_b, const char *field_c, s3_xml_item_fn fn, void *ctx,
                 int *truncated);
/* An S3 timestamp ("2026-12-01T22:10:05.123Z", ISO 8601 in UTC) as Unix ms; 0 when it is
 * not one. */
int64_t s3_xml_time_ms(const char *text);

#endif
