/* test_hnsw_lock.c: an hnsw:// collection folder belongs to one open handle at a time: a
 * second open in the same process, or an open in another process while a forked child holds
 * it, is VISOR_ERR_UNAVAILABLE with a message that says so; closing releases it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"
#include "vector/vector.h"

static char url[4096];

static void test_second_open_in_process(void **state) {
  (void)state;
  visor_error err = {0};
  visor_vector_store *a = visor_vector_open(url, "locked", 8, NULL, &err);
  if (!a) fail_msg("open: %s", err.message);
  visor_vector_store *b = visor_vector_open(url, "locked", 8, NULL, &err);
  assert_null(b);
  assert_int_equal(err.code, VISOR_ERR_UNAVAILABLE);
  assert_non_null(strstr(err.message, "already open"));
  /* Another collection of the same store is another folder: fine. */
  visor_vector_store *c = visor_vector_open(url, "other", 8, NULL, &err);
  assert_non_null(c);
  c->ops->close(c);
  a->ops->close(a);
  b = visor_vector_open(url, "locked", 8, NULL, &err);
  if (!b) fail_msg("open after close: %s", err.message);
  b->ops->close(b);
}

static void test_other_process(void **state) {
  (void)state;
  int ready[2], quit[2];
  assert_int_equal(pipe(ready), 0);
  assert_int_equal(pipe(quit), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    visor_error err = {0};
    visor_vector_store *s = visor_vector_open(url, "shared", 8, NULL, &err);
    char c = s ? 'y' : 'n';
    if (write(ready[1], &c, 1) != 1) _exit(2);
    if (read(quit[0], &c, 1) < 0) _exit(2);
    if (s) s->ops->close(s);
    _exit(0);
  }
  char c = 0;
  assert_int_equal(read(ready[0], &c, 1), 1);
  assert_int_equal(c, 'y');
  visor_error err = {0};
  visor_vector_store *s = visor_vector_open(url, "shared", 8, NULL, &err);
  assert_null(s);
  assert_int_equal(err.code, VISOR_ERR_UNAVAILABLE);
  assert_non_null(strstr(err.message, "another process"));
  assert_int_equal(write(quit[1], "q", 1), 1);
  int status = 0;
  assert_int_equal(waitpid(child, &status, 0), child);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  s = visor_vector_open(url, "shared", 8, NULL, &err);
  if (!s) fail_msg("open after the child closed: %s", err.message);
  s->ops->close(s);
  close(ready[0]);
  close(ready[1]);
  close(quit[0]);
  close(quit[1]);
}

int main(void) {
  char *dir = vt_temp_dir("visor-hnsw-lock");
  if (!dir) return 1;
  snprintf(url, sizeof url, "hnsw://%s", dir);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_second_open_in_process),
      cmocka_unit_test(test_other_process),
  };
  int failed = cmocka_run_group_tests_name("hnsw_lock", tests, NULL, NULL);
  vt_remove_tree(dir);
  free(dir);
  return failed;
}
