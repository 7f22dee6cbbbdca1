/* batcher.c: the dynamic batching queue of `visor ml` (see batcher.h). A caller's request
 * is a job of `items` rows; the runner takes rows from the head of the queue (a job may be
 * split across batches), copies them into one input tensor, runs the session once, copies
 * each row's outputs back into its job's buffers and wakes the job's caller when all its
 * rows are done. */
#include "ml/batcher.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/metrics.h"

#define MAX_OUTPUTS 4

typedef struct batch_job {
  const float *input;
  size_t items, taken, done;
  float *outputs[MAX_OUTPUTS]; /* by the batcher's output index; NULL = not wanted */
  struct timespec queued;
  visor_code code;
  visor_error err;
  pthread_cond_t finished;
  struct batch_job *next;
} batch_job;

/* Rows [first, first + count) of a job that are in the current batch. */
typedef struct batch_slice {
  batch_job *job;
  size_t first, count;
} batch_slice;

struct visor_batcher {
  visor_onnx_session *session;
  const char *names[MAX_OUTPUTS];
  size_t name_count;
  size_t output_floats[MAX_OUTPUTS];
  size_t input_floats;
  size_t max_batch;
  int max_wait_ms;
  char label[64]; /* metrics label body */

  pthread_mutex_t lock;
  pthread_cond_t work;
  batch_job *head, *tail;
  size_t queued_items; /* rows not yet taken */
  int stopping;
  pthread_t threads[VISOR_BATCHER_MAX_RUNNERS];
  int threads_started;
  visor_batcher_stats stats;

  struct runner *runners;
  int runner_count;
};

/* One runner thread's buffers. */
typedef struct runner {
  visor_batcher *batcher;
  float *input;
  float *outputs[MAX_OUTPUTS];
  batch_slice *slices;
} runner;

static void add_ms(struct timespec *t, int ms) {
  t->tv_sec += ms / 1000;
  t->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (t->tv_nsec >= 1000000000L) {
    t->tv_sec++;
    t->tv_nsec -= 1000000000L;
  }
}

static int before(const struct timespec *a, const struct timespec *b) {
  return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static double seconds_between(const struct timespec *a, const struct timespec *b) {
  return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* Takes up to max_batch rows from the queue head into slices (lock held); returns how many
 * slices. Fully taken jobs leave the queue (their callers still wait for `done`). */
static size_t take_batch(visor_batcher *b, batch_slice *slices, size_t *rows) {
  size_t n = 0, total = 0;
  while (b->head && total < b->max_batch) {
    batch_job *job = b->head;
    size_t want = job->items - job->taken;
    size_t take = want < b->max_batch - total ? want : b->max_batch - total;
    slices[n++] = (batch_slice){job, job->taken, take};
    job->taken += take;
    total += take;
    if (job->taken == job->items) {
      b->head = job->next;
      if (!b->head) b->tail = NULL;
    }
  }
  b->queued_items -= total;
  *rows = total;
  return n;
}

static void run_batch(visor_batcher *b, runner *r, size_t slice_count, size_t rows) {
  batch_slice *slices = r->slices;
  size_t at = 0;
  for (size_t s = 0; s < slice_count; s++) {
    const batch_slice *slice = &slices[s];
    memcpy(r->input + at * b->input_floats, slice->job->input + slice->first * b->input_floats,
           slice->count * b->input_floats * sizeof(float));
    at += slice->count;
  }
  visor_error err = {0};
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  visor_code code =
      visor_onnx_session_run(b->session, r->input, rows, b->names, b->name_count, r->outputs, &err);
  clock_gettime(CLOCK_MONOTONIC, &end);
  if (!code) {
    at = 0;
    for (size_t s = 0; s < slice_count; s++) {
      const batch_slice *slice = &slices[s];
      for (size_t o = 0; o < b->name_count; o++)
        if (slice->job->outputs[o])
          memcpy(slice->job->outputs[o] + slice->first * b->output_floats[o],
                 r->outputs[o] + at * b->output_floats[o],
                 slice->count * b->output_floats[o] * sizeof(float));
      at += slice->count;
    }
  }
  visor_metrics_counter_add("visor_ml_batches_total", "Batched inference runs of visor ml",
                            b->label, 1);
  visor_metrics_counter_add("visor_ml_batch_crops_total",
                            "Region crops run in batched inference by visor ml", b->label,
                            (double)rows);
  visor_metrics_observe("visor_ml_batch_seconds", "Duration of one batched inference run", b->label,
                        seconds_between(&start, &end));

  pthread_mutex_lock(&b->lock);
  b->stats.batches++;
  b->stats.items += rows;
  if (rows > b->stats.largest) b->stats.largest = rows;
  for (size_t s = 0; s < slice_count; s++) {
    batch_job *job = slices[s].job;
    if (code && !job->code) {
      job->code = code;
      job->err = err;
    }
    job->done += slices[s].count;
    if (job->done == job->items) pthread_cond_signal(&job->finished);
  }
  pthread_mutex_unlock(&b->lock);
}

static void *runner_main(void *arg) {
  runner *r = arg;
  visor_batcher *b = r->batcher;
  pthread_mutex_lock(&b->lock);
  for (;;) {
    while (!b->head && !b->stopping)
      pthread_cond_wait(&b->work, &b->lock);
    if (!b->head) break; /* stopping with nothing queued */
    /* Wait for the batch to fill, at most max_wait_ms after the oldest row arrived. */
    struct timespec deadline = b->head->queued;
    add_ms(&deadline, b->max_wait_ms);
    while (b->queued_items < b->max_batch && !b->stopping) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (!before(&now, &deadline)) break;
      if (pthread_cond_timedwait(&b->work, &b->lock, &deadline) == ETIMEDOUT) break;
    }
    size_t rows = 0;
    size_t slice_count = take_batch(b, r->slices, &rows);
    pthread_mutex_unlock(&b->lock);
    if (slice_count) run_batch(b, r, slice_count, rows);
    pthread_mutex_lock(&b->lock);
  }
  pthread_mutex_unlock(&b->lock);
  return NULL;
}

visor_batcher *visor_batcher_new(visor_onnx_session *session, const char *const *names,
                                 size_t name_count, size_t max_batch, int max_wait_ms, int runners,
                                 const char *label, visor_error *err) {
  if (name_count == 0 || name_count > MAX_OUTPUTS) {
    visor_error_set(err, VISOR_ERR_INVALID, "batcher: %zu outputs (1..%d)", name_count,
                    MAX_OUTPUTS);
    return NULL;
  }
  visor_batcher *b = calloc(1, sizeof *b);
  if (!b) {
    visor_error_set(err, VISOR_ERR_NOMEM, "no memory for a batcher");
    return NULL;
  }
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_mutex_init(&b->lock, NULL);
  pthread_cond_init(&b->work, &attr);
  pthread_condattr_destroy(&attr);
  b->session = session;
  size_t session_max = visor_onnx_session_max_batch(session);
  b->max_batch = max_batch < 1 ? 1 : max_batch;
  if (session_max && b->max_batch > session_max) b->max_batch = session_max;
  b->max_wait_ms = max_wait_ms < 0 ? 0 : max_wait_ms;
  b->input_floats = visor_onnx_session_input_floats(session);
  snprintf(b->label, sizeof b->label, "model=\"%s\"", label ? label : "");
  for (size_t o = 0; o < name_count; o++) {
    b->name_count = o + 1;
    b->names[o] = names[o];
    b->output_floats[o] = visor_onnx_session_output_floats(session, names[o]);
    if (!b->output_floats[o]) {
      visor_error_set(err, VISOR_ERR_INVALID, "batcher: the model has no output \"%s\"", names[o]);
      visor_batcher_free(b);
      return NULL;
    }
  }
  if (runners < 1) runners = 1;
  if (runners > VISOR_BATCHER_MAX_RUNNERS) runners = VISOR_BATCHER_MAX_RUNNERS;
  int ok = (b->runners = calloc((size_t)runners, sizeof *b->runners)) != NULL;
  for (int i = 0; ok && i < runners; i++) {
    runner *r = &b->runners[i];
    r->batcher = b;
    r->input = malloc(b->max_batch * b->input_floats * sizeof(float));
    r->slices = malloc(b->max_batch * sizeof *r->slices);
    ok &= r->input && r->slices;
    for (size_t o = 0; o < b->name_count; o++)
      ok &= (r->outputs[o] = malloc(b->max_batch * b->output_floats[o] * sizeof(float))) != NULL;
  }
  if (!ok) {
    visor_error_set(err, VISOR_ERR_NOMEM, "no memory for batches of %zu", b->max_batch);
    b->runner_count = b->runners ? runners : 0;
    visor_batcher_free(b);
    return NULL;
  }
  b->runner_count = runners;
  for (int i = 0; i < runners; i++) {
    if (pthread_create(&b->threads[i], NULL, runner_main, &b->runners[i]) != 0) {
      visor_error_set(err, VISOR_ERR_INTERNAL, "batcher: cannot start its threads");
      visor_batcher_free(b);
      return NULL;
    }
    b->threads_started = i + 1;
  }
  return b;
}

visor_code visor_batcher_run(visor_batcher *b, const float *input, size_t batch,
                             const char *const *names, size_t count, float *const *outputs,
                             visor_error *err) {
  if (batch == 0) return VISOR_OK;
  batch_job job = {.input = input, .items = batch};
  for (size_t i = 0; i < count; i++) {
    size_t o = 0;
    while (o < b->name_count && strcmp(b->names[o], names[i]) != 0)
      o++;
    if (o == b->name_count)
      return visor_error_set(err, VISOR_ERR_INVALID, "batcher: output \"%s\" is not batched",
                             names[i]);
    job.outputs[o] = outputs[i];
  }
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&job.finished, &attr);
  pthread_condattr_destroy(&attr);
  clock_gettime(CLOCK_MONOTONIC, &job.queued);

  pthread_mutex_lock(&b->lock);
  if (b->stopping) {
    pthread_mutex_unlock(&b->lock);
    pthread_cond_destroy(&job.finished);
    return visor_error_set(err, VISOR_ERR_UNAVAILABLE, "the ML service is stopping");
  }
  if (b->tail)
    b->tail->next = &job;
  else
    b->head = &job;
  b->tail = &job;
  b->queued_items += batch;
  pthread_cond_broadcast(&b->work);
  while (job.done < job.items)
    pthread_cond_wait(&job.finished, &b->lock);
  pthread_mutex_unlock(&b->lock);
  pthread_cond_destroy(&job.finished);
  if (job.code) {
    if (err) *err = job.err;
    return job.code;
  }
  return VISOR_OK;
}

visor_onnx_session *visor_batcher_session(const visor_batcher *batcher) {
  return batcher->session;
}

void visor_batcher_get_stats(visor_batcher *b, visor_batcher_stats *stats) {
  pthread_mutex_lock(&b->lock);
  *stats = b->stats;
  pthread_mutex_unlock(&b->lock);
}

void visor_batcher_free(visor_batcher *b) {
  if (!b) return;
  pthread_mutex_lock(&b->lock);
  b->stopping = 1;
  pthread_cond_broadcast(&b->work);
  pthread_mutex_unlock(&b->lock);
  for (int i = 0; i < b->threads_started; i++)
    pthread_join(b->threads[i], NULL);
  pthread_cond_destroy(&b->work);
  pthread_mutex_destroy(&b->lock);
  for (int i = 0; b->runners && i < b->runner_count; i++) {
    for (size_t o = 0; o < b->name_count; o++)
      free(b->runners[i].outputs[o]);
    free(b->runners[i].input);
    free(b->runners[i].slices);
  }
  free(b->runners);
  free(b);
}
