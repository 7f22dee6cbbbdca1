/* bench_http.c: the HTTP server's cost on small requests, in process on loopback: a server
 * (src/http) with GET /healthz and POST /echo (a 200-byte JSON body in, a small JSON
 * answer out), and C client threads that send requests for S seconds over raw sockets:
 *   - keep-alive: each thread one connection, one request at a time;
 *   - close:      a new connection per request (Connection: close).
 * Prints requests/s and the mean latency of each row, median of R rounds.
 *
 *   bench_http [--clients C] [--seconds S] [--rounds R] [--threads T]
 *
 * Defaults: 8 clients, 2 s, 3 rounds, 4 server threads. */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "http/http.h"

typedef struct bench_row {
  const char *name;
  const char *request;
  int keep_alive;
} bench_row;

typedef struct client_state {
  int port;
  const bench_row *row;
  double until;
  long requests, failures;
} client_state;

static void echo(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)ctx;
  json_t *body = visor_http_json_body(req, res);
  if (!body) return;
  visor_http_respond_json(res, 200,
                          json_pack("{s:I}", "fields", (json_int_t)json_object_size(body)));
}

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Reads one answer (headers + Content-Length body); 0 on a 200. */
static int read_answer(int fd) {
  char buf[8192];
  size_t used = 0;
  for (;;) {
    ssize_t n = recv(fd, buf + used, sizeof buf - 1 - used, 0);
    if (n <= 0) return -1;
    used += (size_t)n;
    buf[used] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (!end) continue;
    char *length = strcasestr(buf, "Content-Length: ");
    size_t want = (size_t)(end + 4 - buf) + (length ? (size_t)atol(length + 16) : 0);
    if (used >= want) return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
  }
}

static void *client_main(void *arg) {
  client_state *state = arg;
  size_t len = strlen(state->row->request);
  int fd = -1;
  while (visor_monotonic_s() < state->until) {
    if (fd < 0) fd = connect_to(state->port);
    if (fd < 0 || send(fd, state->row->request, len, MSG_NOSIGNAL) != (ssize_t)len ||
        read_answer(fd) != 0) {
      state->failures++;
      if (fd >= 0) close(fd);
      fd = -1;
      continue;
    }
    state->requests++;
    if (!state->row->keep_alive) {
      close(fd);
      fd = -1;
    }
  }
  if (fd >= 0) close(fd);
  return NULL;
}

static double run_round(int port, const bench_row *row, int clients, double seconds,
                        long *failures) {
  client_state *states = calloc((size_t)clients, sizeof *states);
  pthread_t *threads = calloc((size_t)clients, sizeof *threads);
  double started = visor_monotonic_s();
  for (int i = 0; i < clients; i++) {
    states[i] = (client_state){.port = port, .row = row, .until = started + seconds};
    pthread_create(&threads[i], NULL, client_main, &states[i]);
  }
  long total = 0;
  for (int i = 0; i < clients; i++) {
    pthread_join(threads[i], NULL);
    total += states[i].requests;
    *failures += states[i].failures;
  }
  double elapsed = visor_monotonic_s() - started;
  free(states);
  free(threads);
  return (double)total / elapsed;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int clients = 8, rounds = 3, threads = 4;
  double seconds = 2.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--clients") == 0) clients = atoi(argv[i + 1]);
    if (strcmp(argv[i], "--seconds") == 0) seconds = atof(argv[i + 1]);
    if (strcmp(argv[i], "--rounds") == 0) rounds = atoi(argv[i + 1]);
    if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
  }
  if (rounds < 1 || rounds > 15) rounds = 3;
  visor_log_setup(VISOR_LOG_WARN, VISOR_LOG_PLAIN);
  visor_error err = {0};
  visor_http_config config = {.host = "127.0.0.1",
                              .threads = threads,
                              .max_connections_per_ip = -1,
                              .max_connections = 4000};
  visor_http_server *server = visor_http_server_new(&config, &err);
  visor_route_options probe = {.no_rate_limit = 1};
  if (!server ||
      visor_http_route(server, "GET", "/healthz", visor_http_healthz_handler, NULL, &probe, &err) !=
          VISOR_OK ||
      visor_http_route(server, "POST", "/echo", echo, NULL, NULL, &err) != VISOR_OK ||
      visor_http_start(server, &err) != VISOR_OK) {
    fprintf(stderr, "bench_http: %s\n", err.message);
    return 1;
  }
  int port = visor_http_port(server);
  static char post[1024];
  char body[256];
  int body_len = snprintf(body, sizeof body,
                          "{\"name\":\"a product name of some length\",\"brand\":\"Brand\","
                          "\"price\":12.5,\"currency\":\"EUR\",\"description\":\"%s\"}",
                          "a description of about a hundred bytes, as a small JSON request has it");
  snprintf(post, sizeof post,
           "POST /echo HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
           "Content-Length: %d\r\n\r\n%s",
           body_len, body);
  static char post_close[1200];
  snprintf(post_close, sizeof post_close,
           "POST /echo HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n"
           "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
           body_len, body);
  const bench_row rows[] = {
      {"GET /healthz keep-alive", "GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n", 1},
      {"POST /echo 200 B JSON keep-alive", post, 1},
      {"GET /healthz new connection",
       "GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n", 0},
      {"POST /echo 200 B JSON new connection", post_close, 0},
  };
  printf("%d clients, %d server threads, %.1f s x %d rounds (median)\n", clients, threads, seconds,
         rounds);
  printf("%-40s %12s %12s %9s\n", "row", "requests/s", "mean ms", "failures");
  for (size_t r = 0; r < sizeof rows / sizeof *rows; r++) {
    double rates[15];
    long failures = 0;
    for (int i = 0; i < rounds; i++)
      rates[i] = run_round(port, &rows[r], clients, seconds, &failures);
    qsort(rates, (size_t)rounds, sizeof *rates, compare_double);
    double median = rates[rounds / 2];
    printf("%-40s %12.0f %12.3f %9ld\n", rows[r].name, median, 1000.0 * clients / median, failures);
  }
  visor_http_stop(server, 1000);
  visor_http_server_free(server);
  return 0;
}
