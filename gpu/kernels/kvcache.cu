// store_f16: keys or values into a binary16 KV cache. A decode step
// computes them in float32 (projected, normed, rotated) and stores them
// rounded, so that the cache takes half the memory and attention reads
// half the bytes per position (attention_chunk_f16).
//
//   dst[i] = binary16(src[i])      to nearest, ties to even (f32_to_f16_bits)
//
// grid (any), block (any).
#include "common.h"

KERNEL void store_f16(f16_t* dst, const float* src, int n) {
  kernel_begin();
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    dst[i].bits = (unsigned short)f32_to_f16_bits(src[i]);
}
