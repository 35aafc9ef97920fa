// compat.h: the few spellings in which CUDA and HIP device code differ, so
// that every kernel in this directory compiles for both. Nothing else may
// be dialect-specific: NVRTC and hiprtc provide the rest (threadIdx,
// __syncthreads, float4, expf, __uint_as_float, ...) without includes, and
// the clang compile check (.ci/gpu-compile-check) and the CPU emulator
// (gpu/internal/emu) provide it through a prelude.
#ifndef GOPARD_COMPAT_H
#define GOPARD_COMPAT_H

#if defined(__HIP__) || defined(__HIPCC__) || defined(__HIPCC_RTC__)
#define GP_HIP 1
#endif

// GP_WARP is the number of threads that run in lockstep and trade registers
// through shuffles: a CUDA warp (32), or an AMD wavefront, whose size (64
// on CDNA/GCN, 32 or 64 on RDNA) HIP's warpSize gives at run time (the
// compiler's __AMDGCN_WAVEFRONT_SIZE macro is deprecated). GP_SHFL_XOR(v, m)
// returns v of lane (this lane ^ m).
#if defined(GP_HIP)
#define GP_WARP warpSize
#define GP_SHFL_XOR(v, m) __shfl_xor((v), (m))
#else
#define GP_WARP 32
#define GP_SHFL_XOR(v, m) __shfl_xor_sync(0xffffffffu, (v), (m))
#endif

// Blocks hold at most 1024 threads on both vendors, so at most 32 warps.
#define GP_MAX_BLOCK 1024
#define GP_MAX_WARPS (GP_MAX_BLOCK / 32)

// KERNEL marks an entry point, found by name (no C++ mangling); DEV a
// helper every kernel may call.
#define KERNEL extern "C" __global__
#define DEV static __device__ inline
// DEV_HOT is DEV for the helpers that take a kernel's register arrays (a
// linear layer's accumulators, weight-row pointers, norm scales), and for
// the large bodies that use shared memory: always inlined, since a
// compiler that declines to inline a large body passes the arrays by
// address, and they go to local memory, and (clang's AMDGPU back end) the
// shared memory of a function left out of line is reserved in every
// kernel. .ci/gpu-compile-check fails on any function left out of line.
#define DEV_HOT static __device__ inline __attribute__((always_inline))

// GP_NO_UNTRIED_PTX leaves out the inline PTX that was written without a
// GPU to compile it (the tensor-core mma, the bulk L2 prefetch): gpu/cuda
// compiles the kernels again with it defined when the first compile
// fails, so that one wrong instruction costs those paths, not every
// kernel, and says so (gpu/cuda's LaunchMode).

// Programmatic dependent launch (sm_90+): the host may launch a kernel
// while the one before it in the stream is still finishing (see gpu/cuda),
// so that its blocks are resident, and its first weights on their way,
// when the previous kernel ends. Every thread of every kernel must call
// grid_dependency_wait() before it touches memory that an earlier kernel
// writes or reads (activations, the KV cache, scratch): it returns once
// the previous kernel has completed and its writes are visible. Only
// reading weights, which no kernel writes, may come before it. Then
// grid_launch_dependents() lets the next kernel be scheduled. The
// emulator checks that every thread waits (gpu/internal/emu); elsewhere,
// and on HIP, both do nothing, and the prefetches (hints) too:
// prefetch_l2 asks L2 for the line holding p; prefetch_l2_bulk asks the
// copy engine (TMA) for bytes from p (both multiples of 16) and returns
// at once, the transfer going on without the thread.
#if !defined(GP_HAVE_GRID_DEPENDENCY)
#if !defined(GP_HIP) && (defined(GP_GRID_DEPENDENCY_ASM) || (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900))
DEV void grid_dependency_wait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
DEV void grid_launch_dependents() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }
DEV void prefetch_l2(const void* p) { asm volatile("prefetch.L2 [%0];" ::"l"(p)); }
#if !defined(GP_NO_UNTRIED_PTX)
DEV void prefetch_l2_bulk(const void* p, unsigned bytes) {
  asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p), "r"(bytes) : "memory");
}
#else
DEV void prefetch_l2_bulk(const void*, unsigned) {}
#endif
#else
DEV void grid_dependency_wait() {}
DEV void grid_launch_dependents() {}
DEV void prefetch_l2(const void*) {}
DEV void prefetch_l2_bulk(const void*, unsigned) {}
#endif
#endif

// mma_bf16_16816 is one warp-wide tensor-core multiply-add (PTX
// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, sm_80+):
//
//   D (16×8) += A (16×16) · B (16×8)       A, B bf16; D f32
//
// Lane l holds (g = l / 4, t = l % 4; a word is two bf16, the lower k in
// its low half): a[0] A[g][2t..2t+1], a[1] A[g+8][2t..2t+1], a[2]
// A[g][2t+8..2t+9], a[3] A[g+8][2t+8..2t+9]; b[0] B[2t..2t+1][g], b[1]
// B[2t+8..2t+9][g]; d[0..1] D[g][2t..2t+1], d[2..3] D[g+8][2t..2t+1].
// Elsewhere (older GPUs, AMD) it gives NaNs, never a silent wrong number:
// the host launches the kernels that use it only where the driver reports
// tensor cores (gpu.TensorCorer).
// The emulator computes it from every lane's fragments (prelude/emu.h).
#if !defined(GP_HAVE_MMA)
#if !defined(GP_HIP) && !defined(GP_NO_UNTRIED_PTX) && (defined(GP_MMA_ASM) || (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800))
DEV void mma_bf16_16816(float d[4], const unsigned a[4], const unsigned b[2]) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#else
DEV void mma_bf16_16816(float d[4], const unsigned*, const unsigned*) {
  for (int i = 0; i < 4; i++) d[i] = __uint_as_float(0x7fc00000u);
}
#endif
#endif

// kernel_begin is the first statement of every kernel that reads or
// writes anything but weights: it lets the next kernel be scheduled, then
// waits for the previous one. Letting the next one go first means that
// behind a run of short kernels (norms, rotations, attention) the next
// linear layer is already resident and fetching its weights; it is safe
// because every kernel waits before it touches activations, and the one
// it waits for waited for its own predecessor. No deadlock either: a
// kernel is launched only once every block of the one before has started.
// (-DGP_WAIT_BEFORE_LAUNCH, through GOPARD_NVRTC_OPTIONS, swaps the two
// for comparison.)
DEV void kernel_begin() {
#if defined(GP_WAIT_BEFORE_LAUNCH)
  grid_dependency_wait();
  grid_launch_dependents();
#else
  grid_launch_dependents();
  grid_dependency_wait();
#endif
}

#endif
