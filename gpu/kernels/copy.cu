// copy: the memory-bandwidth probe (cmd/bench's roofline): dst = src, n
// 16-byte words, each thread striding over the grid so that any n fits a
// grid of a few blocks per multiprocessor.
//
//   dst[i] = src[i]      0 ≤ i < n, 16-byte aligned
//
// grid (any), block (any).
#include "common.h"

KERNEL void copy16(uint4* dst, const uint4* src, int n) {
  kernel_begin();
  int stride = gridDim.x * blockDim.x;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = src[i];
}
