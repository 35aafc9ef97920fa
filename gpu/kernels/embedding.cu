// embedding: gather the rows of a token-embedding table.
//
//   out[m][i] = table[ids[m]][i]        table (vocab, dim), out (M, dim) f32
//
// grid (M), block (any): block m copies row ids[m], widened to f32.
#include "common.h"

template <typename T>
DEV void embedding(float* out, const T* table, const int* ids, int dim) {
  kernel_begin();
  const T* row = table + (size_t)ids[blockIdx.x] * dim;
  float* o = out + (size_t)blockIdx.x * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = to_f32(row[i]);
}

KERNEL void embedding_f32(float* out, const float* table, const int* ids, int dim) { embedding(out, table, ids, dim); }
KERNEL void embedding_bf16(float* out, const bf16_t* table, const int* ids, int dim) { embedding(out, table, ids, dim); }
KERNEL void embedding_f16(float* out, const f16_t* table, const int* ids, int dim) { embedding(out, table, ids, dim); }
