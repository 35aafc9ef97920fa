// argmax: the index of the largest value of each row, the first one on
// ties (as ops.Argmax), so greedy decoding needs no copy of the logits.
// NaNs never win. With part_s and prob given, also the softmax probability
// of that largest value, so that a greedy draft's confidence
// (pard.Options.MinConfidence) needs no copy either:
//
//   out[r]  = min { i : x[r][i] = max_j x[r][j] }        x (rows, n) f32, out (rows) int32
//   prob[r] = exp(x[r][out[r]] - max) / Σ_j exp(x[r][j] - max) = 1 / Σ_j exp(x[r][j] - max)
//
// (-inf and NaN adding nothing to the sum; prob 0 for a row without a
// finite value.)
//
// A row of 150k logits is too much for one block (an H100 took 40 µs), so
// argmax_part splits each row into parts, one block each, and argmax_final
// merges the parts' winners. Each thread keeps the best (value, index) of
// its elements, and the sum of exp(x - value) over them, rescaled whenever
// the value grows (the online softmax's running sum); warps, then the
// block, merge them.
#include "common.h"

// better reports whether (v, i) beats (bv, bi).
DEV bool better(float v, int i, float bv, int bi) { return v > bv || (v == bv && i < bi); }

// take folds element (v, i) into a thread's best (bv, bi) and, when sums,
// its running sum s of exp(x - bv).
DEV void take(float v, int i, float& bv, int& bi, float& s, bool sums) {
  if (sums && v > bv) s *= expf(bv - v); // 0 while s is: bv = -inf gives expf(-inf)
  if (better(v, i, bv, bi)) bv = v, bi = i;
  if (sums && v > neg_inf()) s += expf(v - bv);
}

// merge folds another (v, i, s2) into (bv, bi, s): the two sums rescaled to
// the larger maximum (an empty sum, whose maximum may be -inf, adds 0).
DEV void merge(float v, int i, float s2, float& bv, int& bi, float& s, bool sums) {
  if (sums) {
    float m = fmaxf(bv, v);
    s = (s > 0.0f ? s * expf(bv - m) : 0.0f) + (s2 > 0.0f ? s2 * expf(v - m) : 0.0f);
  }
  if (better(v, i, bv, bi)) bv = v, bi = i;
}

// argmax_block merges every thread's (bv, bi, s) over the block; thread 0
// gets the block's.
DEV void argmax_block(float& bv, int& bi, float& s, bool sums) {
  __shared__ float warp_v[GP_MAX_WARPS];
  __shared__ int warp_i[GP_MAX_WARPS];
  __shared__ float warp_s[GP_MAX_WARPS];
  int lane = threadIdx.x % GP_WARP, warp = threadIdx.x / GP_WARP, warps = blockDim.x / GP_WARP;
  for (int m = GP_WARP / 2; m > 0; m >>= 1) {
    float v = GP_SHFL_XOR(bv, m);
    int i = GP_SHFL_XOR(bi, m);
    float s2 = GP_SHFL_XOR(s, m);
    merge(v, i, s2, bv, bi, s, sums);
  }
  if (lane == 0) warp_v[warp] = bv, warp_i[warp] = bi, warp_s[warp] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < warps; w++) merge(warp_v[w], warp_i[w], warp_s[w], bv, bi, s, sums);
  }
}

// argmax_part: grid (parts, rows), block (a multiple of GP_WARP). Block
// (p, r) takes elements [p·span, (p+1)·span) of row r, span a multiple of
// 4, and writes its winner to part_v/part_i[r·parts + p] (index n when
// it has none: only NaNs), and, when part_s is not null, its sum of
// exp(x - winner) to part_s[r·parts + p].
KERNEL void argmax_part(float* part_v, int* part_i, float* part_s, const float* x, int n, int span) {
  kernel_begin();
  const float* xr = x + (size_t)blockIdx.y * n;
  int i0 = blockIdx.x * span, i1 = imin(n, i0 + span);
  bool sums = part_s != nullptr;
  float bv = neg_inf(), s = 0.0f;
  int bi = n; // no element yet: any index beats it on a tie at -inf
  if (n % 4 == 0 && (size_t)x % 16 == 0) {
    for (int i = i0 + threadIdx.x * 4; i < i1; i += blockDim.x * 4) {
      float v[4];
      load4(xr + i, v);
      for (int j = 0; j < 4; j++) take(v[j], i + j, bv, bi, s, sums);
    }
  } else {
    for (int i = i0 + threadIdx.x; i < i1; i += blockDim.x) take(xr[i], i, bv, bi, s, sums);
  }
  argmax_block(bv, bi, s, sums);
  if (threadIdx.x == 0) {
    size_t p = (size_t)blockIdx.y * gridDim.x + blockIdx.x;
    part_v[p] = bv, part_i[p] = bi;
    if (sums) part_s[p] = s;
  }
}

// argmax_final: grid (rows), block (a multiple of GP_WARP): block r merges
// the parts of row r; prob (with part_s) gets 1 / the row's sum.
KERNEL void argmax_final(int* out, float* prob, const float* part_v, const int* part_i, const float* part_s, int parts, int n) {
  kernel_begin();
  const float* pv = part_v + (size_t)blockIdx.x * parts;
  const int* pi = part_i + (size_t)blockIdx.x * parts;
  bool sums = part_s != nullptr;
  float bv = neg_inf(), s = 0.0f;
  int bi = n;
  for (int p = threadIdx.x; p < parts; p += blockDim.x)
    merge(pv[p], pi[p], sums ? part_s[(size_t)blockIdx.x * parts + p] : 0.0f, bv, bi, s, sums);
  argmax_block(bv, bi, s, sums);
  if (threadIdx.x == 0) {
    out[blockIdx.x] = bi < n ? bi : 0;
    if (sums) prob[blockIdx.x] = s > 0.0f ? 1.0f / s : 0.0f;
  }
}
