// l2_prefetch: asks the device's L2 cache for up to four ranges of weights
// that a later kernel reads, while the kernels between (rotations,
// attention, norms, which read little memory) run. A decoding step's
// linear layers are bound by reading their weights; between them the
// memory would otherwise idle. Nothing is written: the prefetches are
// hints the hardware may drop, and no-ops where compat.h has none.
//
//   for each range r, chunk i:  prefetch_l2_bulk(p_r + i·PREFETCH_CHUNK, min(PREFETCH_CHUNK, bytes_r − i·PREFETCH_CHUNK))
//
// Each thread asks the copy engine for a chunk and goes on: the transfer
// does not hold the thread, so the kernel ends long before the bytes
// arrive and the kernels after it run meanwhile. (One prefetch.L2 per
// line would hold each thread once the memory's queues fill: the kernel
// would last as long as the transfer, and the next kernel, which waits
// for it, would start no sooner than the weights had arrived.) The
// threads take the chunks of all ranges in order, so the first bytes of
// each range (a matrix's first columns, which its kernel's first blocks
// read) go first.
//
// The kernel lets the next one launch, asks, then waits for the previous
// one: the next kernel waits for this one, so this one must wait for its
// predecessor, or the chain of waits (compat.h's kernel_begin) would
// break.
//
// p_r are 16-byte aligned and bytes_r multiples of 16 (the host sees to
// it). grid (any), block (any).
#include "common.h"

#define PREFETCH_CHUNK 16384 // bytes a prefetch_l2_bulk

KERNEL void l2_prefetch(const char* p0, int bytes0, const char* p1, int bytes1, const char* p2, int bytes2, const char* p3,
                        int bytes3) {
  grid_launch_dependents();
  const char* p[4] = {p0, p1, p2, p3};
  int bytes[4] = {bytes0, bytes1, bytes2, bytes3};
  int stride = gridDim.x * blockDim.x, i = blockIdx.x * blockDim.x + threadIdx.x;
  for (int r = 0; r < 4; r++) {
    int chunks = (bytes[r] + PREFETCH_CHUNK - 1) / PREFETCH_CHUNK;
    for (; i < chunks; i += stride) {
      int off = i * PREFETCH_CHUNK;
      prefetch_l2_bulk(p[r] + off, (unsigned)imin(PREFETCH_CHUNK, bytes[r] - off));
    }
    i -= chunks; // this thread's next chunk, counted from the next range's start
  }
  grid_dependency_wait();
}
