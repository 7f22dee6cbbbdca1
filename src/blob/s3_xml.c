/* s3_xml.c: reads the XML answers of S3 (errors, InitiateMultipartUpload,
 * CompleteMultipartUpload, ListObjectsV2, ListMultipartUploads) with libxml2. Elements are
 * matched by local name, so the S3 namespace (or its absence) does not matter. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob/s3_client.h"

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void init_xml(void) {
  xmlInitParser();
}

static xmlDocPtr parse(const char *body, size_t len) {
  pthread_once(&xml_once, init_xml);
  if (!body || len == 0 || len > (size_t)0x7fffffff) return NULL;
  return xmlReadMemory(body, (int)len, NULL, NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static int named(xmlNodePtr node, const char *name) {
  return node->type == XML_ELEMENT_NODE && strcmp((const char *)node->name, name) == 0;
}

static xmlNodePtr find(xmlNodePtr node, const char *name) {
  for (; node; node = node->next) {
    if (named(node, name)) return node;
    xmlNodePtr found = find(node->children, name);
    if (found) return found;
  }
  return NULL;
}

static xmlNodePtr child(xmlNodePtr node, const char *name) {
  for (xmlNodePtr c = node ? node->children : NULL; c; c = c->next)
    if (named(c, name)) return c;
  return NULL;
}

static void copy_text(xmlNodePtr node, char *out, size_t size) {
  out[0] = '\0';
  if (!node || size == 0) return;
  xmlChar *text = xmlNodeGetContent(node);
  if (text) snprintf(out, size, "%s", (const char *)text);
  xmlFree(text);
}

void s3_xml_error(const char *body, size_t len, char *code, size_t code_size, char *message,
                  size_t message_size) {
  code[0] = message[0] = '\0';
  xmlDocPtr doc = parse(body, len);
  if (!doc) return;
  xmlNodePtr root = xmlDocGetRootElement(doc);
  if (root && named(root, "Error")) {
    copy_text(child(root, "Code"), code, code_size);
    copy_text(child(root, "Message"), message, message_size);
  }
  xmlFreeDoc(doc);
}

char *s3_xml_find(const char *body, size_t len, const char *name) {
  xmlDocPtr doc = parse(body, len);
  if (!doc) return NULL;
  xmlNodePtr node = find(xmlDocGetRootElement(doc), name);
  char *out = NULL;
  if (node) {
    xmlChar *text = xmlNodeGetContent(node);
    if (text) out = strdup((const char *)text);
    xmlFree(text);
  }
  xmlFreeDoc(doc);
  return out;
}

int s3_xml_root_is(const char *body, size_t len, const char *name) {
  xmlDocPtr doc = parse(body, len);
  if (!doc) return 0;
  xmlNodePtr root = xmlDocGetRootElement(doc);
  int is = root && named(root, name);
  xmlFreeDoc(doc);
  return is;
}

int s3_xml_items(const char *body, size_t len, const char *item, const char *field_a,
                 const char *field_b, const char *field_c, s3_xml_item_fn fn, void *ctx,
                 int *truncated) {
  *truncated = 0;
  xmlDocPtr doc = parse(body, len);
  if (!doc) return -1;
  xmlNodePtr root = xmlDocGetRootElement(doc);
  char flag[16];
  copy_text(child(root, "IsTruncated"), flag, sizeof flag);
  *truncated = strcmp(flag, "true") == 0;
  int stopped = 0;
  char a[1024], b[1024], c[64] = "";
  for (xmlNodePtr node = root ? root->children : NULL; node && !stopped; node = node->next) {
    if (!named(node, item)) continue;
    copy_text(child(node, field_a), a, sizeof a);
    copy_text(child(node, field_b), b, sizeof b);
    if (field_c) copy_text(child(node, field_c), c, sizeof c);
    stopped = fn(ctx, a, b, c) != 0;
  }
  xmlFreeDoc(doc);
  return stopped;
}

int64_t s3_xml_time_ms(const char *text) {
  int year, month, day, hour, minute;
  double second;
  char zone = 0;
  if (!text ||
      sscanf(text, "%4d-%2d-%2dT%2d:%2d:%lf%c", &year, &month, &day, &hour, &minute, &second,
             &zone) != 7 ||
      zone != 'Z' || month < 1 || month > 12 || day < 1 || day > 31 || second < 0 || second > 61)
    return 0;
  struct tm tm = {.tm_year = year - 1900,
                  .tm_mon = month - 1,
                  .tm_mday = day,
                  .tm_hour = hour,
                  .tm_min = minute};
  time_t whole = timegm(&tm);
  if (whole == (time_t)-1) return 0;
  return (int64_t)whole * 1000 + (int64_t)(second * 1000 + 0.5);
}
