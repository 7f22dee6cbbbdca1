/* cmd_search.c: `visor search IMAGE`: sends a photo to a running Visor's search API and
 * prints the best products per detected object as a table (or the raw JSON). */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

static const char *const usage =
    "Usage: visor search IMAGE [--url URL] [--k N] [--category C]... [--label KEY=VALUE]...\n"
    "                          [--wait SECONDS] [--json]\n"
    "  --url       the Visor server (default $VISOR_URL or http://localhost:8080)\n"
    "  --k         products per detected object (1-100, default 5)\n"
    "  --category  only products of this category (repeatable: any of)\n"
    "  --label     only products with this label (repeatable: all of)\n"
    "  --wait      seconds to wait for the result (default 30)\n"
    "  --json      print the search as JSON\n";

typedef struct body {
  char *data;
  size_t len;
} body;

static size_t collect(char *data, size_t size, size_t count, void *ctx) {
  body *out = ctx;
  char *grown = realloc(out->data, out->len + size * count + 1);
  if (!grown) return 0;
  memcpy(grown + out->len, data, size * count);
  out->data = grown;
  out->len += size * count;
  out->data[out->len] = '\0';
  return size * count;
}

static void print_table(const json_t *search) {
  printf("search %s: %s in %.0f ms\n", json_string_value(json_object_get(search, "id")),
         json_string_value(json_object_get(search, "status")),
         json_number_value(json_object_get(search, "duration_ms")));
  size_t index;
  json_t *region;
  json_array_foreach(json_object_get(search, "regions"), index, region) {
    json_t *box = json_object_get(region, "box");
    const char *detector = json_string_value(json_object_get(region, "detector_label"));
    printf(
        "\nobject %zu: %s (%s) box %.0f,%.0f %.0fx%.0f\n", index,
        json_is_true(json_object_get(region, "whole_image")) ? "whole image"
        : detector                                           ? detector
                                                             : "?",
        json_string_value(json_object_get(region, "label")) ?: "",
        json_number_value(json_object_get(box, "x")), json_number_value(json_object_get(box, "y")),
        json_number_value(json_object_get(box, "w")), json_number_value(json_object_get(box, "h")));
    printf("  %-4s %-7s %-20s %-32s %s\n", "rank", "score", "sku", "name", "category");
    size_t r;
    json_t *result;
    json_array_foreach(json_object_get(region, "results"), r, result) {
      json_t *product = json_object_get(result, "product");
      printf("  %-4lld %-7.3f %-20.20s %-32.32s %s\n",
             (long long)json_integer_value(json_object_get(result, "rank")),
             json_number_value(json_object_get(result, "score")),
             json_string_value(json_object_get(product, "sku")) ?: "",
             json_string_value(json_object_get(product, "name")) ?: "",
             json_string_value(json_object_get(product, "category")) ?: "");
    }
  }
  printf("\nbest overall:\n");
  json_t *result;
  json_array_foreach(json_object_get(search, "products"), index, result) {
    json_t *product = json_object_get(result, "product");
    printf("  %-4zu %-7.3f %-20.20s %s\n", index + 1,
           json_number_value(json_object_get(result, "score")),
           json_string_value(json_object_get(product, "sku")) ?: "",
           json_string_value(json_object_get(product, "name")) ?: "");
  }
}

int visor_cmd_search(int argc, char **argv) {
  const char *image = NULL, *url = getenv("VISOR_URL"), *k = "5", *wait = "30";
  int as_json = 0;
  if (!url) url = "http://localhost:8080";
  CURL *curl = curl_easy_init();
  curl_mime *form = curl_mime_init(curl);
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    int has_value = i + 1 < argc;
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      printf("%s", usage);
      curl_mime_free(form);
      curl_easy_cleanup(curl);
      return 0;
    } else if (!strcmp(arg, "--json")) {
      as_json = 1;
    } else if ((!strcmp(arg, "--url") || !strcmp(arg, "--k") || !strcmp(arg, "--category") ||
                !strcmp(arg, "--label") || !strcmp(arg, "--wait")) &&
               has_value) {
      const char *value = argv[++i];
      if (!strcmp(arg, "--url"))
        url = value;
      else if (!strcmp(arg, "--k"))
        k = value;
      else if (!strcmp(arg, "--wait"))
        wait = value;
      else {
        curl_mimepart *part = curl_mime_addpart(form);
        curl_mime_name(part, arg + 2);
        curl_mime_data(part, value, CURL_ZERO_TERMINATED);
      }
    } else if (arg[0] != '-' && !image) {
      image = arg;
    } else {
      fprintf(stderr, "visor search: unexpected argument '%s'\n%s", arg, usage);
      curl_mime_free(form);
      curl_easy_cleanup(curl);
      return 2;
    }
  }
  FILE *probe = image ? fopen(image, "rb") : NULL;
  if (!probe) {
    fprintf(stderr, "visor search: %s\n%s", image ? "cannot read the image file" : "no IMAGE given",
            image ? "" : usage);
    curl_mime_free(form);
    curl_easy_cleanup(curl);
    return 2;
  }
  fclose(probe);
  curl_mimepart *part = curl_mime_addpart(form);
  curl_mime_name(part, "image");
  curl_mime_filedata(part, image);
  part = curl_mime_addpart(form);
  curl_mime_name(part, "k");
  curl_mime_data(part, k, CURL_ZERO_TERMINATED);
  char endpoint[1024];
  snprintf(endpoint, sizeof endpoint, "%s/api/v1/searches?wait=%s", url, wait);
  body response = {0};
  curl_easy_setopt(curl, CURLOPT_URL, endpoint);
  curl_easy_setopt(curl, CURLOPT_MIMEPOST, form);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_mime_free(form);
  curl_easy_cleanup(curl);
  int exit_code = 0;
  json_t *search = response.data ? json_loads(response.data, 0, NULL) : NULL;
  if (rc != CURLE_OK) {
    fprintf(stderr, "visor search: cannot reach %s: %s\n", url, curl_easy_strerror(rc));
    exit_code = 1;
  } else if (status >= 400 || !search) {
    const char *message =
        json_string_value(json_object_get(json_object_get(search, "error"), "message"));
    fprintf(stderr, "visor search: the server answered %ld: %s\n", status,
            message         ? message
            : response.data ? response.data
                            : "");
    exit_code = status >= 400 && status < 500 ? 2 : 1;
  } else if (as_json) {
    char *text = json_dumps(search, JSON_INDENT(2));
    printf("%s\n", text);
    free(text);
  } else if (status == 202) {
    printf("search %s is still %s; poll %s/api/v1/searches/%s\n",
           json_string_value(json_object_get(search, "id")),
           json_string_value(json_object_get(search, "status")), url,
           json_string_value(json_object_get(search, "id")));
  } else {
    print_table(search);
  }
  json_decref(search);
  free(response.data);
  return exit_code;
}
