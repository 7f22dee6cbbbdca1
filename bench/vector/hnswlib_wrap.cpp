// hnswlib_wrap.cpp: hnswlib (the reference HNSW implementation) behind a few C functions,
// for bench_vector only.
#include <hnswlib/hnswlib.h>

#include <cstddef>

extern "C" {

struct hl_index {
  hnswlib::SpaceInterface<float> *space;
  hnswlib::HierarchicalNSW<float> *index;
};

hl_index *hl_new(size_t dim, int inner_product, size_t max_elements, size_t m, size_t efc,
                 size_t seed) {
  hl_index *h = new hl_index;
  if (inner_product)
    h->space = new hnswlib::InnerProductSpace(dim);
  else
    h->space = new hnswlib::L2Space(dim);
  h->index = new hnswlib::HierarchicalNSW<float>(h->space, max_elements, m, efc, seed);
  return h;
}

void hl_add(hl_index *h, const float *v, size_t label) {
  h->index->addPoint(v, label);
}

void hl_set_ef(hl_index *h, size_t ef) {
  h->index->setEf(ef);
}

// Up to k results, closest first. Returns the count.
size_t hl_search(hl_index *h, const float *q, size_t k, size_t *labels, float *dists) {
  auto result = h->index->searchKnn(q, k);
  size_t n = result.size();
  for (size_t i = n; i > 0; i--) {
    labels[i - 1] = result.top().second;
    dists[i - 1] = result.top().first;
    result.pop();
  }
  return n;
}

void hl_free(hl_index *h) {
  delete h->index;
  delete h->space;
  delete h;
}
}
