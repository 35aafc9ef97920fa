package cuda

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/gpu"
	"github.com/gopard/gopard/gpu/gputest"
	"github.com/gopard/gopard/gpu/kernels"
	"github.com/gopard/gopard/tensor"
)

// open returns the first CUDA device, or skips the test with the reason
// there is none.
func open(t testing.TB) *Backend {
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
		require.Regexp(t, `^cuda: (libcuda\.so\.1 not found: no NVIDIA driver on this machine|not available|no CUDA device|libnvrtc\.so not found)`, err.Error())
		t.Skip(err)
	}
	defer b.Close()
	require.True(t, strings.HasPrefix(b.Name(), "cuda:0 "), b.Name())
	require.Equal(t, 32, b.WarpSize())
	t.Log(b.Name())
}

func TestKernels(t *testing.T) { gputest.Kernels(t, open(t)) }

func TestDecoder(t *testing.T) {
	b := open(t)
	gputest.Decoder(t, b, 0, 32)
	// A prompt's rows but the last through the tiled product
	// (GOPARD_GPU_BULK): the same references.
	b.SetBulk(true)
	t.Run("bulk", func(t *testing.T) { gputest.Decoder(t, b, 0, 32) })
}

// BenchmarkLinear times the linear layers of the Llama-3.2-1B and
// Llama-3.1-8B shapes for 1, 9 and 16 rows, float32 and bf16 activations
// (go test -run X -bench Linear ./gpu/cuda).
func BenchmarkLinear(b *testing.B) { gputest.Bench(b, open(b), gputest.LlamaShapes) }

// BenchmarkFold times a decode step's linear layers of a Llama-3.2-1B and
// 3.1-8B layer with the separate kernels and with the norms, adds and
// rotation folded into them (go test -run X -bench Fold ./gpu/cuda).
func BenchmarkFold(b *testing.B) { gputest.BenchFold(b, open(b), gputest.LlamaLayers) }

// BenchmarkBulk times a prefill chunk's product of the Llama-3.2-1B and
// 3.1-8B matrices through Linear and through the tiled LinearBulk (go
// test -run X -bench Bulk ./gpu/cuda).
func BenchmarkBulk(b *testing.B) { gputest.BenchBulk(b, open(b), gputest.LlamaShapes) }

// BenchmarkBulkAttention times a prefill chunk's attention of the
// Llama-3.2-1B and 3.1-8B heads, at the start of a prompt and at the end
// of a 4096-token one, through Attention and through the tiled
// AttentionBulk (go test -run X -bench BulkAttention ./gpu/cuda).
func BenchmarkBulkAttention(b *testing.B) {
	gputest.BenchBulkAttention(b, open(b), gputest.LlamaAttention, []int{0, 4096 - gputest.BulkRows})
}

// TestChain: greedy PARD whose drafts stay on the device waits for it
// once an iteration.
func TestChain(t *testing.T) { gputest.Chain(t, open(t)) }

// TestPrefetch: asking L2 for the next weights changes no logit (sm_90+;
// skips on older GPUs, where the kernels cannot prefetch).
func TestPrefetch(t *testing.T) { gputest.Prefetch(t, open(t), gpu.PrefetchHalfL2) }

// TestBF16Activations runs the engines and Chain on the tensor-core
// kernels (sm_80+): AR, VSD and PARD must still agree token for token,
// which needs the mma to give a row the same bits whatever rows share
// its tile.
func TestBF16Activations(t *testing.T) {
	b := open(t)
	if !b.SetBF16Activations(true) {
		t.Skipf("%s has no tensor cores for bf16", b.Name())
	}
	gputest.Engines(t, b)
	gputest.Chain(t, b)
}

// TestEngines decodes with AR, VSD and PARD in every launch mode: the
// graphs' node updates and the kernels' overlap must not change a token.
func TestEngines(t *testing.T) {
	for _, mode := range []struct{ name, graphs, pdl string }{
		{"default", "", ""}, {"graphs", "1", "0"}, {"pdl", "0", ""}, {"stream", "0", "0"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Setenv("GOPARD_CUDA_GRAPHS", mode.graphs)
			t.Setenv("GOPARD_CUDA_PDL", mode.pdl)
			b := open(t)
			gputest.Engines(t, b)
			t.Log(b.LaunchMode())
			require.NotContains(t, b.LaunchMode(), "graphs off")
		})
	}
}

// TestTime times a decode-sized bf16 linear layer with events.
func TestTime(t *testing.T) {
	b := open(t)
	w, err := b.Load(tensor.New(tensor.BF16, 4096, 4096))
	require.NoError(t, err)
	x, out := b.Alloc(1, 4096), b.Alloc(1, 4096)
	b.Linear(out, x, w, nil) // warm up
	d, err := b.Time(func() {
		for range 10 {
			b.Linear(out, x, w, nil)
		}
	})
	require.NoError(t, err)
	require.Greater(t, d, time.Duration(0))
	t.Logf("4096×4096 bf16 GEMV: %v each, %.0f GB/s", d/10, 10*4096*4096*2/d.Seconds()/1e9)
}

func TestTarget(t *testing.T) {
	for _, c := range []struct {
		cc        int
		supported []int
		cubin     bool
		arch      string
		wantCUBIN bool
	}{
		{90, nil, true, "sm_90", true},                              // NVRTC cannot list: try the device's
		{86, []int{75, 80, 86, 89, 90}, true, "sm_86", true},        // supported
		{120, []int{75, 80, 86, 89, 90}, true, "compute_90", false}, // device newer than NVRTC: PTX
		{80, nil, false, "compute_80", false},                       // NVRTC 11.0: no CUBIN
		{50, []int{75, 80}, true, "compute_50", false},              // older than all: let NVRTC say so
	} {
		arch, cubin := target(c.cc, c.supported, c.cubin)
		require.Equal(t, c.arch, arch, "%+v", c)
		require.Equal(t, c.wantCUBIN, cubin, "%+v", c)
	}
	t.Setenv("GOPARD_NVRTC_OPTIONS", "")
	require.Equal(t, []string{"--gpu-architecture=sm_80", "--std=c++14", "-DGOPARD_CUDA=1"}, options("sm_80"))
	t.Setenv("GOPARD_NVRTC_OPTIONS", " -DA=1  -lineinfo ")
	require.Equal(t, []string{"--gpu-architecture=sm_80", "--std=c++14", "-DGOPARD_CUDA=1", "-DA=1", "-lineinfo"}, options("sm_80"))
}

func TestNVRTCLibs(t *testing.T) {
	t.Setenv("GOPARD_NVRTC", "/opt/x/libnvrtc.so.12")
	t.Setenv("CUDA_HOME", "/opt/cuda")
	t.Setenv("CUDA_PATH", "")
	libs := nvrtcLibs()
	require.Equal(t, "/opt/x/libnvrtc.so.12", libs[0])
	require.Equal(t, "libnvrtc.so", libs[1])
	require.Contains(t, libs, "/opt/cuda/lib64/libnvrtc.so.12")
	require.Contains(t, libs, "/usr/local/cuda/lib64/libnvrtc.so")
}

// TestFuseNorm: the norms and residual adds folded into the linear layers
// give the separate kernels' bits, and the engines still agree with them
// (gputest.FuseNormEngines).
func TestFuseNorm(t *testing.T) { gputest.FuseNormEngines(t, open(t)) }

// TestKernelResources logs what every kernel uses as compiled for this GPU
// (registers and local memory a thread, static shared memory a block), and
// fails if a kernel of a decode step uses local memory.
func TestKernelResources(t *testing.T) {
	require.Empty(t, spilledDecodeKernels(t, open(t)), "kernels of a decode step with local memory")
}

// decodeKernels are the kernels a decode step's forward of one or two rows
// runs for its linear layers (folded or not) and attention.
var decodeKernels = regexp.MustCompile(`^(linear_\w+_m[12]|attention_\w+)$`)

// spilledDecodeKernels logs every kernel's resources on b and returns the
// decodeKernels that use local memory.
func spilledDecodeKernels(t *testing.T, b *Backend) []string {
	var spilled []string
	for _, name := range kernels.Names() {
		r, err := b.KernelResources(name)
		require.NoError(t, err, name)
		t.Logf("resources: %-30s %3d registers, %4d B local, %5d B shared", name, r.Registers, r.LocalBytes, r.SharedBytes)
		if r.LocalBytes > 0 && decodeKernels.MatchString(name) {
			spilled = append(spilled, name)
		}
	}
	return spilled
}

// TestKVCacheF16 checks the binary16 KV cache (SetF16KVCache): rounding
// as the CPU rounds, attention over it, a decoder's logits against the
// CPU's with its binary16 cache (gputest.KVCacheF16).
func TestKVCacheF16(t *testing.T) { gputest.KVCacheF16(t, open(t)) }
