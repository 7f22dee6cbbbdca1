/* cmd_tune.c: `visor tune`: fits a catalogue projection from every product with at least 2
 * indexed images and re-projects the index from the kept raw embeddings, without running
 * a model (pipeline/retune.h); the old version serves until the new one is complete. Run
 * it where the vector store can be opened: with hnsw:// while no other process holds the
 * folder (stop `visor serve`), with chroma:// at any time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "pipeline/pipeline.h"
#include "pipeline/retune.h"
#include "pipeline/tuned.h"

static int take_number(const char *name, const char *value, double min, double max, double *out) {
  char *end = NULL;
  double number = value ? strtod(value, &end) : 0;
  if (!value || !*value || *end || number < min || number > max) {
    fprintf(stderr, "visor tune: %s '%s' must be a number in [%g, %g]\n", name, value ? value : "",
            min, max);
    return 0;
  }
  *out = number;
  return 1;
}

int visor_cmd_tune(int argc, char **argv) {
  visor_retune_options options;
  visor_retune_options_default(&options);
  int kept = 0;
  for (int i = 0; i < argc; i++) {
    double number = 0;
    if (strcmp(argv[i], "--keep-previous") == 0) {
      options.keep_previous = 1;
    } else if (strcmp(argv[i], "--dim") == 0) {
      if (!take_number("--dim", i + 1 < argc ? argv[++i] : NULL, 1, 4096, &number)) return 2;
      options.fit.out_dim = (size_t)number;
    } else if (strcmp(argv[i], "--shrinkage") == 0) {
      if (!take_number("--shrinkage", i + 1 < argc ? argv[++i] : NULL, 0, 1, &number)) return 2;
      options.fit.shrinkage = number;
    } else {
      argv[kept++] = argv[i];
    }
  }
  visor_config config;
  int done = visor_cli_load_config("tune", kept, argv, &config);
  if (done >= 0) {
    if (done == 0)
      printf("Tune options:\n"
             "  --dim N           projected dimensions (default 80, at most products - 1)\n"
             "  --shrinkage A     within-class scatter shrinkage 0..1 (default 0.1)\n"
             "  --keep-previous   leave the previous version's vectors in place\n");
    return done;
  }
  visor_error err = {0};
  visor_app app;
  if (visor_app_open(&app, &config, VISOR_PIPELINE_APP_PARTS, VISOR_APP_REQUIRE_LATEST, &err) !=
      VISOR_OK) {
    fprintf(stderr, "visor tune: %s\n", err.message);
    visor_config_free(&config);
    return visor_cli_exit_code(&err);
  }
  visor_retune_report report;
  int status = 0;
  if (visor_tuned_create(&app, 1, &err) != VISOR_OK ||
      visor_tuned_refresh(&app, &err) != VISOR_OK ||
      visor_retune(&app, &options, &report, &err) != VISOR_OK) {
    fprintf(stderr, "visor tune: %s\n", err.message);
    status = visor_cli_exit_code(&err);
  } else {
    printf("projection v%lld of %s is current (previous v%lld): fitted on %zu regions of %zu "
           "images of %zu products in %.1f s; %zu vectors re-projected in %.1f s; fusion "
           "weights seen %.1f / unseen %.1f (split inside the fit: seen top-1 %.3f vs raw "
           "%.3f, unseen top-1 %.3f vs raw %.3f)\n",
           (long long)report.version, app.embedder_model, (long long)report.previous_version,
           report.fit_samples, report.fit_images, report.products, report.fit_seconds,
           report.projected_vectors, report.project_seconds, report.fusion.seen_weight,
           report.fusion.unseen_weight, report.fusion.seen_top1, report.fusion.raw_seen_top1,
           report.fusion.unseen_top1, report.fusion.raw_unseen_top1);
  }
  visor_app_close(&app);
  visor_config_free(&config);
  return status;
}
