/* s3_client.c: the S3 HTTP client of blob_s3.c: URL and credentials, a mutex-guarded pool
 * of curl easy handles (each keeps its connection alive, so requests reuse connections),
 * SigV4 signing by curl (CURLOPT_AWS_SIGV4; the payload SHA-256 is ours, since curl 7.88
 * does not send x-amz-content-sha256), timeouts, retries with exponential backoff, and the
 * mapping of S3 errors to visor_code. */
#include "blob/s3_client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S3_POOL_MAX 32
#define S3_BODY_MAX ((size_t)64 << 20) /* bound on XML / error bodies kept in memory */

struct s3_client {
  char *bucket;
  char *endpoint; /* as given: scheme://host[:port], no trailing '/' */
  char *base;     /* where object paths go: endpoint + "/bucket" or scheme://bucket.host */
  char *region;
  char *sigv4; /* "aws:amz:REGION:s3" */
  char *access_key;
  char *secret_key;
  char *token_header; /* "x-amz-security-token: ..." or NULL */
  long connect_timeout_ms;
  long timeout_ms;
  int max_attempts;
  int page_size; /* keys per ListObjectsV2 page; 0 = the server's default (1000) */
  pthread_mutex_t lock;
  CURL *idle[S3_POOL_MAX];
  int idle_count;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_code;
static void init_curl(void) {
  curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* --- URL and settings --- */

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes %XX in place. */
static void url_decode(char *text) {
  char *out = text;
  for (char *in = text; *in; in++) {
    if (in[0] == '%' && hex_value(in[1]) >= 0 && hex_value(in[2]) >= 0) {
      *out++ = (char)(hex_value(in[1]) * 16 + hex_value(in[2]));
      in += 2;
    } else {
      *out++ = *in;
    }
  }
  *out = '\0';
}

static int bucket_name_valid(const char *name) {
  size_t len = strlen(name);
  if (len < 3 || len > 63) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return 0;
  }
  return name[0] != '.' && name[0] != '-' && name[len - 1] != '.' && name[len - 1] != '-';
}

static int parse_seconds(const char *text, long *ms) {
  char *end = NULL;
  double seconds = strtod(text, &end);
  if (!*text || *end || !(seconds > 0) || seconds > 86400) return 0;
  *ms = (long)(seconds * 1000);
  return 1;
}

static const char *first_env(const char *a, const char *b) {
  const char *value = getenv(a);
  if (value && *value) return value;
  value = getenv(b);
  return value && *value ? value : NULL;
}

static char *format(const char *fmt, const char *a, const char *b) {
  size_t size = strlen(fmt) + strlen(a) + strlen(b) + 1;
  char *out = malloc(size);
  if (out) snprintf(out, size, fmt, a, b);
  return out;
}

/* Fills client from the query part "k=v&k=v" (modified in place). */
static visor_code parse_query(s3_client *client, char *query, const char *url, int *path_style,
                              char **endpoint, visor_error *err) {
  for (char *save = NULL, *pair = strtok_r(query, "&", &save); pair;
       pair = strtok_r(NULL, "&", &save)) {
    char *value = strchr(pair, '=');
    if (!value)
      return visor_error_set(err, VISOR_ERR_INVALID, "S3 URL '%s': '%s' has no value", url, pair);
    *value++ = '\0';
    url_decode(value);
    if (strcmp(pair, "endpoint") == 0) {
      *endpoint = value;
    } else if (strcmp(pair, "region") == 0) {
      free(client->region);
      if (!*value || !(client->region = strdup(value)))
        return visor_error_set(err, VISOR_ERR_INVALID, "S3 URL '%s': bad region", url);
    } else if (strcmp(pair, "path_style") == 0) {
      if (strcmp(value, "1") == 0 || strcmp(value, "true") == 0)
        *path_style = 1;
      else if (strcmp(value, "0") == 0 || strcmp(value, "false") == 0)
        *path_style = 0;
      else
        return visor_error_set(err, VISOR_ERR_INVALID, "S3 URL '%s': path_style must be 0 or 1",
                               url);
    } else if (strcmp(pair, "timeout") == 0) {
      if (!parse_seconds(value, &client->timeout_ms))
        return visor_error_set(err, VISOR_ERR_INVALID, "S3 URL '%s': bad timeout '%s' (seconds)",
                               url, value);
    } else if (strcmp(pair, "page_size") == 0) {
      char *end = NULL;
      long n = strtol(value, &end, 10);
      if (!*value || *end || n < 1 || n > 1000)
        return visor_error_set(err, VISOR_ERR_INVALID, "S3 URL '%s': page_size must be 1-1000",
                               url);
      client->page_size = (int)n;
    } else if (strcmp(pair, "connect_timeout") == 0) {
      if (!parse_seconds(value, &client->connect_timeout_ms))
        return visor_error_set(err, VISOR_ERR_INVALID,
                               "S3 URL '%s': bad connect_timeout '%s' (seconds)", url, value);
    } else {
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "S3 URL '%s': unknown setting '%s' (endpoint, region, path_style, "
                             "timeout, connect_timeout, page_size)",
                             url, pair);
    }
  }
  return VISOR_OK;
}

/* endpoint → client->endpoint and client->base (path style or virtual-hosted style). */
static visor_code set_endpoint(s3_client *client, const char *endpoint, int path_style,
                               const char *url, visor_error *err) {
  const char *host = NULL;
  if (strncmp(endpoint, "http://", 7) == 0) host = endpoint + 7;
  if (strncmp(endpoint, "https://", 8) == 0) host = endpoint + 8;
  if (!host || !*host || strchr(host, '?'))
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "S3 URL '%s': endpoint '%s' must be http://host[:port] or https://...",
                           url, endpoint);
  client->endpoint = strdup(endpoint);
  if (!client->endpoint) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  size_t len = strlen(client->endpoint);
  while (len > 0 && client->endpoint[len - 1] == '/')
    client->endpoint[--len] = '\0';
  if (path_style) {
    client->base = format("%s/%s", client->endpoint, client->bucket);
  } else {
    char scheme[16];
    size_t scheme_len = (size_t)(host - endpoint);
    snprintf(scheme, sizeof scheme, "%.*s", (int)scheme_len, endpoint);
    size_t size = strlen(client->endpoint) + strlen(client->bucket) + 2;
    client->base = malloc(size);
    if (client->base)
      snprintf(client->base, size, "%s%s.%s", scheme, client->bucket,
               client->endpoint + scheme_len);
  }
  if (!client->base) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  return VISOR_OK;
}

s3_client *s3_client_new(const char *url, visor_error *err) {
  pthread_once(&curl_once, init_curl);
  if (curl_init_code != CURLE_OK) {
    visor_error_set(err, VISOR_ERR_INTERNAL, "libcurl start-up failed: %s",
                    curl_easy_strerror(curl_init_code));
    return NULL;
  }
  s3_client *client = calloc(1, sizeof *client);
  char *copy = strdup(url);
  if (!client || !copy) {
    free(client);
    free(copy);
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&client->lock, NULL);
  client->connect_timeout_ms = 3000;
  client->timeout_ms = 30000;
  client->max_attempts = 4;
  visor_code code = VISOR_OK;
  char *bucket = copy + 5; /* after "s3://" */
  char *query = strchr(bucket, '?');
  if (query) *query++ = '\0';
  size_t bucket_len = strlen(bucket);
  if (bucket_len > 0 && bucket[bucket_len - 1] == '/') bucket[--bucket_len] = '\0';
  if (!bucket_name_valid(bucket))
    code = visor_error_set(err, VISOR_ERR_INVALID,
                           "S3 URL '%s': bucket '%s' is not a valid bucket name (3-63 of a-z 0-9 . "
                           "-; no path after it)",
                           url, bucket);
  if (code == VISOR_OK && !(client->bucket = strdup(bucket)))
    code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  int path_style = -1;
  char *endpoint = NULL;
  if (code == VISOR_OK && query)
    code = parse_query(client, query, url, &path_style, &endpoint, err);
  if (code == VISOR_OK && !client->region) {
    const char *region = first_env("AWS_REGION", "AWS_DEFAULT_REGION");
    if (!(client->region = strdup(region ? region : "us-east-1")))
      code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  }
  char aws_endpoint[256];
  if (code == VISOR_OK && !endpoint) {
    snprintf(aws_endpoint, sizeof aws_endpoint, "https://s3.%s.amazonaws.com", client->region);
    endpoint = aws_endpoint;
  }
  if (path_style < 0) path_style = endpoint != aws_endpoint; /* own servers: path style */
  if (code == VISOR_OK) code = set_endpoint(client, endpoint, path_style, url, err);
  const char *access = first_env("VISOR_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID");
  const char *secret = first_env("VISOR_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY");
  const char *token = first_env("VISOR_S3_SESSION_TOKEN", "AWS_SESSION_TOKEN");
  if (code == VISOR_OK && (!access || !secret))
    code = visor_error_set(err, VISOR_ERR_INVALID,
                           "no S3 credentials for bucket '%s': set VISOR_S3_ACCESS_KEY and "
                           "VISOR_S3_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
                           client->bucket);
  if (code == VISOR_OK) {
    client->access_key = strdup(access);
    client->secret_key = strdup(secret);
    client->sigv4 = format("aws:amz:%s:%s", client->region, "s3");
    if (token) client->token_header = format("x-amz-security-token: %s%s", token, "");
    if (!client->access_key || !client->secret_key || !client->sigv4 ||
        (token && !client->token_header))
      code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  }
  free(copy);
  if (code != VISOR_OK) {
    s3_client_free(client);
    return NULL;
  }
  return client;
}

void s3_client_free(s3_client *client) {
  if (!client) return;
  for (int i = 0; i < client->idle_count; i++)
    curl_easy_cleanup(client->idle[i]);
  pthread_mutex_destroy(&client->lock);
  free(client->bucket);
  free(client->endpoint);
  free(client->base);
  free(client->region);
  free(client->sigv4);
  free(client->access_key);
  if (client->secret_key) {
    memset(client->secret_key, 0, strlen(client->secret_key));
    free(client->secret_key);
  }
  free(client->token_header);
  free(client);
}

const char *s3_client_bucket(const s3_client *client) {
  return client->bucket;
}
const char *s3_client_endpoint(const s3_client *client) {
  return client->endpoint;
}
const char *s3_client_region(const s3_client *client) {
  return client->region;
}
int s3_client_page_size(const s3_client *client) {
  return client->page_size;
}

void s3_encode(const char *text, int keep_slash, char *out) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
    unsigned char c = *p;
    if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
      *out++ = (char)c;
    } else {
      *out++ = '%';
      *out++ = hex[c >> 4];
      *out++ = hex[c & 15];
    }
  }
  *out = '\0';
}

/* --- the handle pool --- */

static CURL *take_handle(s3_client *client) {
  CURL *curl = NULL;
  pthread_mutex_lock(&client->lock);
  if (client->idle_count > 0) curl = client->idle[--client->idle_count];
  pthread_mutex_unlock(&client->lock);
  return curl ? curl : curl_easy_init();
}

static void give_handle(s3_client *client, CURL *curl) {
  pthread_mutex_lock(&client->lock);
  if (client->idle_count < S3_POOL_MAX) {
    client->idle[client->idle_count++] = curl;
    curl = NULL;
  }
  pthread_mutex_unlock(&client->lock);
  if (curl) curl_easy_cleanup(curl);
}

/* --- one transfer --- */

typedef struct transfer {
  CURL *curl;
  s3_response *res;
  size_t body_cap;
  int overflow;
} transfer;

static size_t on_body(char *data, size_t size, size_t count, void *userp) {
  transfer *t = userp;
  s3_response *res = t->res;
  size_t len = size * count;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (res->into && status >= 200 && status < 300) {
    if (len > res->into_cap - res->into_len) {
      t->overflow = 1;
      return 0;
    }
    memcpy(res->into + res->into_len, data, len);
    res->into_len += len;
    return len;
  }
  if (res->body_len + len + 1 > t->body_cap) {
    size_t cap = t->body_cap ? t->body_cap : 4096;
    while (cap < res->body_len + len + 1)
      cap *= 2;
    char *grown = cap <= S3_BODY_MAX ? realloc(res->body, cap) : NULL;
    if (!grown) {
      t->overflow = 1;
      return 0;
    }
    res->body = grown;
    t->body_cap = cap;
  }
  memcpy(res->body + res->body_len, data, len);
  res->body_len += len;
  res->body[res->body_len] = '\0';
  return len;
}

static size_t on_header(char *data, size_t size, size_t count, void *userp) {
  s3_response *res = ((transfer *)userp)->res;
  size_t len = size * count;
  if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) { /* a new answer (e.g. after 100) */
    res->etag[0] = '\0';
    res->has_content_length = 0;
    return len;
  }
  const char *colon = memchr(data, ':', len);
  if (!colon) return len;
  size_t name_len = (size_t)(colon - data);
  const char *value = colon + 1;
  const char *end = data + len;
  while (value < end && (*value == ' ' || *value == '\t'))
    value++;
  while (end > value && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
    end--;
  size_t value_len = (size_t)(end - value);
  if (name_len == 4 && strncasecmp(data, "etag", 4) == 0) {
    if (value_len < sizeof res->etag) {
      memcpy(res->etag, value, value_len);
      res->etag[value_len] = '\0';
    }
  } else if (name_len == 14 && strncasecmp(data, "content-length", 14) == 0) {
    char number[32];
    if (value_len > 0 && value_len < sizeof number) {
      memcpy(number, value, value_len);
      number[value_len] = '\0';
      res->content_length = strtoull(number, NULL, 10);
      res->has_content_length = 1;
    }
  }
  return len;
}

static void sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_Digest(data ? data : "", len, digest, &digest_len, EVP_sha256(), NULL);
  for (unsigned int i = 0; i < digest_len && i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", digest[i]);
  out[64] = '\0';
}

static char *request_url(s3_client *client, const char *key, const char *query) {
  size_t key_len = key ? strlen(key) : 0;
  size_t size = strlen(client->base) + 3 * key_len + (query ? strlen(query) : 0) + 4;
  char *url = malloc(size);
  if (!url) return NULL;
  size_t used = (size_t)snprintf(url, size, "%s/", client->base);
  if (key) s3_encode(key, 1, url + used);
  if (query) {
    used = strlen(url);
    snprintf(url + used, size - used, "?%s", query);
  }
  return url;
}

static int status_retryable(const s3_response *res) {
  long s = res->status;
  if (s == 500 || s == 502 || s == 503 || s == 504) return 1;
  /* S3 may also answer 400 RequestTimeout or a SlowDown under another status. */
  return res->body && (strstr(res->body, "<Code>SlowDown</Code>") ||
                       strstr(res->body, "<Code>RequestTimeout</Code>"));
}

static int transport_retryable(CURLcode rc) {
  switch (rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_SSL_CONNECT_ERROR:
    return 1;
  default:
    return 0;
  }
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static void reset_response(s3_response *res) {
  free(res->body);
  res->body = NULL;
  res->body_len = 0;
  res->into_len = 0;
  res->status = 0;
  res->etag[0] = '\0';
  res->has_content_length = 0;
  res->content_length = 0;
}

static CURLcode perform(s3_client *client, CURL *curl, const char *method, const char *url,
                        struct curl_slist *headers, const void *body, size_t body_len, transfer *t,
                        char *errbuf) {
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, client->connect_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, client->timeout_ms);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 15L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, client->sigv4);
  curl_easy_setopt(curl, CURLOPT_USERNAME, client->access_key);
  curl_easy_setopt(curl, CURLOPT_PASSWORD, client->secret_key);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, t);
  if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (strcmp(method, "GET") == 0) {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0) {
    /* The body as POSTFIELDS, so curl signs exactly these bytes; PUT by custom request. */
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
    if (strcmp(method, "PUT") == 0) curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  }
  errbuf[0] = '\0';
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t->res->status);
  return rc;
}

visor_code s3_request(s3_client *client, const char *method, const char *key, const char *query,
                      const char *const *headers, const void *body, size_t body_len,
                      s3_response *res, visor_error *err) {
  char *url = request_url(client, key, query);
  char hash_header[96];
  char hash[65];
  sha256_hex(body, body_len, hash);
  snprintf(hash_header, sizeof hash_header, "x-amz-content-sha256: %s", hash);
  struct curl_slist *list = NULL, *next;
  int has_type = 0;
  int ok = url != NULL;
#define ADD_HEADER(h)                                                                              \
  do {                                                                                             \
    if (ok && (next = curl_slist_append(list, (h))))                                               \
      list = next;                                                                                 \
    else                                                                                           \
      ok = 0;                                                                                      \
  } while (0)
  ADD_HEADER(hash_header);
  /* No "Expect:" to suppress 100-continue: curl would sign the header it then drops. */
  if (client->token_header) ADD_HEADER(client->token_header);
  for (const char *const *h = headers; h && *h; h++) {
    if (strncasecmp(*h, "content-type:", 13) == 0) has_type = 1;
    ADD_HEADER(*h);
  }
  if (!has_type && (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0))
    ADD_HEADER("Content-Type: application/octet-stream");
#undef ADD_HEADER
  CURL *curl = ok ? take_handle(client) : NULL;
  if (!curl) {
    free(url);
    curl_slist_free_all(list);
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory for an S3 request");
  }
  double started = now_ms();
  long backoff_ms = 100;
  CURLcode rc = CURLE_OK;
  char errbuf[CURL_ERROR_SIZE];
  transfer t = {.curl = curl, .res = res};
  for (res->attempts = 1;; res->attempts++) {
    reset_response(res);
    t.body_cap = 0;
    t.overflow = 0;
    rc = perform(client, curl, method, url, list, body, body_len, &t, errbuf);
    int retry = rc != CURLE_OK ? transport_retryable(rc) : status_retryable(res);
    if (!retry || t.overflow || res->attempts >= client->max_attempts) break;
    long wait = backoff_ms + rand() % (backoff_ms / 2 + 1);
    if (now_ms() - started + (double)wait > (double)client->timeout_ms) break;
    sleep_ms(wait);
    backoff_ms *= 2;
  }
  give_handle(client, curl);
  curl_slist_free_all(list);
  visor_code code = VISOR_OK;
  const char *what = key ? key : "";
  if (t.overflow)
    code = visor_error_set(err, VISOR_ERR_IO, "S3 %s '%s' in bucket '%s': the answer is too large",
                           method, what, client->bucket);
  else if (rc != CURLE_OK)
    code = visor_error_set(
        err, VISOR_ERR_UNAVAILABLE, "S3 %s '%s' in bucket '%s' at %s failed after %d attempt%s: %s",
        method, what, client->bucket, client->endpoint, res->attempts,
        res->attempts == 1 ? "" : "s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
  free(url);
  return code;
}

void s3_response_free(s3_response *res) {
  if (!res) return;
  free(res->body);
  res->body = NULL;
  res->body_len = 0;
}

visor_code s3_answer_error(s3_client *client, const s3_response *res, const char *what,
                           visor_error *err) {
  char code_text[64] = "", message[200] = "";
  if (res->body)
    s3_xml_error(res->body, res->body_len, code_text, sizeof code_text, message, sizeof message);
  const char *sep = message[0] ? ": " : "";
  long s = res->status;
  if (s == 401 || s == 403)
    return visor_error_set(
        err, VISOR_ERR_PERMISSION,
        "S3 bucket '%s' at %s refused %s: %ld %s%s%s (check VISOR_S3_ACCESS_KEY / "
        "VISOR_S3_SECRET_KEY and the bucket's permissions)",
        client->bucket, client->endpoint, what, s, code_text[0] ? code_text : "Forbidden", sep,
        message);
  visor_code code = s == 404               ? VISOR_ERR_NOT_FOUND
                    : s == 409 || s == 412 ? VISOR_ERR_CONFLICT
                    : s >= 500             ? VISOR_ERR_UNAVAILABLE
                                           : VISOR_ERR_IO;
  return visor_error_set(err, code, "S3 bucket '%s' at %s: %s: %ld %s%s%s%s", client->bucket,
                         client->endpoint, what, s, code_text, sep, message,
                         s >= 500 ? " (after retries)" : "");
}
