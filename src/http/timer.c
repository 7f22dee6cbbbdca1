/* timer.c: the server's timer thread. It enforces the TOTAL deadlines of slow clients
 * (the request line and headers within header_timeout_s of the connection opening or of
 * the previous answer; the body within body_timeout_s of the headers: libmicrohttpd's own
 * timeout is only an idle one that every byte resets), answering 408 and closing the
 * socket; and it answers parked requests (visor_http_respond_later): a suspended
 * connection holds no worker thread, its recheck runs here on a wake, every poll interval
 * and at its deadline, and the connection is resumed once it has an answer. */
#include "http/http_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/clock.h"
#include "core/metrics.h"

#define TIMER_TICK_S 0.1 /* how often deadlines are looked at */

/* ---- connections ------------------------------------------------------------------- */

void visor_http_on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                              enum MHD_ConnectionNotificationCode code) {
  visor_http_server *server = cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    visor_http_conn *conn = calloc(1, sizeof *conn);
    if (!conn) return; /* then it simply has no deadlines */
    conn->connection = connection;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    conn->fd = info ? info->connect_fd : -1;
    conn->since = visor_monotonic_s();
    conn->phase = VISOR_CONN_HEADERS;
    pthread_mutex_lock(&server->timer_lock);
    conn->next = server->conns;
    if (server->conns) server->conns->prev = conn;
    server->conns = conn;
    pthread_mutex_unlock(&server->timer_lock);
    *socket_context = conn;
    return;
  }
  /* CLOSED: MHD closes the socket only after this, so the timer never touches a reused fd */
  visor_http_conn *conn = *socket_context;
  if (!conn) return;
  pthread_mutex_lock(&server->timer_lock);
  if (conn->prev)
    conn->prev->next = conn->next;
  else
    server->conns = conn->next;
  if (conn->next) conn->next->prev = conn->prev;
  pthread_mutex_unlock(&server->timer_lock);
  free(conn);
  *socket_context = NULL;
}

void visor_http_conn_phase(visor_http_request *req, visor_conn_phase phase) {
  visor_http_conn *conn = req->conn;
  if (!conn) return;
  visor_http_server *server = req->server;
  pthread_mutex_lock(&server->timer_lock);
  if (conn->phase != VISOR_CONN_CUT) {
    if (phase == VISOR_CONN_HEADERS) conn->answered++;
    conn->phase = phase;
    conn->since = visor_monotonic_s();
  }
  pthread_mutex_unlock(&server->timer_lock);
}

void visor_http_send_timeout(int fd, const char *what) {
  char body[256], head[256];
  int body_len = snprintf(body, sizeof body,
                          "{\"error\":{\"code\":\"request_timeout\",\"message\":\"the request %s "
                          "did not arrive in time\"}}",
                          what);
  int head_len = snprintf(head, sizeof head,
                          "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                          "Content-Length: %d\r\nConnection: close\r\n\r\n",
                          body_len);
  /* The socket is non-blocking and the answer small; what does not fit is dropped. */
  if (send(fd, head, (size_t)head_len, MSG_NOSIGNAL | MSG_DONTWAIT) == head_len)
    (void)send(fd, body, (size_t)body_len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Under timer_lock. The shutdown makes MHD's poll see the end of the stream, so MHD closes
 * the connection itself (and the request's cleanup runs as for a client gone away). */
static void cut(visor_http_conn *conn, const char *what, const char *phase) {
  conn->phase = VISOR_CONN_CUT;
  visor_metrics_counter_add("visor_http_deadline_cuts_total",
                            "HTTP connections closed by the header or body deadline", phase, 1);
  if (conn->fd < 0) return;
  if (what) visor_http_send_timeout(conn->fd, what);
  shutdown(conn->fd, SHUT_RDWR);
}

static void check_deadlines(visor_http_server *server, double now) {
  const visor_http_config *c = &server->config;
  for (visor_http_conn *conn = server->conns; conn; conn = conn->next) {
    double age = now - conn->since;
    if (conn->phase == VISOR_CONN_HEADERS && c->header_timeout_s > 0 && age > c->header_timeout_s)
      /* an idle kept-alive connection is just closed */
      cut(conn, conn->answered ? NULL : "headers",
          conn->answered ? "phase=\"keep_alive\"" : "phase=\"headers\"");
    else if (conn->phase == VISOR_CONN_BODY && c->body_timeout_s > 0 && age > c->body_timeout_s)
      cut(conn, "body", "phase=\"body\"");
  }
}

/* ---- parked requests --------------------------------------------------------------- */

void visor_http_respond_later(visor_http_request *req, visor_http_response *res, double wait_s,
                              int poll_ms, visor_http_recheck recheck, void *ctx,
                              void (*free_ctx)(void *ctx)) {
  (void)res;
  if (!recheck || req->park_asked || req->parked || req->resumed) {
    if (free_ctx) free_ctx(ctx);
    visor_http_respond_error(&req->res, 500, "internal", "a request can be parked only once");
    return;
  }
  if (wait_s < 0) wait_s = 0;
  req->recheck = recheck;
  req->recheck_ctx = ctx;
  req->recheck_free = free_ctx;
  req->wait_until = visor_monotonic_s() + wait_s;
  req->poll_s = (poll_ms > 0 ? poll_ms : VISOR_HTTP_DEFAULT_POLL_MS) / 1000.0;
  req->backoff_s = VISOR_HTTP_FIRST_POLL_MS / 1000.0 < req->poll_s
                       ? VISOR_HTTP_FIRST_POLL_MS / 1000.0
                       : req->poll_s;
  req->park_asked = 1;
}

void visor_http_park(visor_http_request *req) {
  visor_http_server *server = req->server;
  visor_http_conn_phase(req, VISOR_CONN_PARKED);
  MHD_suspend_connection(req->connection);
  pthread_mutex_lock(&server->timer_lock);
  req->parked = 1;
  req->next_check = 0; /* at once: a wake between the handler's look and now is not lost */
  req->park_next = server->parked;
  server->parked = req;
  pthread_cond_broadcast(&server->timer_cond);
  pthread_mutex_unlock(&server->timer_lock);
}

void visor_http_wake(visor_http_server *server) {
  if (!server || !atomic_load(&server->timer_running)) return;
  pthread_mutex_lock(&server->timer_lock);
  server->wakes++;
  pthread_cond_broadcast(&server->timer_cond);
  pthread_mutex_unlock(&server->timer_lock);
}

/* Outside timer_lock: the rechecks may block (a database). */
static void run_rechecks(visor_http_server *server, visor_http_request *due, double now) {
  int stopping = atomic_load(&server->stopping);
  visor_http_request *keep = NULL;
  while (due) {
    visor_http_request *req = due;
    due = req->park_next;
    int last = stopping || now >= req->wait_until;
    int answered = req->recheck(req, &req->res, req->recheck_ctx, last);
    if (!answered && last) {
      visor_http_respond_error(&req->res, 500, "internal", "the wait ended without an answer");
      answered = 1;
    }
    if (!answered) {
      /* Soon at first (a search that finished in another process signals nobody here),
       * then less often. */
      req->next_check = now + req->backoff_s;
      req->backoff_s = req->backoff_s * 2 < req->poll_s ? req->backoff_s * 2 : req->poll_s;
      req->park_next = keep;
      keep = req;
      continue;
    }
    pthread_mutex_lock(&server->timer_lock);
    req->parked = 0;
    req->resumed = 1;
    pthread_mutex_unlock(&server->timer_lock);
    visor_http_conn_phase(req, VISOR_CONN_BUSY);
    MHD_resume_connection(req->connection); /* MHD calls on_request again: it queues res */
  }
  pthread_mutex_lock(&server->timer_lock);
  while (keep) {
    visor_http_request *req = keep;
    keep = req->park_next;
    req->park_next = server->parked;
    server->parked = req;
  }
  pthread_mutex_unlock(&server->timer_lock);
}

static void *timer_main(void *arg) {
  visor_http_server *server = arg;
  int wakes_seen = 0;
  pthread_mutex_lock(&server->timer_lock);
  while (!server->timer_quit) {
    double now = visor_monotonic_s();
    check_deadlines(server, now);
    int woken = server->wakes != wakes_seen || atomic_load(&server->stopping);
    wakes_seen = server->wakes;
    visor_http_request *due = NULL, **link = &server->parked;
    double next = now + TIMER_TICK_S;
    while (*link) {
      visor_http_request *req = *link;
      if (woken || now >= req->next_check || now >= req->wait_until) {
        *link = req->park_next;
        req->park_next = due;
        due = req;
        continue;
      }
      if (req->next_check < next) next = req->next_check;
      if (req->wait_until < next) next = req->wait_until;
      link = &req->park_next;
    }
    if (due) {
      server->timer_busy = 1;
      pthread_mutex_unlock(&server->timer_lock);
      run_rechecks(server, due, now);
      pthread_mutex_lock(&server->timer_lock);
      server->timer_busy = 0;
      pthread_cond_broadcast(&server->timer_cond);
      continue;
    }
    if (server->wakes != wakes_seen) continue;
    struct timespec until;
    double wait_s = next - visor_monotonic_s();
    if (wait_s < 0.001) wait_s = 0.001;
    clock_gettime(CLOCK_MONOTONIC, &until);
    long long ns = until.tv_nsec + (long long)(wait_s * 1e9);
    until.tv_sec += (time_t)(ns / 1000000000LL);
    until.tv_nsec = (long)(ns % 1000000000LL);
    pthread_cond_timedwait(&server->timer_cond, &server->timer_lock, &until);
  }
  pthread_mutex_unlock(&server->timer_lock);
  return NULL;
}

void visor_http_timer_start(visor_http_server *server) {
  server->timer_quit = 0;
  server->wakes = 0;
  if (pthread_create(&server->timer, NULL, timer_main, server) == 0)
    atomic_store(&server->timer_running, 1);
}

void visor_http_timer_flush(visor_http_server *server) {
  if (!atomic_load(&server->timer_running)) return;
  /* stopping is set: the timer answers every parked request with last = 1 */
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += 10;
  pthread_mutex_lock(&server->timer_lock);
  server->wakes++;
  pthread_cond_broadcast(&server->timer_cond);
  while (server->parked || server->timer_busy)
    if (pthread_cond_timedwait(&server->timer_cond, &server->timer_lock, &until) == ETIMEDOUT)
      break;
  pthread_mutex_unlock(&server->timer_lock);
}

void visor_http_timer_stop(visor_http_server *server) {
  if (!atomic_load(&server->timer_running)) return;
  pthread_mutex_lock(&server->timer_lock);
  server->timer_quit = 1;
  pthread_cond_broadcast(&server->timer_cond);
  pthread_mutex_unlock(&server->timer_lock);
  pthread_join(server->timer, NULL);
  atomic_store(&server->timer_running, 0);
}
