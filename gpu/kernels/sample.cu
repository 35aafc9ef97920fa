// draft_sample: a draft's tokens drawn where its logits are, so that a
// sampling PARD or VSD iteration on a GPU hands its drafts to the target's
// verify on the device, as a greedy one hands its argmax ids
// (nn.SampleChainer). Each row of logits x becomes the draft distribution
// q of ops.DraftDist, its reference:
//
//   w_i = exp((x_i - max x) / T)                      NaN logits as -inf
//   top-k (0 < k < n): keep w_i ≥ the k-th largest w   (ties of it kept)
//   top-p (0 < p < 1): keep w_i ≥ τ, τ the largest value with
//                      Σ_{kept w_j ≥ τ} w_j ≥ p · Σ_{kept} w_j
//   q_i = kept w_i / Σ kept w_j, else 0
//   id  = the first i whose running sum of q exceeds u · Σ q
//
// (a row whose largest logit is not finite: q is one at its argmax).
// q goes to memory too: the verify's acceptance test reads it back.
//
// The thresholds are values of w, found by multisection over their bits
// (positive floats order as their bit patterns): each pass over the row
// tries MS_PROBES thresholds at once between the last one that kept enough
// (lo) and the first that did not (hi), so about ten passes settle the
// 2^30 patterns of (0, 1], each a block-wide sum of the kept mass (top-p)
// or count (top-k) per probe. Sums run in a fixed order, so a row's result
// depends on nothing but the row, u and the block size.
#include "common.h"

#define MS_PROBES 8
#define SAMPLE_ROWS 8 // rows a launch: their uniform numbers are its arguments

// ms_threshold returns the largest bit pattern b ≥ floor with
// Σ_{w_i ≥ b} (mass ? w_i : 1) ≥ need, over w_i (i < n) whose pattern is
// at least floor; need must hold at floor and fail above 1.0f.
DEV_HOT unsigned ms_threshold(const float* w, int n, unsigned floor, bool mass, float need, float* scratch) {
  unsigned lo = floor, hi = 0x3f800001u; // need holds at lo, fails at hi
  while (hi - lo > 1) {
    unsigned step = (hi - lo) / (MS_PROBES + 1), probe[MS_PROBES];
    float acc[MS_PROBES];
#pragma unroll
    for (int j = 0; j < MS_PROBES; j++) probe[j] = lo + (step > 0 ? step * (j + 1) : imin(j + 1, hi - lo - 1)), acc[j] = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      float v = w[i];
      unsigned b = __float_as_uint(v);
      if (b < floor) continue;
#pragma unroll
      for (int j = 0; j < MS_PROBES; j++) acc[j] += b >= probe[j] ? (mass ? v : 1.0f) : 0.0f;
    }
    // Every thread gets every sum, so all take the same step: lo to the
    // highest probe that kept enough, hi to the lowest above it that did not
    // (rounding could make a higher probe's sum pass where a lower one's
    // failed; the interval stays one).
    float tot[MS_PROBES];
#pragma unroll
    for (int j = 0; j < MS_PROBES; j++) tot[j] = block_sum(acc[j], scratch);
    unsigned nlo = lo, nhi = hi;
#pragma unroll
    for (int j = 0; j < MS_PROBES; j++)
      if (tot[j] >= need && probe[j] > nlo) nlo = probe[j];
#pragma unroll
    for (int j = 0; j < MS_PROBES; j++)
      if (tot[j] < need && probe[j] > nlo && probe[j] < nhi) nhi = probe[j];
    lo = nlo, hi = nhi;
  }
  return lo;
}

// draft_sample: grid (rows ≤ SAMPLE_ROWS), block (a multiple of GP_WARP,
// at most GP_MAX_BLOCK). Row r of x (n values) gives q + r·n and ids[r]
// with the uniform number u<r>.
KERNEL void draft_sample(float* q, int* ids, const float* x, int n, float inv_temp, int top_k, float top_p,
                         float u0, float u1, float u2, float u3, float u4, float u5, float u6, float u7) {
  kernel_begin();
  __shared__ float scratch[GP_MAX_WARPS];
  __shared__ float chunk_sum[GP_MAX_BLOCK];
  __shared__ int chosen;
  __shared__ float chosen_before, chosen_target;
  int r = blockIdx.x;
  float u = r == 0 ? u0 : r == 1 ? u1 : r == 2 ? u2 : r == 3 ? u3 : r == 4 ? u4 : r == 5 ? u5 : r == 6 ? u6 : u7;
  const float* xr = x + (size_t)r * n;
  float* qr = q + (size_t)r * n;

  float m = neg_inf();
  for (int i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, xr[i]); // fmaxf drops NaN
  m = block_max(m, scratch);
  if (!(m > neg_inf() && m < -neg_inf())) {
    // The argmax alone: the first index holding m (0 when none does: all NaN).
    float first = neg_inf(); // -index, as the largest
    for (int i = threadIdx.x; i < n; i += blockDim.x)
      if (xr[i] == m) first = fmaxf(first, -(float)i);
    first = block_max(first, scratch);
    int a = first > neg_inf() ? (int)-first : 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) qr[i] = i == a ? 1.0f : 0.0f;
    if (threadIdx.x == 0) ids[r] = a;
    return;
  }

  // w into q (each thread reads back only what it wrote until the chunks).
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    float w = expf((xr[i] - m) * inv_temp);
    qr[i] = w == w ? w : 0.0f;
  }
  unsigned tau = 0; // keep w whose bits are ≥ tau
  if (top_k > 0 && top_k < n) tau = ms_threshold(qr, n, 0, false, (float)top_k, scratch);
  float kept = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) kept += __float_as_uint(qr[i]) >= tau ? qr[i] : 0.0f;
  kept = block_sum(kept, scratch);
  if (top_p > 0.0f && top_p < 1.0f) {
    tau = ms_threshold(qr, n, tau, true, top_p * kept, scratch);
    kept = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) kept += __float_as_uint(qr[i]) >= tau ? qr[i] : 0.0f;
    kept = block_sum(kept, scratch);
  }

  // Normalise by contiguous chunks, one a thread, summing each (block_sum's
  // barriers put every w in memory before); then the draw: thread 0 finds
  // the chunk where u·Σq falls, its thread the index.
  float inv = 1.0f / kept;
  int span = (n + blockDim.x - 1) / blockDim.x, i0 = threadIdx.x * span, i1 = imin(n, i0 + span);
  float s = 0.0f;
  for (int i = i0; i < i1; i++) {
    float v = qr[i];
    v = __float_as_uint(v) >= tau ? v * inv : 0.0f;
    qr[i] = v;
    s += v;
  }
  chunk_sum[threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    float total = 0.0f;
    for (int t = 0; t < (int)blockDim.x; t++) total += chunk_sum[t];
    float target = u * total, before = 0.0f;
    int c = -1, last = 0; // the max's chunk is positive: last gets set
    for (int t = 0; t < (int)blockDim.x && c < 0; t++) {
      if (!(chunk_sum[t] > 0.0f)) continue;
      if (before + chunk_sum[t] > target) {
        c = t;
      } else {
        last = t, before += chunk_sum[t];
      }
    }
    if (c < 0) c = last, before -= chunk_sum[last]; // rounding: u·Σq reached the total
    chosen = c, chosen_before = before, chosen_target = target;
  }
  __syncthreads();
  if ((int)threadIdx.x == chosen) {
    float cum = chosen_before;
    int id = -1;
    for (int i = i0; i < i1 && id < 0; i++) {
      if (qr[i] > 0.0f) {
        cum += qr[i];
        if (cum > chosen_target) id = i;
      }
    }
    for (int i = i1 - 1; i >= i0 && id < 0; i--) // rounding: the chunk's last positive index
      if (qr[i] > 0.0f) id = i;
    ids[r] = id;
  }
}
