// Speculative sampling on the device (nn.SampleChainer), so that a
// sampling PARD or VSD iteration on a GPU hands its drafts to the target's
// verify there, as a greedy one hands its argmax ids, and only token ids
// come back. draft_sample draws a model's tokens where its logits are:
// each row of logits x becomes the distribution q of ops.DraftDist, its
// reference:
//
//   w_i = exp((x_i - max x) / T)                      NaN logits as -inf
//   top-k (0 < k < n): keep w_i ≥ the k-th largest w   (ties of it kept)
//   top-p (0 < p < 1): keep w_i ≥ τ, τ the largest value with
//                      Σ_{kept w_j ≥ τ} w_j ≥ p · Σ_{kept} w_j
//   q_i = kept w_i / Σ kept w_j, else 0
//   id  = the first i whose running sum of q exceeds u · Σ q
//
// (a row whose largest logit is not finite: q is one at its argmax).
// q goes to memory too, for spec_accept: the acceptance test of the
// drafts against the target's distributions, and the token after them.
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

// pick8 returns u<i> of a kernel's eight uniform-number arguments.
DEV float pick8(int i, float u0, float u1, float u2, float u3, float u4, float u5, float u6, float u7) {
  return i == 0 ? u0 : i == 1 ? u1 : i == 2 ? u2 : i == 3 ? u3 : i == 4 ? u4 : i == 5 ? u5 : i == 6 ? u6 : u7;
}

// draw_chunks draws by u from the non-negative weights weight(i), i < n:
// the first i whose running sum exceeds u·Σ weight, or the last positive
// one when rounding leaves none (-1 when none is). Each thread sums a
// contiguous chunk, thread 0 finds the chunk where u·Σ falls, its thread
// the index. Every thread calls it and gets the id; sums is GP_MAX_BLOCK
// floats of shared memory; total, when not null, gets Σ weight.
template <class W>
DEV_HOT int draw_chunks(W weight, int n, float u, float* sums, float* total_out) {
  __shared__ int chosen, drawn;
  __shared__ float chosen_before, chosen_target, total;
  int span = (n + blockDim.x - 1) / blockDim.x, i0 = threadIdx.x * span, i1 = imin(n, i0 + span);
  // The weights other threads wrote are in memory, and a previous draw has
  // read sums, chosen and drawn.
  __syncthreads();
  float s = 0.0f;
  for (int i = i0; i < i1; i++) s += weight(i);
  sums[threadIdx.x] = s;
  if (threadIdx.x == 0) drawn = -1;
  __syncthreads();
  if (threadIdx.x == 0) {
    float t = 0.0f;
    for (int c = 0; c < (int)blockDim.x; c++) t += sums[c];
    float target = u * t, before = 0.0f;
    int c = -1, last = -1;
    for (int k = 0; k < (int)blockDim.x && c < 0; k++) {
      if (!(sums[k] > 0.0f)) continue;
      if (before + sums[k] > target) {
        c = k;
      } else {
        last = k, before += sums[k];
      }
    }
    if (c < 0 && last >= 0) c = last, before -= sums[last]; // rounding: u·Σ reached the total
    chosen = c, chosen_before = before, chosen_target = target, total = t;
  }
  __syncthreads();
  if ((int)threadIdx.x == chosen) {
    float cum = chosen_before;
    int id = -1;
    for (int i = i0; i < i1 && id < 0; i++) {
      float w = weight(i);
      if (w > 0.0f) {
        cum += w;
        if (cum > chosen_target) id = i;
      }
    }
    for (int i = i1 - 1; i >= i0 && id < 0; i--) // rounding: the chunk's last positive index
      if (weight(i) > 0.0f) id = i;
    drawn = id;
  }
  __syncthreads();
  if (total_out) *total_out = total;
  return drawn;
}

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
// at most GP_MAX_BLOCK). Row r of x (the first n of its stride values)
// gives q + r·n and ids[r] with the uniform number u<r>.
KERNEL void draft_sample(float* q, int* ids, const float* x, int n, int stride, float inv_temp, int top_k, float top_p,
                         float u0, float u1, float u2, float u3, float u4, float u5, float u6, float u7) {
  kernel_begin();
  __shared__ float scratch[GP_MAX_WARPS];
  __shared__ float sums[GP_MAX_BLOCK];
  int r = blockIdx.x;
  float u = pick8(r, u0, u1, u2, u3, u4, u5, u6, u7);
  const float* xr = x + (size_t)r * stride;
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

  // w into q (each thread reads back only what it wrote until the draw).
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
  float inv = 1.0f / kept;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    float v = qr[i];
    qr[i] = __float_as_uint(v) >= tau ? v * inv : 0.0f;
  }
  // draw_chunks' first barrier puts every q in memory before another thread reads it.
  int id = draw_chunks([&](int i) { return qr[i]; }, n, u, sums, nullptr);
  if (threadIdx.x == 0) ids[r] = id;
}

// put_f32: dst[i] = u<i> for i < n ≤ 8: numbers of the host's in device
// memory without a copy (which would be a wait). grid (1), block (any).
KERNEL void put_f32(float* dst, int n, float u0, float u1, float u2, float u3, float u4, float u5, float u6, float u7) {
  kernel_begin();
  if ((int)threadIdx.x < n) dst[threadIdx.x] = pick8(threadIdx.x, u0, u1, u2, u3, u4, u5, u6, u7);
}

// spec_accept: speculative sampling's verdict on k drafts (pard's verify,
// whose derivation shows the committed token is distributed as p): x_a
// drawn from q_a (drafts, q: k rows of n), the target's distributions p_a
// after the accepted prefix and the drafts before a (p: k+1 rows of n),
// and its draw from p_k (bonus). With the uniform numbers u[0..k]:
//
//   a    = the first depth with u_a·q_a(x_a) ≥ p_a(x_a) (k when none)
//   next = a draw by u_{a+1} from (p_a − q_a)⁺ (from p_a when that has no
//          mass), or bonus when a = k
//
// out[0] = a, out[1] = next: the uniform numbers the host's verify would
// take, in its order. grid (1), block (a multiple of GP_WARP).
KERNEL void spec_accept(int* out, const int* drafts, const float* q, const float* p, const int* bonus, const float* u, int k, int n) {
  kernel_begin();
  __shared__ float sums[GP_MAX_BLOCK];
  int a = 0;
  while (a < k) {
    int x = drafts[a];
    if (!(u[a] * q[(size_t)a * n + x] < p[(size_t)a * n + x])) break;
    a++;
  }
  if (a == k) {
    if (threadIdx.x == 0) out[0] = k, out[1] = bonus[0];
    return;
  }
  const float* pa = p + (size_t)a * n;
  const float* qa = q + (size_t)a * n;
  float mass;
  int next = draw_chunks([&](int i) { return fmaxf(pa[i] - qa[i], 0.0f); }, n, u[a + 1], sums, &mass);
  if (!(mass > 0.0f)) next = draw_chunks([&](int i) { return pa[i]; }, n, u[a + 1], sums, nullptr);
  if (threadIdx.x == 0) out[0] = a, out[1] = next;
}
