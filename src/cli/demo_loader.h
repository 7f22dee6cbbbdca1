/* demo_loader.h: `visor serve --demo DIR`: once the server listens, a background thread
 * imports the Grocery Store data set's 81 products at DIR through the server's own REST
 * API (the importer of `visor import`), so a new user sees search working a minute later.
 * Products already there are skipped, so every start with --demo is cheap. */
#ifndef VISOR_CLI_DEMO_LOADER_H
#define VISOR_CLI_DEMO_LOADER_H

#include "core/error.h"

typedef struct visor_demo_loader visor_demo_loader;

/* Reads the data set and starts the import against http://127.0.0.1:port. */
visor_demo_loader *visor_demo_start(const char *dataset_dir, int port, visor_error *err);
/* Stops starting products, waits for the thread and frees; NULL is fine. */
void visor_demo_stop(visor_demo_loader *loader);

#endif
