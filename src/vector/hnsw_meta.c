/* hnsw_meta.c: per-node metadata. Category, label, model and product strings are interned
 * into dictionaries (one per role); each category/label/model value keeps the list of nodes
 * that have it (a posting list, with tombstoned nodes left in until compaction) and how many
 * of them are live, which gives the filter its cost estimate. A filter expression compiles
 * into a tree of integer tests evaluated per node in three-valued logic (core/filter_expr.h),
 * and into a scan set of posting lists for the brute-force strategy where it has one. */
#include "vector/hnsw_meta.h"

#include <math.h>
#include <stdio.h>
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
  uint8_t deleted, has_price;
  double price;
} node_meta;

struct hnsw_meta {
  node_meta *nodes;
  size_t count, capacity;
  uint32_t *label_pool;
  size_t label_pool_size, label_pool_capacity;
  dict products, categories, labels, models;
  size_t live; /* nodes not deleted */
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

int hnsw_meta_price_label(const visor_vector_meta *meta, char *buf, size_t cap) {
  if (!meta || !meta->has_price) return 0;
  snprintf(buf, cap, HNSW_META_PRICE_LABEL "%.17g", meta->price);
  return 1;
}

/* Whether label is the reserved price label; *price gets its number. */
static int parse_price_label(const char *label, double *price) {
  size_t n = sizeof HNSW_META_PRICE_LABEL - 1;
  if (strncmp(label, HNSW_META_PRICE_LABEL, n) != 0) return 0;
  char *end = NULL;
  double value = strtod(label + n, &end);
  if (end == label + n || *end || !isfinite(value)) return 0;
  *price = value;
  return 1;
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
  if (meta && meta->has_price) {
    n.has_price = 1;
    n.price = meta->price;
  }
  /* No pool yet when no node had labels: NULL + 0 is undefined behaviour. */
  uint32_t *labels = m->label_pool ? m->label_pool + m->label_pool_size : NULL;
  size_t kept = 0;
  for (size_t i = 0; i < label_count && !oom; i++) {
    if (meta->labels[i] && parse_price_label(meta->labels[i], &n.price)) {
      n.has_price = 1;
      continue;
    }
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
  m->live++;
  return 0;
fail:
  free(n.id);
  return -1;
}

void hnsw_meta_delete(hnsw_meta *m, uint32_t node) {
  if (node >= m->count || m->nodes[node].deleted) return;
  node_meta *n = &m->nodes[node];
  n->deleted = 1;
  m->live--;
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
  m->live -= (size_t)live;
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
int hnsw_meta_price(const hnsw_meta *m, uint32_t node, double *price) {
  if (!m->nodes[node].has_price) return 0;
  *price = m->nodes[node].price;
  return 1;
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
      .price = n->price,
      .has_price = n->has_price,
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

/* ---- filter expressions ---- */

typedef enum truth { FALSE_, TRUE_, UNKNOWN_ } truth;

struct hnsw_meta_term {
  visor_filter_kind kind;
  hnsw_meta_term *children;
  size_t child_count;
  visor_filter_field field;
  visor_filter_op op;
  int negated;
  uint32_t *ids; /* category or label ids of the values that exist in the table */
  size_t id_count;
  uint32_t *key_ids; /* label leaves: the sorted ids of every label with this key */
  size_t key_count;
  double *numbers; /* price leaves */
  size_t number_count;
};

static void term_free(hnsw_meta_term *t) {
  for (size_t i = 0; i < t->child_count; i++)
    term_free(&t->children[i]);
  free(t->children);
  free(t->ids);
  free(t->key_ids);
  free(t->numbers);
}

/* Whether the sorted arrays a and b share an element. */
static int sorted_intersect(const uint32_t *a, size_t na, const uint32_t *b, size_t nb) {
  size_t i = 0, j = 0;
  while (i < na && j < nb) {
    if (a[i] == b[j]) return 1;
    if (a[i] < b[j])
      i++;
    else
      j++;
  }
  return 0;
}

static int holds(visor_filter_op op, double have, double want) {
  switch (op) {
  case VISOR_FILTER_EQ:
    return have == want;
  case VISOR_FILTER_NE:
    return have != want;
  case VISOR_FILTER_LT:
    return have < want;
  case VISOR_FILTER_LE:
    return have <= want;
  case VISOR_FILTER_GT:
    return have > want;
  case VISOR_FILTER_GE:
    return have >= want;
  }
  return 0;
}

static truth term_eval(const hnsw_meta_term *t, const hnsw_meta *m, const node_meta *n) {
  switch (t->kind) {
  case VISOR_FILTER_AND: {
    truth out = TRUE_;
    for (size_t i = 0; i < t->child_count && out != FALSE_; i++) {
      truth c = term_eval(&t->children[i], m, n);
      if (c != TRUE_) out = c;
    }
    return out;
  }
  case VISOR_FILTER_OR: {
    truth out = FALSE_;
    for (size_t i = 0; i < t->child_count && out != TRUE_; i++) {
      truth c = term_eval(&t->children[i], m, n);
      if (c != FALSE_) out = c;
    }
    return out;
  }
  case VISOR_FILTER_NOT: {
    truth c = term_eval(&t->children[0], m, n);
    return c == UNKNOWN_ ? UNKNOWN_ : c == TRUE_ ? FALSE_ : TRUE_;
  }
  case VISOR_FILTER_COMPARE:
  case VISOR_FILTER_IN:
    break;
  }
  int match = 0;
  if (t->field == VISOR_FILTER_PRICE) {
    if (!n->has_price) return UNKNOWN_;
    if (t->kind == VISOR_FILTER_COMPARE)
      return holds(t->op, n->price, t->numbers[0]) ? TRUE_ : FALSE_;
    for (size_t i = 0; i < t->number_count && !match; i++)
      match = n->price == t->numbers[i];
  } else if (t->field == VISOR_FILTER_CATEGORY) {
    if (n->category == META_NONE) return UNKNOWN_;
    for (size_t i = 0; i < t->id_count && !match; i++)
      match = t->ids[i] == n->category;
  } else {
    const uint32_t *have = m->label_pool ? m->label_pool + n->label_offset : NULL;
    if (!sorted_intersect(have, n->label_count, t->key_ids, t->key_count)) return UNKNOWN_;
    match = sorted_intersect(have, n->label_count, t->ids, t->id_count);
  }
  int positive = t->kind == VISOR_FILTER_IN ? !t->negated : t->op == VISOR_FILTER_EQ;
  return match == positive ? TRUE_ : FALSE_;
}

/* Compiles node into t. 0, or -1 when out of memory. */
static int term_compile(hnsw_meta_term *t, const hnsw_meta *m, const visor_filter_node *node) {
  memset(t, 0, sizeof *t);
  t->kind = node->kind;
  t->field = node->field;
  t->op = node->op;
  t->negated = node->negated;
  if (node->kind == VISOR_FILTER_AND || node->kind == VISOR_FILTER_OR ||
      node->kind == VISOR_FILTER_NOT) {
    t->children = calloc(node->child_count, sizeof *t->children);
    if (!t->children) return -1;
    for (size_t i = 0; i < node->child_count; i++) {
      t->child_count++;
      if (term_compile(&t->children[i], m, node->children[i]) != 0) return -1;
    }
    return 0;
  }
  size_t n = node->value_count;
  if (node->field == VISOR_FILTER_PRICE) {
    t->numbers = malloc(n * sizeof *t->numbers);
    if (!t->numbers) return -1;
    for (size_t i = 0; i < n; i++)
      t->numbers[i] = node->values[i].number;
    t->number_count = n;
    return 0;
  }
  t->ids = malloc(n * sizeof *t->ids);
  if (!t->ids) return -1;
  const dict *d = node->field == VISOR_FILTER_CATEGORY ? &m->categories : &m->labels;
  char stack[512];
  for (size_t i = 0; i < n; i++) {
    const char *value = node->values[i].text;
    char *label = stack;
    if (node->field == VISOR_FILTER_LABEL) {
      size_t need = strlen(node->label_key) + strlen(value) + 2;
      if (need > sizeof stack && !(label = malloc(need))) return -1;
      size_t key_len = strlen(node->label_key);
      memcpy(label, node->label_key, key_len);
      label[key_len] = '=';
      memcpy(label + key_len + 1, value, strlen(value) + 1);
      value = label;
    }
    uint32_t id;
    if (*value && hnsw_strmap_get(&d->map, value, &id)) t->ids[t->id_count++] = id;
    if (label != stack) free(label);
  }
  if (t->id_count > 1) qsort(t->ids, t->id_count, sizeof *t->ids, cmp_u32);
  if (node->field == VISOR_FILTER_LABEL) {
    size_t key_len = strlen(node->label_key), capacity = 0;
    for (uint32_t id = 0; id < m->labels.count; id++) {
      const char *label = m->labels.strings[id];
      if (strncmp(label, node->label_key, key_len) != 0 || label[key_len] != '=') continue;
      if (t->key_count == capacity) {
        capacity = capacity ? capacity * 2 : 8;
        uint32_t *grown = realloc(t->key_ids, capacity * sizeof *grown);
        if (!grown) return -1;
        t->key_ids = grown;
      }
      t->key_ids[t->key_count++] = id; /* ids ascend: already sorted */
    }
  }
  return 0;
}

/* The nodes a term can be true for, as posting lists (all_nodes when it has no such set). */
typedef struct scan_set {
  int all_nodes;
  const posting **postings;
  size_t count, capacity;
  size_t scan, live;
} scan_set;

static int scan_add(scan_set *s, const posting *p) {
  if (s->count == s->capacity) {
    size_t capacity = s->capacity ? s->capacity * 2 : 8;
    const posting **grown = realloc(s->postings, capacity * sizeof *grown);
    if (!grown) return -1;
    s->postings = grown;
    s->capacity = capacity;
  }
  s->postings[s->count++] = p;
  s->scan += p->size;
  s->live += p->live;
  return 0;
}

/* The scan set of node, negated when `negate` (NOT pushed down: AND and OR swap, = and !=). */
static int scan_of(const hnsw_meta *m, const visor_filter_node *node, const hnsw_meta_term *t,
                   int negate, scan_set *out) {
  memset(out, 0, sizeof *out);
  if (node->kind == VISOR_FILTER_NOT)
    return scan_of(m, node->children[0], &t->children[0], !negate, out);
  if (node->kind == VISOR_FILTER_AND || node->kind == VISOR_FILTER_OR) {
    int intersect = (node->kind == VISOR_FILTER_AND) != negate;
    int have = 0;
    for (size_t i = 0; i < node->child_count; i++) {
      scan_set child;
      if (scan_of(m, node->children[i], &t->children[i], negate, &child) != 0) {
        free(child.postings);
        free(out->postings);
        return -1;
      }
      if (intersect) {
        /* any one term's set covers the AND: keep the cheapest */
        if (!child.all_nodes && (!have || child.scan < out->scan)) {
          free(out->postings);
          *out = child;
          have = 1;
        } else {
          free(child.postings);
        }
      } else {
        if (child.all_nodes) out->all_nodes = 1;
        for (size_t j = 0; j < child.count && !out->all_nodes; j++)
          if (scan_add(out, child.postings[j]) != 0) {
            free(child.postings);
            free(out->postings);
            return -1;
          }
        free(child.postings);
      }
    }
    if (intersect && !have) out->all_nodes = 1;
    return 0;
  }
  int positive = node->kind == VISOR_FILTER_IN ? !node->negated : node->op == VISOR_FILTER_EQ;
  if (node->field == VISOR_FILTER_PRICE || positive == negate) {
    out->all_nodes = 1;
    return 0;
  }
  const dict *d = node->field == VISOR_FILTER_CATEGORY ? &m->categories : &m->labels;
  for (size_t i = 0; i < t->id_count; i++)
    if (scan_add(out, &d->postings[t->ids[i]]) != 0) return -1;
  return 0;
}

/* The sorted, duplicate-free union of the set's posting lists (malloc'd, *count entries). */
static uint32_t *merge_postings(const scan_set *s, size_t *count) {
  uint32_t *nodes = malloc((s->scan ? s->scan : 1) * sizeof *nodes);
  if (!nodes) return NULL;
  size_t n = 0;
  for (size_t i = 0; i < s->count; i++) {
    memcpy(nodes + n, s->postings[i]->nodes, s->postings[i]->size * sizeof *nodes);
    n += s->postings[i]->size;
  }
  qsort(nodes, n, sizeof *nodes, cmp_u32);
  size_t unique = 0;
  for (size_t i = 0; i < n; i++)
    if (unique == 0 || nodes[unique - 1] != nodes[i]) nodes[unique++] = nodes[i];
  *count = unique;
  return nodes;
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
  return !q->expr || term_eval(q->expr, m, n) == TRUE_;
}

void hnsw_meta_query_free(hnsw_meta_query *q) {
  free(q->categories);
  free(q->labels);
  free(q->lists);
  free(q->list_sizes);
  if (q->expr) term_free(q->expr);
  free(q->expr);
  free(q->merged);
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
  /* A model every live vector has constrains nothing (one embedder, the usual case): the
   * search is then the plain graph search, not a filtered one or a scan of the model list. */
  uint32_t model_id;
  if (want_model && m->live > 0 && hnsw_strmap_get(&m->models.map, f->model, &model_id) &&
      m->models.postings[model_id].live == m->live)
    want_model = 0;
  int want_expr = f->expr && f->expr->root;
  if (ncat == 0 && nlab == 0 && !want_model && !want_expr) return HNSW_META_NO_FILTER;

  /* The scan set: the union of the category lists, the smallest label list, the model
   * list, or the expression's set, whichever is shortest; the estimate: the fewest live
   * nodes any constraint allows. */
  q->lists = calloc(ncat + 1, sizeof *q->lists);
  q->list_sizes = calloc(ncat + 1, sizeof *q->list_sizes);
  q->categories = calloc(ncat + 1, sizeof *q->categories);
  q->labels = calloc(nlab + 1, sizeof *q->labels);
  if (!q->lists || !q->list_sizes || !q->categories || !q->labels) goto nomem;
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
  int best = ncat ? 0 : -1; /* 0 = categories, 1 = a label, 2 = model, 3 = expression */
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
  scan_set expr_set = {0};
  if (want_expr) {
    q->expr = calloc(1, sizeof *q->expr);
    if (!q->expr || term_compile(q->expr, m, f->expr->root) != 0 ||
        scan_of(m, f->expr->root, q->expr, 0, &expr_set) != 0)
      goto nomem;
    if (!expr_set.all_nodes) {
      if (expr_set.live == 0) {
        free(expr_set.postings);
        goto none;
      }
      if (expr_set.live < estimate) estimate = expr_set.live;
      if (expr_set.scan < best_scan) {
        best_scan = expr_set.scan;
        best = 3;
      }
    }
  }
  size_t lists = 0;
  if (best == 0) {
    for (size_t i = 0; i < q->category_count; i++) {
      const posting *p = &m->categories.postings[q->categories[i]];
      q->lists[lists] = p->nodes;
      q->list_sizes[lists++] = p->size;
    }
  } else if (best == 3 && expr_set.count == 1) {
    q->lists[lists] = expr_set.postings[0]->nodes;
    q->list_sizes[lists++] = expr_set.postings[0]->size;
  } else if (best == 3) {
    size_t merged_count = 0;
    if (!(q->merged = merge_postings(&expr_set, &merged_count))) {
      free(expr_set.postings);
      goto nomem;
    }
    q->lists[lists] = q->merged;
    q->list_sizes[lists++] = merged_count;
  } else if (best >= 0) {
    q->lists[lists] = best_posting->nodes;
    q->list_sizes[lists++] = best_posting->size;
  }
  free(expr_set.postings);
  out->accept = hnsw_meta_accept;
  out->ctx = q;
  out->lists = lists ? q->lists : NULL; /* none: the expression alone, in the graph */
  out->list_sizes = q->list_sizes;
  out->list_count = lists;
  out->match_estimate = estimate == SIZE_MAX ? 0 : estimate;
  out->strategy = HNSW_FILTER_AUTO;
  return HNSW_META_FILTER;
none:
  hnsw_meta_query_free(q);
  return HNSW_META_MATCHES_NONE;
nomem:
  hnsw_meta_query_free(q);
  return HNSW_META_COMPILE_NOMEM;
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
    visor_vector_meta price_only = {.price = n->price, .has_price = n->has_price};
    char price[HNSW_META_PRICE_LABEL_MAX];
    int has_price = hnsw_meta_price_label(&price_only, price, sizeof price);
    hnsw_write_u32(w, n->label_count + (uint32_t)has_price);
    for (uint32_t j = 0; j < n->label_count; j++)
      hnsw_write_str(w, hnsw_meta_label(m, i, j));
    if (has_price) hnsw_write_str(w, price);
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
    visor_vector_meta meta = {.product_id = product,
                              .category = category,
                              .labels = (const char *const *)labels,
                              .label_count = nlabels,
                              .model = model};
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
