/* report.c: printing evaluation results as a table or as JSON (see eval.h). */
#include <jansson.h>
#include <stdlib.h>

#include "eval/eval.h"

static double rate(size_t count, double seconds) {
  return seconds > 0 ? (double)count / seconds : 0;
}

void visor_eval_print_table(FILE *out, const visor_eval_report *reports, size_t count, int k) {
  char topk[16], coarse_topk[24];
  snprintf(topk, sizeof topk, "top-%d", k);
  snprintf(coarse_topk, sizeof coarse_topk, "coarse-%d", k);
  fprintf(out, "%-13s %8s %7s %7s %6s %6s %8s %8s %6s %11s %10s\n", "catalogue", "products",
          "images", "queries", "top-1", topk, "coarse-1", coarse_topk, "mAP", "index img/s",
          "search q/s");
  for (size_t i = 0; i < count; i++) {
    const visor_eval_report *r = &reports[i];
    visor_eval_scores s = visor_eval_metrics_scores(&r->metrics);
    fprintf(out, "%-13s %8zu %7zu %7zu %6.3f %6.3f %8.3f %8.3f %6.3f %11.1f %10.1f\n",
            visor_eval_catalogue_name(r->catalogue), r->products, r->images, r->queries,
            s.fine_top1, s.fine_topk, s.coarse_top1, s.coarse_topk, s.map,
            rate(r->images, r->index_seconds), rate(r->queries, r->search_seconds));
  }
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
    json_object_set_new(run, coarse_topk, json_real(s.coarse_topk));
    json_array_append_new(runs, run);
  }
  json_t *root = json_pack("{s:s, s:i, s:o}", "dataset", dataset_dir, "k", k, "catalogues", runs);
  char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
  if (text) fprintf(out, "%s\n", text);
  free(text);
  json_decref(root);
}
