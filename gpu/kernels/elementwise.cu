// Elementwise kernels over n floats. grid × block threads stride over the
// elements; any shape works.
#include "common.h"

// silu_mul is the SwiGLU gate; out may be gate or up.
//
//   out[i] = silu(gate[i]) · up[i]       silu(g) = g / (1 + exp(−g))
KERNEL void silu_mul(float* out, const float* gate, const float* up, int n) {
  kernel_begin();
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    out[i] = silu(gate[i]) * up[i];
  }
}

// add is the residual connection.
//
//   dst[i] += src[i]
KERNEL void add(float* dst, const float* src, int n) {
  kernel_begin();
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) dst[i] += src[i];
}

// warp_size reports GP_WARP as compiled, so that the host sizes grids with
// the value the kernels use.
KERNEL void warp_size(int* out) {
  kernel_begin();
  if (blockIdx.x == 0 && threadIdx.x == 0) out[0] = GP_WARP;
}
