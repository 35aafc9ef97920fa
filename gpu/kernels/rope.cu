// rope: rotate every head of x in place by its position's angles, in
// Hugging Face's rotate-half layout (dimension i pairs with i + h):
//
//   x[i]   = x[i]·cos θ_i − x[i+h]·sin θ_i
//   x[i+h] = x[i+h]·cos θ_i + x[i]·sin θ_i        h = head_dim/2, θ_i = pos·inv_freq[i]
//
// cos and sin are the (positions, h) tables of nn.RoPEConfig.Tables, so
// Llama 3 frequency scaling is already in them. x holds rows of
// heads·head_dim values for positions start, start+1, ...
//
// rope: grid (rows·heads), block (any): block b rotates head b % heads of
// row b / heads.
#include "common.h"

// rope_head rotates head `head` of row `row` of x (rows of heads·head_dim).
DEV void rope_head(float* x, const float* cos_table, const float* sin_table, int row, int head, int heads, int head_dim,
                   int start) {
  int h = head_dim / 2;
  float* xh = x + ((size_t)row * heads + head) * head_dim;
  const float* c = cos_table + (size_t)(start + row) * h;
  const float* s = sin_table + (size_t)(start + row) * h;
  for (int i = threadIdx.x; i < h; i += blockDim.x) {
    float x0 = xh[i], x1 = xh[i + h];
    rope_pair(x0, x1, c[i], s[i]);
    xh[i] = x0, xh[i + h] = x1;
  }
}

KERNEL void rope(float* x, const float* cos_table, const float* sin_table, int heads, int head_dim, int start) {
  kernel_begin();
  rope_head(x, cos_table, sin_table, blockIdx.x / heads, blockIdx.x % heads, heads, head_dim, start);
}

// rope_qk rotates q (rows, heads·head_dim) and k (rows, kv_heads·head_dim)
// in one launch: a decode step's two rotations are a few microseconds of
// work each, less than a launch costs.
//
// grid (rows·(heads + kv_heads)): the first rows·heads blocks take q.
KERNEL void rope_qk(float* q, float* k, const float* cos_table, const float* sin_table, int rows, int heads, int kv_heads,
                    int head_dim, int start) {
  kernel_begin();
  int b = blockIdx.x, nq = rows * heads;
  if (b < nq) rope_head(q, cos_table, sin_table, b / heads, b % heads, heads, head_dim, start);
  else rope_head(k, cos_table, sin_table, (b - nq) / kv_heads, (b - nq) % kv_heads, kv_heads, head_dim, start);
}
