// clang.h: the declarations that the CUDA and HIP headers (or NVRTC and
// hiprtc, built in) would provide, written with clang builtins so that
// .ci/gpu-compile-check can compile the kernels for NVPTX and AMDGPU with
// -nocudainc / -nogpuinc on a machine with neither SDK. Only the kernels'
// syntax and types are being checked: the math here need not be exact.
#ifndef GOPARD_CLANG_PRELUDE_H
#define GOPARD_CLANG_PRELUDE_H

#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))

typedef __SIZE_TYPE__ size_t;

struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(8))) uint2 { unsigned x, y; };
struct __attribute__((aligned(16))) uint4 { unsigned x, y, z, w; };
struct gp_dim3 { unsigned x, y, z; };

static __device__ inline float __uint_as_float(unsigned u) { return __builtin_bit_cast(float, u); }
static __device__ inline unsigned __float_as_uint(float f) { return __builtin_bit_cast(unsigned, f); }

#if defined(__NVPTX__)
#define threadIdx (gp_dim3{(unsigned)__nvvm_read_ptx_sreg_tid_x(), (unsigned)__nvvm_read_ptx_sreg_tid_y(), (unsigned)__nvvm_read_ptx_sreg_tid_z()})
#define blockIdx (gp_dim3{(unsigned)__nvvm_read_ptx_sreg_ctaid_x(), (unsigned)__nvvm_read_ptx_sreg_ctaid_y(), (unsigned)__nvvm_read_ptx_sreg_ctaid_z()})
#define blockDim (gp_dim3{(unsigned)__nvvm_read_ptx_sreg_ntid_x(), (unsigned)__nvvm_read_ptx_sreg_ntid_y(), (unsigned)__nvvm_read_ptx_sreg_ntid_z()})
#define gridDim (gp_dim3{(unsigned)__nvvm_read_ptx_sreg_nctaid_x(), (unsigned)__nvvm_read_ptx_sreg_nctaid_y(), (unsigned)__nvvm_read_ptx_sreg_nctaid_z()})
static __device__ inline float __shfl_xor_sync(unsigned mask, float v, int m) { return __nvvm_shfl_sync_bfly_f32(mask, v, m, 0x1f); }
static __device__ inline int __shfl_xor_sync(unsigned mask, int v, int m) { return __nvvm_shfl_sync_bfly_i32(mask, v, m, 0x1f); }
#define expf(x) __nvvm_ex2_approx_f((x) * 1.4426950408889634f)
#define sqrtf(x) __nvvm_sqrt_rn_f(x)
#define fmaf(a, b, c) __nvvm_fma_rn_f(a, b, c)
#define fmaxf(a, b) __nvvm_fmax_f(a, b)
#elif defined(__AMDGPU__)
#define threadIdx (gp_dim3{(unsigned)__builtin_amdgcn_workitem_id_x(), (unsigned)__builtin_amdgcn_workitem_id_y(), (unsigned)__builtin_amdgcn_workitem_id_z()})
#define blockIdx (gp_dim3{(unsigned)__builtin_amdgcn_workgroup_id_x(), (unsigned)__builtin_amdgcn_workgroup_id_y(), (unsigned)__builtin_amdgcn_workgroup_id_z()})
#define blockDim (gp_dim3{(unsigned)__builtin_amdgcn_workgroup_size_x(), (unsigned)__builtin_amdgcn_workgroup_size_y(), (unsigned)__builtin_amdgcn_workgroup_size_z()})
#define gridDim (gp_dim3{(unsigned)__builtin_amdgcn_grid_size_x() / __builtin_amdgcn_workgroup_size_x(), (unsigned)\
                         __builtin_amdgcn_grid_size_y() / __builtin_amdgcn_workgroup_size_y(), (unsigned)\
                         __builtin_amdgcn_grid_size_z() / __builtin_amdgcn_workgroup_size_z()})
#if __has_builtin(__builtin_amdgcn_wavefrontsize)
#define warpSize ((int)__builtin_amdgcn_wavefrontsize())
#else
#define warpSize __AMDGCN_WAVEFRONT_SIZE
#endif
static __device__ inline void __syncthreads() { __builtin_amdgcn_s_barrier(); }
static __device__ inline int gp_lane() { return __builtin_amdgcn_mbcnt_hi(~0u, __builtin_amdgcn_mbcnt_lo(~0u, 0u)); }
static __device__ inline int __shfl_xor(int v, int m) { return __builtin_amdgcn_ds_bpermute((gp_lane() ^ m) << 2, v); }
static __device__ inline float __shfl_xor(float v, int m) {
  return __builtin_bit_cast(float, __shfl_xor(__builtin_bit_cast(int, v), m));
}
#define expf(x) __builtin_expf(x)
#define sqrtf(x) __builtin_sqrtf(x)
#define fmaf(a, b, c) __builtin_fmaf(a, b, c)
#define fmaxf(a, b) __builtin_fmaxf(a, b)
#endif

#endif
