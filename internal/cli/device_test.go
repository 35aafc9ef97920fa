package cli

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/gpu"
	"github.com/gopard/gopard/internal/defaultmodel"
	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/ops/asm"
	"github.com/gopard/gopard/tensor"
)

func TestParseDevice(t *testing.T) {
	for in, want := range map[string]struct {
		kind    string
		ordinal int
	}{
		"": {"auto", 0}, "auto": {"auto", 0}, "CPU": {"cpu", 0}, "cuda": {"cuda", 0}, "cuda:1": {"cuda", 1}, " hip:2 ": {"hip", 2},
	} {
		kind, n, err := parseDevice(in)
		require.NoError(t, err, in)
		require.Equal(t, want.kind, kind, in)
		require.Equal(t, want.ordinal, n, in)
	}
	for _, in := range []string{"gpu", "cuda:", "cuda:-1", "cpu:1", "cuda:x", "metal"} {
		_, _, err := parseDevice(in)
		require.Error(t, err, in)
	}
}

func TestBackend(t *testing.T) {
	b, err := Backend("cpu", 1)
	require.NoError(t, err)
	require.IsType(t, &ops.CPU{}, b)
	require.NoError(t, CloseBackend(b))

	// auto always gives a backend: a GPU when one works, else the CPU.
	b, err = Backend("auto", 1)
	require.NoError(t, err)
	t.Logf("auto: %s", b.Name())
	require.NoError(t, CloseBackend(b))

	// An explicit GPU either works or says why not.
	for _, dev := range []string{"cuda", "hip"} {
		b, err := Backend(dev, 1)
		if err != nil {
			require.True(t, b == nil, "%s: no backend with the error, not %#v", dev, b)
			require.True(t, strings.HasPrefix(err.Error(), dev+": "), err.Error())
			t.Logf("%s: %v", dev, err)
			continue
		}
		require.True(t, strings.HasPrefix(b.Name(), dev+":0 "), b.Name())
		require.NoError(t, CloseBackend(b))
	}

	_, err = Backend("tpu", 1)
	require.ErrorContains(t, err, `--device "tpu"`)

	// A mistyped GPU setting is an error, even where auto would have
	// fallen back to the CPU; the CPU itself does not read it.
	for _, env := range []string{"GOPARD_GPU_PREFETCH", "GOPARD_GPU_FUSE_NORM", "GOPARD_GPU_BULK"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "lots")
			for _, dev := range []string{"auto", "cuda", "hip:1"} {
				_, err := Backend(dev, 1)
				require.ErrorContains(t, err, env+`="lots"`, dev)
			}
			b, err := Backend("cpu", 1)
			require.NoError(t, err)
			require.NoError(t, CloseBackend(b))
		})
	}
}

// TestAutoBackend checks --device auto's choice and what it says: nothing
// when there is no GPU, the reason when a GPU is there but failed.
func TestAutoBackend(t *testing.T) {
	gpuB := ops.NewCPU(1) // stands in for an opened GPU
	opens := func(err error) func(int) (nn.Backend, error) {
		return func(n int) (nn.Backend, error) {
			require.Zero(t, n)
			if err != nil {
				return nil, err
			}
			return gpuB, nil
		}
	}
	none := gpu.NoDevice("cuda: libcuda.so.1 not found: no NVIDIA driver on this machine")
	broken := errors.New("cuda:0 NVIDIA H100: nvrtcCompileProgram: NVRTC_ERROR_COMPILATION")
	for _, tc := range []struct {
		name       string
		cuda, hip  error
		wantGPU    bool
		wantOutput string
	}{
		{"no GPU", none, none, false, ""},
		{"CUDA", nil, none, true, ""},
		{"HIP", none, nil, true, ""},
		{"CUDA failed", broken, none, false, "--device auto: " + broken.Error() + "\n--device auto: running on the CPU instead (--device cuda makes this an error, --device cpu skips the GPU)\n"},
		{"CUDA failed, HIP works", broken, nil, true, "--device auto: " + broken.Error() + "\n"},
		{"both failed", broken, broken, false, "--device auto: " + broken.Error() + "\n--device auto: " + broken.Error() +
			"\n--device auto: running on the CPU instead (--device cuda or --device hip makes this an error, --device cpu skips the GPU)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warn strings.Builder
			b, err := autoBackend(1, &warn, []gpuOpener{{"cuda", opens(tc.cuda)}, {"hip", opens(tc.hip)}})
			require.NoError(t, err)
			require.Equal(t, tc.wantGPU, b == gpuB)
			require.Equal(t, tc.wantOutput, warn.String())
		})
	}
}

// TestStartCPUProfile checks the --cpuprofile helper: nothing for an empty
// path, a profile file once stopped, and a clear error for a bad path.
func TestStartCPUProfile(t *testing.T) {
	stop, err := StartCPUProfile("")
	if err != nil {
		t.Fatal(err)
	}
	stop()
	path := filepath.Join(t.TempDir(), "cpu.prof")
	if stop, err = StartCPUProfile(path); err != nil {
		t.Fatal(err)
	}
	stop()
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		t.Fatalf("profile %s: %v (%v)", path, st, err)
	}
	if _, err := StartCPUProfile(filepath.Join(t.TempDir(), "no", "such", "dir", "p")); err == nil || !strings.Contains(err.Error(), "--cpuprofile") {
		t.Fatalf("bad path: %v", err)
	}
}

// notCPU is a backend without a binary16 cache (only its name is used).
type notCPU struct{ nn.Backend }

func (notCPU) Name() string { return "cuda:0" }

func TestSetKVCache(t *testing.T) {
	for _, c := range []struct {
		dtype string
		gpu   bool
		want  tensor.DType
		err   string
	}{
		{"f32", false, tensor.F32, ""},
		{"", false, tensor.F32, ""},
		{" F16 ", false, tensor.F16, ""},
		{"f32", true, 0, ""},
		{"f16", true, 0, "--kv-cache f16: cuda:0 keeps an f32 cache"},
		{"bf16", false, 0, `--kv-cache "bf16": want f32 or f16`},
	} {
		cpu := ops.NewCPU(1)
		var b nn.Backend = cpu
		if c.gpu {
			b = notCPU{}
		}
		name, err := SetKVCache(b, c.dtype)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("SetKVCache(%q): error %v, want one containing %q", c.dtype, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("SetKVCache(%q): %v", c.dtype, err)
			continue
		}
		if want := strings.ToLower(c.want.String()); !c.gpu && name != want || c.gpu && name != "f32" {
			t.Errorf("SetKVCache(%q) = %q", c.dtype, name)
		}
		if got := cpu.AllocKV(2, 1, 4).DType; !c.gpu && got != c.want {
			t.Errorf("SetKVCache(%q): the CPU allocates %v caches, want %v", c.dtype, got, c.want)
		}
	}
}

// TestDraftBackend checks --draft-activations: a CPU target gets a sibling
// for its drafts (never itself, so that the setting stays the drafts'),
// a GPU keeps one backend, and a bad value is named in the error.
func TestDraftBackend(t *testing.T) {
	cpu := ops.NewCPU(1)
	defer cpu.Pool().Close()
	for _, act := range []string{"bf16", "", " F32 "} {
		d, bf16, err := DraftBackend(cpu, act)
		require.NoError(t, err, act)
		sib, ok := d.(*ops.CPU)
		require.True(t, ok, "%q: draft backend %T", act, d)
		require.NotSame(t, cpu, sib, act)
		require.Same(t, cpu.Pool(), sib.Pool(), act)
		if strings.TrimSpace(act) == "F32" {
			require.False(t, bf16, act)
		} else {
			require.Equal(t, cpu.SetBF16Activations(false), bf16, "%q: bf16 takes effect where the CPU has AVX512-BF16", act)
		}
	}
	d, bf16, err := DraftBackend(notCPU{}, "bf16")
	require.NoError(t, err)
	require.Equal(t, "cuda:0", d.Name())
	require.False(t, bf16)
	_, _, err = DraftBackend(cpu, "fp8")
	require.ErrorContains(t, err, `--draft-activations "fp8": want bf16 or f32`)
}

func TestBF16Activations(t *testing.T) {
	has := asm.HasMatDot() // whether this CPU can take bf16 activations
	for _, c := range []struct {
		args     []string
		embedded bool
		want     bool   // Want
		on       bool   // Apply on a CPU that has AVX512-BF16 (else false)
		str      string // String after parsing
		note     bool   // Apply prints a note where the CPU lacks them
	}{
		{nil, true, true, true, "auto", false},
		{nil, false, false, false, "auto", false},
		{[]string{"--bf16-activations"}, false, true, true, "true", true},
		{[]string{"--bf16-activations=false"}, true, false, false, "false", false},
		{[]string{"--bf16-activations=1"}, true, true, true, "true", true},
	} {
		var f BF16Activations
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.Var(&f, "bf16-activations", BF16ActivationsHelp)
		require.NoError(t, fs.Parse(c.args), "%v", c.args)
		require.Equal(t, c.str, f.String(), "%v", c.args)
		require.Equal(t, c.want, f.Want(c.embedded), "%v", c.args)

		cpu := ops.NewCPU(1)
		on, note := f.Apply(cpu, c.embedded)
		cpu.Pool().Close()
		require.Equal(t, c.on && has, on, "%v", c.args)
		require.Equal(t, c.note && !has, note != "", "%v: note %q", c.args, note)

		on, note = f.Apply(notCPU{}, c.embedded)
		require.False(t, on, "%v on a GPU without tensor cores", c.args)
		require.Equal(t, c.note, strings.Contains(note, "cannot take bf16 activations"), "%v on a GPU without tensor cores: note %q", c.args, note)

		// On a GPU auto stays off (its tensor-core kernels are untimed).
		tc := &tensorCoreGPU{has: true}
		on, note = f.Apply(tc, c.embedded)
		require.Equal(t, c.on && c.str != "auto", on, "%v on a GPU with tensor cores", c.args)
		require.Equal(t, on, tc.on, "%v on a GPU with tensor cores: the device's setting", c.args)
		require.Empty(t, note, "%v on a GPU with tensor cores", c.args)
	}
	var f BF16Activations
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(&f, "bf16-activations", BF16ActivationsHelp)
	require.ErrorContains(t, fs.Parse([]string{"--bf16-activations=maybe"}), "want true or false")
}

// tensorCoreGPU is a GPU backend that can take bf16 activations when has.
type tensorCoreGPU struct {
	notCPU
	has, on bool
}

func (g *tensorCoreGPU) SetBF16Activations(on bool) bool {
	g.on = on && g.has
	return g.has
}

func (g *tensorCoreGPU) BF16Activations() bool { return g.on }

// TestDraftBackendOnGPU: drafts on a GPU share the device's setting.
func TestDraftBackendOnGPU(t *testing.T) {
	g := &tensorCoreGPU{has: true}
	for _, on := range []bool{false, true} {
		g.SetBF16Activations(on)
		d, bf16, err := DraftBackend(g, "")
		require.NoError(t, err)
		require.Same(t, g, d)
		require.Equal(t, on, bf16)
	}
}

// fullGPU stands in for a GPU with no memory free: the CPU, reporting
// MemInfo, so that a model's load is refused before its upload.
type fullGPU struct {
	*ops.CPU
	closed bool
}

func (g *fullGPU) Name() string                            { return "cuda:0 Full GPU" }
func (g *fullGPU) MemInfo() (free, total int64, err error) { return 0, 16 << 30, nil }
func (g *fullGPU) Close() error                            { g.closed = true; return nil }

// TestFallBack opens the embedded target and PARD draft as generate does,
// on a GPU too full to hold them: --device auto runs them on the CPU,
// saying why; a GPU asked for by name, or another error, is not retried.
func TestFallBack(t *testing.T) {
	dirs, err := defaultmodel.Dirs()
	if err != nil {
		t.Skipf("no embedded models: %v", err)
	}
	tok, err := LoadTokenizer(dirs.Target)
	require.NoError(t, err)
	type opened struct {
		b    nn.Backend
		pair *Pair
	}
	for _, tc := range []struct {
		device, target string
		opens          []string // the devices open was asked for
		err            string   // wanted in the error; "" for none
		warn           string   // wanted in the warning
	}{
		{device: "auto", target: dirs.Target, opens: []string{"auto", "cpu"},
			warn: "--device auto: model " + dirs.Target + " does not fit cuda:0 Full GPU: it needs about "},
		{device: "", target: dirs.Target, opens: []string{"", "cpu"},
			warn: "the device has 0.0 MB free of 17.2 GB; a shorter context or"},
		{device: "cuda", target: dirs.Target, opens: []string{"cuda"}, err: "does not fit cuda:0 Full GPU"},
		{device: "auto", target: filepath.Join(t.TempDir(), "none"), opens: []string{"auto"}, err: "none"},
	} {
		var asked []string
		var gpus []*fullGPU
		var warn strings.Builder
		o, err := FallBack(tc.device, &warn, func(device string) (opened, error) {
			asked = append(asked, device)
			var b nn.Backend = ops.NewCPU(1)
			if device != "cpu" {
				g := &fullGPU{CPU: ops.NewCPU(1)}
				gpus = append(gpus, g)
				b = g
			}
			pair, err := OpenPair(tc.target, dirs.PARD, tok, b, b, 64, true)
			if err != nil {
				CloseBackend(b)
				return opened{}, err
			}
			return opened{b, pair}, nil
		})
		require.Equal(t, tc.opens, asked, "device %q", tc.device)
		for _, g := range gpus {
			require.True(t, g.closed, "the full GPU closed")
		}
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err)
			require.Empty(t, warn.String())
			continue
		}
		require.NoError(t, err, "device %q", tc.device)
		require.IsType(t, &ops.CPU{}, o.b)
		require.Equal(t, dirs.PARD, o.pair.DraftInfo.Name)
		require.Contains(t, warn.String(), tc.warn)
		require.True(t, strings.HasSuffix(warn.String(), "\n--device auto: running on the CPU instead (--device cpu skips the GPU)\n"), warn.String())
		o.pair.Close()
	}
}

// TestOpenBackends: the flags applied in order (the draft backend a
// sibling with its own activations, the KV-cache setting copied), and a
// bad value an error.
func TestOpenBackends(t *testing.T) {
	bs, note, err := OpenBackends("cpu", 1, &BF16Activations{}, false, "F16", "f32")
	require.NoError(t, err)
	require.Empty(t, note)
	require.Equal(t, "f16", bs.KVCache)
	require.False(t, bs.BF16, "a checkpoint keeps float32 activations by default")
	require.False(t, bs.DraftBF16, "--draft-activations f32")
	require.NotSame(t, bs.Target, bs.Draft, "the CPU's drafts run on a sibling")
	require.Equal(t, tensor.F16, bs.Draft.(*ops.CPU).AllocKV(4, 1, 8).DType, "the sibling has the target's cache setting")
	_, _, err = OpenBackends("cpu", 1, &BF16Activations{}, false, "f8", "f32")
	require.ErrorContains(t, err, `--kv-cache "f8"`)
	_, _, err = OpenBackends("cpu", 1, &BF16Activations{}, false, "f32", "int4")
	require.Error(t, err)
	_, _, err = OpenBackends("tpu", 1, &BF16Activations{}, false, "f32", "f32")
	require.Error(t, err)
}
