/* sweeper.c: the orphan sweeper (see sweeper.h). A sweep lists the catalogue objects
 * first and only then reads which keys rows own, so an object whose rows commit during
 * the listing counts as owned; only objects older than the grace period are candidates. */
#include "service/sweeper.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/periodic.h"
#include "service/owners.h"

#define REMOVED_METRIC "visor_sweeper_removed_total"
#define REMOVED_HELP "objects without a row and temp files the orphan sweeper removed"

typedef struct candidates {
  int64_t cutoff_ms;
  GPtrArray *keys; /* old enough; owned or not is decided after the listing */
  size_t objects, young_unknown;
} candidates;

static int collect_old(void *ctx, const char *key, uint64_t size, int64_t modified_ms) {
  (void)size;
  candidates *c = ctx;
  c->objects++;
  if (modified_ms > 0 && modified_ms < c->cutoff_ms)
    g_ptr_array_add(c->keys, g_strdup(key));
  else
    c->young_unknown++; /* young (or an age the store cannot give): kept */
  return 0;
}

visor_code visor_sweep_once(visor_app *app, int64_t grace_ms, visor_sweep_report *report,
                            visor_error *err) {
  memset(report, 0, sizeof *report);
  int64_t cutoff = visor_now_ms() - (grace_ms > 0 ? grace_ms : 0);
  visor_code code = visor_blob_sweep_temp(app->blobs, cutoff, &report->temp_removed, err);
  if (report->temp_removed)
    visor_metrics_counter_add(REMOVED_METRIC, REMOVED_HELP, "what=\"temp\"",
                              (double)report->temp_removed);
  if (code != VISOR_OK) return visor_error_wrap(err, "sweeping temp files");
  candidates c = {.cutoff_ms = cutoff, .keys = g_ptr_array_new_with_free_func(g_free)};
  code = visor_list_catalogue_objects(app, collect_old, &c, err);
  GHashTable *owned = NULL;
  if (code == VISOR_OK) code = visor_owned_objects(app, &owned, NULL, err);
  report->objects = c.objects;
  for (guint i = 0; code == VISOR_OK && i < c.keys->len; i++) {
    const char *key = g_ptr_array_index(c.keys, i);
    if (g_hash_table_contains(owned, key)) continue;
    visor_error failed = {0};
    if (visor_blob_remove(app->blobs, key, &failed) == VISOR_OK)
      report->orphans++;
    else
      visor_log_warn("sweeper: cannot remove orphan %s: %s", key, failed.message);
  }
  report->young = c.young_unknown;
  if (report->orphans)
    visor_metrics_counter_add(REMOVED_METRIC, REMOVED_HELP, "what=\"object\"",
                              (double)report->orphans);
  if (owned) g_hash_table_destroy(owned);
  g_ptr_array_free(c.keys, TRUE);
  return code;
}

struct visor_sweeper {
  visor_app *app;
  int64_t grace_ms;
  visor_periodic *thread;
};

static void sweep_pass(void *arg) {
  visor_sweeper *sweeper = arg;
  visor_sweep_report report;
  visor_error err = {0};
  if (visor_sweep_once(sweeper->app, sweeper->grace_ms, &report, &err) != VISOR_OK)
    visor_log_warn("sweeper: %s", err.message);
  else if (report.orphans || report.temp_removed)
    visor_log_info("sweeper: removed %zu objects without a row and %zu temp files (%zu listed)",
                   report.orphans, report.temp_removed, report.objects);
}

visor_sweeper *visor_sweeper_start(visor_app *app, double period_s, double grace_s,
                                   visor_error *err) {
  visor_sweeper *sweeper = calloc(1, sizeof *sweeper);
  if (!sweeper) {
    visor_error_set(err, VISOR_ERR_NOMEM, "no memory for the sweeper");
    return NULL;
  }
  sweeper->app = app;
  sweeper->grace_ms = (int64_t)(grace_s * 1000);
  sweeper->thread =
      visor_periodic_start("sweeper", (int64_t)(period_s * 1000), sweep_pass, sweeper, err);
  if (!sweeper->thread) {
    free(sweeper);
    return NULL;
  }
  return sweeper;
}

void visor_sweeper_stop(visor_sweeper *sweeper) {
  if (!sweeper) return;
  visor_periodic_stop(sweeper->thread);
  free(sweeper);
}
