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

#endif
