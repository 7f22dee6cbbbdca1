/* hnsw_meta.c: per-node metadata. Category, label, model and product strings are interned
 * into dictionaries (one per role); each category/label/model value keeps the list of nodes
 * that have it (a posting list, with tombstoned nodes left in until compaction) and how many
 * of them are live, which gives the filter its cost estimate. */
#include "vector/hnsw_meta.h"

#include <stdlib.h>
#include <string.h>

#include "vector/hnsw_strmap.h"

#define META_NONE UINT32_MAX
#define META_MAX_STR 4096

typedef struct posting {
  uint32_t *nodes;
  size_t size, capacity, live;
} posting;

typedef struct dict {
  hnsw_strmap map;
  char **strings;
  posting *postings; /* NULL for the product dictionary */
  size_t count, capacity;
  int with_postings;
} dict;

typedef struct node_meta {
  char *id;
  uint32_t product, category, model;
  uint32_t label_offset, label_count;
  uint8_t deleted;
} node_meta;

struct hnsw_meta {
  node_meta *nodes;
  size_t count, capacity;
  uint32_t *label_pool;
  size_t label_pool_size, label_pool_capacity;
  dict products, categories, labels, models;
};

static void dict_free(dict *d) {
  hnsw_strmap_free(&d->map);
  for (size_t i = 0; i < d->count; i++) {
    free(d->strings[i]);
    if (d->postings) free(d->postings[i].nodes);
  }
  free(d->strings);
  free(d->postings);
}

/* Interns s (non-empty); returns its id or META_NONE on OOM. */
static uint32_t dict_intern(dict *d, const char *s) {
  uint32_t id;
  if (hnsw_strmap_get(&d->map, s, &id)) return id;
  if (d->count == d->capacity) {
    size_t cap = d->capacity ? d->capacity * 2 : 16;
    char **strings = realloc(d->strings, cap * sizeof *strings);
    if (!strings) return META_NONE;
    d->strings = strings;
    if (d->with_postings) {
      posting *postings = realloc(d->postings, cap * sizeof *postings);
      if (!postings) return META_NONE;
      d->postings = postings;
    }
    d->capacity = cap;
  }
  char *copy = strdup(s);
  if (!copy) return META_NONE;
  id = (uint32_t)d->count;
  if (hnsw_strmap_put(&d->map, s, id) != 0) {
    free(copy);
    return META_NONE;
  }
  d->strings[id] = copy;
  if (d->with_postings) d->postings[id] = (posting){0};
  d->count++;
  return id;
}

/* Makes room for one more node in value's posting list. */
static int posting_reserve(dict *d, uint32_t value) {
  posting *p = &d->postings[value];
  if (p->size == p->capacity) {
    size_t cap = p->capacity ? p->capacity * 2 : 8;
    uint32_t *nodes = realloc(p->nodes, cap * sizeof *nodes);
    if (!nodes) return -1;
    p->nodes = nodes;
    p->capacity = cap;
  }
  return 0;
}

static void posting_add(dict *d, uint32_t value, uint32_t node) {
  posting *p = &d->postings[value];
  p->nodes[p->size++] = node;
  p->live++;
}

hnsw_meta *hnsw_meta_new(void) {
  hnsw_meta *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->categories.with_postings = m->labels.with_postings = m->models.with_postings = 1;
  return m;
}

void hnsw_meta_free(hnsw_meta *m) {
  if (!m) return;
  for (size_t i = 0; i < m->count; i++)
    free(m->nodes[i].id);
  free(m->nodes);
  free(m->label_pool);
  dict_free(&m->products);
  dict_free(&m->categories);
  dict_free(&m->labels);
  dict_free(&m->models);
  free(m);
}

size_t hnsw_meta_count(const hnsw_meta *m) {
  return m->count;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static uint32_t intern_opt(dict *d, const char *s, int *oom) {
  if (!s || !*s) return META_NONE;
  uint32_t id = dict_intern(d, s);
  if (id == META_NONE) *oom = 1;
  return id;
}

int hnsw_meta_append(hnsw_meta *m, const char *id, const visor_vector_meta *meta) {
  if (m->count == m->capacity) {
    size_t cap = m->capacity ? m->capacity * 2 : 1024;
    node_meta *nodes = realloc(m->nodes, cap * sizeof *nodes);
    if (!nodes) return -1;
    m->nodes = nodes;
    m->capacity = cap;
  }
  size_t label_count = meta ? meta->label_count : 0;
  if (m->label_pool_size + label_count > m->label_pool_capacity) {
    size_t cap = m->label_pool_capacity ? m->label_pool_capacity : 1024;
    while (cap < m->label_pool_size + label_count)
      cap *= 2;
    uint32_t *pool = realloc(m->label_pool, cap * sizeof *pool);
    if (!pool) return -1;
    m->label_pool = pool;
    m->label_pool_capacity = cap;
  }
  uint32_t node = (uint32_t)m->count;
  node_meta n = {0};
  n.id = strdup(id);
  if (!n.id) return -1;
  int oom = 0;
  n.product = intern_opt(&m->products, meta ? meta->product_id : NULL, &oom);
  n.category = intern_opt(&m->categories, meta ? meta->category : NULL, &oom);
  n.model = intern_opt(&m->models, meta ? meta->model : NULL, &oom);
  /* No pool yet when no node had labels: NULL + 0 is undefined behaviour. */
  uint32_t *labels = m->label_pool ? m->label_pool + m->label_pool_size : NULL;
  size_t kept = 0;
  for (size_t i = 0; i < label_count && !oom; i++) {
    uint32_t l = intern_opt(&m->labels, meta->labels[i], &oom);
    if (l != META_NONE) labels[kept++] = l;
  }
  if (oom) goto fail;
  if (kept > 1) qsort(labels, kept, sizeof *labels, cmp_u32);
  size_t unique = 0;
  for (size_t i = 0; i < kept; i++)
    if (unique == 0 || labels[unique - 1] != labels[i]) labels[unique++] = labels[i];
  /* Reserve every posting slot first, so the node joins all its lists or none. */
  if (n.category != META_NONE && posting_reserve(&m->categories, n.category) != 0) goto fail;
  if (n.model != META_NONE && posting_reserve(&m->models, n.model) != 0) goto fail;
  for (size_t i = 0; i < unique; i++)
    if (posting_reserve(&m->labels, labels[i]) != 0) goto fail;
  if (n.category != META_NONE) posting_add(&m->categories, n.category, node);
  if (n.model != META_NONE) posting_add(&m->models, n.model, node);
  for (size_t i = 0; i < unique; i++)
    posting_add(&m->labels, labels[i], node);
  n.label_offset = (uint32_t)m->label_pool_size;
  n.label_count = (uint32_t)unique;
  m->label_pool_size += unique;
  m->nodes[node] = n;
  m->count++;
  return 0;
fail:
  free(n.id);
  return -1;
}

void hnsw_meta_delete(hnsw_meta *m, uint32_t node) {
  if (node >= m->count || m->nodes[node].deleted) return;
  node_meta *n = &m->nodes[node];
  n->deleted = 1;
  if (n->category != META_NONE) m->categories.postings[n->category].live--;
  if (n->model != META_NONE) m->models.postings[n->model].live--;
  for (uint32_t i = 0; i < n->label_count; i++)
    m->labels.postings[m->label_pool[n->label_offset + i]].live--;
}

void hnsw_meta_pop(hnsw_meta *m) {
  if (m->count == 0) return;
  uint32_t node = (uint32_t)(m->count - 1);
  node_meta *n = &m->nodes[node];
  int live = !n->deleted;
  /* The node was appended last, so it is the last entry of each of its posting lists. */
  if (n->category != META_NONE) {
    m->categories.postings[n->category].size--;
    m->categories.postings[n->category].live -= live;
  }
  if (n->model != META_NONE) {
    m->models.postings[n->model].size--;
    m->models.postings[n->model].live -= live;
  }
  for (uint32_t i = 0; i < n->label_count; i++) {
    posting *p = &m->labels.postings[m->label_pool[n->label_offset + i]];
    p->size--;
    p->live -= live;
  }
  m->label_pool_size = n->label_offset;
  free(n->id);
  m->count--;
}

static const char *dict_string(const dict *d, uint32_t id) {
  return id == META_NONE ? "" : d->strings[id];
}

const char *hnsw_meta_id(const hnsw_meta *m, uint32_t node) {
  return m->nodes[node].id;
}
const char *hnsw_meta_product(const hnsw_meta *m, uint32_t node) {
  return dict_string(&m->products, m->nodes[node].product);
}
const char *hnsw_meta_category(const hnsw_meta *m, uint32_t node) {
  return dict_string(&m->categories, m->nodes[node].category);
}
const char *hnsw_meta_model(const hnsw_meta *m, uint32_t node) {
  return dict_string(&m->models, m->nodes[node].model);
}
size_t hnsw_meta_label_count(const hnsw_meta *m, uint32_t node) {
  return m->nodes[node].label_count;
}
const char *hnsw_meta_label(const hnsw_meta *m, uint32_t node, size_t i) {
  return m->labels.strings[m->label_pool[m->nodes[node].label_offset + i]];
}

/* Re-adds one node of src to dst (same strings, new id). */
static int copy_node(hnsw_meta *dst, const hnsw_meta *src, uint32_t node) {
  const node_meta *n = &src->nodes[node];
  const char *labels_stack[64];
  const char **labels = labels_stack;
  if (n->label_count > 64) {
    labels = malloc(n->label_count * sizeof *labels);
    if (!labels) return -1;
  }
  for (uint32_t i = 0; i < n->label_count; i++)
    labels[i] = hnsw_meta_label(src, node, i);
  visor_vector_meta meta = {
      .product_id = hnsw_meta_product(src, node),
      .category = hnsw_meta_category(src, node),
      .labels = labels,
      .label_count = n->label_count,
      .model = hnsw_meta_model(src, node),
  };
  int rc = hnsw_meta_append(dst, n->id, &meta);
  if (labels != labels_stack) free(labels);
  return rc;
}

hnsw_meta *hnsw_meta_compacted(const hnsw_meta *m, const uint32_t *remap, size_t old_count) {
  hnsw_meta *out = hnsw_meta_new();
  if (!out) return NULL;
  for (uint32_t i = 0; i < old_count && i < m->count; i++) {
    if (remap[i] == META_NONE) continue;
    if (remap[i] != out->count || copy_node(out, m, i) != 0) {
      hnsw_meta_free(out);
      return NULL;
    }
  }
  return out;
}

/* ---- filters ---- */

int hnsw_meta_accept(const void *ctx, uint32_t node) {
  const hnsw_meta_query *q = ctx;
  const hnsw_meta *m = q->meta;
  if (node >= m->count) return 0;
  const node_meta *n = &m->nodes[node];
  if (q->has_model && n->model != q->model) return 0;
  if (q->category_count) {
    size_t i = 0;
    while (i < q->category_count && q->categories[i] != n->category)
      i++;
    if (i == q->category_count) return 0;
  }
  const uint32_t *have = m->label_pool ? m->label_pool + n->label_offset : NULL;
  for (size_t i = 0; i < q->label_count; i++) {
    size_t lo = 0, hi = n->label_count;
    uint32_t want = q->labels[i];
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (have[mid] < want)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo == n->label_count || have[lo] != want) return 0;
  }
  return 1;
}

void hnsw_meta_query_free(hnsw_meta_query *q) {
  free(q->categories);
  free(q->labels);
  free(q->lists);
  free(q->list_sizes);
  memset(q, 0, sizeof *q);
}

hnsw_meta_compile_result hnsw_meta_compile(hnsw_meta_query *q, const hnsw_meta *m,
                                           const visor_vector_filter *f, hnsw_filter *out) {
  memset(q, 0, sizeof *q);
  memset(out, 0, sizeof *out);
  q->meta = m;
  if (!f) return HNSW_META_NO_FILTER;
  size_t ncat = f->categories ? f->category_count : 0;
  size_t nlab = f->labels ? f->label_count : 0;
  int want_model = f->model && *f->model;
  if (ncat == 0 && nlab == 0 && !want_model) return HNSW_META_NO_FILTER;

  /* The scan set: the union of the category lists, the smallest label list, or the model
   * list, whichever is shortest; the estimate: the fewest live nodes any constraint allows. */
  q->lists = calloc(ncat + 1, sizeof *q->lists);
  q->list_sizes = calloc(ncat + 1, sizeof *q->list_sizes);
  q->categories = calloc(ncat + 1, sizeof *q->categories);
  q->labels = calloc(nlab + 1, sizeof *q->labels);
  if (!q->lists || !q->list_sizes || !q->categories || !q->labels) {
    hnsw_meta_query_free(q);
    return HNSW_META_COMPILE_NOMEM;
  }
  size_t cat_scan = 0, cat_live = 0;
  for (size_t i = 0; i < ncat; i++) {
    uint32_t id;
    if (!f->categories[i] || !hnsw_strmap_get(&m->categories.map, f->categories[i], &id)) continue;
    size_t j = 0;
    while (j < q->category_count && q->categories[j] != id)
      j++;
    if (j < q->category_count) continue;
    q->categories[q->category_count++] = id;
    cat_scan += m->categories.postings[id].size;
    cat_live += m->categories.postings[id].live;
  }
  if (ncat && (q->category_count == 0 || cat_live == 0)) goto none;
  size_t best_scan = ncat ? cat_scan : SIZE_MAX, estimate = ncat ? cat_live : SIZE_MAX;
  int best = ncat ? 0 : -1; /* 0 = categories, 1 = a label, 2 = model */
  const posting *best_posting = NULL;
  for (size_t i = 0; i < nlab; i++) {
    uint32_t id;
    if (!f->labels[i] || !hnsw_strmap_get(&m->labels.map, f->labels[i], &id)) goto none;
    const posting *p = &m->labels.postings[id];
    if (p->live == 0) goto none;
    q->labels[q->label_count++] = id;
    if (p->live < estimate) estimate = p->live;
    if (p->size < best_scan) {
      best_scan = p->size;
      best = 1;
      best_posting = p;
    }
  }
  if (q->label_count > 1) qsort(q->labels, q->label_count, sizeof *q->labels, cmp_u32);
  if (want_model) {
    if (!hnsw_strmap_get(&m->models.map, f->model, &q->model)) goto none;
    q->has_model = 1;
    const posting *p = &m->models.postings[q->model];
    if (p->live == 0) goto none;
    if (p->live < estimate) estimate = p->live;
    if (p->size < best_scan) {
      best_scan = p->size;
      best = 2;
      best_posting = p;
    }
  }
  size_t lists = 0;
  if (best == 0) {
    for (size_t i = 0; i < q->category_count; i++) {
      const posting *p = &m->categories.postings[q->categories[i]];
      q->lists[lists] = p->nodes;
      q->list_sizes[lists++] = p->size;
    }
  } else {
    q->lists[lists] = best_posting->nodes;
    q->list_sizes[lists++] = best_posting->size;
  }
  out->accept = hnsw_meta_accept;
  out->ctx = q;
  out->lists = q->lists;
  out->list_sizes = q->list_sizes;
  out->list_count = lists;
  out->match_estimate = estimate;
  out->strategy = HNSW_FILTER_AUTO;
  return HNSW_META_FILTER;
none:
  hnsw_meta_query_free(q);
  return HNSW_META_MATCHES_NONE;
}

/* ---- snapshot section ---- */

#define META_MAGIC 0x4154454Du /* "META" */

void hnsw_meta_write(const hnsw_meta *m, hnsw_writer *w) {
  hnsw_write_u32(w, META_MAGIC);
  hnsw_write_u64(w, m->count);
  for (uint32_t i = 0; i < m->count; i++) {
    const node_meta *n = &m->nodes[i];
    hnsw_write_str(w, n->id);
    hnsw_write_str(w, hnsw_meta_product(m, i));
    hnsw_write_str(w, hnsw_meta_category(m, i));
    hnsw_write_str(w, hnsw_meta_model(m, i));
    hnsw_write_u32(w, n->label_count);
    for (uint32_t j = 0; j < n->label_count; j++)
      hnsw_write_str(w, hnsw_meta_label(m, i, j));
    uint8_t deleted = n->deleted;
    hnsw_write(w, &deleted, 1);
  }
}

hnsw_meta *hnsw_meta_read(hnsw_reader *r) {
  hnsw_meta *m = hnsw_meta_new();
  char *buf = malloc(4 * (size_t)META_MAX_STR);
  char **labels = NULL;
  size_t labels_capacity = 0;
  char *label_text = NULL;
  if (!m || !buf) goto bad;
  if (hnsw_read_u32(r) != META_MAGIC) goto bad;
  uint64_t count = hnsw_read_u64(r);
  if (r->failed || count >= UINT32_MAX) goto bad;
  for (uint64_t i = 0; i < count; i++) {
    char *id = buf, *product = buf + META_MAX_STR, *category = buf + 2 * META_MAX_STR;
    char *model = buf + 3 * META_MAX_STR;
    hnsw_read_str(r, id, META_MAX_STR);
    hnsw_read_str(r, product, META_MAX_STR);
    hnsw_read_str(r, category, META_MAX_STR);
    hnsw_read_str(r, model, META_MAX_STR);
    uint32_t nlabels = hnsw_read_u32(r);
    /* each label takes at least its 2-byte length in the file */
    if (r->failed || nlabels > 65536 || !hnsw_read_fits(r, 2 * (uint64_t)nlabels)) goto bad;
    if (nlabels > labels_capacity) {
      free(labels);
      free(label_text);
      labels = malloc(nlabels * sizeof *labels);
      label_text = malloc((size_t)nlabels * META_MAX_STR);
      labels_capacity = nlabels;
      if (!labels || !label_text) goto bad;
    }
    for (uint32_t j = 0; j < nlabels; j++) {
      labels[j] = label_text + (size_t)j * META_MAX_STR;
      hnsw_read_str(r, labels[j], META_MAX_STR);
    }
    uint8_t deleted = 0;
    hnsw_read(r, &deleted, 1);
    if (r->failed) goto bad;
    visor_vector_meta meta = {product, category, (const char *const *)labels, nlabels, model};
    if (hnsw_meta_append(m, id, &meta) != 0) goto bad;
    if (deleted) hnsw_meta_delete(m, (uint32_t)i);
  }
  free(buf);
  free(labels);
  free(label_text);
  return m;
bad:
  r->failed = 1;
  hnsw_meta_free(m);
  free(buf);
  free(labels);
  free(label_text);
  return NULL;
}

static size_t dict_memory(const dict *d) {
  size_t bytes = d->map.capacity * sizeof(hnsw_strmap_slot) + d->capacity * sizeof(char *);
  for (size_t i = 0; i < d->count; i++) {
    bytes += 2 * (strlen(d->strings[i]) + 1);
    if (d->postings) bytes += sizeof(posting) + d->postings[i].capacity * sizeof(uint32_t);
  }
  return bytes;
}

size_t hnsw_meta_memory(const hnsw_meta *m) {
  size_t bytes = sizeof *m + m->capacity * sizeof(node_meta) +
                 m->label_pool_capacity * sizeof(uint32_t) + dict_memory(&m->products) +
                 dict_memory(&m->categories) + dict_memory(&m->labels) + dict_memory(&m->models);
  for (size_t i = 0; i < m->count; i++)
    bytes += strlen(m->nodes[i].id) + 1;
  return bytes;
}
