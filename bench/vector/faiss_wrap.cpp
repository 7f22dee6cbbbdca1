// faiss_wrap.cpp: FAISS 1.7.3 (Debian libfaiss-dev) behind a few C functions, for
// bench_vector only: IndexHNSWFlat, IndexHNSWSQ (QT_8bit) and the exact IndexFlat used as
// the recall reference. OpenMP is held to one thread for the HNSW indexes (single-threaded
// build and search, as for the others); the exact reference may use more.
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/impl/ScalarQuantizer.h>
#include <omp.h>

#include <cstddef>
#include <cstdint>
#include <vector>

typedef faiss::Index::idx_t fidx;

extern "C" {

struct fs_index {
  faiss::IndexHNSW *index;
};

void fs_threads(int n) {
  omp_set_num_threads(n);
}

// kind 0: IndexHNSWFlat; 1: IndexHNSWSQ with 8-bit codes (trained on the first train_n).
fs_index *fs_new(int kind, size_t dim, int inner_product, size_t m, size_t efc) {
  faiss::MetricType metric = inner_product ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
  fs_index *f = new fs_index;
  if (kind == 0)
    f->index = new faiss::IndexHNSWFlat((int)dim, (int)m, metric);
  else
    f->index = new faiss::IndexHNSWSQ((int)dim, faiss::ScalarQuantizer::QT_8bit, (int)m, metric);
  f->index->hnsw.efConstruction = (int)efc;
  return f;
}

void fs_train(fs_index *f, size_t n, const float *x) {
  f->index->train((fidx)n, x);
}

void fs_add(fs_index *f, size_t n, const float *x) {
  f->index->add((fidx)n, x);
}

void fs_set_ef(fs_index *f, size_t ef) {
  f->index->hnsw.efSearch = (int)ef;
}

// Up to k results, closest first. Returns the count.
size_t fs_search(fs_index *f, const float *q, size_t k, size_t *labels) {
  std::vector<fidx> ids(k);
  std::vector<float> d(k);
  f->index->search(1, q, (fidx)k, d.data(), ids.data());
  size_t n = 0;
  for (size_t i = 0; i < k; i++)
    if (ids[i] >= 0) labels[n++] = (size_t)ids[i];
  return n;
}

void fs_free(fs_index *f) {
  delete f->index;
  delete f;
}

// Exact k nearest of each query (IndexFlatIP or IndexFlatL2), ids into out (nq * k).
void fs_exact(size_t dim, int inner_product, const float *base, size_t n, const float *queries,
              size_t nq, size_t k, uint32_t *out) {
  faiss::IndexFlat flat((fidx)dim, inner_product ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2);
  flat.add((fidx)n, base);
  std::vector<fidx> ids(nq * k);
  std::vector<float> d(nq * k);
  flat.search((fidx)nq, queries, (fidx)k, d.data(), ids.data());
  for (size_t i = 0; i < nq * k; i++)
    out[i] = ids[i] < 0 ? UINT32_MAX : (uint32_t)ids[i];
}
}
