// linear_bulk: the linear layer for many rows at once, as a tiled matrix
// product (a prompt's prefill):
//
//   out[m][n] = Σ_k x[m][k]·w[n][k] + bias[n]      x (M, K) f32, w (N, K), out (M, N) f32
//
// linear.cu reads the weights once for at most LINEAR_MAX_ROWS rows and
// sums each dot product across a warp's lanes, so that a row's result has
// the same bits whatever the forward's row count (decoding and verifying
// agree, and speculative decoding stays exact). That is right where the
// weights' bytes bound the work, but a prefill of hundreds of rows reads
// the weights once per 16 rows and multiplies on the CUDA cores at a small
// fraction of their peak (the 8B shape: ~29 ms per 16 rows on an H100).
// Here a block computes a BULK_BM × BULK_BN tile of out: it stages
// BULK_BK columns of the tile's rows of x and of w in shared memory
// (widened to f32), and each thread multiplies BULK_TM rows by BULK_TN
// columns from there, so that each value it reads from shared memory
// feeds several multiply-adds and the weights are read once per BULK_BM
// rows. Each output sums k in order, one fused multiply-add after another,
// so a row's bits do not depend on M either, but they differ from
// linear.cu's (another order of the same sum): the host uses this kernel
// only for rows whose logits nobody reads (a prompt's rows but its last,
// nn.Bulker), which every decoding mode computes alike.
//
// While a tile is multiplied, each thread already holds the next tile's
// values in registers (loaded before the products), so the loads overlap
// the arithmetic with one shared buffer. Rows past M and columns past N
// read zeros and store nothing; so do k past K. vec = 1 when K % 8 == 0
// and x and w are 16-byte aligned: the loads are then 16-byte words;
// otherwise one element at a time.
//
// grid (ceil(M / BULK_BM), ceil(N / BULK_BN)), block (BULK_THREADS):
// the row tiles of a column tile are neighbours in launch order, so that
// the blocks running together share their weights, read from memory once
// and then from L2 (a prefill chunk's x, a few MB, stays in L2 anyway).
// bias may be null.
#include "common.h"

#define BULK_BM 64
#define BULK_BN 128
#define BULK_BK 16
#define BULK_TM 4 // rows per thread
#define BULK_TN 8 // columns per thread: 4 at tn·4 and 4 at BULK_BN/2 + tn·4
#define BULK_THREADS 256

// bulk_load_x reads x[m][k..k+3] (zeros past M and K).
DEV_HOT void bulk_load_x(float v[4], const float* x, int M, int K, int m, int k, int vec) {
  if (vec && m < M && k < K) {
    load4(x + (size_t)m * K + k, v); // K % 8 == 0: k + 4 ≤ K
    return;
  }
#pragma unroll
  for (int j = 0; j < 4; j++) v[j] = m < M && k + j < K ? x[(size_t)m * K + k + j] : 0.0f;
}

// bulk_load_w reads w[n][k..k+7] widened (zeros past N and K).
template <typename T>
DEV_HOT void bulk_load_w(float v[8], const T* w, int N, int K, int n, int k, int vec) {
  if (vec && n < N && k < K) {
    load8(w + (size_t)n * K + k, v); // K % 8 == 0: k + 8 ≤ K
    return;
  }
#pragma unroll
  for (int j = 0; j < 8; j++) v[j] = n < N && k + j < K ? to_f32(w[(size_t)n * K + k + j]) : 0.0f;
}

template <typename T>
DEV_HOT void linear_bulk(float* out, const float* x, const T* w, const float* bias, int M, int N, int K, int vec) {
  // The staged tiles, k-major, so that a thread's rows (columns) at one k
  // are one 16-byte word. (Those words are read as float4, which needs
  // 16-byte alignment: both arrays are 16-byte multiples and the only
  // shared memory of their kernels, so wherever the compiler puts them,
  // as it declares them with .align 4, they stay aligned.)
  __shared__ float xs[BULK_BK][BULK_BM];
  __shared__ float ws[BULK_BK][BULK_BN];
  int t = threadIdx.x, tm = t / 16, tn = t % 16; // 16 × 16 threads
  int m0 = blockIdx.x * BULK_BM, n0 = blockIdx.y * BULK_BN;
  // Who loads what: x's 64 rows × 16 k as one 4-wide word each, w's 128
  // rows × 16 k as one 8-wide word each.
  int xm = t / 4, xk = t % 4 * 4, wn = t / 2, wk = t % 2 * 8;
  float acc[BULK_TM][BULK_TN];
#pragma unroll
  for (int i = 0; i < BULK_TM; i++)
#pragma unroll
    for (int j = 0; j < BULK_TN; j++) acc[i][j] = 0.0f;
  float xv[4], wv[8];
  bulk_load_w(wv, w, N, K, n0 + wn, wk, vec); // weights: before the wait
  kernel_begin();
  bulk_load_x(xv, x, M, K, m0 + xm, xk, vec);

  for (int k0 = 0; k0 < K; k0 += BULK_BK) {
#pragma unroll
    for (int j = 0; j < 4; j++) xs[xk + j][xm] = xv[j];
#pragma unroll
    for (int j = 0; j < 8; j++) ws[wk + j][wn] = wv[j];
    __syncthreads(); // the tile is staged
    if (k0 + BULK_BK < K) {
      bulk_load_x(xv, x, M, K, m0 + xm, k0 + BULK_BK + xk, vec);
      bulk_load_w(wv, w, N, K, n0 + wn, k0 + BULK_BK + wk, vec);
    }
#pragma unroll
    for (int k = 0; k < BULK_BK; k++) {
      float a[BULK_TM], b[BULK_TN];
      load4(&xs[k][tm * 4], a);
      load4(&ws[k][tn * 4], b);
      load4(&ws[k][BULK_BN / 2 + tn * 4], b + 4);
#pragma unroll
      for (int i = 0; i < BULK_TM; i++)
#pragma unroll
        for (int j = 0; j < BULK_TN; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads(); // the tile is consumed before the next is staged
  }

#pragma unroll
  for (int i = 0; i < BULK_TM; i++) {
    int m = m0 + tm * 4 + i;
#pragma unroll
    for (int j = 0; j < BULK_TN; j++) {
      int n = n0 + (j < 4 ? tn * 4 + j : BULK_BN / 2 + tn * 4 + j - 4);
      if (m < M && n < N) out[(size_t)m * N + n] = bias ? acc[i][j] + bias[n] : acc[i][j];
    }
  }
}

#define BULK_PARAMS(T) float *out, const float *x, const T *w, const float *bias, int M, int N, int K, int vec
#define BULK_ARGS out, x, w, bias, M, N, K, vec
KERNEL void linear_bulk_f32(BULK_PARAMS(float)) { linear_bulk<float>(BULK_ARGS); }
KERNEL void linear_bulk_bf16(BULK_PARAMS(bf16_t)) { linear_bulk<bf16_t>(BULK_ARGS); }
KERNEL void linear_bulk_f16(BULK_PARAMS(f16_t)) { linear_bulk<f16_t>(BULK_ARGS); }

// linear_bulk_mma_bf16 is linear_bulk for bf16 weights with the
// activations rounded to bf16 (gpu.Device.SetBF16Activations), on tensor
// cores as linear_mma.cu computes a decoding step's and a verify's rows:
//
//   out[m][n] = Σ_k bf16(x[m][k])·w[n][k] + bias[n]
//
// A block computes the same BULK_BM × BULK_BN outputs, its 8 warps as 2 ×
// 4 of 32 rows × 32 columns, each 2 × 4 mma tiles of 16 × 8. It stages
// BULK_MMA_BK columns of k of the tile's rows of x (rounded to bf16 once,
// as they are staged) and of w in shared memory as words of two bf16 (the
// lower k in the low half, as an mma word holds them), and lane (g, t) of
// a warp reads its fragments there for each 16 of k (compat.h's layout: a
// rows g and g + 8, b column g, words t and t + 4), the rows padded to
// BULK_MMA_STRIDE words so that the eight rows a warp reads at one word
// fall in different banks. Each output sums k in order, sixteen at a time,
// so a row's bits do not depend on the other rows; they differ from
// linear_mma.cu's (another order). The host's condition is linear_mma's:
// K % 32 == 0, x and w 16-byte aligned, tensor cores (warps of 32).
// grid and block as linear_bulk's.
#define BULK_MMA_BK 32
#define BULK_MMA_STRIDE (BULK_MMA_BK / 2 + 4) // words a staged row: 16 of k pairs, 4 of padding

KERNEL void linear_bulk_mma_bf16(float* out, const float* x, const bf16_t* w, const float* bias, int M, int N, int K) {
  __shared__ unsigned xs[BULK_BM][BULK_MMA_STRIDE];
  __shared__ unsigned ws[BULK_BN][BULK_MMA_STRIDE];
  int t = threadIdx.x, warp = t / 32, g = t % 32 / 4, q = t % 4;
  int m0 = blockIdx.x * BULK_BM, n0 = blockIdx.y * BULK_BN;
  int wm = warp / 4 * 32, wn = warp % 4 * 32; // the warp's rows and columns within the tile
  // Who stages what: x's 64 rows × 32 k as eight floats each, w's 128
  // rows × 32 k as sixteen bf16 (two 16-byte words) each.
  int xm = t / 4, xk = t % 4 * 8, wr = t / 2, wk = t % 2 * 16;
  bool xin = m0 + xm < M, win = n0 + wr < N;
  const float* xrow = x + (size_t)(xin ? m0 + xm : 0) * K;
  const bf16_t* wrow = w + (size_t)(win ? n0 + wr : 0) * K;
  float d[2][4][4];
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
      for (int r = 0; r < 4; r++) d[i][j][r] = 0.0f;
  uint4 wv[2] = {{0, 0, 0, 0}, {0, 0, 0, 0}};
  float xv[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if (win) wv[0] = *(const uint4*)(wrow + wk), wv[1] = *(const uint4*)(wrow + wk + 8); // weights: before the wait
  kernel_begin();
  if (xin) load4(xrow + xk, xv), load4(xrow + xk + 4, xv + 4);

  for (int k0 = 0; k0 < K; k0 += BULK_MMA_BK) {
#pragma unroll
    for (int j = 0; j < 4; j++) xs[xm][xk / 2 + j] = pack_bf16(xv[2 * j], xv[2 * j + 1]);
    unsigned* wsr = &ws[wr][wk / 2];
    wsr[0] = wv[0].x, wsr[1] = wv[0].y, wsr[2] = wv[0].z, wsr[3] = wv[0].w;
    wsr[4] = wv[1].x, wsr[5] = wv[1].y, wsr[6] = wv[1].z, wsr[7] = wv[1].w;
    __syncthreads(); // the tile is staged
    int k1 = k0 + BULK_MMA_BK;
    if (k1 < K) {
      if (win) wv[0] = *(const uint4*)(wrow + k1 + wk), wv[1] = *(const uint4*)(wrow + k1 + wk + 8);
      if (xin) load4(xrow + k1 + xk, xv), load4(xrow + k1 + xk + 4, xv + 4);
    }
#pragma unroll
    for (int s = 0; s < BULK_MMA_BK / 16; s++) {
      int kw = s * 8; // the step's first word
      unsigned a[2][4], b[4][2];
#pragma unroll
      for (int i = 0; i < 2; i++) {
        int r = wm + 16 * i + g;
        a[i][0] = xs[r][kw + q], a[i][1] = xs[r + 8][kw + q], a[i][2] = xs[r][kw + 4 + q], a[i][3] = xs[r + 8][kw + 4 + q];
      }
#pragma unroll
      for (int j = 0; j < 4; j++) {
        int c = wn + 8 * j + g;
        b[j][0] = ws[c][kw + q], b[j][1] = ws[c][kw + 4 + q];
      }
#pragma unroll
      for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) mma_bf16_16816(d[i][j], a[i], b[j]);
    }
    __syncthreads(); // the tile is consumed before the next is staged
  }

  // Lane (g, t) holds element r of tile (i, j): row g + 8·(r/2), column 2t + r%2.
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
      for (int r = 0; r < 4; r++) {
        int m = m0 + wm + 16 * i + g + 8 * (r / 2), n = n0 + wn + 8 * j + 2 * q + r % 2;
        if (m < M && n < N) out[(size_t)m * N + n] = bias ? d[i][j][r] + bias[n] : d[i][j][r];
      }
}
