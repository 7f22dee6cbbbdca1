/* test_postgres_outage.c: the postgres:// backend while its server goes away and comes back.
 * Stops the real test server with the script named by VISOR_TEST_POSTGRES_SCRIPT
 * (scripts/servers/postgres.sh), checks that calls fail with VISOR_ERR_UNAVAILABLE within
 * seconds (no hang), that a transaction cut by the outage is refused until rolled back, then
 * restarts the server and checks that the same visor_db works again (reconnect); then
 * freezes the server (SIGSTOP: connected but silent) and checks the same within the timeouts.
 * Also: concurrent migrations of a fresh database (it needs the script's newdb).
 * Without VISOR_TEST_POSTGRES_SCRIPT it exits 77 (skipped). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/uuid.h"
#include "store/jobs.h"
#include "store/migrate.h"

#define MAX_FAIL_SECONDS 8.0

static const char *script;
static visor_db *db;
static char url[600];

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Runs `script ARGS`; returns the last line of its stdout in out (if given). */
static int run_script(const char *args, char *out, size_t size) {
  char command[1200];
  snprintf(command, sizeof command, "bash '%s' %s", script, args);
  FILE *pipe = popen(command, "r");
  if (!pipe) return -1;
  char line[600];
  while (fgets(line, sizeof line, pipe)) {
    line[strcspn(line, "\n")] = '\0';
    if (out && *line) snprintf(out, size, "%s", line);
  }
  return pclose(pipe);
}

static visor_code count_jobs(visor_db_conn *conn, int64_t *count, visor_error *err) {
  visor_db_rows rows;
  visor_code code =
      visor_db_exec(conn, "SELECT COUNT(*) AS n FROM jobs", NULL, 0, &rows, NULL, err);
  if (code == VISOR_OK) *count = visor_db_int(&rows, 0, "n");
  visor_db_rows_free(&rows);
  return code;
}

static void outage_gives_unavailable_then_reconnects(void **state) {
  (void)state;
  visor_error err = {0};
  /* Warm the pool: three connections open, one held in a transaction across the outage. */
  visor_db_conn *idle[2];
  for (int i = 0; i < 2; i++) {
    idle[i] = visor_db_acquire(db, &err);
    assert_non_null(idle[i]);
  }
  for (int i = 0; i < 2; i++)
    visor_db_release(idle[i]);
  visor_db_conn *tx = visor_db_acquire(db, &err);
  assert_non_null(tx);
  assert_int_equal(visor_db_begin(tx, &err), VISOR_OK);
  char id[40];
  visor_uuid_new(id);
  assert_int_equal(visor_job_insert(tx, id, "outage", NULL, NULL, 1, &err), VISOR_OK);

  assert_int_equal(run_script("down", NULL, 0), 0);

  /* The held transaction: UNAVAILABLE, and again until ROLLBACK (never silently reconnected). */
  double start = now_s();
  assert_int_equal(visor_job_insert(tx, id, "outage", NULL, NULL, 1, &err), VISOR_ERR_UNAVAILABLE);
  assert_non_null(strstr(err.message, "127.0.0.1"));
  assert_int_equal(visor_db_commit(tx, &err), VISOR_ERR_UNAVAILABLE);
  visor_db_rollback(tx);
  visor_db_release(tx);
  /* Pooled connections and new ones: UNAVAILABLE, promptly. */
  for (int i = 0; i < 4; i++) {
    visor_db_conn *conn = visor_db_acquire(db, &err);
    int64_t count = 0;
    visor_code code = conn ? count_jobs(conn, &count, &err) : err.code;
    assert_int_equal(code, VISOR_ERR_UNAVAILABLE);
    visor_db_release(conn);
  }
  assert_int_equal(visor_migrate(db, NULL, &err), VISOR_ERR_UNAVAILABLE);
  /* a caller with no error to fill gets the code all the same (it was read through NULL) */
  int64_t version = 0;
  assert_int_equal(visor_schema_version(db, &version, NULL), VISOR_ERR_UNAVAILABLE);
  assert_int_equal(visor_migrate(db, NULL, NULL), VISOR_ERR_UNAVAILABLE);
  double elapsed = now_s() - start;
  print_message("calls while the server is down failed in %.3f s: %s\n", elapsed, err.message);
  assert_true(elapsed < MAX_FAIL_SECONDS);

  assert_int_equal(run_script("up", NULL, 0), 0);

  /* The same visor_db works again, on every connection, from the first call. */
  visor_db_conn *conns[3];
  for (int i = 0; i < 3; i++) {
    conns[i] = visor_db_acquire(db, &err);
    assert_non_null(conns[i]);
  }
  for (int i = 0; i < 3; i++) {
    int64_t count = -1;
    assert_int_equal(count_jobs(conns[i], &count, &err), VISOR_OK);
    assert_int_equal(count, 0); /* the cut transaction left nothing */
  }
  visor_uuid_new(id);
  assert_int_equal(visor_job_insert(conns[0], id, "after", NULL, NULL, 1, &err), VISOR_OK);
  for (int i = 0; i < 3; i++)
    visor_db_release(conns[i]);
}

/* A server that stops answering (SIGSTOP): bounded by ?timeout= and connect_timeout. */
static void frozen_server_gives_unavailable_then_recovers(void **state) {
  (void)state;
  char quick_url[700];
  snprintf(quick_url, sizeof quick_url, "%s?timeout=2&connect_timeout=2", url);
  visor_error err = {0};
  visor_db *quick = visor_db_open(quick_url, &err);
  assert_non_null(quick);
  visor_db_conn *conn = visor_db_acquire(quick, &err);
  int64_t count = 0;
  assert_int_equal(count_jobs(conn, &count, &err), VISOR_OK);
  assert_int_equal(run_script("freeze", NULL, 0), 0);
  double start = now_s();
  visor_code code = count_jobs(conn, &count, &err);
  double exec_s = now_s() - start;
  visor_db_release(conn);
  start = now_s();
  visor_db_conn *again = visor_db_acquire(quick, &err);
  visor_code acquire_code = again ? VISOR_OK : err.code;
  double acquire_s = now_s() - start;
  visor_db_release(again);
  assert_int_equal(run_script("thaw", NULL, 0), 0); /* before any assert can leave it frozen */
  print_message("frozen server: exec failed in %.2f s, reconnect in %.2f s: %s\n", exec_s,
                acquire_s, err.message);
  assert_int_equal(code, VISOR_ERR_UNAVAILABLE);
  assert_true(exec_s < MAX_FAIL_SECONDS);
  assert_int_equal(acquire_code, VISOR_ERR_UNAVAILABLE);
  assert_true(acquire_s < MAX_FAIL_SECONDS);
  conn = visor_db_acquire(quick, &err);
  assert_non_null(conn);
  assert_int_equal(count_jobs(conn, &count, &err), VISOR_OK);
  visor_db_release(conn);
  visor_db_close(quick);
}

typedef struct migrate_run {
  visor_db *db;
  int applied;
  visor_code code;
  char message[512];
} migrate_run;

static void *migrate_thread(void *arg) {
  migrate_run *run = arg;
  visor_error err = {0};
  run->code = visor_migrate(run->db, &run->applied, &err);
  snprintf(run->message, sizeof run->message, "%s", err.message);
  return NULL;
}

/* Three processes' pools migrating one empty database at once: the advisory lock makes
 * them take turns, so each migration runs exactly once and none fails. */
static void concurrent_migrations_take_turns(void **state) {
  (void)state;
  char fresh[600] = "";
  assert_int_equal(run_script("newdb visor_test_migrate", fresh, sizeof fresh), 0);
  migrate_run runs[3] = {0};
  pthread_t threads[3];
  for (int i = 0; i < 3; i++) {
    visor_error err = {0};
    runs[i].db = visor_db_open(fresh, &err);
    assert_non_null(runs[i].db);
  }
  for (int i = 0; i < 3; i++)
    pthread_create(&threads[i], NULL, migrate_thread, &runs[i]);
  int applied = 0;
  for (int i = 0; i < 3; i++) {
    pthread_join(threads[i], NULL);
    if (runs[i].code != VISOR_OK) print_message("migration %d: %s\n", i, runs[i].message);
    assert_int_equal(runs[i].code, VISOR_OK);
    applied += runs[i].applied;
  }
  assert_int_equal(applied, (int)visor_migration_count);
  for (int i = 0; i < 3; i++)
    visor_db_close(runs[i].db);
}

int main(void) {
  script = getenv("VISOR_TEST_POSTGRES_SCRIPT");
  if (!script || !*script) {
    fprintf(stderr, "VISOR_TEST_POSTGRES_SCRIPT is not set: skipped\n");
    return 77;
  }
  if (run_script("up", NULL, 0) != 0 ||
      run_script("newdb visor_test_outage", url, sizeof url) != 0 || !*url) {
    fprintf(stderr, "cannot start the postgres test server with %s\n", script);
    return 1;
  }
  visor_error err = {0};
  db = visor_db_open(url, &err);
  if (!db || visor_migrate(db, NULL, &err) != VISOR_OK) {
    fprintf(stderr, "cannot open %s: %s\n", url, err.message);
    visor_db_close(db);
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(outage_gives_unavailable_then_reconnects),
      cmocka_unit_test(frozen_server_gives_unavailable_then_recovers),
      cmocka_unit_test(concurrent_migrations_take_turns),
  };
  int failed = cmocka_run_group_tests_name(url, tests, NULL, NULL);
  visor_db_close(db);
  run_script("thaw", NULL, 0); /* leave the server up for whoever comes next */
  run_script("up", NULL, 0);
  return failed;
}
