// Package gpu runs gopard's decoder on NVIDIA and AMD GPUs with handwritten
// kernels: no cuBLAS, rocBLAS or vendor SDK is needed to build, only a
// driver at run time.
//
// Layout:
//
//	gpu/kernels        the device code: one .cu file per operation (linear,
//	                   linear_mma, rmsnorm, rope, attention, embedding,
//	                   elementwise, argmax, sample, copy, prefetch), written once for CUDA and
//	                   HIP (linear_mma's tensor cores: CUDA sm_80+); compat.h maps
//	                   the spellings that differ, common.h holds dtype
//	                   conversions and reductions. Embedded with go:embed.
//	gpu (this package) Device, the nn.Backend both vendors share: shape
//	                   checks, launch geometry, scratch buffers and
//	                   allocation tracking, over the small Driver interface;
//	                   and the on-disk cache of compiled kernels.
//	gpu/cuda           the NVIDIA Driver: libcuda.so.1 (driver API) and
//	                   libnvrtc.so opened with dlopen through cgo, kernels
//	                   compiled by NVRTC for the device's sm_XX on first use
//	                   ($GOPARD_LIBCUDA and $GOPARD_NVRTC name other files).
//	gpu/hip            the AMD Driver: libamdhip64.so and libhiprtc.so, the
//	                   same way, kernels compiled for the device's gfx arch
//	                   ($GOPARD_AMDHIP, $GOPARD_HIPRTC).
//	gpu/gputest        the tests every Driver must pass: each kernel against
//	                   ops.CPU on random data, and the conformance models'
//	                   logits on the device against the CPU.
//	gpu/internal/emu   a CPU emulator of the kernels (the .cu sources built
//	                   with the host's C++ compiler, every GPU thread a
//	                   fiber), so that gpu/gputest runs, and the kernels and
//	                   Device are tested, on machines without a GPU.
//	gpu/internal/fakegpu a stand-in libcuda/libnvrtc/libamdhip64/libhiprtc
//	                   (C, built by the tests) whose device is the emulator,
//	                   so that the dlopen layers of gpu/cuda and gpu/hip run
//	                   in tests too.
//
// Without cgo, off Linux, or without a driver, cuda.New and hip.New return
// an error (errors.Is(err, gpu.ErrNoDevice)) and callers fall back to the
// CPU; see internal/cli.Backend. Compiled kernels are cached under
// os.UserCacheDir()/gopard/<vendor>/<hash>-<arch>.<ext> (GOPARD_GPU_CACHE
// overrides the directory; "off" disables the cache).
//
// Besides nn.Backend, a Device implements nn.Argmaxer (greedy decoding
// copies back ids, not logits), nn.IDChainer (a draft's ids stay on the
// device for the verify: one wait for the device per speculative
// iteration, HostWaits counts them), nn.SampleChainer (sampling's draws
// and acceptance test on the device, sample.cu: ids come back, not
// logits), SetBF16Activations (tensor-core
// products, linear_mma.cu) and nn.Fused (residual add with the next
// RMSNorm, both rotations, the q/k/v projections and the SwiGLU gate/up in
// one launch each: on a GPU a decode step's small operations cost mostly
// their launch), nn.Prefetcher (with GOPARD_GPU_PREFETCH or SetPrefetch,
// the next linear layers' weights are asked into L2 while attention and
// the norms run; CUDA sm_90+, not yet measured), nn.NormFuser (with
// GOPARD_GPU_FUSE_NORM=on or SetFuseNorm, a decode step's residual adds
// and RMSNorms, and the rotations where no q/k norm sits between, ride in
// the linear layers around them, bit for bit, 3L + 1 launches a token
// fewer; not yet measured), nn.Allocator (a KV cache too large for the
// device is an error, not a panic), nn.KVStore (with SetF16KVCache, a
// binary16 cache: half the memory and the bytes attention reads),
// nn.Bulker (with GOPARD_GPU_BULK=on or SetBulk, a prompt's rows but its
// last go through a tiled matrix product, linear_bulk.cu, that reads the
// weights once per 64 rows, and attention_bulk.cu, that reads the cache
// once per 32 (row, head) pairs; not yet measured), and times work with
// events (Time, CopyBandwidth: see cmd/bench --device cuda --profile).
// The README's GPU section has what it measured on an H100, and
// docs/gpu.md what was written since and how to measure it.
//
// When the device fails an operation (the driver refuses a launch or a
// copy, memory runs out mid-forward), the operation panics with a Failure,
// which wraps nn.ErrDevice: nn.Decoder returns it as its error, naming the
// device, the kernel and the driver's code. Operands of the wrong shape,
// dtype or place panic with a plain message: a bug in the caller.
//
// Data layout follows the nn.Backend contract: activations are F32 device
// tensors (tensor.Device, Ptr a device address, RowSliceInto offsets it);
// weights keep their stored dtype (F32, BF16, F16) and are widened in
// registers; norm vectors are widened to F32 at Load, as ops.CPU does.
package gpu
