package hip

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/gpu"
	"github.com/gopard/gopard/gpu/gputest"
)

// open returns the first HIP device, or skips the test with the reason
// there is none.
func open(t *testing.T) *Backend {
	t.Helper()
	b, err := New()
	if err != nil {
		if errors.Is(err, gpu.ErrNoDevice) || strings.Contains(err.Error(), "not found") {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

// TestNew checks that New either opens a device or explains why not.
func TestNew(t *testing.T) {
	b, err := New()
	if err != nil {
		require.Regexp(t, `^hip: (libamdhip64\.so not found: no ROCm runtime on this machine|not available|no AMD GPU|libhiprtc\.so not found)`, err.Error())
		t.Skip(err)
	}
	defer b.Close()
	require.True(t, strings.HasPrefix(b.Name(), "hip:0 "), b.Name())
	require.Contains(t, []int{32, 64}, b.WarpSize())
	t.Log(b.Name(), "warp", b.WarpSize())
}

func TestKernels(t *testing.T) { gputest.Kernels(t, open(t)) }

func TestDecoder(t *testing.T) { gputest.Decoder(t, open(t), 0, 32) }

// TestChain: greedy PARD whose drafts stay on the device waits for it
// once an iteration.
func TestChain(t *testing.T) { gputest.Chain(t, open(t)) }

func TestEngines(t *testing.T) { gputest.Engines(t, open(t)) }

func TestFindArch(t *testing.T) {
	props := make([]byte, 2048)
	copy(props, "AMD Instinct MI250X")
	copy(props[300:], "gfx90a:sramecc+:xnack-")
	require.Equal(t, "gfx90a:sramecc+:xnack-", findArch(props))

	props = make([]byte, 2048)
	copy(props, "Radeon RX 7900 XTX")
	copy(props[500:], "gfx1100")
	require.Equal(t, "gfx1100", findArch(props))

	props = make([]byte, 64)
	copy(props[1:], "xgfx90a") // not at the start of a field
	require.Equal(t, "", findArch(props))
	require.Equal(t, "", findArch(nil))

	require.Equal(t, []string{"-O3", "-DGOPARD_HIP=1", "--gpu-architecture=gfx942:sramecc+:xnack-"}, options("gfx942:sramecc+:xnack-"))
	require.Equal(t, []string{"-O3", "-DGOPARD_HIP=1"}, options(""))
}

func TestLibs(t *testing.T) {
	t.Setenv("GOPARD_HIPRTC", "/x/libhiprtc.so.6")
	t.Setenv("ROCM_PATH", "/opt/rocm-6.2.0")
	libs := hiprtcLibs()
	require.Equal(t, "/x/libhiprtc.so.6", libs[0])
	require.Contains(t, libs, "/opt/rocm-6.2.0/lib/libhiprtc.so")
	require.Contains(t, libs, "/opt/rocm/lib/libhiprtc.so.6")
	require.Contains(t, runtimeLibs(), "libamdhip64.so")
}

// TestFuseNorm: the norms and residual adds folded into the linear layers
// give the separate kernels' bits, and the engines still agree with them
// (gputest.FuseNormEngines).
func TestFuseNorm(t *testing.T) { gputest.FuseNormEngines(t, open(t)) }

// TestKVCacheF16 checks the binary16 KV cache (SetF16KVCache): rounding
// as the CPU rounds, attention over it, a decoder's logits against the
// CPU's with its binary16 cache (gputest.KVCacheF16).
func TestKVCacheF16(t *testing.T) { gputest.KVCacheF16(t, open(t)) }
