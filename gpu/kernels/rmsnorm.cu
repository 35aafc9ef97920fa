// rmsnorm: normalize each row by its root mean square and scale it by w,
// as Llama and Qwen do (and Qwen3's q/k norm, over rows of head_dim).
//
//   out[r][i] = x[r][i] / sqrt(mean_i(x[r][i]²) + eps) · w[i]      rows of d values
//
// grid (rows), block (a multiple of GP_WARP): block r normalizes row r.
// out may be x.
#include "common.h"

// rmsnorm_scale writes o[i] = x[i]·scale·w[i] for the block's row, four
// values per load when vec4.
DEV void rmsnorm_scale(float* o, const float* x, const float* w, int d, float scale, bool vec4) {
  if (vec4) {
#pragma unroll 4
    for (int i = threadIdx.x * 4; i < d; i += blockDim.x * 4) {
      float v[4], g[4];
      load4(x + i, v);
      load4(w + i, g);
      float4 r;
      r.x = v[0] * scale * g[0], r.y = v[1] * scale * g[1], r.z = v[2] * scale * g[2], r.w = v[3] * scale * g[3];
      *(float4*)(o + i) = r;
    }
  } else {
    for (int i = threadIdx.x; i < d; i += blockDim.x) o[i] = x[i] * scale * w[i];
  }
}

KERNEL void rmsnorm(float* out, const float* x, const float* w, int d, float eps) {
  __shared__ float scratch[GP_MAX_WARPS];
  kernel_begin();
  const float* xr = x + (size_t)blockIdx.x * d;
  float* o = out + (size_t)blockIdx.x * d;
  // Four values per load where the rows allow: a decode step's row is one
  // block's work, so its time is a few rounds of memory latency, and each
  // round should bring as much as it can.
  bool vec4 = d % 4 == 0 && (size_t)x % 16 == 0 && (size_t)out % 16 == 0 && (size_t)w % 16 == 0;

  float ss = block_sum(rms_sumsq(xr, d, threadIdx.x, blockDim.x, vec4), scratch);
  rmsnorm_scale(o, xr, w, d, rms_scale(ss, d, eps), vec4);
}

// add_rmsnorm is the residual add and the next rmsnorm in one pass, as a
// decoder layer chains them (x += delta; out = rmsnorm(x)·w): one launch
// instead of two, and x read once. out must not overlap x.
//
// grid (rows), block (a multiple of GP_WARP).
KERNEL void add_rmsnorm(float* out, float* x, const float* delta, const float* w, int d, float eps) {
  __shared__ float scratch[GP_MAX_WARPS];
  kernel_begin();
  float* xr = x + (size_t)blockIdx.x * d;
  const float* dr = delta + (size_t)blockIdx.x * d;
  float* o = out + (size_t)blockIdx.x * d;
  bool vec4 = d % 4 == 0 && (size_t)x % 16 == 0 && (size_t)delta % 16 == 0 && (size_t)out % 16 == 0 && (size_t)w % 16 == 0;

  // Each thread re-reads in the second loop only what it wrote in the first.
  float ss = 0.0f;
  if (vec4) {
#pragma unroll 4
    for (int i = threadIdx.x * 4; i < d; i += blockDim.x * 4) {
      float v[4], a[4];
      load4(xr + i, v);
      load4(dr + i, a);
      float4 r;
      r.x = v[0] + a[0], r.y = v[1] + a[1], r.z = v[2] + a[2], r.w = v[3] + a[3];
      *(float4*)(xr + i) = r;
      ss = fmaf(r.x, r.x, ss), ss = fmaf(r.y, r.y, ss), ss = fmaf(r.z, r.z, ss), ss = fmaf(r.w, r.w, ss);
    }
  } else {
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
      float v = xr[i] + dr[i];
      xr[i] = v;
      ss = fmaf(v, v, ss);
    }
  }
  ss = block_sum(ss, scratch);

  rmsnorm_scale(o, xr, w, d, rms_scale(ss, d, eps), vec4);
}
