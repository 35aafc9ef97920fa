// Causal grouped-query attention of M query rows over the KV cache, split
// along the sequence (flash-decoding) so that a single decoded row still
// fills the GPU. Query row m sits at position start+m and sees cache rows
// 0..start+m; head h reads key/value head h / (heads / kv_heads).
//
//   score[t] = q·k[t] · scale           scale = 1/sqrt(head_dim), t ≤ start+m
//   out      = Σ_t softmax(score)[t] · v[t]
//
// attention_chunk scores one chunk c of ATTN_CHUNK positions for one
// (row, head) and keeps, relative to the chunk's own maximum μ_c,
//
//   λ_c = Σ_{t∈c} exp(score[t] − μ_c)      o_c = Σ_{t∈c} exp(score[t] − μ_c) · v[t]
//
// and attention_combine merges the chunks with μ = max_c μ_c:
//
//   out = Σ_c exp(μ_c − μ) · o_c / Σ_c exp(μ_c − μ) · λ_c
//
// q and out are (M, heads·head_dim); k and v are (≥ start+M, kv_heads·head_dim),
// float32 (attention_chunk) or binary16 (attention_chunk_f16: a cache kept
// in half the bytes, widened exactly as it is read, the arithmetic the
// same). The partials are (M·heads, chunks, head_dim) for o and
// (M·heads, chunks, 2) for (μ, λ).
#include "common.h"

// 64 positions a chunk: at a short context a decode step has only heads ×
// chunks blocks, and a 256-position chunk left an H100 with 64 blocks each
// walking 256 positions (28 µs for an 8B layer at context 257).
#define ATTN_CHUNK 64
#define ATTN_MAX_HEAD_DIM 512
// groups · head_dim ≤ blockDim · 4 floats: the block's threads, four dimensions each.
#define ATTN_RED (GP_MAX_BLOCK * 4)

// At file scope, one set for both cache dtypes: clang's AMDGPU back end
// would give each kernel room for every instantiation's own.
__shared__ float attn_q[ATTN_MAX_HEAD_DIM];
__shared__ float attn_p[ATTN_CHUNK];
__shared__ float attn_scratch[GP_MAX_WARPS];
__shared__ float attn_red[ATTN_RED]; // the value groups' partial sums

// grid (M·heads, chunks), block (a multiple of GP_WARP).
template <typename T>
DEV_HOT void attention_chunk_of(float* part_o, float* part_ml, const float* q, const T* k, const T* v, int start, int heads,
                                int kv_heads, int head_dim, float scale) {
  float *qs = attn_q, *p = attn_p, *scratch = attn_scratch, *red = attn_red;
  kernel_begin();
  int rh = blockIdx.x, m = rh / heads, h = rh % heads, c = blockIdx.y;
  int kw = kv_heads * head_dim, kv_off = h / (heads / kv_heads) * head_dim;
  int t0 = c * ATTN_CHUNK, t1 = imin(start + m + 1, t0 + ATTN_CHUNK); // positions [t0, t1)
  size_t part = (size_t)rh * gridDim.y + c;
  float* o = part_o + part * head_dim;

  if (t0 >= t1) { // the chunk lies in this row's future: it adds nothing
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) o[d] = 0.0f;
    if (threadIdx.x == 0) part_ml[2 * part] = neg_inf(), part_ml[2 * part + 1] = 0.0f;
    return;
  }

  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) qs[d] = q[(size_t)rh * head_dim + d];
  __syncthreads();

  // Scores: one thread per position, so that a block has up to blockDim
  // rows of k in flight (a warp per position would wait for one row's
  // latency at a time). Four dimensions per load where rows allow.
  bool vec4 = head_dim % 4 == 0 && kw % 4 == 0 && kv_off % 4 == 0;
  for (int t = t0 + threadIdx.x; t < t1; t += blockDim.x) {
    const T* kt = k + (size_t)t * kw + kv_off;
    float s = 0.0f;
    if (vec4) {
#pragma unroll 8
      for (int d = 0; d < head_dim; d += 4) {
        float kv[4];
        load4(kt + d, kv);
        s = fmaf(qs[d], kv[0], s), s = fmaf(qs[d + 1], kv[1], s), s = fmaf(qs[d + 2], kv[2], s), s = fmaf(qs[d + 3], kv[3], s);
      }
    } else {
      for (int d = 0; d < head_dim; d++) s = fmaf(qs[d], to_f32(kt[d]), s);
    }
    p[t - t0] = s * scale;
  }
  // (Each thread reads back only the scores it wrote, so this barrier and
  // the one before the value sums guard nothing today, block_sum's having
  // published p: scripts/barrier-sweep.sh. Kept, as timed on the H100.)
  __syncthreads();

  // Softmax numerators relative to the chunk's maximum.
  float mu = neg_inf();
  for (int i = threadIdx.x; i < t1 - t0; i += blockDim.x) mu = fmaxf(mu, p[i]);
  mu = block_max(mu, scratch);
  float lambda = 0.0f;
  for (int i = threadIdx.x; i < t1 - t0; i += blockDim.x) {
    p[i] = expf(p[i] - mu);
    lambda += p[i];
  }
  lambda = block_sum(lambda, scratch); // (its barriers also publish p)

  // Weighted values. The block is split into groups of cols threads, each
  // thread owning W = 4 (or 1) dimensions; group g sums the positions
  // t0 + g, t0 + g + groups, ... so that many rows of v are in flight, and
  // the groups' sums are added in shared memory. When a row needs more
  // threads than the block has, one group loops over the dimensions.
  int W = vec4 ? 4 : 1, cols = head_dim / W;
  int groups = cols <= (int)blockDim.x ? blockDim.x / cols : 1;
  int g = threadIdx.x / cols;
  __syncthreads();
  for (int c = threadIdx.x % cols; c < cols && g < groups; c += blockDim.x) {
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    const T* vt = v + kv_off + c * W;
#pragma unroll 4
    for (int t = t0 + g; t < t1; t += groups) {
      float pt = p[t - t0];
      if (W == 4) {
        float vv[4];
        load4(vt + (size_t)t * kw, vv);
        acc[0] = fmaf(pt, vv[0], acc[0]), acc[1] = fmaf(pt, vv[1], acc[1]);
        acc[2] = fmaf(pt, vv[2], acc[2]), acc[3] = fmaf(pt, vv[3], acc[3]);
      } else {
        acc[0] = fmaf(pt, to_f32(vt[(size_t)t * kw]), acc[0]);
      }
    }
    // (j < 4 unrolled, not j < W: acc indexed by a variable would live in
    // local memory)
    float* dst = groups == 1 ? o + c * W : red + g * head_dim + c * W;
#pragma unroll
    for (int j = 0; j < 4; j++)
      if (j < W) dst[j] = acc[j];
  }
  if (groups > 1) {
    __syncthreads();
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
      float sum = 0.0f;
      for (int gg = 0; gg < groups; gg++) sum += red[gg * head_dim + d];
      o[d] = sum;
    }
  }
  if (threadIdx.x == 0) part_ml[2 * part] = mu, part_ml[2 * part + 1] = lambda;
}

KERNEL void attention_chunk(float* part_o, float* part_ml, const float* q, const float* k, const float* v, int start, int heads,
                            int kv_heads, int head_dim, float scale) {
  attention_chunk_of<float>(part_o, part_ml, q, k, v, start, heads, kv_heads, head_dim, scale);
}

KERNEL void attention_chunk_f16(float* part_o, float* part_ml, const float* q, const f16_t* k, const f16_t* v, int start,
                                int heads, int kv_heads, int head_dim, float scale) {
  attention_chunk_of<f16_t>(part_o, part_ml, q, k, v, start, heads, kv_heads, head_dim, scale);
}

// grid (M·heads), block (any): block rh writes head rh % heads of row rh / heads,
// which is out + rh·head_dim since rows are heads·head_dim wide.
KERNEL void attention_combine(float* out, const float* part_o, const float* part_ml, int chunks, int head_dim) {
  kernel_begin();
  size_t rh = blockIdx.x;
  const float* ml = part_ml + rh * chunks * 2;
  float mu = neg_inf();
  for (int c = 0; c < chunks; c++) mu = fmaxf(mu, ml[2 * c]);
  float denom = 0.0f;
  for (int c = 0; c < chunks; c++)
    if (ml[2 * c + 1] > 0.0f) denom += expf(ml[2 * c] - mu) * ml[2 * c + 1];
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float acc = 0.0f;
    for (int c = 0; c < chunks; c++)
      if (ml[2 * c + 1] > 0.0f) acc += expf(ml[2 * c] - mu) * part_o[(rh * chunks + c) * head_dim + d];
    out[rh * head_dim + d] = acc / denom;
  }
}
