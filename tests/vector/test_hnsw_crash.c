/* test_hnsw_crash.c: durability under kill -9. A child process upserts (and now and then
 * removes) vectors, writing each acknowledged operation to a pipe; the parent SIGKILLs it
 * mid-stream (snapshots happen all along, so the kill lands in log appends and snapshot
 * writes alike), reopens the collection and checks that every acknowledged change is there.
 * The same for the int8 index (full vectors mapped from the snapshot), and that a reopened
 * int8 collection gives exactly the answers the one that died gave. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"
#include "vector/vector.h"

#define DIM 32
#define MAX_OPS 200000

static void vector_for(int i, float *v) {
  vt_rng r = {(uint64_t)i * 7919 + 1};
  for (int j = 0; j < DIM; j++)
    v[j] = vt_uniform(&r) * 2 - 1;
}

/* Ack records: +i+1 = upsert of i acknowledged, -(i+1) = remove of i acknowledged. */
static void child(const char *url, int fd) {
  visor_error err;
  visor_vector_store *s = visor_vector_open(url, "crash", DIM, NULL, &err);
  if (!s) _exit(2);
  float v[DIM];
  for (int i = 0; i < MAX_OPS; i++) {
    char id[16];
    snprintf(id, sizeof id, "c%d", i);
    vector_for(i, v);
    const char *labels[] = {"k=v"};
    visor_vector_meta meta = {
        .product_id = id, .category = "cat", .labels = labels, .label_count = 1};
    if (s->ops->upsert(s, id, v, &meta, &err) != VISOR_OK) _exit(3);
    int32_t ack = i + 1;
    if (write(fd, &ack, sizeof ack) != sizeof ack) _exit(4);
    if (i % 5 == 4) {
      snprintf(id, sizeof id, "c%d", i - 2);
      if (s->ops->remove(s, id, &err) != VISOR_OK) _exit(5);
      ack = -(i - 2 + 1);
      if (write(fd, &ack, sizeof ack) != sizeof ack) _exit(4);
    }
  }
  _exit(0);
}

/* Returns the id of the operation in flight at the kill (it may or may not have reached the
 * disk), from the child's fixed sequence: upsert i, and after i % 5 == 4, remove i - 2. */
static int run_round(const char *url, int kill_after, int *state) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    child(url, fds[1]);
  }
  close(fds[1]);
  int acked = 0, killed = 0;
  int32_t ack, last = 0;
  for (;;) {
    ssize_t n = read(fds[0], &ack, sizeof ack);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    assert_int_equal(n, sizeof ack);
    last = ack;
    if (ack > 0)
      state[ack - 1] = 1;
    else
      state[-ack - 1] = 2;
    if (++acked == kill_after && !killed) {
      kill(pid, SIGKILL);
      killed = 1;
    }
  }
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  if (last > 0) return (last - 1) % 5 == 4 ? last - 1 - 2 : last; /* remove i-2 or upsert i+1 */
  if (last < 0) return -last - 1 + 3;                             /* upsert (i-2)+3 */
  return 0;
}

static void check(const char *url, int *state, int pending, int *max_seen) {
  visor_error err = {0};
  visor_vector_store *s = visor_vector_open(url, "crash", DIM, NULL, &err);
  if (!s) fail_msg("reopen after kill: %s", err.message);
  size_t live = 0;
  int top = 0;
  for (int i = 0; i < MAX_OPS; i++) {
    if (state[i]) top = i;
    live += state[i] == 1;
  }
  /* The one in-flight operation may have reached the disk without its ack: an upsert (one
   * more) or a remove (one fewer). */
  size_t count = s->ops->count(s);
  if (count + 1 < live || count > live + 1)
    fail_msg("count %zu after the kill, %zu acknowledged live", count, live);
  float v[DIM];
  visor_vector_hit hits[3];
  for (int i = 0; i <= top; i++) {
    if (!state[i] || i == pending) continue;
    vector_for(i, v);
    size_t n;
    assert_int_equal(s->ops->search(s, v, 3, NULL, hits, &n, &err), VISOR_OK);
    char id[16];
    snprintf(id, sizeof id, "c%d", i);
    if (state[i] == 1) {
      if (n == 0 || strcmp(hits[0].id, id) != 0) fail_msg("acknowledged %s is missing", id);
      assert_string_equal(hits[0].product_id, id);
      assert_true(hits[0].distance < 1e-5f);
    } else {
      for (size_t j = 0; j < n; j++)
        if (strcmp(hits[j].id, id) == 0) fail_msg("acknowledged removal of %s was lost", id);
    }
  }
  /* Record what became of the in-flight operation, for the next rounds' accounting. */
  vector_for(pending, v);
  size_t n;
  assert_int_equal(s->ops->search(s, v, 1, NULL, hits, &n, &err), VISOR_OK);
  char id[16];
  snprintf(id, sizeof id, "c%d", pending);
  int present = n == 1 && strcmp(hits[0].id, id) == 0;
  state[pending] = present ? 1 : (state[pending] ? 2 : 0);
  live = 0;
  for (int i = 0; i < MAX_OPS; i++)
    live += state[i] == 1;
  assert_int_equal(s->ops->count(s), live);
  *max_seen = top;
  s->ops->close(s);
}

static void kill9_rounds(const char *options) {
  char *dir = vt_temp_dir("visor-hnsw-crash");
  char url[4096];
  /* ~5 KB between snapshots: several snapshots per round. */
  snprintf(url, sizeof url, "hnsw://%s/v?snapshot_bytes=5000&ef_construction=64%s", dir, options);
  int *state = calloc(MAX_OPS, sizeof *state);
  int top = 0;
  /* Several rounds on the same collection: each reopens what the last kill left. The child
   * restarts its ids at 0, so later rounds re-upsert (replace) earlier ids. */
  int kills[] = {150, 400, 77, 260, 1000, 33, 700};
  for (size_t r = 0; r < sizeof kills / sizeof kills[0]; r++) {
    int pending = run_round(url, kills[r], state);
    check(url, state, pending, &top);
  }
  print_message("kill -9 rounds passed (%s); highest acknowledged id %d\n",
                *options ? options : "float", top);
  free(state);
  vt_remove_tree(dir);
  free(dir);
}

static void test_kill9(void **state_arg) {
  (void)state_arg;
  kill9_rounds("");
}

/* The int8 index, its full vectors mapped from the snapshot, codes fitted from 50 vectors. */
static void test_kill9_int8(void **state_arg) {
  (void)state_arg;
  kill9_rounds("&quantization=int8&rerank_store=mmap&quant_min=50");
}

#define SAME_N 3000
#define SAME_Q 100
#define SAME_K 10

/* The child writes SAME_N vectors (snapshots along the way), searches, sends its answers
 * and dies without closing (as kill -9 after the last OK would leave it); the reopened
 * collection must give the same answers. */
static void test_int8_reopen_same_answers(void **state_arg) {
  (void)state_arg;
  char *dir = vt_temp_dir("visor-hnsw-same");
  char url[4096];
  snprintf(url, sizeof url,
           "hnsw://%s/v?snapshot_bytes=200000&quantization=int8&rerank_store=mmap&quant_min=100",
           dir);
  static visor_vector_hit before[SAME_Q][SAME_K], after[SAME_Q][SAME_K];
  static float queries[SAME_Q][DIM];
  for (int q = 0; q < SAME_Q; q++) {
    vector_for(SAME_N + q, queries[q]);
  }
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    visor_error err;
    visor_vector_store *s = visor_vector_open(url, "same", DIM, NULL, &err);
    if (!s) _exit(2);
    float v[DIM];
    for (int i = 0; i < SAME_N; i++) {
      char id[16];
      snprintf(id, sizeof id, "c%d", i);
      vector_for(i, v);
      visor_vector_meta meta = {.product_id = id};
      if (s->ops->upsert(s, id, v, &meta, &err) != VISOR_OK) _exit(3);
      if (i % 7 == 3) {
        snprintf(id, sizeof id, "c%d", i - 3);
        if (s->ops->remove(s, id, &err) != VISOR_OK) _exit(5);
      }
    }
    for (int q = 0; q < SAME_Q; q++) {
      size_t n;
      memset(before[q], 0, sizeof before[q]);
      if (s->ops->search(s, queries[q], SAME_K, NULL, before[q], &n, &err) != VISOR_OK ||
          n != SAME_K)
        _exit(6);
    }
    if (write(fds[1], before, sizeof before) != (ssize_t)sizeof before) _exit(4);
    _exit(0);
  }
  close(fds[1]);
  size_t got = 0;
  while (got < sizeof before) {
    ssize_t n = read(fds[0], (char *)before + got, sizeof before - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(got, sizeof before);
  visor_error err = {0};
  visor_vector_store *s = visor_vector_open(url, "same", DIM, NULL, &err);
  if (!s) fail_msg("reopen: %s", err.message);
  /* Round 0: against the answers of the process that died. Then a close (which compacts the
   * tombstones away: a different graph) and reopen gives a new baseline, and a second close
   * and reopen must reproduce it. */
  for (int round = 0; round < 3; round++) {
    for (int q = 0; q < SAME_Q; q++) {
      size_t n;
      memset(after[q], 0, sizeof after[q]);
      assert_int_equal(s->ops->search(s, queries[q], SAME_K, NULL, after[q], &n, &err), VISOR_OK);
      assert_int_equal(n, SAME_K);
      for (int j = 0; round != 1 && j < SAME_K; j++) {
        if (strcmp(before[q][j].id, after[q][j].id) != 0)
          fail_msg("query %d hit %d: %s before, %s after %s", q, j, before[q][j].id, after[q][j].id,
                   round ? "a close and reopen" : "the crash and reopen");
        assert_true(before[q][j].distance == after[q][j].distance);
      }
    }
    memcpy(before, after, sizeof before);
    s->ops->close(s);
    s = visor_vector_open(url, "same", DIM, NULL, &err);
    if (!s) fail_msg("reopen: %s", err.message);
  }
  s->ops->close(s);
  vt_remove_tree(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_kill9),
                                     cmocka_unit_test(test_kill9_int8),
                                     cmocka_unit_test(test_int8_reopen_same_answers)};
  return cmocka_run_group_tests_name("hnsw_crash", tests, NULL, NULL);
}
