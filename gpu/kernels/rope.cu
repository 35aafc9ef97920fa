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
// grid (rows·heads), block (any): block b rotates head b % heads of row b / heads.
#include "common.h"

KERNEL void rope(float* x, const float* cos_table, const float* sin_table, int heads, int head_dim, int start) {
  int row = blockIdx.x / heads, head = blockIdx.x % heads, h = head_dim / 2;
  float* xh = x + ((size_t)row * heads + head) * head_dim;
  const float* c = cos_table + (size_t)(start + row) * h;
  const float* s = sin_table + (size_t)(start + row) * h;
  for (int i = threadIdx.x; i < h; i += blockDim.x) {
    float x0 = xh[i], x1 = xh[i + h];
    xh[i] = x0 * c[i] - x1 * s[i];
    xh[i + h] = x1 * c[i] + x0 * s[i];
  }
}
