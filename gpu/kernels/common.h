// common.h: dtypes and reductions shared by the kernels.
#ifndef GOPARD_COMMON_H
#define GOPARD_COMMON_H
#include "compat.h"

// Weights stay as stored: f32, bfloat16 or IEEE binary16. The 16-bit types
// are wrapped in structs so that to_f32 can be overloaded on them.
struct bf16_t { unsigned short bits; }; // bfloat16: the top half of a float32
struct f16_t { unsigned short bits; };  // IEEE 754 binary16

// to_f32 widens one element exactly.
DEV float to_f32(float x) { return x; }

DEV float to_f32(bf16_t x) { return __uint_as_float((unsigned)x.bits << 16); }

// binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Rebias the
// exponent to 127 for normal numbers; subnormals are mantissa · 2^-24.
DEV float f16_bits_to_f32(unsigned h) {
  unsigned sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0x1fu) return __uint_as_float(sign | 0x7f800000u | (mant << 13)); // inf, nan
  if (exp != 0) return __uint_as_float(sign | ((exp + 112u) << 23) | (mant << 13));
  float f = (float)mant * 5.9604644775390625e-8f;
  return sign ? -f : f;
}

DEV float to_f32(f16_t x) { return f16_bits_to_f32(x.bits); }

// f32_to_f16_bits rounds x to binary16 to nearest, ties to even, as the
// CPU's F32ToF16 (x86's VCVTPS2PH) does: beyond ±65504 it overflows to an
// infinity, below 2^-14 it becomes a subnormal (or zero), and a NaN stays
// a quiet NaN with its top mantissa bits.
DEV unsigned f32_to_f16_bits(float x) {
  unsigned u = __float_as_uint(x), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00u | ((a >> 13) & 0x3ffu); // NaN
  if (a >= 0x477ff000u) return sign | 0x7c00u;                      // ≥ 65520 (or inf): inf
  if (a >= 0x38800000u) {                                            // normal: rebias 127 → 15, round at bit 13
    a -= 0x38000000u;
    return sign | ((a + 0xfffu + ((a >> 13) & 1u)) >> 13);
  }
  if (a <= 0x33000000u) return sign; // at most half the smallest subnormal, 2^-25: ±0
  // subnormal: x / 2^-24 = m · 2^(e − 126) with m the 24-bit significand
  unsigned m = (a & 0x7fffffu) | 0x800000u, s = 126u - (a >> 23); // 14 ≤ s ≤ 24
  unsigned q = m >> s, rem = m & ((1u << s) - 1u), half = 1u << (s - 1u);
  if (rem > half || (rem == half && (q & 1u))) q++; // q = 0x400 is 2^-14, the smallest normal
  return sign | q;
}

// load4 widens four consecutive elements at p, which must be 16-byte
// aligned for f32 and 8-byte aligned for the 16-bit types.
DEV void load4(const float* p, float v[4]) {
  float4 a = *(const float4*)p;
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
}

DEV void load4(const bf16_t* p, float v[4]) {
  uint2 a = *(const uint2*)p; // little-endian: element 0 is the low half
  v[0] = __uint_as_float(a.x << 16), v[1] = __uint_as_float(a.x & 0xffff0000u);
  v[2] = __uint_as_float(a.y << 16), v[3] = __uint_as_float(a.y & 0xffff0000u);
}

DEV void load4(const f16_t* p, float v[4]) {
  uint2 a = *(const uint2*)p;
  v[0] = f16_bits_to_f32(a.x & 0xffffu), v[1] = f16_bits_to_f32(a.x >> 16);
  v[2] = f16_bits_to_f32(a.y & 0xffffu), v[3] = f16_bits_to_f32(a.y >> 16);
}

// load8 widens eight consecutive elements at p, which must be 16-byte
// aligned (32-byte for f32).
DEV void load8(const float* p, float v[8]) {
  load4(p, v);
  load4(p + 4, v + 4);
}

DEV void load8(const bf16_t* p, float v[8]) {
  uint4 a = *(const uint4*)p; // little-endian: element 0 is the low half
  v[0] = __uint_as_float(a.x << 16), v[1] = __uint_as_float(a.x & 0xffff0000u);
  v[2] = __uint_as_float(a.y << 16), v[3] = __uint_as_float(a.y & 0xffff0000u);
  v[4] = __uint_as_float(a.z << 16), v[5] = __uint_as_float(a.z & 0xffff0000u);
  v[6] = __uint_as_float(a.w << 16), v[7] = __uint_as_float(a.w & 0xffff0000u);
}

DEV void load8(const f16_t* p, float v[8]) {
  uint4 a = *(const uint4*)p;
  v[0] = f16_bits_to_f32(a.x & 0xffffu), v[1] = f16_bits_to_f32(a.x >> 16);
  v[2] = f16_bits_to_f32(a.y & 0xffffu), v[3] = f16_bits_to_f32(a.y >> 16);
  v[4] = f16_bits_to_f32(a.z & 0xffffu), v[5] = f16_bits_to_f32(a.z >> 16);
  v[6] = f16_bits_to_f32(a.w & 0xffffu), v[7] = f16_bits_to_f32(a.w >> 16);
}

// bf16_rne rounds f to the nearest bf16, ties to even (bits in the low
// half), as tensor.Float32ToBF16 and the CPU's bf16 activations do.
DEV unsigned bf16_rne(float f) {
  unsigned u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u; // NaN stays a quiet NaN
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// pack_bf16 is the mma word of two activations: lo at the lower k.
DEV unsigned pack_bf16(float lo, float hi) { return bf16_rne(lo) | (bf16_rne(hi) << 16); }

// silu is the SwiGLU gate's activation, g·sigmoid(g).
DEV float silu(float g) { return g / (1.0f + expf(-g)); }

DEV float neg_inf() { return __uint_as_float(0xff800000u); }

DEV int imin(int a, int b) { return a < b ? a : b; }

// warp_sum and warp_max combine v over the lanes of a warp (butterfly
// shuffles); every lane gets the result.
DEV float warp_sum(float v) {
  for (int m = GP_WARP / 2; m > 0; m >>= 1) v += GP_SHFL_XOR(v, m);
  return v;
}

DEV float warp_max(float v) {
  for (int m = GP_WARP / 2; m > 0; m >>= 1) v = fmaxf(v, GP_SHFL_XOR(v, m));
  return v;
}

// block_sum and block_max combine v over the block (whose size is a
// multiple of GP_WARP); every thread must call them and gets the result.
// scratch is GP_MAX_WARPS floats of shared memory.
DEV float block_sum(float v, float* scratch) {
  int lane = threadIdx.x % GP_WARP, warp = threadIdx.x / GP_WARP, warps = blockDim.x / GP_WARP;
  v = warp_sum(v);
  __syncthreads(); // scratch may still be read by a previous reduction
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  return warp_sum(lane < warps ? scratch[lane] : 0.0f);
}

DEV float block_max(float v, float* scratch) {
  int lane = threadIdx.x % GP_WARP, warp = threadIdx.x / GP_WARP, warps = blockDim.x / GP_WARP;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  return warp_max(lane < warps ? scratch[lane] : neg_inf());
}

// rms_sumsq is thread t's share, of T threads, of Σ x[i]² over a row of d
// values: four at 4t, 4t + 4T, ... when vec4, else one at t, t + T, ...
// The rmsnorm kernels and the linear layers that normalize their input as
// they load it (linear.cu) all take it this way, so that with the same T
// their sums, and so their results, agree bit for bit.
DEV float rms_sumsq(const float* x, int d, int t, int T, bool vec4) {
  float ss = 0.0f;
  if (vec4) {
#pragma unroll 4
    for (int i = t * 4; i < d; i += T * 4) {
      float v[4];
      load4(x + i, v);
      ss = fmaf(v[0], v[0], ss), ss = fmaf(v[1], v[1], ss), ss = fmaf(v[2], v[2], ss), ss = fmaf(v[3], v[3], ss);
    }
  } else {
    for (int i = t; i < d; i += T) ss = fmaf(x[i], x[i], ss);
  }
  return ss;
}

// rms_scale is 1 / sqrt(mean + eps) from a row's sum of squares.
DEV float rms_scale(float ss, int d, float eps) { return 1.0f / sqrtf(ss / (float)d + eps); }

// qkv_matrix is where a column group of the fused q/k/v projections
// (linear_qkv, linear_qkv_mma_bf16) lies: the matrix, its output and bias,
// its width N and the group's first column n0 in it.
template <typename T>
struct qkv_matrix {
  float* out;
  const T* w;
  const float* bias;
  int N, n0;
};

// qkv_select finds the matrix of the group whose first column is c0 in
// the launch's q (Nq columns), then k, then v (Nkv each). Past them it
// names v, with n0 ≥ Nkv.
template <typename T>
DEV qkv_matrix<T> qkv_select(int c0, float* oq, float* ok, float* ov, const T* wq, const T* wk, const T* wv, const float* bq,
                             const float* bk, const float* bv, int Nq, int Nkv) {
  if (c0 >= Nq + Nkv) return {ov, wv, bv, Nkv, c0 - Nq - Nkv};
  if (c0 >= Nq) return {ok, wk, bk, Nkv, c0 - Nq};
  return {oq, wq, bq, Nq, c0};
}

// rope_pair rotates one pair of a head's values, (x0, x1) = (x[i], x[i+h])
// in the rotate-half layout, by the angle of cosine c and sine s. The rope
// kernels and the q/k projections that rotate as they store (linear.cu)
// share it, so that they round alike.
DEV void rope_pair(float& x0, float& x1, float c, float s) {
  float a = x0, b = x1;
  x0 = a * c - b * s;
  x1 = b * c + a * s;
}

#endif
