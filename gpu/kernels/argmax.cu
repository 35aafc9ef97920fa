// argmax: the index of the largest value of each row, the first one on
// ties (as ops.Argmax), so greedy decoding needs no copy of the logits.
// NaNs never win.
//
//   out[r] = min { i : x[r][i] = max_j x[r][j] }        x (rows, n) f32, out (rows) int32
//
// A row of 150k logits is too much for one block (an H100 took 40 µs), so
// argmax_part splits each row into parts, one block each, and argmax_final
// merges the parts' winners. Each thread keeps the best (value, index) of
// its elements; warps, then the block, merge them.
#include "common.h"

// better reports whether (v, i) beats (bv, bi).
DEV bool better(float v, int i, float bv, int bi) { return v > bv || (v == bv && i < bi); }

// argmax_block merges every thread's (bv, bi) over the block; thread 0
// gets the block's winner.
DEV void argmax_block(float& bv, int& bi) {
  __shared__ float warp_v[GP_MAX_WARPS];
  __shared__ int warp_i[GP_MAX_WARPS];
  int lane = threadIdx.x % GP_WARP, warp = threadIdx.x / GP_WARP, warps = blockDim.x / GP_WARP;
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
  }
}

// argmax_part: grid (parts, rows), block (a multiple of GP_WARP). Block
// (p, r) takes elements [p·span, (p+1)·span) of row r, span a multiple of
// 4, and writes its winner to part_v/part_i[r·parts + p] (index n when
// it has none: only NaNs).
KERNEL void argmax_part(float* part_v, int* part_i, const float* x, int n, int span) {
  kernel_begin();
  const float* xr = x + (size_t)blockIdx.y * n;
  int i0 = blockIdx.x * span, i1 = imin(n, i0 + span);
  float bv = neg_inf();
  int bi = n; // no element yet: any index beats it on a tie at -inf
  if (n % 4 == 0 && (size_t)x % 16 == 0) {
    for (int i = i0 + threadIdx.x * 4; i < i1; i += blockDim.x * 4) {
      float v[4];
      load4(xr + i, v);
      for (int j = 0; j < 4; j++)
        if (better(v[j], i + j, bv, bi)) bv = v[j], bi = i + j;
    }
  } else {
    for (int i = i0 + threadIdx.x; i < i1; i += blockDim.x)
      if (better(xr[i], i, bv, bi)) bv = xr[i], bi = i;
  }
  argmax_block(bv, bi);
  if (threadIdx.x == 0) {
    size_t p = (size_t)blockIdx.y * gridDim.x + blockIdx.x;
    part_v[p] = bv, part_i[p] = bi;
  }
}

// argmax_final: grid (rows), block (a multiple of GP_WARP): block r merges
// the parts of row r.
KERNEL void argmax_final(int* out, const float* part_v, const int* part_i, int parts, int n) {
  kernel_begin();
  const float* pv = part_v + (size_t)blockIdx.x * parts;
  const int* pi = part_i + (size_t)blockIdx.x * parts;
  float bv = neg_inf();
  int bi = n;
  for (int p = threadIdx.x; p < parts; p += blockDim.x)
    if (better(pv[p], pi[p], bv, bi)) bv = pv[p], bi = pi[p];
  argmax_block(bv, bi);
  if (threadIdx.x == 0) out[blockIdx.x] = bi < n ? bi : 0;
}
