// linear_mma: the linear layers of linear.cu for bf16 weights with the
// activations rounded to bf16 and multiplied on tensor cores (sm_80+),
// for up to 16 rows:
//
//   out[m][n] = Σ_k bf16(x[m][k])·w[n][k] + bias[n]      x (M, K) f32, w (N, K) bf16, out (M, N) f32
//
// bf16() rounds to the nearest, ties to even, as tensor.Float32ToBF16 and
// the CPU's bf16 activations do; the products are exact in f32 and summed
// in f32. In linear.cu every weight costs each of the M rows a multiply-add
// on the CUDA cores, so a 16-row verify costs several decode steps; here a
// warp's mma instruction does 16·8·16 of them at once, and the weights'
// bytes, the same for 1 row as for 16, are what remains. The host uses
// these kernels for every row count once bf16 activations are on
// (gpu.Device.SetBF16Activations), so that decoding and verifying compute
// each row alike and greedy speculative decoding stays exact.
//
// A warp computes MMA_TILES tiles of 8 output columns (32 columns) for the
// 16 rows of an mma (rows past M are zeros). Its lanes stream the tiles'
// weight rows along K in chunks of 32: lane (g = lane / 4, t = lane % 4)
// loads the 16 bytes at k0 + 8t of row 8·tile + g. Those eight weights are
// two mma steps' worth of this lane's B fragment, in a permuted order of
// k: the fragment's word t (k = 2t, 2t+1) and word t+4 (k = 2t+8, 2t+9)
// of the first step hold k0+8t..k0+8t+3, those of the second step
// k0+8t+4..k0+8t+7. The lane's A fragment, rows g and g+8 of x, takes the
// same permutation (A's words t and t+4 are held by the lanes of the same
// t), so each step still multiplies matching k: a sum over k does not
// depend on its order, and every weight load is one 16-byte word.
//
// As in linear.cu the host may split K over ksplit warps of a block for
// matrices of few columns; their sums are added in shared memory in a
// fixed order. grid (ceil(N / (32 · warps per block / ksplit))), block of
// at most MMA_MAX_WARPS warps of 32. K must be a multiple of 32, w and x
// 16-byte aligned. bias may be null.
#include "common.h"

#define MMA_TILES 4     // n8 tiles per warp
#define MMA_UNROLL 4    // chunks whose loads a lane issues before using any
#define MMA_MAX_WARPS 8 // warps per block (256 threads)

// mma_load_x reads the eight activations of row m at k (zeros past M).
DEV_HOT void mma_load_x(float v[8], const float* x, int m, int M, int K, int k) {
  if (m < M) {
    load4(x + (size_t)m * K + k, v);
    load4(x + (size_t)m * K + k + 4, v + 4);
  } else {
    for (int j = 0; j < 8; j++) v[j] = 0.0f;
  }
}

// mma_accumulate adds to d the products of the warp's NT weight tiles (wr:
// this lane's row of each) with the M ≤ 16 rows of x over its share of K
// (part of ksplit, chunks of 32 interleaved).
template <int NT>
DEV_HOT void mma_accumulate(float d[NT][4], const bf16_t* const wr[NT], const float* x, int M, int K, int part, int ksplit) {
  int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  int step = ksplit * 32;
  for (int k = part * 32; k < K; k += MMA_UNROLL * step) {
    uint4 wv[MMA_UNROLL][NT];
#pragma unroll
    for (int u = 0; u < MMA_UNROLL; u++)
#pragma unroll
      for (int i = 0; i < NT; i++)
        if (k + u * step < K) wv[u][i] = *(const uint4*)(wr[i] + k + u * step + 8 * t);
#pragma unroll
    for (int u = 0; u < MMA_UNROLL; u++) {
      int kk = k + u * step + 8 * t;
      if (k + u * step >= K) break; // the same for every lane: the warp stays converged
      float lo[8], hi[8];         // rows g and g+8
      mma_load_x(lo, x, g, M, K, kk);
      mma_load_x(hi, x, g + 8, M, K, kk);
      unsigned a0[4] = {pack_bf16(lo[0], lo[1]), pack_bf16(hi[0], hi[1]), pack_bf16(lo[2], lo[3]), pack_bf16(hi[2], hi[3])};
      unsigned a1[4] = {pack_bf16(lo[4], lo[5]), pack_bf16(hi[4], hi[5]), pack_bf16(lo[6], lo[7]), pack_bf16(hi[6], hi[7])};
#pragma unroll
      for (int i = 0; i < NT; i++) {
        unsigned b0[2] = {wv[u][i].x, wv[u][i].y}, b1[2] = {wv[u][i].z, wv[u][i].w};
        mma_bf16_16816(d[i], a0, b0);
        mma_bf16_16816(d[i], a1, b1);
      }
    }
  }
}

// mma_reduce adds the ksplit warps' fragments of a column group into the
// first warp's, in a fixed order, and returns whether this thread holds
// finished sums (a lane of the group's first warp of an active group).
// Every thread of the block must call it (a barrier).
__shared__ float mma_red[MMA_MAX_WARPS * 32 * MMA_TILES * 4];

template <int NT>
DEV_HOT bool mma_reduce(float d[NT][4], bool active, int ksplit) {
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, part = warp % ksplit;
  if (ksplit > 1) {
    if (part > 0) {
#pragma unroll
      for (int i = 0; i < NT; i++)
#pragma unroll
        for (int r = 0; r < 4; r++) mma_red[((warp * 32 + lane) * NT + i) * 4 + r] = d[i][r];
    }
    __syncthreads();
    if (part == 0) {
      for (int p = 1; p < ksplit; p++)
#pragma unroll
        for (int i = 0; i < NT; i++)
#pragma unroll
          for (int r = 0; r < 4; r++) d[i][r] += mma_red[(((warp + p) * 32 + lane) * NT + i) * 4 + r];
    }
  }
  return active && part == 0;
}

// mma_rows points wr at this lane's row of each of the NT tiles from
// column n0 of a matrix of N rows (rows past N repeat the last; an inactive
// warp's at row 0) and clears d.
template <int NT>
DEV_HOT void mma_rows(const bf16_t* wr[NT], float d[NT][4], const bf16_t* w, int N, int K, int n0, bool active) {
  int g = threadIdx.x % 32 / 4;
#pragma unroll
  for (int i = 0; i < NT; i++) {
    wr[i] = w + (size_t)(active ? imin(n0 + 8 * i + g, N - 1) : 0) * K;
#pragma unroll
    for (int r = 0; r < 4; r++) d[i][r] = 0.0f;
  }
}

// mma_prefetch asks L2 for the first chunks this lane will load.
template <int NT>
DEV_HOT void mma_prefetch(const bf16_t* const wr[NT], int K, int part, int ksplit) {
  int t = threadIdx.x % 4;
#pragma unroll
  for (int u = 0; u < MMA_UNROLL; u++) {
    int k = part * 32 + u * ksplit * 32;
#pragma unroll
    for (int i = 0; i < NT; i++)
      if (k < K) prefetch_l2(wr[i] + k + 8 * t);
  }
}

// mma_columns computes the 32 columns from n0 of one matrix for a warp
// (part of ksplit of its column group); inactive warps only join the
// barrier. Lane (g, t) writes fragment element r of tile i: row g + 8·(r/2),
// column n0 + 8i + 2t + r%2.
DEV_HOT void mma_columns(float* out, const float* x, const bf16_t* w, const float* bias, int M, int N, int K, int ksplit, int n0,
                     bool active, bool add) {
  int part = threadIdx.x / 32 % ksplit, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const bf16_t* wr[MMA_TILES];
  float d[MMA_TILES][4];
  mma_rows<MMA_TILES>(wr, d, w, N, K, n0, active);
  if (active) mma_prefetch<MMA_TILES>(wr, K, part, ksplit);
  kernel_begin();
  if (active) mma_accumulate<MMA_TILES>(d, wr, x, M, K, part, ksplit);
  if (!mma_reduce<MMA_TILES>(d, active, ksplit)) return;
#pragma unroll
  for (int i = 0; i < MMA_TILES; i++)
#pragma unroll
    for (int r = 0; r < 4; r++) {
      int m = g + 8 * (r / 2), n = n0 + 8 * i + 2 * t + r % 2;
      if (m < M && n < N) {
        float* o = out + (size_t)m * N + n;
        *o = add ? *o + (d[i][r] + (bias ? bias[n] : 0.0f)) : d[i][r] + (bias ? bias[n] : 0.0f);
      }
    }
}

DEV int mma_group(int ksplit) { return blockIdx.x * (blockDim.x / 32 / ksplit) + threadIdx.x / 32 / ksplit; }

KERNEL void linear_mma_bf16(float* out, const float* x, const bf16_t* w, const float* bias, int M, int N, int K, int ksplit,
                            int add) {
  int n0 = mma_group(ksplit) * 8 * MMA_TILES;
  mma_columns(out, x, w, bias, M, N, K, ksplit, n0, n0 < N, add != 0);
}

// linear_qkv_mma_bf16 is linear_qkv of linear.cu on tensor cores: the
// column groups run over q's Nq columns, then k's Nkv, then v's (the host
// makes 32 divide Nq and Nkv).
KERNEL void linear_qkv_mma_bf16(float* oq, float* ok, float* ov, const float* x, const bf16_t* wq, const bf16_t* wk,
                                const bf16_t* wv, const float* bq, const float* bk, const float* bv, int M, int Nq, int Nkv,
                                int K, int ksplit) {
  int c0 = mma_group(ksplit) * 8 * MMA_TILES;
  // One call for every warp, so that all meet the split's barrier at one
  // place (as linear_qkv).
  qkv_matrix<bf16_t> mx = qkv_select<bf16_t>(c0, oq, ok, ov, wq, wk, wv, bq, bk, bv, Nq, Nkv);
  mma_columns(mx.out, x, mx.w, mx.bias, M, mx.N, K, ksplit, mx.n0, c0 < Nq + 2 * Nkv, false);
}

// linear_swiglu_mma_bf16 is linear_swiglu of linear.cu on tensor cores: a
// warp's four tiles are the gate and up rows of 16 columns from n0 (gate
// tiles 0 and 1, up tiles 2 and 3), and it writes silu(gate)·up.
KERNEL void linear_swiglu_mma_bf16(float* out, const float* x, const bf16_t* gate, const bf16_t* up, int M, int N, int K,
                                   int ksplit) {
  int part = threadIdx.x / 32 % ksplit, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  int n0 = mma_group(ksplit) * 16;
  bool active = n0 < N;
  const bf16_t* wr[4];
  float d[4][4];
  mma_rows<2>(wr, d, gate, N, K, n0, active);
  mma_rows<2>(wr + 2, d + 2, up, N, K, n0, active);
  if (active) mma_prefetch<4>(wr, K, part, ksplit);
  kernel_begin();
  if (active) mma_accumulate<4>(d, wr, x, M, K, part, ksplit);
  if (!mma_reduce<4>(d, active, ksplit)) return;
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int r = 0; r < 4; r++) {
      int m = g + 8 * (r / 2), n = n0 + 8 * i + 2 * t + r % 2;
      if (m < M && n < N) out[(size_t)m * N + n] = silu(d[i][r]) * d[i + 2][r];
    }
}
