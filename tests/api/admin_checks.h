/* admin_checks.h: checks shared by the admin API tests (test_admin, test_admin_boxes,
 * test_reindex, test_review): wait for the queue to drain, an expected JSON error, the
 * metadata store and the index agreeing (`visor check`), an answer's audit id. */
#ifndef VISOR_TESTS_ADMIN_CHECKS_H
#define VISOR_TESTS_ADMIN_CHECKS_H

#include <stddef.h>

#include "app/app.h"
#include "http_client.h"

/* Waits until no job is queued or running (fails the test after timeout_s). */
void wait_for_jobs(int timeout_s);

/* Checks res is that status with that error code, then frees it. */
void expect_error(test_response *res, long status, const char *code);

/* Waits for the jobs, then checks `visor check` finds no problem in app. */
void expect_consistent_app(visor_app *app);

/* The audit entry id of a correction's answer (36 characters, else the test fails). */
void audit_id_of(const test_response *res, char out[40]);

/* Appends "--metadata URL" / "--vectors URL" to options from the environment variables
 * PREFIX_METADATA_URL and PREFIX_VECTOR_URL when they are set (PostgreSQL, Chroma runs). */
void add_backend_options(const char *prefix, char **options, int *count);

/* How many vectors app's index holds. */
size_t vector_count_app(visor_app *app);

#endif
