// attention_bulk: causal grouped-query attention for many query rows at
// once (a prompt's prefill), by tiles of the cache shared across rows and
// across the query heads of a key/value head:
//
//   score[t] = q·k[t] · scale           scale = 1/sqrt(head_dim), t ≤ start+m
//   out      = Σ_t softmax(score)[t] · v[t]
//
// attention.cu gives each (row, head, 64-position chunk) a block that
// reads its keys and values alone: right for a decoding step, where the
// rows are few and the split along the sequence is what fills the GPU,
// but in a prefill of hundreds of rows every key and value is read again
// for each row and each query head of its group. Here a block takes
// ATTB_Q query vectors of one key/value head — the (row, head) pairs
// j = m·group + g, row m, head kv_head·group + g — and walks the cache in
// tiles of ATTB_K positions: it stages each tile (widened to f32) in
// shared memory once for all its query vectors, and each query vector
// keeps a running softmax (flash attention):
//
//   μ' = max(μ, max_t s[t])     α = exp(μ − μ')
//   λ' = α·λ + Σ_t exp(s[t] − μ')
//   o' = α·o + Σ_t exp(s[t] − μ')·v[t]           out = o / λ at the end
//
// ATTB_SUB threads serve a query vector: thread sub scores positions sub
// and sub + ATTB_SUB of a tile and owns dimensions sub, sub + ATTB_SUB, ...
// of o. A query vector reads the positions up to its own in order, tile
// after tile, and skips the rest, so its bits do not depend on the other
// query vectors of its block (nor on the forward's row count); they
// differ from attention.cu's (another order of the same sums), which is
// why the host sends here only rows whose logits nobody reads
// (nn.Bulker), as linear_bulk.cu.
//
// q and out are (M, heads·head_dim); k and v are (≥ start+M,
// kv_heads·head_dim), float32 or binary16 (attention_bulk_f16);
// head_dim ≤ ATTB_MAX_HEAD_DIM (the host uses attention.cu for wider
// heads). grid (ceil(M·group / ATTB_Q), kv_heads), block (ATTB_THREADS).
#include "common.h"

#define ATTB_Q 32   // query vectors a block
#define ATTB_K 16   // cache positions a tile
#define ATTB_SUB 8  // threads a query vector: ATTB_K / 2 (two scores each)
#define ATTB_THREADS (ATTB_Q * ATTB_SUB)
#define ATTB_MAX_HEAD_DIM 128
#define ATTB_DIMS (ATTB_MAX_HEAD_DIM / ATTB_SUB) // o's dimensions a thread

// At file scope, one set for both cache dtypes (as attention.cu's). The
// rows of q and k are padded by one float, so that the query vectors (and
// the positions) a warp reads at one dimension fall in different banks.
__shared__ float attb_q[ATTB_Q][ATTB_MAX_HEAD_DIM + 1];
__shared__ float attb_k[ATTB_K][ATTB_MAX_HEAD_DIM + 1];
__shared__ float attb_v[ATTB_K][ATTB_MAX_HEAD_DIM];
__shared__ float attb_p[ATTB_Q][ATTB_K + 1]; // a tile's exp(s − μ')

template <typename T>
DEV_HOT void attention_bulk_of(float* out, const float* q, const T* k, const T* v, int M, int start, int heads, int kv_heads,
                               int head_dim, float scale) {
  kernel_begin();
  int group = heads / kv_heads, kvh = blockIdx.y, n = M * group;
  int j0 = blockIdx.x * ATTB_Q, qi = threadIdx.x / ATTB_SUB, sub = threadIdx.x % ATTB_SUB;
  int j = j0 + qi, m = j / group, h = kvh * group + j % group;
  int pos = j < n ? start + m : -1;                          // this query vector's position; -1: none
  int last = start + (imin(j0 + ATTB_Q, n) - 1) / group;     // the block's last position
  int qw = heads * head_dim, kw = kv_heads * head_dim;
  const T* kh = k + kvh * head_dim;
  const T* vh = v + kvh * head_dim;

  for (int i = threadIdx.x; i < ATTB_Q * head_dim; i += blockDim.x) {
    int r = i / head_dim, d = i - r * head_dim, jj = j0 + r;
    attb_q[r][d] = jj < n ? q[(size_t)(jj / group) * qw + (size_t)(kvh * group + jj % group) * head_dim + d] : 0.0f;
  }
  float acc[ATTB_DIMS];
#pragma unroll
  for (int i = 0; i < ATTB_DIMS; i++) acc[i] = 0.0f;
  float mu = neg_inf(), lambda = 0.0f;

  for (int t0 = 0; t0 <= last; t0 += ATTB_K) {
    __syncthreads(); // the last tile's reads are done (the first time: q is staged)
    for (int i = threadIdx.x; i < ATTB_K * head_dim; i += blockDim.x) {
      int r = i / head_dim, d = i - r * head_dim, t = t0 + r;
      attb_k[r][d] = t <= last ? to_f32(kh[(size_t)t * kw + d]) : 0.0f;
      attb_v[r][d] = t <= last ? to_f32(vh[(size_t)t * kw + d]) : 0.0f;
    }
    __syncthreads(); // the tile is staged

    // The tile's positions this query vector sees: t0 .. t0 + seen − 1.
    int seen = pos < t0 ? 0 : imin(ATTB_K, pos - t0 + 1);
    float s[2];
#pragma unroll
    for (int i = 0; i < 2; i++) {
      int r = sub + i * ATTB_SUB;
      s[i] = neg_inf();
      if (r < seen) {
        float dot = 0.0f;
#pragma unroll 8
        for (int d = 0; d < head_dim; d++) dot = fmaf(attb_q[qi][d], attb_k[r][d], dot);
        s[i] = dot * scale;
      }
    }
    // The query vector's ATTB_SUB threads are neighbouring lanes of one
    // warp: the butterflies below stay among them.
    float top = fmaxf(s[0], s[1]);
    for (int o = ATTB_SUB / 2; o > 0; o >>= 1) top = fmaxf(top, GP_SHFL_XOR(top, o));
    float mu1 = fmaxf(mu, top);
    float alpha = mu1 == mu ? 1.0f : expf(mu - mu1); // (μ = −inf, μ' finite: 0)
    float p[2], sum;
#pragma unroll
    for (int i = 0; i < 2; i++) p[i] = sub + i * ATTB_SUB < seen ? expf(s[i] - mu1) : 0.0f;
    sum = p[0] + p[1];
    for (int o = ATTB_SUB / 2; o > 0; o >>= 1) sum += GP_SHFL_XOR(sum, o);
    lambda = lambda * alpha + sum, mu = mu1;
    attb_p[qi][sub] = p[0], attb_p[qi][sub + ATTB_SUB] = p[1];
    __syncthreads(); // the probabilities are published

#pragma unroll
    for (int i = 0; i < ATTB_DIMS; i++) {
      int d = sub + i * ATTB_SUB;
      if (d < head_dim && seen > 0) {
        float a = acc[i] * alpha;
        for (int r = 0; r < seen; r++) a = fmaf(attb_p[qi][r], attb_v[r][d], a);
        acc[i] = a;
      }
    }
  }

  if (pos < 0) return;
  float* o = out + (size_t)m * qw + (size_t)h * head_dim;
#pragma unroll
  for (int i = 0; i < ATTB_DIMS; i++) {
    int d = sub + i * ATTB_SUB;
    if (d < head_dim) o[d] = acc[i] / lambda;
  }
}

#define ATTB_PARAMS(T) \
  float *out, const float *q, const T *k, const T *v, int M, int start, int heads, int kv_heads, int head_dim, float scale
#define ATTB_ARGS out, q, k, v, M, start, heads, kv_heads, head_dim, scale
KERNEL void attention_bulk(ATTB_PARAMS(float)) { attention_bulk_of<float>(ATTB_ARGS); }
KERNEL void attention_bulk_f16(ATTB_PARAMS(f16_t)) { attention_bulk_of<f16_t>(ATTB_ARGS); }
