// rmsnorm: normalize each row by its root mean square and scale it by w,
// as Llama and Qwen do (and Qwen3's q/k norm, over rows of head_dim).
//
//   out[r][i] = x[r][i] / sqrt(mean_i(x[r][i]²) + eps) · w[i]      rows of d values
//
// grid (rows), block (a multiple of GP_WARP): block r normalizes row r.
// out may be x.
#include "common.h"

KERNEL void rmsnorm(float* out, const float* x, const float* w, int d, float eps) {
  __shared__ float scratch[GP_MAX_WARPS];
  const float* xr = x + (size_t)blockIdx.x * d;
  float* o = out + (size_t)blockIdx.x * d;

  float ss = 0.0f;
  for (int i = threadIdx.x; i < d; i += blockDim.x) ss = fmaf(xr[i], xr[i], ss);
  ss = block_sum(ss, scratch);

  float scale = 1.0f / sqrtf(ss / (float)d + eps);
  for (int i = threadIdx.x; i < d; i += blockDim.x) o[i] = xr[i] * scale * w[i];
}
