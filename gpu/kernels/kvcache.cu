// store_kv_f16: keys and values into a binary16 KV cache. A decode step
// computes them in float32 (projected, normed, rotated) and stores them
// rounded, so that the cache takes half the memory and attention reads
// half the bytes per position (attention_chunk_f16).
//
//   dk[i] = binary16(k[i])   dv[i] = binary16(v[i])   to nearest, ties to even (f32_to_f16_bits)
//
// One launch for both (a layer's stores are a few KB: the launch is their
// cost). grid (any, 2): blockIdx.y 0 stores the keys, 1 the values;
// block (any).
#include "common.h"

KERNEL void store_kv_f16(f16_t* dk, const float* k, f16_t* dv, const float* v, int n) {
  kernel_begin();
  f16_t* dst = blockIdx.y == 0 ? dk : dv;
  const float* src = blockIdx.y == 0 ? k : v;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    dst[i].bits = (unsigned short)f32_to_f16_bits(src[i]);
}
