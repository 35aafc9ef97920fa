// linear: a linear layer for up to LINEAR_MAX_ROWS rows of activations.
//
//   out[m][n] = Σ_k x[m][k]·w[n][k] + bias[n]      x (M, K) f32, w (N, K), out (M, N) f32
//
// Decoding is bound by reading the weights, so each weight is read from
// memory once for all M rows: a warp computes NR output columns, its lanes
// walk along those rows of w eight weights (16 bytes of bf16) at a time,
// widen them to f32 in registers and multiply them with the M rows of x
// (small, and served from cache); a warp_sum then finishes each dot
// product. At M = 1 this is a GEMV; up to 16 it is the verify step of
// speculative decoding, at nearly the same cost while the weights, not the
// arithmetic, are the bottleneck.
//
// Two things keep HBM busy. Each lane issues UNROLL steps of loads before
// it uses any (memory-level parallelism: a GEMV reaches the memory's
// bandwidth only with many bytes in flight per multiprocessor). And the
// row count MT is a template parameter (kernels linear_<dtype>_m<MT> for MT
// = 1, 2, 4, 8, 12, 16; the host picks the smallest MT ≥ M), so that a decode
// step does not pay the registers of sixteen accumulators. For larger MT
// a warp takes NR = 2 or 4 output columns so that each load of x feeds NR
// times as many multiply-adds: the x reads from cache, not the weights,
// would otherwise bound the kernel. At MT = 16, NR = 4 needs more registers
// than a thread has (on an H100 it ran 2.4 times slower than MT = 12), so
// it takes 2.
//
// A matrix of few rows (a GQA key or value projection: N = 512 or 1024)
// gives too few warps to keep HBM busy, so the host may split K over
// ksplit warps of a block (a power of two dividing the warps per block),
// whose sums are added in shared memory.
//
// Two steps of a decoder layer around the linear layers can ride along,
// so that a decode step does not spend a launch on each: the residual add
// after the output and down projections (add: out[m][n] += the sum, as the
// add kernel would add it), and the RMSNorm before the q/k/v and gate/up
// projections (the _norm kernels: x is the residual stream, and each
// block computes its rows' norms and scales x as it loads it, as the
// rmsnorm kernels would have written it; see linear_norm_rows). Both give
// the separate kernels' results bit for bit, so the host may choose either
// way for any forward.
//
// The host splits larger M into launches of LINEAR_MAX_ROWS rows.
// grid (ceil(N / (NR · warps per block / ksplit))), block (a multiple of
// GP_WARP). bias may be null.
#include "common.h"

#define LINEAR_MAX_ROWS 16

// linear_norm holds what a _norm kernel applies to x as it loads it: the
// norm's weights g and the 1/rms of each of the MT rows (those past M
// repeat row M−1's, as linear_dot8 repeats the row).
template <int MT>
struct linear_norm {
  const float* g;
  float scale[MT];
};

// linear_dot8 adds the products of eight weights of NR columns with the
// matching eight elements of the MT rows of x (at column k), normalized
// first when NORM (x·scale·g, rmsnorm_scale's arithmetic). Rows past M
// repeat row M−1 (their sums are never written): with no branch on M the
// compiler can issue every row's loads before the first multiply, where a
// guard would wait for each row's load in turn.
template <int MT, int NR, bool NORM>
DEV_HOT void linear_dot8(float acc[MT][NR], const float wv[NR][8], const float* x, const linear_norm<MT>& nm, int M, int K, int k) {
  float gv[8];
  if (NORM) load8(nm.g + k, gv);
#pragma unroll
  for (int m = 0; m < MT; m++) {
    float xv[8];
    load8(x + (size_t)imin(m, M - 1) * K + k, xv);
    if (NORM) {
#pragma unroll
      for (int j = 0; j < 8; j++) xv[j] = xv[j] * nm.scale[m] * gv[j];
    }
#pragma unroll
    for (int r = 0; r < NR; r++)
#pragma unroll
      for (int j = 0; j < 8; j++) acc[m][r] = fmaf(wv[r][j], xv[j], acc[m][r]);
  }
}

// linear_reduce finishes each warp's sums: over its lanes, then, with a
// split, over the ksplit warps of a column group, added by the first in a
// fixed order so that the result does not depend on timing. It returns
// whether this thread holds finished sums to write (lane 0 of the group's
// first warp). Every thread of the block must call it (a barrier).
// linear_red holds the split warps' sums. One array at file scope, not one
// per instantiation of linear_reduce: clang's AMDGPU back end would give
// every kernel room for all of them.
__shared__ float linear_red[GP_MAX_WARPS * LINEAR_MAX_ROWS * 4];

template <int MT, int NR>
DEV_HOT bool linear_reduce(float acc[MT][NR], bool active, int ksplit) {
  float* red = linear_red;
  int lane = threadIdx.x % GP_WARP, warp = threadIdx.x / GP_WARP, part = warp % ksplit;
#pragma unroll
  for (int m = 0; m < MT; m++)
#pragma unroll
    for (int r = 0; r < NR; r++) acc[m][r] = warp_sum(acc[m][r]);
  if (ksplit > 1) {
    if (lane == 0 && part > 0) {
#pragma unroll
      for (int m = 0; m < MT; m++)
#pragma unroll
        for (int r = 0; r < NR; r++) red[(warp * MT + m) * NR + r] = acc[m][r];
    }
    __syncthreads();
    if (lane == 0 && part == 0) {
      for (int p = 1; p < ksplit; p++)
#pragma unroll
        for (int m = 0; m < MT; m++)
#pragma unroll
          for (int r = 0; r < NR; r++) acc[m][r] += red[((warp + p) * MT + m) * NR + r];
    }
  }
  return active && lane == 0 && part == 0;
}

// linear_store reduces (linear_reduce) and writes the M rows of the warp's
// nr columns from n0, adding the bias, or, with add, adds them to out.
template <int MT, int NR>
DEV_HOT void linear_store(float acc[MT][NR], float* out, const float* bias, int M, int N, int n0, int nr, bool active, int ksplit,
                      bool add) {
  if (!linear_reduce<MT, NR>(acc, active, ksplit)) return;
#pragma unroll
  for (int r = 0; r < NR; r++) {
    if (r < nr) {
      float b = bias ? bias[n0 + r] : 0.0f;
#pragma unroll
      for (int m = 0; m < MT; m++) {
        if (m < M) {
          float* o = out + (size_t)m * N + n0 + r;
          *o = add ? *o + (acc[m][r] + b) : acc[m][r] + b;
        }
      }
    }
  }
}

// linear_norm_rows computes, for a _norm kernel, 1/rms of each of the M
// rows of x (K values) into nm.scale, each as the rmsnorm kernels do, bit
// for bit: their blocks have min(256, K rounded up to 64) threads
// (threadsFor on the host), these 256, and either way a row narrower than
// 256 gives each thread at most one share of Σ x² (rms_sumsq), so the
// shares, and the sums of block_sum (the extra threads adding zeros), are
// the same. vec4 must be what the rmsnorm kernel would have chosen
// (16-byte aligned rows). Every thread of the block must call it.
__shared__ float linear_norm_red[GP_MAX_WARPS];
__shared__ float linear_norm_scale[LINEAR_MAX_ROWS];

template <int MT>
DEV_HOT void linear_norm_rows(linear_norm<MT>& nm, const float* x, const float* g, int M, int K, float eps) {
  bool vec4 = K % 4 == 0 && (size_t)x % 16 == 0 && (size_t)g % 16 == 0;
  for (int m = 0; m < M; m++) {
    float ss = block_sum(rms_sumsq(x + (size_t)m * K, K, threadIdx.x, blockDim.x, vec4), linear_norm_red);
    if (threadIdx.x == 0) linear_norm_scale[m] = rms_scale(ss, K, eps);
  }
  __syncthreads();
  nm.g = g;
#pragma unroll
  for (int m = 0; m < MT; m++) nm.scale[m] = linear_norm_scale[imin(m, M - 1)];
}

// linear_accumulate adds to acc the products of the NR weight rows wr
// with the M rows of x, this warp's share of K (part of ksplit).
template <typename T, int MT, int NR, int UNROLL, bool NORM>
DEV_HOT void linear_accumulate(float acc[MT][NR], const T* const wr[NR], bool aligned, const float* x, const linear_norm<MT>& nm, int M,
                           int K, int part, int ksplit) {
  int lane = threadIdx.x % GP_WARP;
  if (K % 8 == 0 && aligned && (size_t)x % 32 == 0 && (!NORM || (size_t)nm.g % 32 == 0)) {
    // The ksplit warps of a column group interleave along K, each taking
    // every ksplit-th step of GP_WARP·8 weights.
    int step = ksplit * GP_WARP * 8;
    int k = (part * GP_WARP + lane) * 8;
    // UNROLL steps at a time: all their loads are issued before any use.
    for (; k + (UNROLL - 1) * step < K; k += UNROLL * step) {
      float wv[UNROLL][NR][8];
#pragma unroll
      for (int u = 0; u < UNROLL; u++)
#pragma unroll
        for (int r = 0; r < NR; r++) load8(wr[r] + k + u * step, wv[u][r]);
#pragma unroll
      for (int u = 0; u < UNROLL; u++) linear_dot8<MT, NR, NORM>(acc, wv[u], x, nm, M, K, k + u * step);
    }
    // The last steps, fewer than UNROLL: their loads too are all issued
    // first (a 2048-wide row split over four warps is only two steps each,
    // which one at a time would wait out two memory latencies in turn).
    if (k < K) {
      float wv[UNROLL][NR][8];
#pragma unroll
      for (int u = 0; u < UNROLL; u++)
#pragma unroll
        for (int r = 0; r < NR; r++)
          if (k + u * step < K) load8(wr[r] + k + u * step, wv[u][r]);
#pragma unroll
      for (int u = 0; u < UNROLL; u++)
        if (k + u * step < K) linear_dot8<MT, NR, NORM>(acc, wv[u], x, nm, M, K, k + u * step);
    }
  } else {
    for (int k = part * GP_WARP + lane; k < K; k += ksplit * GP_WARP) {
#pragma unroll
      for (int r = 0; r < NR; r++) {
        float wk = to_f32(wr[r][k]);
#pragma unroll
        for (int m = 0; m < MT; m++) {
          float xk = x[(size_t)imin(m, M - 1) * K + k];
          if (NORM) xk = xk * nm.scale[m] * nm.g[k];
          acc[m][r] = fmaf(wk, xk, acc[m][r]);
        }
      }
    }
  }
}

// linear_begin points wr at the weight rows of a warp's columns from n0
// (those past N repeat the last; an inactive warp's at row 0), clears acc,
// and returns the number of real columns.
template <typename T, int MT, int NR>
DEV_HOT int linear_begin(const T* wr[NR], float acc[MT][NR], const T* w, int N, int K, int n0, bool active) {
  int nr = active ? imin(NR, N - n0) : 1;
#pragma unroll
  for (int r = 0; r < NR; r++) wr[r] = w + (size_t)(active ? n0 + imin(r, nr - 1) : 0) * K;
#pragma unroll
  for (int m = 0; m < MT; m++)
#pragma unroll
    for (int r = 0; r < NR; r++) acc[m][r] = 0.0f;
  return nr;
}

// linear_prefetch asks L2 for the first weights this lane will load (the
// first UNROLL steps), before kernel_begin: while the previous kernel
// finishes, the weights of this one are already coming.
template <typename T, int NR, int UNROLL>
DEV_HOT void linear_prefetch(const T* const wr[NR], int K, int part, int ksplit) {
  int step = ksplit * GP_WARP * 8;
  int k = (part * GP_WARP + threadIdx.x % GP_WARP) * 8;
#pragma unroll
  for (int u = 0; u < UNROLL; u++)
#pragma unroll
    for (int r = 0; r < NR; r++)
      if (k + u * step < K) prefetch_l2(wr[r] + k + u * step);
}

// linear_columns computes the NR columns from n0 of one matrix for a
// warp (part of ksplit of its column group); inactive warps only join the
// barriers. With NORM, x is normalized by the norm of weights g as it is
// loaded.
template <typename T, int MT, int NR, int UNROLL, bool NORM>
DEV_HOT void linear_columns(float* out, const float* x, const T* w, const float* bias, int M, int N, int K, int ksplit, int n0,
                        bool active, bool add, const float* g, float eps) {
  int part = threadIdx.x / GP_WARP % ksplit; // which of the ksplit warps of this column group
  const T* wr[NR];
  float acc[MT][NR];
  int nr = linear_begin<T, MT, NR>(wr, acc, w, N, K, n0, active);
  if (active) linear_prefetch<T, NR, UNROLL>(wr, K, part, ksplit);
  kernel_begin();
  linear_norm<MT> nm = {};
  if (NORM) linear_norm_rows<MT>(nm, x, g, M, K, eps);
  if (active) linear_accumulate<T, MT, NR, UNROLL, NORM>(acc, wr, (size_t)w % 16 == 0, x, nm, M, K, part, ksplit);
  linear_store<MT, NR>(acc, out, bias, M, N, n0, nr, active, ksplit, add);
}

template <typename T, int MT, int NR, int UNROLL>
DEV_HOT void linear(float* out, const float* x, const T* w, const float* bias, int M, int N, int K, int ksplit, int add) {
  int n0 = (blockIdx.x * (blockDim.x / GP_WARP / ksplit) + threadIdx.x / GP_WARP / ksplit) * NR;
  // idle warps stay for the barrier
  linear_columns<T, MT, NR, UNROLL, false>(out, x, w, bias, M, N, K, ksplit, n0, n0 < N, add != 0, nullptr, 0.0f);
}

// linear_qkv is the attention's three projections of the same x in one
// launch: the column groups run over q's Nq columns, then k's Nkv, then
// v's (the host makes NR divide Nq and Nkv, so no group straddles two
// matrices). A decode step's key and value projections are small (1024
// columns on Llama-3.1-8B) and cost mostly their launch. With NORM, x is
// the residual stream, normalized (weights g) as it is loaded.
template <typename T, int MT, int NR, int UNROLL, bool NORM>
DEV_HOT void linear_qkv(float* oq, float* ok, float* ov, const float* x, const T* wq, const T* wk, const T* wv, const float* bq,
                        const float* bk, const float* bv, int M, int Nq, int Nkv, int K, int ksplit, const float* g, float eps) {
  int c0 = (blockIdx.x * (blockDim.x / GP_WARP / ksplit) + threadIdx.x / GP_WARP / ksplit) * NR;
  // One call for every warp, whichever matrix its columns are in, so that
  // all meet the barriers (the norm's, the split's) at the same place.
  qkv_matrix<T> mx = qkv_select<T>(c0, oq, ok, ov, wq, wk, wv, bq, bk, bv, Nq, Nkv);
  linear_columns<T, MT, NR, UNROLL, NORM>(mx.out, x, mx.w, mx.bias, M, mx.N, K, ksplit, mx.n0, c0 < Nq + 2 * Nkv, false, g, eps);
}

// linear_qkv_rope is linear_qkv normalizing x (NORM) with RoPE folded
// into its store, for a decode step without a per-head q/k norm: a warp
// computes the two columns that the rotation mixes, (i, i + head_dim/2) of
// a q or k head (two neighbours of v), so that it can rotate them as the
// rope kernels do (rope_pair, angles of positions start..) before writing
// them. Each column's sum is computed as linear_qkv computes it with the
// same ksplit (only which warp takes it differs), so the results are those
// of linear_qkv and then rope_qk, bit for bit.
//
// grid (ceil((Nq + 2·Nkv) / 2 / (warps per block / ksplit))), block (a
// multiple of GP_WARP).
template <typename T, int MT, int UNROLL>
DEV_HOT void linear_qkv_rope(float* oq, float* ok, float* ov, const float* x, const T* wq, const T* wk, const T* wv,
                             const float* bq, const float* bk, const float* bv, int M, int Nq, int Nkv, int K, int ksplit,
                             const float* g, float eps, const float* cos_table, const float* sin_table, int head_dim, int start) {
  int warp = threadIdx.x / GP_WARP, part = warp % ksplit;
  int pair = blockIdx.x * (blockDim.x / GP_WARP / ksplit) + warp / ksplit;
  int half = head_dim / 2, pq = Nq / 2, pkv = Nkv / 2;
  // The pair's matrix and columns: q's pairs, k's, then v's.
  float* out = oq;
  const T* w = wq;
  const float* bias = bq;
  int N = Nq, p = pair;
  bool rotate = true, active = true;
  if (pair >= pq + pkv) {
    out = ov, w = wv, bias = bv, N = Nkv, p = pair - pq - pkv, rotate = false, active = p < pkv;
  } else if (pair >= pq) {
    out = ok, w = wk, bias = bk, N = Nkv, p = pair - pq;
  }
  int c0 = rotate ? p / half * head_dim + p % half : 2 * p, c1 = rotate ? c0 + half : c0 + 1;
  if (!active) c0 = c1 = 0;
  const T* wr[2] = {w + (size_t)c0 * K, w + (size_t)c1 * K};
  float acc[MT][2];
#pragma unroll
  for (int m = 0; m < MT; m++) acc[m][0] = acc[m][1] = 0.0f;
  if (active) linear_prefetch<T, 2, UNROLL>(wr, K, part, ksplit);
  kernel_begin();
  linear_norm<MT> nm = {};
  linear_norm_rows<MT>(nm, x, g, M, K, eps);
  if (active) linear_accumulate<T, MT, 2, UNROLL, true>(acc, wr, (size_t)w % 16 == 0, x, nm, M, K, part, ksplit);
  if (!linear_reduce<MT, 2>(acc, active, ksplit)) return;
#pragma unroll
  for (int m = 0; m < MT; m++) {
    if (m < M) {
      float y0 = acc[m][0] + (bias ? bias[c0] : 0.0f), y1 = acc[m][1] + (bias ? bias[c1] : 0.0f);
      if (rotate) {
        size_t at = (size_t)(start + m) * half + p % half;
        rope_pair(y0, y1, cos_table[at], sin_table[at]);
      }
      out[(size_t)m * N + c0] = y0, out[(size_t)m * N + c1] = y1;
    }
  }
}

// linear_swiglu is the SwiGLU MLP's first half in one launch: a warp
// computes the gate and up dot products of NC columns (its NR = 2·NC weight
// rows: gate n, up n, gate n+1, ...), then out[m][n] = silu(gate)·up, so
// that neither projection is written out and read back, and one launch
// replaces three.
//
//   out[m][n] = silu(Σ_k x[m][k]·gate[n][k]) · Σ_k x[m][k]·up[n][k]      silu(g) = g / (1 + exp(−g))
//
// With NORM, x is the residual stream, normalized (weights g) as it is
// loaded.
//
// grid (ceil(N / (NC · warps per block / ksplit))), block (a multiple of GP_WARP).
template <typename T, int MT, int NC, int UNROLL, bool NORM>
DEV_HOT void linear_swiglu(float* out, const float* x, const T* gate, const T* up, int M, int N, int K, int ksplit, const float* g,
                           float eps) {
  int warp = threadIdx.x / GP_WARP;
  int part = warp % ksplit;
  int n0 = (blockIdx.x * (blockDim.x / GP_WARP / ksplit) + warp / ksplit) * NC;
  bool active = n0 < N;
  int nc = active ? imin(NC, N - n0) : 1;
  const T* wr[2 * NC];
#pragma unroll
  for (int c = 0; c < NC; c++) {
    size_t row = (size_t)(active ? n0 + imin(c, nc - 1) : 0) * K;
    wr[2 * c] = gate + row, wr[2 * c + 1] = up + row;
  }
  float acc[MT][2 * NC];
#pragma unroll
  for (int m = 0; m < MT; m++)
#pragma unroll
    for (int r = 0; r < 2 * NC; r++) acc[m][r] = 0.0f;
  if (active) linear_prefetch<T, 2 * NC, UNROLL>(wr, K, part, ksplit);
  kernel_begin();
  linear_norm<MT> nm = {};
  if (NORM) linear_norm_rows<MT>(nm, x, g, M, K, eps);
  if (active)
    linear_accumulate<T, MT, 2 * NC, UNROLL, NORM>(acc, wr, (size_t)gate % 16 == 0 && (size_t)up % 16 == 0, x, nm, M, K, part,
                                                   ksplit);
  if (!linear_reduce<MT, 2 * NC>(acc, active, ksplit)) return;
#pragma unroll
  for (int c = 0; c < NC; c++) {
    if (c < nc) {
#pragma unroll
      for (int m = 0; m < MT; m++) {
        if (m < M) out[(size_t)m * N + n0 + c] = silu(acc[m][2 * c]) * acc[m][2 * c + 1];
      }
    }
  }
}

// linear_tiled is linear for sixteen rows, with x staged in shared memory.
// In linear each warp reads all of x from cache; once x outgrows the L1
// (16 rows of a 14336-wide down projection are 917 KB) those reads go to
// L2, at several times the bytes of the weights, and bound the kernel.
// Here the block loads each LINEAR_TILE-wide slice of the MT rows once and
// its warps read it from shared memory. A lane takes four weights at
// lane·4 and four at GP_WARP·4 + lane·4 of each step, so that the lanes of
// a warp read consecutive 16-byte words of the slice (no bank conflicts).
// Needs K % 8 == 0 and 16-byte aligned rows; linear serves the rest.
//
// On an H100 (llama3.1-8b shapes) it ran forwards of 13 and 16 rows 9%
// faster than linear, but 9 rows (a 12-row kernel) 42% slower, 4 rows 12%
// slower and 8 rows the same: with a barrier per slice and one block per
// multiprocessor too few loads are in flight. So only the 16-row bucket
// uses it.
#define LINEAR_TILE 512

template <typename T, int MT, int NR>
DEV_HOT void linear_tiled(float* out, const float* x, const T* w, const float* bias, int M, int N, int K, int ksplit, int add) {
  __shared__ float xs[MT * LINEAR_TILE];
  int lane = threadIdx.x % GP_WARP, warp = threadIdx.x / GP_WARP;
  int part = warp % ksplit;
  int n0 = (blockIdx.x * (blockDim.x / GP_WARP / ksplit) + warp / ksplit) * NR;
  bool active = n0 < N;
  const T* wr[NR];
  float acc[MT][NR];
  int nr = linear_begin<T, MT, NR>(wr, acc, w, N, K, n0, active);
  kernel_begin();

  int half = GP_WARP * 4, step = 2 * half;
  for (int k0 = 0; k0 < K; k0 += LINEAR_TILE) {
    int kt = imin(LINEAR_TILE, K - k0); // a multiple of 8
    __syncthreads(); // the previous slice is consumed
    for (int i = threadIdx.x * 4; i < MT * LINEAR_TILE; i += blockDim.x * 4) {
      int m = i / LINEAR_TILE, c = i % LINEAR_TILE;
      if (c < kt) *(float4*)(xs + i) = *(const float4*)(x + (size_t)imin(m, M - 1) * K + k0 + c);
    }
    __syncthreads();
    if (!active) continue;
    for (int kk = part * step + lane * 4; kk < kt; kk += ksplit * step) {
      // kk and kk + half: kt is a multiple of 8 and step of 8·GP_WARP, but
      // the second half of the last step may lie past kt.
      bool second = kk + half < kt;
      float wv[NR][8];
#pragma unroll
      for (int r = 0; r < NR; r++) {
        load4(wr[r] + k0 + kk, wv[r]);
        if (second) load4(wr[r] + k0 + kk + half, wv[r] + 4);
        else wv[r][4] = wv[r][5] = wv[r][6] = wv[r][7] = 0.0f;
      }
#pragma unroll
      for (int m = 0; m < MT; m++) {
        float xv[8];
        load4(xs + m * LINEAR_TILE + kk, xv);
        if (second) load4(xs + m * LINEAR_TILE + kk + half, xv + 4);
        else xv[4] = xv[5] = xv[6] = xv[7] = 0.0f;
#pragma unroll
        for (int r = 0; r < NR; r++)
#pragma unroll
          for (int j = 0; j < 8; j++) acc[m][r] = fmaf(wv[r][j], xv[j], acc[m][r]);
      }
    }
  }
  linear_store<MT, NR>(acc, out, bias, M, N, n0, nr, active, ksplit, add != 0);
}

// The entry points: one per weight dtype and row bucket MT. NR and
// UNROLL trade registers for reuse of x (more columns per warp) and for
// bytes in flight (more steps); the host's linearCols must match NR.
#define LINEAR_PARAMS(T) float *out, const float *x, const T *w, const float *bias, int M, int N, int K, int ksplit, int add
#define LINEAR_ARGS out, x, w, bias, M, N, K, ksplit, add
KERNEL void linear_f32_m1(LINEAR_PARAMS(float)) { linear<float, 1, 1, 4>(LINEAR_ARGS); }
KERNEL void linear_f32_m2(LINEAR_PARAMS(float)) { linear<float, 2, 1, 4>(LINEAR_ARGS); }
KERNEL void linear_f32_m4(LINEAR_PARAMS(float)) { linear<float, 4, 2, 2>(LINEAR_ARGS); }
KERNEL void linear_f32_m8(LINEAR_PARAMS(float)) { linear<float, 8, 4, 1>(LINEAR_ARGS); }
KERNEL void linear_f32_m12(LINEAR_PARAMS(float)) { linear<float, 12, 4, 1>(LINEAR_ARGS); }
KERNEL void linear_f32_m16(LINEAR_PARAMS(float)) { linear<float, 16, 2, 1>(LINEAR_ARGS); }
KERNEL void linear_bf16_m1(LINEAR_PARAMS(bf16_t)) { linear<bf16_t, 1, 1, 4>(LINEAR_ARGS); }
KERNEL void linear_bf16_m2(LINEAR_PARAMS(bf16_t)) { linear<bf16_t, 2, 1, 4>(LINEAR_ARGS); }
KERNEL void linear_bf16_m4(LINEAR_PARAMS(bf16_t)) { linear<bf16_t, 4, 2, 2>(LINEAR_ARGS); }
KERNEL void linear_bf16_m8(LINEAR_PARAMS(bf16_t)) { linear<bf16_t, 8, 4, 1>(LINEAR_ARGS); }
KERNEL void linear_bf16_m12(LINEAR_PARAMS(bf16_t)) { linear<bf16_t, 12, 4, 1>(LINEAR_ARGS); }
KERNEL void linear_bf16_m16(LINEAR_PARAMS(bf16_t)) { linear<bf16_t, 16, 2, 1>(LINEAR_ARGS); }
KERNEL void linear_f16_m1(LINEAR_PARAMS(f16_t)) { linear<f16_t, 1, 1, 4>(LINEAR_ARGS); }
KERNEL void linear_f16_m2(LINEAR_PARAMS(f16_t)) { linear<f16_t, 2, 1, 4>(LINEAR_ARGS); }
KERNEL void linear_f16_m4(LINEAR_PARAMS(f16_t)) { linear<f16_t, 4, 2, 2>(LINEAR_ARGS); }
KERNEL void linear_f16_m8(LINEAR_PARAMS(f16_t)) { linear<f16_t, 8, 4, 1>(LINEAR_ARGS); }
KERNEL void linear_f16_m12(LINEAR_PARAMS(f16_t)) { linear<f16_t, 12, 4, 1>(LINEAR_ARGS); }
KERNEL void linear_f16_m16(LINEAR_PARAMS(f16_t)) { linear<f16_t, 16, 2, 1>(LINEAR_ARGS); }
KERNEL void linear_tiled_f32_m16(LINEAR_PARAMS(float)) { linear_tiled<float, 16, 4>(LINEAR_ARGS); }
KERNEL void linear_tiled_bf16_m16(LINEAR_PARAMS(bf16_t)) { linear_tiled<bf16_t, 16, 4>(LINEAR_ARGS); }
KERNEL void linear_tiled_f16_m16(LINEAR_PARAMS(f16_t)) { linear_tiled<f16_t, 16, 4>(LINEAR_ARGS); }
#define SWIGLU_PARAMS(T) float *out, const float *x, const T *gate, const T *up, int M, int N, int K, int ksplit
#define SWIGLU_ARGS out, x, gate, up, M, N, K, ksplit
KERNEL void linear_swiglu_f32_m1(SWIGLU_PARAMS(float)) { linear_swiglu<float, 1, 1, 4, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_f32_m2(SWIGLU_PARAMS(float)) { linear_swiglu<float, 2, 1, 4, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_f32_m4(SWIGLU_PARAMS(float)) { linear_swiglu<float, 4, 1, 2, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_f32_m8(SWIGLU_PARAMS(float)) { linear_swiglu<float, 8, 2, 1, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_f32_m12(SWIGLU_PARAMS(float)) { linear_swiglu<float, 12, 2, 1, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_f32_m16(SWIGLU_PARAMS(float)) { linear_swiglu<float, 16, 1, 1, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_bf16_m1(SWIGLU_PARAMS(bf16_t)) { linear_swiglu<bf16_t, 1, 1, 4, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_bf16_m2(SWIGLU_PARAMS(bf16_t)) { linear_swiglu<bf16_t, 2, 1, 4, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_bf16_m4(SWIGLU_PARAMS(bf16_t)) { linear_swiglu<bf16_t, 4, 1, 2, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_bf16_m8(SWIGLU_PARAMS(bf16_t)) { linear_swiglu<bf16_t, 8, 2, 1, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_bf16_m12(SWIGLU_PARAMS(bf16_t)) { linear_swiglu<bf16_t, 12, 2, 1, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_bf16_m16(SWIGLU_PARAMS(bf16_t)) { linear_swiglu<bf16_t, 16, 1, 1, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_f16_m1(SWIGLU_PARAMS(f16_t)) { linear_swiglu<f16_t, 1, 1, 4, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_f16_m2(SWIGLU_PARAMS(f16_t)) { linear_swiglu<f16_t, 2, 1, 4, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_f16_m4(SWIGLU_PARAMS(f16_t)) { linear_swiglu<f16_t, 4, 1, 2, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_f16_m8(SWIGLU_PARAMS(f16_t)) { linear_swiglu<f16_t, 8, 2, 1, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_f16_m12(SWIGLU_PARAMS(f16_t)) { linear_swiglu<f16_t, 12, 2, 1, false>(SWIGLU_ARGS, nullptr, 0.0f); }
KERNEL void linear_swiglu_f16_m16(SWIGLU_PARAMS(f16_t)) { linear_swiglu<f16_t, 16, 1, 1, false>(SWIGLU_ARGS, nullptr, 0.0f); }
#define QKV_PARAMS(T)                                                                                                 \
  float *oq, float *ok, float *ov, const float *x, const T *wq, const T *wk, const T *wv, const float *bq, const float *bk, \
      const float *bv, int M, int Nq, int Nkv, int K, int ksplit
#define QKV_ARGS oq, ok, ov, x, wq, wk, wv, bq, bk, bv, M, Nq, Nkv, K, ksplit
KERNEL void linear_qkv_f32_m1(QKV_PARAMS(float)) { linear_qkv<float, 1, 1, 4, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_f32_m2(QKV_PARAMS(float)) { linear_qkv<float, 2, 1, 4, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_f32_m4(QKV_PARAMS(float)) { linear_qkv<float, 4, 2, 2, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_f32_m8(QKV_PARAMS(float)) { linear_qkv<float, 8, 4, 1, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_f32_m12(QKV_PARAMS(float)) { linear_qkv<float, 12, 4, 1, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_f32_m16(QKV_PARAMS(float)) { linear_qkv<float, 16, 2, 1, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_bf16_m1(QKV_PARAMS(bf16_t)) { linear_qkv<bf16_t, 1, 1, 4, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_bf16_m2(QKV_PARAMS(bf16_t)) { linear_qkv<bf16_t, 2, 1, 4, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_bf16_m4(QKV_PARAMS(bf16_t)) { linear_qkv<bf16_t, 4, 2, 2, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_bf16_m8(QKV_PARAMS(bf16_t)) { linear_qkv<bf16_t, 8, 4, 1, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_bf16_m12(QKV_PARAMS(bf16_t)) { linear_qkv<bf16_t, 12, 4, 1, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_bf16_m16(QKV_PARAMS(bf16_t)) { linear_qkv<bf16_t, 16, 2, 1, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_f16_m1(QKV_PARAMS(f16_t)) { linear_qkv<f16_t, 1, 1, 4, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_f16_m2(QKV_PARAMS(f16_t)) { linear_qkv<f16_t, 2, 1, 4, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_f16_m4(QKV_PARAMS(f16_t)) { linear_qkv<f16_t, 4, 2, 2, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_f16_m8(QKV_PARAMS(f16_t)) { linear_qkv<f16_t, 8, 4, 1, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_f16_m12(QKV_PARAMS(f16_t)) { linear_qkv<f16_t, 12, 4, 1, false>(QKV_ARGS, nullptr, 0.0f); }
KERNEL void linear_qkv_f16_m16(QKV_PARAMS(f16_t)) { linear_qkv<f16_t, 16, 2, 1, false>(QKV_ARGS, nullptr, 0.0f); }
// The _norm entry points normalize x as they load it (RMSNorm of weights
// g and eps), for the rows of a decode step: every block computes the
// norms of all M rows itself, which pays only while M is small.
#define NORM_PARAMS const float *g, float eps
#define NORM_ARGS g, eps
KERNEL void linear_swiglu_norm_f32_m1(SWIGLU_PARAMS(float), NORM_PARAMS) { linear_swiglu<float, 1, 1, 4, true>(SWIGLU_ARGS, NORM_ARGS); }
KERNEL void linear_swiglu_norm_f32_m2(SWIGLU_PARAMS(float), NORM_PARAMS) { linear_swiglu<float, 2, 1, 4, true>(SWIGLU_ARGS, NORM_ARGS); }
KERNEL void linear_swiglu_norm_bf16_m1(SWIGLU_PARAMS(bf16_t), NORM_PARAMS) { linear_swiglu<bf16_t, 1, 1, 4, true>(SWIGLU_ARGS, NORM_ARGS); }
KERNEL void linear_swiglu_norm_bf16_m2(SWIGLU_PARAMS(bf16_t), NORM_PARAMS) { linear_swiglu<bf16_t, 2, 1, 4, true>(SWIGLU_ARGS, NORM_ARGS); }
KERNEL void linear_swiglu_norm_f16_m1(SWIGLU_PARAMS(f16_t), NORM_PARAMS) { linear_swiglu<f16_t, 1, 1, 4, true>(SWIGLU_ARGS, NORM_ARGS); }
KERNEL void linear_swiglu_norm_f16_m2(SWIGLU_PARAMS(f16_t), NORM_PARAMS) { linear_swiglu<f16_t, 2, 1, 4, true>(SWIGLU_ARGS, NORM_ARGS); }
KERNEL void linear_qkv_norm_f32_m1(QKV_PARAMS(float), NORM_PARAMS) { linear_qkv<float, 1, 1, 4, true>(QKV_ARGS, NORM_ARGS); }
KERNEL void linear_qkv_norm_f32_m2(QKV_PARAMS(float), NORM_PARAMS) { linear_qkv<float, 2, 1, 4, true>(QKV_ARGS, NORM_ARGS); }
KERNEL void linear_qkv_norm_bf16_m1(QKV_PARAMS(bf16_t), NORM_PARAMS) { linear_qkv<bf16_t, 1, 1, 4, true>(QKV_ARGS, NORM_ARGS); }
KERNEL void linear_qkv_norm_bf16_m2(QKV_PARAMS(bf16_t), NORM_PARAMS) { linear_qkv<bf16_t, 2, 1, 4, true>(QKV_ARGS, NORM_ARGS); }
KERNEL void linear_qkv_norm_f16_m1(QKV_PARAMS(f16_t), NORM_PARAMS) { linear_qkv<f16_t, 1, 1, 4, true>(QKV_ARGS, NORM_ARGS); }
KERNEL void linear_qkv_norm_f16_m2(QKV_PARAMS(f16_t), NORM_PARAMS) { linear_qkv<f16_t, 2, 1, 4, true>(QKV_ARGS, NORM_ARGS); }
// The _norm_rope entry points rotate q and k as they store them too
// (linear_qkv_rope), with the unfused kernels' ksplit.
#define ROPE_PARAMS const float *cos_table, const float *sin_table, int head_dim, int start
#define ROPE_ARGS cos_table, sin_table, head_dim, start
KERNEL void linear_qkv_norm_rope_f32_m1(QKV_PARAMS(float), NORM_PARAMS, ROPE_PARAMS) {
  linear_qkv_rope<float, 1, 4>(QKV_ARGS, NORM_ARGS, ROPE_ARGS);
}
KERNEL void linear_qkv_norm_rope_f32_m2(QKV_PARAMS(float), NORM_PARAMS, ROPE_PARAMS) {
  linear_qkv_rope<float, 2, 4>(QKV_ARGS, NORM_ARGS, ROPE_ARGS);
}
KERNEL void linear_qkv_norm_rope_bf16_m1(QKV_PARAMS(bf16_t), NORM_PARAMS, ROPE_PARAMS) {
  linear_qkv_rope<bf16_t, 1, 4>(QKV_ARGS, NORM_ARGS, ROPE_ARGS);
}
KERNEL void linear_qkv_norm_rope_bf16_m2(QKV_PARAMS(bf16_t), NORM_PARAMS, ROPE_PARAMS) {
  linear_qkv_rope<bf16_t, 2, 4>(QKV_ARGS, NORM_ARGS, ROPE_ARGS);
}
KERNEL void linear_qkv_norm_rope_f16_m1(QKV_PARAMS(f16_t), NORM_PARAMS, ROPE_PARAMS) {
  linear_qkv_rope<f16_t, 1, 4>(QKV_ARGS, NORM_ARGS, ROPE_ARGS);
}
KERNEL void linear_qkv_norm_rope_f16_m2(QKV_PARAMS(f16_t), NORM_PARAMS, ROPE_PARAMS) {
  linear_qkv_rope<f16_t, 2, 4>(QKV_ARGS, NORM_ARGS, ROPE_ARGS);
}
