package hip

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
// libamdhip64/libhiprtc stand-in, whose device is the CPU emulator with a
// 64-thread wavefront: every call of this file's C layer, the kernel
// cache, and a model through it.
func TestFakeDriver(t *testing.T) {
	if !fakegpu.Run(t, 64, "GOPARD_AMDHIP", "GOPARD_HIPRTC") {
		return
	}
	t.Setenv("FAKE_NO_DEVICE", "1")
	_, err := New()
	require.ErrorIs(t, err, gpu.ErrNoDevice)
	require.EqualError(t, err, "hip: no AMD GPU on this machine (hipInit: no ROCm-capable device is detected)")
	os.Unsetenv("FAKE_NO_DEVICE")

	b, err := New()
	require.NoError(t, err)
	require.Equal(t, "hip:0 Fake Instinct (gfx90a)", b.Name())
	require.Equal(t, 64, b.WarpSize())
	gputest.Smoke(t, b) // (the emulator's own tests check every kernel)
	fakegpu.Memory(t, b, "hipErrorOutOfMemory")
	gputest.Decoder(t, b, 0, 4, "qwen3-tiny")
	x := b.Alloc(1, 64)
	d, err := b.Time(func() { b.Add(x, x) })
	require.NoError(t, err)
	require.GreaterOrEqual(t, d, time.Duration(0))
	require.NoError(t, b.Close())
	require.Zero(t, b.Allocated())

	// The module is cached: opening again compiles nothing, even with a
	// compiler that fails.
	files, _ := filepath.Glob(filepath.Join(os.Getenv("GOPARD_GPU_CACHE"), "hip", "*-gfx90a_sramecc+_xnack-.hsaco"))
	require.Len(t, files, 1)
	t.Setenv("FAKE_COMPILE_ERROR", "1")
	b, err = New()
	require.NoError(t, err)
	require.NoError(t, b.Close())

	// Without the cache the compiler's error and log come back.
	t.Setenv("GOPARD_GPU_CACHE", "off")
	_, err = New()
	require.ErrorContains(t, err, "hip:0 Fake Instinct (gfx90a): hiprtcCompileProgram(-O3 -DGOPARD_HIP=1 --gpu-architecture=gfx90a:sramecc+:xnack-): HIPRTC_ERROR_COMPILATION")
	require.ErrorContains(t, err, "fake: compilation failed")

	_, err = Open(1)
	require.EqualError(t, err, "hip: no device 1 (this machine has 1)")
}
