// argmax: the index of the largest value of each row, the first one on
// ties (as ops.Argmax), so greedy decoding needs no copy of the logits.
//
//   out[r] = min { i : x[r][i] = max_j x[r][j] }        x (rows, n) f32, out (rows) int32
//
// grid (rows), block (a multiple of GP_WARP): each thread keeps the best
// (value, index) of its elements; warps, then the block, merge them.
#include "common.h"

// better reports whether (v, i) beats (bv, bi).
DEV bool better(float v, int i, float bv, int bi) { return v > bv || (v == bv && i < bi); }

KERNEL void argmax(int* out, const float* x, int n) {
  kernel_begin();
  __shared__ float warp_v[GP_MAX_WARPS];
  __shared__ int warp_i[GP_MAX_WARPS];
  const float* xr = x + (size_t)blockIdx.x * n;
  int lane = threadIdx.x % GP_WARP, warp = threadIdx.x / GP_WARP, warps = blockDim.x / GP_WARP;

  float bv = neg_inf();
  int bi = n; // no element yet: any index beats it on a tie at -inf
  // A row of 150k logits is one block's work: four values per load and
  // several loads in flight per thread, or the block waits out hundreds
  // of memory latencies in turn.
  if (n % 4 == 0 && (size_t)x % 16 == 0) {
#pragma unroll 4
    for (int i = threadIdx.x * 4; i < n; i += blockDim.x * 4) {
      float v[4];
      load4(xr + i, v);
      for (int j = 0; j < 4; j++)
        if (better(v[j], i + j, bv, bi)) bv = v[j], bi = i + j;
    }
  } else {
    for (int i = threadIdx.x; i < n; i += blockDim.x)
      if (better(xr[i], i, bv, bi)) bv = xr[i], bi = i;
  }

  for (int m = GP_WARP / 2; m > 0; m >>= 1) {
    float v = GP_SHFL_XOR(bv, m);
    int i = GP_SHFL_XOR(bi, m);
    if (better(v, i, bv, bi)) bv = v, bi = i;
  }
  if (lane == 0) warp_v[warp] = bv, warp_i[warp] = bi;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < warps; w++)
      if (better(warp_v[w], warp_i[w], bv, bi)) bv = warp_v[w], bi = warp_i[w];
    out[blockIdx.x] = bi < n ? bi : 0;
  }
}
