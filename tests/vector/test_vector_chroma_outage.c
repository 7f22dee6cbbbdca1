/* test_vector_chroma_outage.c: the chroma:// backend when its server goes away. Takes the
 * first chroma:// URL of VISOR_TEST_VECTOR_URLS (exit 77, skipped, when there is none), stops
 * the server with scripts/servers/chroma.sh, checks that every operation answers
 * VISOR_ERR_UNAVAILABLE within a few seconds, starts the server again and checks that the
 * same handle works again, with the data it had. Also: a server that accepts connections
 * but never answers gives VISOR_ERR_UNAVAILABLE after the URL's timeout_ms, not a hang. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vector/vector.h"

#define DIM 16

static char chroma_url[1024];
static char port_env[16];

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int script(const char *command) {
  char line[2048];
  snprintf(line, sizeof line, "VISOR_CHROMA_PORT=%s '%s' %s >/dev/null 2>&1", port_env,
           VISOR_CHROMA_SCRIPT, command);
  return system(line);
}

static void vec(float *v, int seed) {
  for (int i = 0; i < DIM; i++)
    v[i] = sinf((float)(seed * DIM + i + 1));
}

static void test_stop_and_start(void **state) {
  (void)state;
  char name[64];
  snprintf(name, sizeof name, "outage_%ld_%ld", (long)getpid(), (long)time(NULL));
  visor_error err = {0};
  visor_vector_store *s = visor_vector_open(chroma_url, name, DIM, NULL, &err);
  if (!s) fail_msg("open: %s", err.message);
  float v[DIM];
  for (int i = 0; i < 10; i++) {
    char id[16];
    snprintf(id, sizeof id, "o%d", i);
    vec(v, i);
    visor_vector_meta meta = {.product_id = "p", .category = "c"};
    if (s->ops->upsert(s, id, v, &meta, &err) != VISOR_OK) fail_msg("upsert: %s", err.message);
  }
  assert_int_equal(s->ops->count(s), 10);

  assert_int_equal(script("down"), 0);
  visor_vector_hit hits[4];
  size_t n = 0;
  visor_vector_meta meta = {.product_id = "p2"};
  double t0 = now_s();
  assert_int_equal(s->ops->upsert(s, "new", v, &meta, &err), VISOR_ERR_UNAVAILABLE);
  assert_non_null(strstr(err.message, "unavailable"));
  assert_int_equal(s->ops->search(s, v, 4, NULL, hits, &n, &err), VISOR_ERR_UNAVAILABLE);
  assert_int_equal(n, 0);
  assert_int_equal(s->ops->remove(s, "o1", &err), VISOR_ERR_UNAVAILABLE);
  assert_int_equal(s->ops->set_meta(s, "o2", &meta, &err), VISOR_ERR_UNAVAILABLE);
  const char *ids[] = {"b1", "b2"};
  float two[2 * DIM];
  vec(two, 20);
  vec(two + DIM, 21);
  assert_int_equal(visor_vector_upsert_batch(s, 2, ids, two, NULL, &err), VISOR_ERR_UNAVAILABLE);
  assert_int_equal(s->ops->count(s), 0);
  visor_vector_store *other = visor_vector_open(chroma_url, name, DIM, NULL, &err);
  assert_null(other);
  assert_int_equal(err.code, VISOR_ERR_UNAVAILABLE);
  double took = now_s() - t0;
  print_message("7 operations against a stopped server took %.3f s\n", took);
  assert_true(took < 10.0);

  int up = script("up");
  assert_int_equal(up, 0);
  /* The same handle works again, with everything written before the outage. Chroma may
   * answer a search with no hits for a moment after it starts, while it replays its log
   * (seen about once in ten restarts): the vectors are there, asked again they are found. */
  vec(v, 3);
  double restarted = now_s();
  do {
    if (s->ops->search(s, v, 4, NULL, hits, &n, &err) != VISOR_OK)
      fail_msg("search after restart: %s", err.message);
    if (n == 0) usleep(100 * 1000);
  } while (n == 0 && now_s() - restarted < 10.0);
  print_message("searchable %.2f s after the restart\n", now_s() - restarted);
  assert_int_equal(n, 4);
  assert_string_equal(hits[0].id, "o3");
  assert_int_equal(s->ops->upsert(s, "new", v, &meta, &err), VISOR_OK);
  assert_int_equal(s->ops->count(s), 11);
  s->ops->close(s);
}

/* A listening socket that never accepts: connects succeed, answers never come. */
static void test_silent_server_times_out(void **state) {
  (void)state;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
  assert_int_equal(listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
  char url[256];
  snprintf(url, sizeof url, "chroma://127.0.0.1:%d/visor_test/visor_test?timeout_ms=500",
           ntohs(addr.sin_port));
  visor_error err = {0};
  double t0 = now_s();
  visor_vector_store *s = visor_vector_open(url, "silent", DIM, NULL, &err);
  double took = now_s() - t0;
  assert_null(s);
  assert_int_equal(err.code, VISOR_ERR_UNAVAILABLE);
  print_message("a silent server: %s after %.3f s\n", err.message, took);
  assert_true(took < 3.0);
  close(fd);
}

static int restore_server(void **state) {
  (void)state;
  script("up"); /* whatever happened, leave the server running */
  return 0;
}

int main(void) {
  const char *urls = getenv("VISOR_TEST_VECTOR_URLS");
  const char *found = urls ? strstr(urls, "chroma://") : NULL;
  if (!found) {
    printf("SKIP: no chroma:// URL in VISOR_TEST_VECTOR_URLS\n");
    return 77;
  }
  size_t n = strcspn(found, " \t");
  if (n >= sizeof chroma_url) return 1;
  memcpy(chroma_url, found, n);
  chroma_url[n] = '\0';
  const char *colon = strchr(chroma_url + strlen("chroma://"), ':');
  int port = colon ? atoi(colon + 1) : 8000;
  snprintf(port_env, sizeof port_env, "%d", port);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stop_and_start),
      cmocka_unit_test(test_silent_server_times_out),
  };
  return cmocka_run_group_tests_name("vector_chroma_outage", tests, NULL, restore_server);
}
