package cuda

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/gpu"
	"github.com/gopard/gopard/gpu/gputest"
	"github.com/gopard/gopard/gpu/internal/fakegpu"
)

// TestFakeDriver runs the dlopen layer against gpu/internal/fakegpu's
// libcuda/libnvrtc stand-in, whose device is the CPU emulator: every call
// of this file's C layer, the kernel cache, and a model through it.
func TestFakeDriver(t *testing.T) {
	if !fakegpu.Run(t, 32, "GOPARD_LIBCUDA", "GOPARD_NVRTC") {
		return
	}
	t.Setenv("FAKE_NO_DEVICE", "1")
	_, err := New()
	require.ErrorIs(t, err, gpu.ErrNoDevice)
	require.EqualError(t, err, "cuda: no CUDA device on this machine (cuInit: no CUDA-capable device is detected)")
	os.Unsetenv("FAKE_NO_DEVICE")

	b, err := New()
	require.NoError(t, err)
	require.Equal(t, "cuda:0 Fake GPU", b.Name())
	gputest.Smoke(t, b) // (the emulator's own tests check every kernel)
	// Kernel resources, as the fake reports them: local memory found in
	// the decode step's kernels, and only there.
	r, err := b.KernelResources("linear_bf16_m1")
	require.NoError(t, err)
	require.Equal(t, gpu.KernelResources{Registers: 40}, r)
	require.Empty(t, spilledDecodeKernels(t, b))
	t.Setenv("FAKE_LOCAL_BYTES", "8")
	spilled := spilledDecodeKernels(t, b)
	require.Contains(t, spilled, "linear_qkv_norm_rope_bf16_m1")
	require.Contains(t, spilled, "attention_chunk")
	require.NotContains(t, spilled, "linear_bf16_m16")
	require.NotContains(t, spilled, "rmsnorm")
	os.Unsetenv("FAKE_LOCAL_BYTES")
	fakegpu.Memory(t, b, "CUDA_ERROR_OUT_OF_MEMORY")
	gputest.Decoder(t, b, 0, 4, "qwen3-tiny")
	gputest.Chain(t, b) // a PARD iteration's kernels in one graph run
	// The fake has graphs, so the decoding steps ran as graphs (the fake
	// checks that each is a chain and updates nodes by their handles).
	t.Log(b.LaunchMode())
	require.Regexp(t, `^graphs \([1-9][0-9]* graphs built, [1-9][0-9]* launched`, b.LaunchMode())
	require.NotContains(t, b.LaunchMode(), "off")
	x := b.Alloc(1, 64)
	d, err := b.Time(func() { b.Add(x, x) })
	require.NoError(t, err)
	require.GreaterOrEqual(t, d, time.Duration(0))
	require.NoError(t, b.Close())
	require.Zero(t, b.Allocated())

	// Programmatic dependent launch, which the fake's sm_86 would not get
	// by default: through cuLaunchKernelEx and programmatic graph edges,
	// then without graphs.
	t.Setenv("GOPARD_CUDA_PDL", "1")
	for _, graphs := range []string{"1", "0"} {
		t.Setenv("GOPARD_CUDA_GRAPHS", graphs)
		b, err = New()
		require.NoError(t, err)
		gputest.Decoder(t, b, 0, 4, "qwen3-tiny")
		if graphs == "1" {
			require.Regexp(t, `^graphs \+ programmatic dependent launch \([1-9][0-9]* graphs built`, b.LaunchMode())
			require.NotContains(t, b.LaunchMode(), "off")
		} else {
			require.Equal(t, "programmatic dependent launch", b.LaunchMode())
		}
		require.NoError(t, b.Close())
	}
	t.Setenv("GOPARD_CUDA_PDL", "0")
	b, err = New()
	require.NoError(t, err)
	require.Equal(t, "stream", b.LaunchMode())
	require.Zero(t, b.SetPrefetch(gpu.PrefetchHalfL2), "no L2 prefetch below sm_90")
	require.NoError(t, b.Close())

	// An sm_90: programmatic dependent launch by default, and weight
	// prefetching into its L2 (half of the fake's 4 MiB a call).
	t.Setenv("FAKE_CC", "90")
	os.Unsetenv("GOPARD_CUDA_PDL")
	os.Unsetenv("GOPARD_CUDA_GRAPHS")
	b, err = New()
	require.NoError(t, err)
	gputest.Prefetch(t, b, gpu.PrefetchHalfL2)
	require.Equal(t, 2<<20, b.SetPrefetch(gpu.PrefetchHalfL2))
	require.Regexp(t, `^graphs \+ programmatic dependent launch`, b.LaunchMode())
	require.NoError(t, b.Close())
	// The norms folded into the linear layers (GOPARD_GPU_FUSE_NORM), in
	// graphs: a conformance model's greedy steps, and bit for bit.
	t.Setenv("GOPARD_GPU_FUSE_NORM", "on")
	b, err = New()
	require.NoError(t, err)
	require.True(t, b.FusesNorm(1))
	gputest.Decoder(t, b, 0, 4, "qwen3-tiny")
	gputest.FuseNorm(t, b)
	// The binary16 KV cache in graphs: each step's stores write other
	// rows, so their nodes are updated.
	gputest.KVCacheF16(t, b)
	require.NoError(t, b.Close())
	os.Unsetenv("GOPARD_GPU_FUSE_NORM")
	os.Unsetenv("FAKE_CC")
	os.Unsetenv("GOPARD_CUDA_PDL")
	os.Unsetenv("GOPARD_CUDA_GRAPHS")

	// The module is cached: opening again compiles nothing, even with a
	// compiler that fails.
	files, _ := filepath.Glob(filepath.Join(os.Getenv("GOPARD_GPU_CACHE"), "cuda", "*-sm_86.cubin"))
	require.Len(t, files, 1)
	t.Setenv("FAKE_COMPILE_ERROR", "1")
	b, err = New()
	require.NoError(t, err)
	require.NoError(t, b.Close())

	// Without the cache the compiler's error and log come back.
	t.Setenv("GOPARD_GPU_CACHE", "off")
	_, err = New()
	require.ErrorContains(t, err, "cuda:0 Fake GPU: nvrtcCompileProgram(--gpu-architecture=sm_86 --std=c++14 -DGOPARD_CUDA=1): NVRTC_ERROR_COMPILATION")
	require.ErrorContains(t, err, "fake: compilation failed")

	_, err = Open(1)
	require.EqualError(t, err, "cuda: no device 1 (this machine has 1)")

	// A compiler that rejects the untried PTX (compat.h): the kernels are
	// built without it, the device says so and has no tensor cores, and
	// the failure is cached, so that the next open compiles nothing.
	os.Unsetenv("FAKE_COMPILE_ERROR")
	t.Setenv("GOPARD_GPU_CACHE", t.TempDir())
	t.Setenv("FAKE_COMPILE_ERROR_WITHOUT", "-DGP_NO_UNTRIED_PTX")
	b, err = New()
	require.NoError(t, err)
	require.Contains(t, b.LaunchMode(), "kernels built with -DGP_NO_UNTRIED_PTX")
	require.Contains(t, b.LaunchMode(), "ptxas error: unknown instruction")
	require.False(t, b.SetBF16Activations(true), "tensor cores without the mma PTX")
	gputest.Smoke(t, b)
	require.NoError(t, b.Close())
	t.Setenv("FAKE_COMPILE_ERROR", "1")
	b, err = New()
	require.NoError(t, err, "both outcomes cached: nothing to compile")
	require.Contains(t, b.LaunchMode(), "kernels built with -DGP_NO_UNTRIED_PTX")
	require.NoError(t, b.Close())
}
