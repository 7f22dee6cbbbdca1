/* report.c: printing evaluation results as a table or as JSON (see eval.h). */
#include <jansson.h>
#include <stdlib.h>

#include "eval/eval.h"

static double rate(size_t count, double seconds) {
  return seconds > 0 ? (double)count / seconds : 0;
}

/* The row name: the catalogue, "+tune" for a tuned run, "unseen" rows for that report. */
static void row_name(const visor_eval_report *r, int raw, char *out, size_t size) {
  if (r->unseen)
    snprintf(out, size, "unseen %s", raw ? "raw" : "tuned");
  else
    snprintf(out, size, "%s%s", visor_eval_catalogue_name(r->catalogue), r->tuned ? " tuned" : "");
}

static void print_row(FILE *out, const visor_eval_report *r, const visor_eval_metrics *metrics,
                      int raw) {
  char name[40];
  row_name(r, raw, name, sizeof name);
  visor_eval_scores s = visor_eval_metrics_scores(metrics);
  fprintf(out, "%-19s %8zu %7zu %7zu %6.3f %6.3f %8.3f %8.3f %6.3f %11.1f %10.1f\n", name,
          r->products, r->images, metrics->queries, s.fine_top1, s.fine_topk, s.coarse_top1,
          s.coarse_topk, s.map, rate(r->images, r->index_seconds),
          rate(r->queries, r->search_seconds));
}

/* The fit and the most-confused pairs of the tuned runs (and of every run: confusions). */
static void print_details(FILE *out, const visor_eval_report *r) {
  char name[40];
  row_name(r, 0, name, sizeof name);
  if (r->tuned) {
    const visor_fusion_choice *f = &r->fusion;
    fprintf(out,
            "%s: projection fitted on %zu photos of %zu products (embedding %.1f s, fit %.1f s); "
            "fusion weights seen %.1f / unseen %.1f, unseen offset %.2f, chosen on a split inside "
            "them (%zu seen, "
            "%zu unseen queries): seen top-1 %.3f (raw %.3f, projection only %.3f), unseen "
            "top-1 %.3f (raw %.3f, projection only %.3f), unseen top-5 %.3f (raw %.3f)\n",
            name, r->fit_samples, r->fit_classes, r->embed_seconds, r->fit_seconds, f->seen_weight,
            f->unseen_weight, f->unseen_offset, f->seen_queries, f->unseen_queries, f->seen_top1,
            f->raw_seen_top1, f->projected_seen_top1, f->unseen_top1, f->raw_unseen_top1,
            f->projected_unseen_top1, f->unseen_top5, f->raw_unseen_top5);
  }
  if (r->confusion_count && r->dataset) {
    fprintf(out, "%s: most confused (truth -> first product, queries):", name);
    for (size_t i = 0; i < r->confusion_count; i++)
      fprintf(out, "%s %s -> %s %zu", i ? "," : "",
              r->dataset->classes[r->confusions[i].truth].name,
              r->dataset->classes[r->confusions[i].predicted].name, r->confusions[i].count);
    fprintf(out, "\n");
  }
}

/* --feedback: the held-out half before and after each kind of feedback. */
static void print_feedback(FILE *out, const visor_eval_report *r, int k) {
  const visor_eval_feedback_report *f = &r->feedback_report;
  fprintf(out,
          "%s feedback: %zu photos confirmed as references of their product (%.1f s), %zu wrong "
          "top-1 rejected (%.1f s); %zu held-out photos measured (analysis %.1f s)\n",
          visor_eval_catalogue_name(r->catalogue), f->confirmed, f->confirm_seconds, f->rejected,
          f->reject_seconds, f->held_out, f->analyze_seconds);
  fprintf(out, "%-19s %7s %6s %5s-%-2d %8s %8s %6s\n", "held-out half", "queries", "top-1", "top",
          k, "coarse-1", "coarse-k", "mAP");
  const struct {
    const char *name;
    const visor_eval_metrics *metrics;
  } rows[] = {{"before feedback", &f->before},
              {"after rejects", &f->after_reject},
              {"after confirms", &f->after_confirm},
              {"after both", &f->after_both}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    visor_eval_scores s = visor_eval_metrics_scores(rows[i].metrics);
    fprintf(out, "%-19s %7zu %6.3f %8.3f %8.3f %8.3f %6.3f\n", rows[i].name,
            rows[i].metrics->queries, s.fine_top1, s.fine_topk, s.coarse_top1, s.coarse_topk,
            s.map);
  }
  for (size_t i = 0; i < f->sweep_count; i++) {
    visor_eval_scores a = visor_eval_metrics_scores(&f->sweep_reject[i]);
    visor_eval_scores b = visor_eval_metrics_scores(&f->sweep_both[i]);
    fprintf(out,
            "demotion threshold %.2f: after rejects top-1 %.3f top-%d %.3f mAP %.3f; after both "
            "top-1 %.3f top-%d %.3f mAP %.3f\n",
            (double)f->sweep_thresholds[i], a.fine_top1, k, a.fine_topk, a.map, b.fine_top1, k,
            b.fine_topk, b.map);
  }
}

void visor_eval_print_table(FILE *out, const visor_eval_report *reports, size_t count, int k) {
  char topk[16], coarse_topk[24];
  snprintf(topk, sizeof topk, "top-%d", k);
  snprintf(coarse_topk, sizeof coarse_topk, "coarse-%d", k);
  fprintf(out, "%-19s %8s %7s %7s %6s %6s %8s %8s %6s %11s %10s\n", "catalogue", "products",
          "images", "queries", "top-1", topk, "coarse-1", coarse_topk, "mAP", "index img/s",
          "search q/s");
  for (size_t i = 0; i < count; i++) {
    if (reports[i].unseen) print_row(out, &reports[i], &reports[i].raw_metrics, 1);
    print_row(out, &reports[i], &reports[i].metrics, 0);
  }
  for (size_t i = 0; i < count; i++)
    print_details(out, &reports[i]);
  for (size_t i = 0; i < count; i++)
    if (reports[i].feedback) print_feedback(out, &reports[i], k);
  for (size_t i = 0; i < count; i++)
    if (reports[i].failed_images)
      fprintf(out, "warning: %zu catalogue image(s) of %s failed to index\n",
              reports[i].failed_images, visor_eval_catalogue_name(reports[i].catalogue));
}

void visor_eval_print_json(FILE *out, const char *dataset_dir, const visor_eval_report *reports,
                           size_t count, int k) {
  json_t *runs = json_array();
  char topk[16], coarse_topk[24];
  snprintf(topk, sizeof topk, "top%d", k);
  snprintf(coarse_topk, sizeof coarse_topk, "coarse_top%d", k);
  for (size_t i = 0; i < count; i++) {
    const visor_eval_report *r = &reports[i];
    visor_eval_scores s = visor_eval_metrics_scores(&r->metrics);
    json_t *run = json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "catalogue",
        visor_eval_catalogue_name(r->catalogue), "products", (json_int_t)r->products, "images",
        (json_int_t)r->images, "failed_images", (json_int_t)r->failed_images, "vectors",
        (json_int_t)r->vectors, "queries", (json_int_t)r->queries, "top1", s.fine_top1,
        "coarse_top1", s.coarse_top1, "map", s.map, "index_seconds", r->index_seconds,
        "index_images_per_s", rate(r->images, r->index_seconds), "search_seconds",
        r->search_seconds, "search_queries_per_s", rate(r->queries, r->search_seconds));
    json_object_set_new(run, topk, json_real(s.fine_topk));
    json_object_set_new(run, "tuned", json_boolean(r->tuned));
    if (r->unseen) {
      visor_eval_scores raw = visor_eval_metrics_scores(&r->raw_metrics);
      json_object_set_new(run, "report", json_string("unseen"));
      json_object_set_new(run, "raw_top1", json_real(raw.fine_top1));
      json_object_set_new(run, "raw_topk", json_real(raw.fine_topk));
    }
    if (r->tuned)
      json_object_set_new(
          run, "fusion",
          json_pack("{s:f, s:f, s:I, s:I}", "seen_weight", (double)r->fusion.seen_weight,
                    "unseen_weight", (double)r->fusion.unseen_weight, "fit_samples",
                    (json_int_t)r->fit_samples, "fit_classes", (json_int_t)r->fit_classes));
    json_object_set_new(run, coarse_topk, json_real(s.coarse_topk));
    if (r->feedback) {
      const visor_eval_feedback_report *f = &r->feedback_report;
      json_t *feedback =
          json_pack("{s:I, s:I, s:I, s:I}", "confirm_queries", (json_int_t)f->confirm_queries,
                    "held_out", (json_int_t)f->held_out, "confirmed", (json_int_t)f->confirmed,
                    "rejected", (json_int_t)f->rejected);
      const char *names[] = {"before", "after_reject", "after_confirm", "after_both"};
      const visor_eval_metrics *metrics[] = {&f->before, &f->after_reject, &f->after_confirm,
                                             &f->after_both};
      for (size_t m = 0; m < 4; m++) {
        visor_eval_scores fs = visor_eval_metrics_scores(metrics[m]);
        json_t *row = json_pack("{s:f, s:f, s:f}", "top1", fs.fine_top1, "coarse_top1",
                                fs.coarse_top1, "map", fs.map);
        json_object_set_new(row, topk, json_real(fs.fine_topk));
        json_object_set_new(feedback, names[m], row);
      }
      json_object_set_new(run, "feedback", feedback);
    }
    json_array_append_new(runs, run);
  }
  json_t *root = json_pack("{s:s, s:i, s:o}", "dataset", dataset_dir, "k", k, "catalogues", runs);
  char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
  if (text) fprintf(out, "%s\n", text);
  free(text);
  json_decref(root);
}
