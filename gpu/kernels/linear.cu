// linear: a linear layer for up to LINEAR_MAX_ROWS rows of activations.
//
//   out[m][n] = Σ_k x[m][k]·w[n][k] + bias[n]      x (M, K) f32, w (N, K), out (M, N) f32
//
// Decoding is bound by reading the weights, so each weight is read from
// memory once for all M rows: one warp computes output column n, its
// lanes walk along row n of w, widen each weight to f32 in registers and
// multiply it with the M rows of x (small, and served from cache); a
// warp_sum then finishes the M dot products. At M = 1 this is a GEMV; up
// to 16 it is the verify step of speculative decoding at the same cost.
// The host splits larger M into launches of LINEAR_MAX_ROWS rows.
//
// grid (ceil(N / warps per block)), block (a multiple of GP_WARP).
// bias may be null.
#include "common.h"

#define LINEAR_MAX_ROWS 16

template <typename T>
DEV void linear(float* out, const float* x, const T* w, const float* bias, int M, int N, int K) {
  int lane = threadIdx.x % GP_WARP;
  int n = blockIdx.x * (blockDim.x / GP_WARP) + threadIdx.x / GP_WARP;
  if (n >= N) return; // the whole warp leaves
  const T* wn = w + (size_t)n * K;

  float acc[LINEAR_MAX_ROWS];
#pragma unroll
  for (int m = 0; m < LINEAR_MAX_ROWS; m++) acc[m] = 0.0f;

  // Four consecutive weights per lane and step when rows are aligned for
  // vector loads (the usual case); one otherwise.
  if (K % 4 == 0 && (size_t)x % 16 == 0 && (size_t)w % 16 == 0) {
    for (int k = lane * 4; k < K; k += GP_WARP * 4) {
      float wv[4], xv[4];
      load4(wn + k, wv);
#pragma unroll
      for (int m = 0; m < LINEAR_MAX_ROWS; m++) {
        if (m < M) {
          load4(x + (size_t)m * K + k, xv);
          acc[m] = fmaf(wv[0], xv[0], acc[m]);
          acc[m] = fmaf(wv[1], xv[1], acc[m]);
          acc[m] = fmaf(wv[2], xv[2], acc[m]);
          acc[m] = fmaf(wv[3], xv[3], acc[m]);
        }
      }
    }
  } else {
    for (int k = lane; k < K; k += GP_WARP) {
      float wk = to_f32(wn[k]);
#pragma unroll
      for (int m = 0; m < LINEAR_MAX_ROWS; m++)
        if (m < M) acc[m] = fmaf(wk, x[(size_t)m * K + k], acc[m]);
    }
  }

  float b = bias ? bias[n] : 0.0f;
#pragma unroll
  for (int m = 0; m < LINEAR_MAX_ROWS; m++) {
    if (m < M) {
      float s = warp_sum(acc[m]);
      if (lane == 0) out[(size_t)m * N + n] = s + b;
    }
  }
}

KERNEL void linear_f32(float* out, const float* x, const float* w, const float* bias, int M, int N, int K) {
  linear(out, x, w, bias, M, N, K);
}
KERNEL void linear_bf16(float* out, const float* x, const bf16_t* w, const float* bias, int M, int N, int K) {
  linear(out, x, w, bias, M, N, K);
}
KERNEL void linear_f16(float* out, const float* x, const f16_t* w, const float* bias, int M, int N, int K) {
  linear(out, x, w, bias, M, N, K);
}
