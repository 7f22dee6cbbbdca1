/* metrics.h: a process-wide registry of counters, gauges and histograms, exported in the
 * Prometheus text format (GET /metrics). Series are identified by name + label string. */
#ifndef VISOR_CORE_METRICS_H
#define VISOR_CORE_METRICS_H

#include <stddef.h>

/* labels: Prometheus label body without braces, e.g. "method=\"GET\",status=\"200\"", or
 * NULL. help is used the first time a name is seen. All functions are thread-safe. */
void visor_metrics_counter_add(const char *name, const char *help, const char *labels,
                               double value);
void visor_metrics_gauge_set(const char *name, const char *help, const char *labels, double value);
/* Histogram with fixed latency buckets in seconds (5ms .. 30s). */
void visor_metrics_observe(const char *name, const char *help, const char *labels, double seconds);

/* A callback run before each export, to refresh gauges (e.g. queue depths). */
typedef void (*visor_metrics_collector)(void *ctx);
void visor_metrics_add_collector(visor_metrics_collector collector, void *ctx);

/* Returns a malloc'd string in the Prometheus text exposition format. */
char *visor_metrics_render(void);
/* Drops every series and collector (tests, shutdown). */
void visor_metrics_reset(void);

#endif
