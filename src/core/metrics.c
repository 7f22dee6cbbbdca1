/* metrics.c: the process-wide metrics registry (counters, gauges, latency histograms)
 * and its Prometheus text rendering. A mutex guards a small array of series; metric
 * traffic is a few updates per request, so this is not a hot path. */
#include "core/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

static const double bucket_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define BUCKET_COUNT (sizeof bucket_bounds / sizeof bucket_bounds[0])

typedef struct metric_series {
  char *name;
  char *help;
  char *labels; /* "" when none */
  enum metric_kind kind;
  double value; /* counter / gauge value; histogram sum */
  unsigned long long buckets[BUCKET_COUNT];
  unsigned long long count;
} metric_series;

typedef struct metric_collector {
  visor_metrics_collector collect;
  void *ctx;
} metric_collector;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static metric_series *series;
static size_t series_count, series_capacity;
static metric_collector *collectors;
static size_t collector_count;

static char *copy_string(const char *text) {
  return strdup(text ? text : "");
}

/* Finds or creates a series; called with the lock held. */
static metric_series *find_series(const char *name, const char *help, const char *labels,
                                  enum metric_kind kind) {
  const char *label_text = labels ? labels : "";
  for (size_t i = 0; i < series_count; i++)
    if (strcmp(series[i].name, name) == 0 && strcmp(series[i].labels, label_text) == 0)
      return &series[i];
  if (series_count == series_capacity) {
    size_t capacity = series_capacity ? series_capacity * 2 : 64;
    metric_series *grown = realloc(series, capacity * sizeof *grown);
    if (!grown) return NULL;
    series = grown;
    series_capacity = capacity;
  }
  metric_series *entry = &series[series_count];
  memset(entry, 0, sizeof *entry);
  entry->name = copy_string(name);
  entry->help = copy_string(help);
  entry->labels = copy_string(label_text);
  entry->kind = kind;
  if (!entry->name || !entry->help || !entry->labels) {
    free(entry->name);
    free(entry->help);
    free(entry->labels);
    return NULL;
  }
  series_count++;
  return entry;
}

void visor_metrics_counter_add(const char *name, const char *help, const char *labels,
                               double value) {
  pthread_mutex_lock(&registry_lock);
  metric_series *entry = find_series(name, help, labels, METRIC_COUNTER);
  if (entry) entry->value += value;
  pthread_mutex_unlock(&registry_lock);
}

void visor_metrics_gauge_set(const char *name, const char *help, const char *labels, double value) {
  pthread_mutex_lock(&registry_lock);
  metric_series *entry = find_series(name, help, labels, METRIC_GAUGE);
  if (entry) entry->value = value;
  pthread_mutex_unlock(&registry_lock);
}

void visor_metrics_observe(const char *name, const char *help, const char *labels, double seconds) {
  pthread_mutex_lock(&registry_lock);
  metric_series *entry = find_series(name, help, labels, METRIC_HISTOGRAM);
  if (entry) {
    for (size_t i = 0; i < BUCKET_COUNT; i++)
      if (seconds <= bucket_bounds[i]) entry->buckets[i]++;
    entry->count++;
    entry->value += seconds;
  }
  pthread_mutex_unlock(&registry_lock);
}

void visor_metrics_add_collector(visor_metrics_collector collect, void *ctx) {
  pthread_mutex_lock(&registry_lock);
  metric_collector *grown = realloc(collectors, (collector_count + 1) * sizeof *grown);
  if (grown) {
    collectors = grown;
    collectors[collector_count++] = (metric_collector){collect, ctx};
  }
  pthread_mutex_unlock(&registry_lock);
}

static const char *kind_name(enum metric_kind kind) {
  return kind == METRIC_COUNTER ? "counter" : kind == METRIC_GAUGE ? "gauge" : "histogram";
}

/* Writes "name{labels,extra} value"; extra may be NULL. */
static void render_sample(visor_strbuf *out, const char *name, const char *suffix,
                          const char *labels, const char *extra, double value) {
  visor_strbuf_appendf(out, "%s%s", name, suffix);
  int has_labels = labels[0] != '\0';
  if (has_labels || extra)
    visor_strbuf_appendf(out, "{%s%s%s}", labels, has_labels && extra ? "," : "",
                         extra ? extra : "");
  visor_strbuf_appendf(out, " %.17g\n", value);
}

char *visor_metrics_render(void) {
  pthread_mutex_lock(&registry_lock);
  size_t count = collector_count;
  metric_collector *snapshot = count ? malloc(count * sizeof *snapshot) : NULL;
  if (snapshot) memcpy(snapshot, collectors, count * sizeof *snapshot);
  pthread_mutex_unlock(&registry_lock);
  for (size_t i = 0; snapshot && i < count; i++)
    snapshot[i].collect(snapshot[i].ctx);
  free(snapshot);

  visor_strbuf out;
  visor_strbuf_init(&out);
  pthread_mutex_lock(&registry_lock);
  for (size_t i = 0; i < series_count; i++) {
    metric_series *entry = &series[i];
    int first_of_name = 1;
    for (size_t j = 0; j < i; j++)
      if (strcmp(series[j].name, entry->name) == 0) first_of_name = 0;
    if (first_of_name)
      visor_strbuf_appendf(&out, "# HELP %s %s\n# TYPE %s %s\n", entry->name, entry->help,
                           entry->name, kind_name(entry->kind));
  }
  /* Group samples by name so each family is contiguous, as the format requires. */
  for (size_t i = 0; i < series_count; i++) {
    int first_of_name = 1;
    for (size_t j = 0; j < i; j++)
      if (strcmp(series[j].name, series[i].name) == 0) first_of_name = 0;
    if (!first_of_name) continue;
    for (size_t k = i; k < series_count; k++) {
      metric_series *entry = &series[k];
      if (strcmp(entry->name, series[i].name) != 0) continue;
      if (entry->kind != METRIC_HISTOGRAM) {
        render_sample(&out, entry->name, "", entry->labels, NULL, entry->value);
        continue;
      }
      for (size_t b = 0; b < BUCKET_COUNT; b++) {
        char le[48];
        snprintf(le, sizeof le, "le=\"%g\"", bucket_bounds[b]);
        render_sample(&out, entry->name, "_bucket", entry->labels, le, (double)entry->buckets[b]);
      }
      render_sample(&out, entry->name, "_bucket", entry->labels, "le=\"+Inf\"",
                    (double)entry->count);
      render_sample(&out, entry->name, "_sum", entry->labels, NULL, entry->value);
      render_sample(&out, entry->name, "_count", entry->labels, NULL, (double)entry->count);
    }
  }
  pthread_mutex_unlock(&registry_lock);
  return visor_strbuf_take(&out);
}

void visor_metrics_reset(void) {
  pthread_mutex_lock(&registry_lock);
  for (size_t i = 0; i < series_count; i++) {
    free(series[i].name);
    free(series[i].help);
    free(series[i].labels);
  }
  free(series);
  series = NULL;
  series_count = series_capacity = 0;
  free(collectors);
  collectors = NULL;
  collector_count = 0;
  pthread_mutex_unlock(&registry_lock);
}
