// l2_prefetch: asks the device's L2 cache for up to four ranges of weights
// that a later kernel reads, while the kernels between (rotations,
// attention, norms, which read little memory) run. A decoding step's
// linear layers are bound by reading their weights; between them the
// memory would otherwise idle. Nothing is written: prefetch_l2 is a hint
// the hardware may drop, and a no-op where compat.h has none.
//
//   for each range r: prefetch_l2(p_r + i·PREFETCH_LINE)      0 ≤ i < lines_r
//
// The threads of the grid walk the lines of all ranges, in order, a line
// each per turn, so that the first lines of each range (the first columns
// of a matrix, which its kernel's first blocks read) are asked for first.
// The kernel lets the next one launch before it asks, then waits for the
// previous one: the next kernel waits for this one, so this one must wait
// for its predecessor, or the chain of waits (compat.h's kernel_begin)
// would break. Its prefetches run meanwhile, beside the previous kernel.
//
// grid (any), block (any).
#include "common.h"

#define PREFETCH_LINE 128 // bytes: an L2 cache line

KERNEL void l2_prefetch(const char* p0, int lines0, const char* p1, int lines1, const char* p2, int lines2, const char* p3,
                        int lines3) {
  grid_launch_dependents();
  const char* p[4] = {p0, p1, p2, p3};
  int lines[4] = {lines0, lines1, lines2, lines3};
  long stride = (long)gridDim.x * blockDim.x, i = (long)blockIdx.x * blockDim.x + threadIdx.x;
  for (int r = 0; r < 4; r++) {
    for (; i < lines[r]; i += stride) prefetch_l2(p[r] + i * PREFETCH_LINE);
    i -= lines[r]; // this thread's next line, counted from the next range's start
  }
  grid_dependency_wait();
}
