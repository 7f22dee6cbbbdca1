/* relay.c: Visor's own accept loop in front of libmicrohttpd. libmicrohttpd 0.9.75 answers
 * some malformed requests itself, in HTML, before any callback (and a bad Content-Length
 * with its status line twice), so it never reads a client's socket: relay threads accept
 * the connections, hand libmicrohttpd one end of a socketpair per connection
 * (MHD_add_connection, with the client's real address so the per-address cap and the
 * access log see it), and copy bytes both ways, the client's through the framing of
 * framing.c. Buffers are bounded in both directions (a side is read only when what was
 * read from it is passed on), so a large upload or download streams with backpressure.
 * After the last answer of a connection the client's side is shut down for writing and
 * what it still sends is read and dropped for a moment, so that closing does not reset
 * the connection before the client read the answer. */
#define _GNU_SOURCE /* accept4, pipe2 */
#include "http/http_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"

#define RELAY_READ_BYTES ((size_t)16 * 1024) /* one read from a client */
#define RELAY_DOWN_BYTES ((size_t)16 * 1024) /* libmicrohttpd to client, per connection */
#define RELAY_LINGER_S 1.0                   /* reading and dropping after the last answer */
#define RELAY_LINGER_BYTES ((size_t)1024 * 1024)
#define RELAY_QUIT_S 1.0 /* at stop: time to pass the last answers on */
#define RELAY_ACCEPTS_PER_ROUND 16

typedef struct relay_conn {
  int client, peer; /* the client's socket; our end of the socketpair */
  visor_http_framer framer;
  size_t up_sent; /* bytes of framer.out [0, ready) written to the peer */
  int client_eof, peer_eof, peer_write_shut;
  int lingering; /* the answer is out; reading and dropping until linger_until */
  double linger_until;
  size_t lingered;
  int dead;
  char down[RELAY_DOWN_BYTES];
  size_t down_len, down_sent;
} relay_conn;

struct visor_http_relay_thread {
  visor_http_relay *relay;
  pthread_t thread;
  int wake[2];
  relay_conn **conns;
  size_t nconns, cap;
  struct pollfd *fds;
  size_t fds_cap;
  int listening;
};

struct visor_http_relay {
  int listener;
  struct MHD_Daemon *daemon;
  visor_http_relay_thread *threads;
  int nthreads, started;
  atomic_int accepting, quit;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int stopped_listening; /* threads that no longer poll the listener */
};

static void set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* ---- one connection ---------------------------------------------------------------- */

static void conn_free(relay_conn *conn) {
  if (conn->client >= 0) close(conn->client);
  if (conn->peer >= 0) close(conn->peer);
  visor_http_framer_free(&conn->framer);
  free(conn);
}

/* 0 when a connection was taken (or refused by a cap), -1 when none was waiting. */
static int accept_one(visor_http_relay_thread *t) {
  struct sockaddr_storage addr;
  socklen_t addr_len = sizeof addr;
  int client = accept4(t->relay->listener, (struct sockaddr *)&addr, &addr_len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (client < 0) return -1; /* another thread took it, or none is left */
  int one = 1;
  setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    close(client);
    return 0;
  }
  relay_conn *conn = NULL;
  if (t->nconns == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    relay_conn **conns = realloc(t->conns, cap * sizeof *conns);
    if (conns) {
      t->conns = conns;
      t->cap = cap;
    }
  }
  if (t->nconns < t->cap) conn = calloc(1, sizeof *conn);
  if (!conn) {
    close(client);
    close(pair[0]);
    close(pair[1]);
    return 0;
  }
  set_nonblocking(pair[0]);
  conn->client = client;
  conn->peer = pair[0];
  visor_http_framer_init(&conn->framer);
  /* MHD closes pair[1] itself when it refuses the connection (a cap): then the peer's end
   * reads as closed and the client is closed at once. */
  if (MHD_add_connection(t->relay->daemon, pair[1], (struct sockaddr *)&addr, addr_len) != MHD_YES)
    conn->peer_eof = 1;
  t->conns[t->nconns++] = conn;
  return 0;
}

/* The client's bytes through the framing. */
static void read_client(relay_conn *conn) {
  char buf[RELAY_READ_BYTES];
  ssize_t n = recv(conn->client, buf, sizeof buf, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (conn->lingering) {
    conn->lingered += n > 0 ? (size_t)n : 0;
    if (n <= 0 || conn->lingered > RELAY_LINGER_BYTES) conn->dead = 1;
    return;
  }
  if (n <= 0) {
    conn->client_eof = 1;
    if (n < 0) conn->dead = 1; /* reset: nobody to answer */
    visor_http_framer_client_gone(&conn->framer);
    return;
  }
  visor_http_framer_feed(&conn->framer, buf, (size_t)n);
  if (conn->framer.out_of_memory) conn->dead = 1;
}

static void write_peer(relay_conn *conn) {
  visor_http_framer *f = &conn->framer;
  ssize_t n = send(conn->peer, f->out + conn->up_sent, f->ready - conn->up_sent, MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    visor_http_framer_client_gone(f); /* libmicrohttpd closed: nothing more goes in */
    conn->up_sent = 0;
    visor_http_framer_sent(f, f->ready);
    return;
  }
  conn->up_sent += (size_t)n;
  if (conn->up_sent == f->ready) {
    visor_http_framer_sent(f, conn->up_sent);
    conn->up_sent = 0;
  }
}

static void read_peer(relay_conn *conn) {
  ssize_t n = recv(conn->peer, conn->down, sizeof conn->down, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) {
    conn->peer_eof = 1;
    return;
  }
  conn->down_len = (size_t)n;
  conn->down_sent = 0;
}

static void write_client(relay_conn *conn) {
  ssize_t n = send(conn->client, conn->down + conn->down_sent, conn->down_len - conn->down_sent,
                   MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    conn->dead = 1; /* the client is gone */
    return;
  }
  conn->down_sent += (size_t)n;
  if (conn->down_sent == conn->down_len) conn->down_len = conn->down_sent = 0;
}

/* What follows from the state after a round of reads and writes. */
static void settle(relay_conn *conn, double now, int quitting) {
  visor_http_framer *f = &conn->framer;
  if (conn->dead) return;
  /* everything from the client passed on, and it will send no more: tell libmicrohttpd */
  if (conn->client_eof && !conn->peer_write_shut && f->ready == 0 && !conn->peer_eof) {
    shutdown(conn->peer, SHUT_WR);
    conn->peer_write_shut = 1;
  }
  if (conn->peer_eof && conn->down_len == 0 && !conn->lingering) {
    if (conn->client_eof) {
      conn->dead = 1;
      return;
    }
    /* the last answer is out: close gracefully, dropping what the client still sends */
    shutdown(conn->client, SHUT_WR);
    conn->lingering = 1;
    conn->linger_until = now + (quitting ? 0.1 : RELAY_LINGER_S);
  }
  if (conn->lingering && now >= conn->linger_until) conn->dead = 1;
}

/* ---- a relay thread ---------------------------------------------------------------- */

static int fds_reserve(visor_http_relay_thread *t, size_t count) {
  if (count <= t->fds_cap) return 0;
  size_t cap = t->fds_cap ? t->fds_cap : 64;
  while (cap < count)
    cap *= 2;
  struct pollfd *fds = realloc(t->fds, cap * sizeof *fds);
  if (!fds) return -1;
  t->fds = fds;
  t->fds_cap = cap;
  return 0;
}

static short client_events(const relay_conn *conn) {
  short events = 0;
  const visor_http_framer *f = &conn->framer;
  /* read only when all that was read is passed on (the held head aside) */
  if (conn->lingering ||
      (!conn->client_eof && !f->stopped && conn->up_sent == 0 && f->ready == 0 && !conn->peer_eof))
    events |= POLLIN;
  if (conn->down_len > conn->down_sent) events |= POLLOUT;
  return events;
}

static short peer_events(const relay_conn *conn) {
  short events = 0;
  if (!conn->peer_eof && conn->down_len == 0 && !conn->lingering) events |= POLLIN;
  if (!conn->peer_eof && conn->framer.ready > conn->up_sent) events |= POLLOUT;
  return events;
}

static void stop_listening(visor_http_relay_thread *t) {
  if (!t->listening) return;
  t->listening = 0;
  pthread_mutex_lock(&t->relay->lock);
  t->relay->stopped_listening++;
  pthread_cond_broadcast(&t->relay->cond);
  pthread_mutex_unlock(&t->relay->lock);
}

static void *relay_main(void *arg) {
  visor_http_relay_thread *t = arg;
  visor_http_relay *relay = t->relay;
  double quit_until = 0;
  for (;;) {
    int quitting = atomic_load(&relay->quit);
    if (!atomic_load(&relay->accepting)) stop_listening(t);
    double now = visor_monotonic_s();
    if (quitting) {
      if (quit_until == 0) quit_until = now + RELAY_QUIT_S;
      if (t->nconns == 0 || now >= quit_until) break;
    }
    if (fds_reserve(t, 2 + 2 * t->nconns) < 0) {
      visor_log(VISOR_LOG_ERROR, "http relay: out of memory polling %zu connections", t->nconns);
      break;
    }
    size_t nfds = 0;
    t->fds[nfds++] = (struct pollfd){.fd = t->wake[0], .events = POLLIN};
    t->fds[nfds++] = (struct pollfd){.fd = t->listening ? relay->listener : -1, .events = POLLIN};
    int timeout_ms = quitting ? 50 : -1;
    for (size_t i = 0; i < t->nconns; i++) {
      relay_conn *conn = t->conns[i];
      /* a side with nothing to wait for is left out (else its POLLHUP would spin) */
      short ce = client_events(conn), pe = peer_events(conn);
      t->fds[nfds++] = (struct pollfd){.fd = ce ? conn->client : -1, .events = ce};
      t->fds[nfds++] = (struct pollfd){.fd = pe ? conn->peer : -1, .events = pe};
      if (conn->lingering) timeout_ms = 50;
    }
    int ready = poll(t->fds, nfds, timeout_ms);
    if (ready < 0 && errno != EINTR) {
      visor_log(VISOR_LOG_ERROR, "http relay: poll failed: %s", strerror(errno));
      break;
    }
    if (ready > 0 && (t->fds[0].revents & POLLIN)) {
      char drain[64];
      while (read(t->wake[0], drain, sizeof drain) > 0) {
      }
    }
    if (ready > 0 && t->listening && (t->fds[1].revents & POLLIN) && atomic_load(&relay->accepting))
      for (int i = 0; i < RELAY_ACCEPTS_PER_ROUND && accept_one(t) == 0; i++) {
      }
    now = visor_monotonic_s();
    /* conns added by accept_one have no pollfd yet: they start next round */
    size_t polled = (nfds - 2) / 2;
    for (size_t i = 0; i < polled; i++) {
      relay_conn *conn = t->conns[i];
      short cr = t->fds[2 + 2 * i].revents, pr = t->fds[3 + 2 * i].revents;
      if ((pr & (POLLIN | POLLHUP | POLLERR)) && (peer_events(conn) & POLLIN)) read_peer(conn);
      if ((pr & POLLOUT) && !conn->peer_eof) write_peer(conn);
      if (cr & POLLOUT) write_client(conn);
      if ((cr & (POLLIN | POLLHUP | POLLERR)) && (client_events(conn) & POLLIN))
        read_client(conn);
      else if ((cr & POLLERR) && !conn->dead)
        conn->dead = 1;
      /* write at once what just came in: most answers need no second round */
      if (!conn->dead && conn->down_len > conn->down_sent) write_client(conn);
      if (!conn->dead && !conn->peer_eof && conn->framer.ready > conn->up_sent) write_peer(conn);
      settle(conn, now, quitting);
    }
    size_t kept = 0;
    for (size_t i = 0; i < t->nconns; i++) {
      if (t->conns[i]->dead)
        conn_free(t->conns[i]);
      else
        t->conns[kept++] = t->conns[i];
    }
    t->nconns = kept;
  }
  stop_listening(t);
  for (size_t i = 0; i < t->nconns; i++)
    conn_free(t->conns[i]);
  t->nconns = 0;
  return NULL;
}

/* ---- API --------------------------------------------------------------------------- */

visor_http_relay *visor_http_relay_new(int listener, int threads) {
  visor_http_relay *relay = calloc(1, sizeof *relay);
  if (!relay) return NULL;
  relay->listener = listener;
  relay->nthreads = threads > 0 ? threads : 1;
  relay->threads = calloc((size_t)relay->nthreads, sizeof *relay->threads);
  if (!relay->threads) {
    free(relay);
    return NULL;
  }
  pthread_mutex_init(&relay->lock, NULL);
  pthread_cond_init(&relay->cond, NULL);
  atomic_init(&relay->accepting, 1);
  atomic_init(&relay->quit, 0);
  return relay;
}

static void wake_all(visor_http_relay *relay) {
  for (int i = 0; i < relay->started; i++)
    (void)!write(relay->threads[i].wake[1], "w", 1);
}

int visor_http_relay_start(visor_http_relay *relay, struct MHD_Daemon *daemon) {
  relay->daemon = daemon;
  for (int i = 0; i < relay->nthreads; i++) {
    visor_http_relay_thread *t = &relay->threads[i];
    t->relay = relay;
    t->listening = 1;
    if (pipe2(t->wake, O_NONBLOCK | O_CLOEXEC) != 0) break;
    if (pthread_create(&t->thread, NULL, relay_main, t) != 0) {
      close(t->wake[0]);
      close(t->wake[1]);
      break;
    }
    relay->started++;
  }
  return relay->started > 0 ? 0 : -1;
}

void visor_http_relay_stop_accepting(visor_http_relay *relay) {
  if (!relay || relay->listener < 0) return;
  atomic_store(&relay->accepting, 0);
  wake_all(relay);
  pthread_mutex_lock(&relay->lock);
  while (relay->stopped_listening < relay->started)
    pthread_cond_wait(&relay->cond, &relay->lock);
  pthread_mutex_unlock(&relay->lock);
  close(relay->listener); /* new connections are refused from now on */
  relay->listener = -1;
}

void visor_http_relay_free(visor_http_relay *relay) {
  if (!relay) return;
  visor_http_relay_stop_accepting(relay);
  atomic_store(&relay->quit, 1);
  wake_all(relay);
  for (int i = 0; i < relay->started; i++) {
    pthread_join(relay->threads[i].thread, NULL);
    close(relay->threads[i].wake[0]);
    close(relay->threads[i].wake[1]);
    free(relay->threads[i].conns);
    free(relay->threads[i].fds);
  }
  pthread_cond_destroy(&relay->cond);
  pthread_mutex_destroy(&relay->lock);
  free(relay->threads);
  free(relay);
}
