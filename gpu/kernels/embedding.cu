// embedding: gather the rows of a token-embedding table.
//
//   out[m][i] = table[ids[m]][i]        table (vocab, dim), out (M, dim) f32
//
// grid (M), block (any): block m copies row ids[m], widened to f32. The
// ids come from device memory, or, for up to EMBEDDING_INLINE_IDS of them,
// in the launch's arguments (two int32 per 64-bit slot), so that a decode
// step copies nothing to the device before its first kernel.
#include "common.h"

#define EMBEDDING_INLINE_IDS 16

template <typename T>
DEV void embedding_row(float* out, const T* table, int id, int dim) {
  const T* row = table + (size_t)id * dim;
  float* o = out + (size_t)blockIdx.x * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = to_f32(row[i]);
}

template <typename T>
DEV void embedding(float* out, const T* table, const int* ids, int dim) {
  kernel_begin();
  embedding_row(out, table, ids[blockIdx.x], dim);
}

// embedding_inline takes the ids from its arguments: id m is the low
// (m even) or high (m odd) half of ids[m / 2].
template <typename T>
DEV void embedding_inline(float* out, const T* table, int dim, unsigned long long i01, unsigned long long i23,
                          unsigned long long i45, unsigned long long i67, unsigned long long i89, unsigned long long i1011,
                          unsigned long long i1213, unsigned long long i1415) {
  kernel_begin();
  unsigned long long ids[EMBEDDING_INLINE_IDS / 2] = {i01, i23, i45, i67, i89, i1011, i1213, i1415};
  int m = blockIdx.x;
  embedding_row(out, table, (int)(unsigned)(ids[m / 2] >> (32 * (m % 2))), dim);
}

KERNEL void embedding_f32(float* out, const float* table, const int* ids, int dim) { embedding(out, table, ids, dim); }
KERNEL void embedding_bf16(float* out, const bf16_t* table, const int* ids, int dim) { embedding(out, table, ids, dim); }
KERNEL void embedding_f16(float* out, const f16_t* table, const int* ids, int dim) { embedding(out, table, ids, dim); }
#define EMBEDDING_INLINE_PARAMS(T)                                                                                      \
  float *out, const T *table, int dim, unsigned long long a, unsigned long long b, unsigned long long c, unsigned long long d, \
      unsigned long long e, unsigned long long f, unsigned long long g, unsigned long long h
#define EMBEDDING_INLINE_ARGS out, table, dim, a, b, c, d, e, f, g, h
KERNEL void embedding_inline_f32(EMBEDDING_INLINE_PARAMS(float)) { embedding_inline(EMBEDDING_INLINE_ARGS); }
KERNEL void embedding_inline_bf16(EMBEDDING_INLINE_PARAMS(bf16_t)) { embedding_inline(EMBEDDING_INLINE_ARGS); }
KERNEL void embedding_inline_f16(EMBEDDING_INLINE_PARAMS(f16_t)) { embedding_inline(EMBEDDING_INLINE_ARGS); }
