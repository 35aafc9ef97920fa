package emu

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/gpu"
	"github.com/gopard/gopard/gpu/gputest"
	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/tensor"
)

// device opens an emulated device, or skips without a C++ compiler.
func device(t *testing.T, warp int) *gpu.Device {
	d, _ := deviceOn(t, warp)
	return d
}

// deviceOn is device for tests and benchmarks, returning its driver too;
// the device closes when tb ends.
func deviceOn(tb testing.TB, warp int) (*gpu.Device, gpu.Driver) {
	tb.Helper()
	drv, err := Open(warp)
	if errors.Is(err, ErrNoCompiler) || errors.Is(err, errUnavailable) {
		tb.Skip(err)
	}
	require.NoError(tb, err)
	d, err := gpu.NewDevice(drv)
	require.NoError(tb, err)
	require.Equal(tb, warp, d.WarpSize())
	tb.Cleanup(func() { require.NoError(tb, d.Close()) })
	return d, drv
}

// eachWarp runs check on a device of each emulated warp, CUDA's 32 and an
// AMD wavefront's 64, in parallel with each other and other parallel tests.
func eachWarp(t *testing.T, check func(t *testing.T, d *gpu.Device)) {
	t.Parallel()
	for _, warp := range []int{32, 64} {
		t.Run(fmt.Sprintf("warp%d", warp), func(t *testing.T) {
			t.Parallel()
			check(t, device(t, warp))
		})
	}
}

// TestKernels runs every kernel against the CPU, with CUDA's warp of 32
// and an AMD wavefront of 64.
func TestKernels(t *testing.T) {
	eachWarp(t, func(t *testing.T, d *gpu.Device) { gputest.Kernels(t, d) })
}

// TestKVCacheF16 runs gputest.KVCacheF16 on the emulator, at both warps.
func TestKVCacheF16(t *testing.T) {
	eachWarp(t, func(t *testing.T, d *gpu.Device) { gputest.KVCacheF16(t, d) })
}

// TestDecoder runs the small-vocabulary conformance models on the emulator.
func TestDecoder(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	t.Parallel()
	d := device(t, 32)
	gputest.Decoder(t, d, 1000, 4)
	// With the norms folded into the linear layers (the greedy steps, one
	// row each): the same references.
	require.True(t, d.SetFuseNorm(true))
	t.Run("fuse-norm", func(t *testing.T) { gputest.Decoder(t, d, 1000, 4) })
	// With a prompt's rows but the last through the tiled product (the
	// prompts of 37 and 44 tokens are long enough): the same references.
	d.SetFuseNorm(false)
	require.True(t, d.SetBulk(true))
	t.Run("bulk", func(t *testing.T) { gputest.Decoder(t, d, 1000, 4) })
}

// TestChain runs greedy PARD with its drafts kept on the emulated device:
// one wait per iteration, AR's output; also with bf16 activations, whose
// tensor-core kernels must give each row the same bits whatever the rows
// beside it, or PARD's output could leave AR's.
func TestChain(t *testing.T) {
	t.Parallel()
	t.Run("f32", func(t *testing.T) {
		t.Parallel()
		gputest.Chain(t, device(t, 32))
	})
	t.Run("bf16-activations", func(t *testing.T) {
		t.Parallel()
		d := device(t, 32)
		require.True(t, d.SetBF16Activations(true))
		gputest.Chain(t, d)
	})
}

// BenchmarkLinear runs gputest.Bench on the emulator with a small shape:
// the emulator's times mean nothing, the run checks the benchmark works
// (.ci/run runs it once).
func BenchmarkLinear(b *testing.B) {
	d, _ := deviceOn(b, 32)
	gputest.Bench(b, d, []gputest.LinearShape{{Name: "small", N: 64, K: 96}})
}

// BenchmarkBulk runs gputest.BenchBulk on the emulator with a small
// shape, as BenchmarkLinear: a check that the benchmark works.
func BenchmarkBulk(b *testing.B) {
	d, _ := deviceOn(b, 32)
	gputest.BenchBulk(b, d, []gputest.LinearShape{{Name: "small", N: 64, K: 96}})
}

// BenchmarkBulkAttention runs gputest.BenchBulkAttention on the emulator
// with small heads, as BenchmarkLinear: a check that the benchmark works.
func BenchmarkBulkAttention(b *testing.B) {
	d, _ := deviceOn(b, 32)
	gputest.BenchBulkAttention(b, d, []gputest.AttentionShape{{Name: "small", Heads: 4, KVHeads: 2, HeadDim: 16}}, []int{0, 64})
}

// BenchmarkFold runs gputest.BenchFold on the emulator with a small
// layer, as BenchmarkLinear: a check that the benchmark works.
func BenchmarkFold(b *testing.B) {
	d, _ := deviceOn(b, 32)
	gputest.BenchFold(b, d, []gputest.LayerShape{{Name: "small", Hidden: 64, Heads: 4, KVHeads: 2, HeadDim: 16, Intermediate: 96}})
}

func TestMemory(t *testing.T) {
	d := device(t, 32)
	before := d.Allocated()
	x := d.Alloc(10, 10)
	require.Equal(t, before+400, d.Allocated())
	d.Add(x, x) // queued work that reads x
	waits := d.HostWaits()
	d.Free(x)
	require.Equal(t, before, d.Allocated())
	require.Equal(t, waits+1, d.HostWaits(), "Free waits for the queued work that may read the tensor")
	d.Free(x) // no longer the Device's: ignored, without a wait
	require.Equal(t, waits+1, d.HostWaits())
	y := d.Alloc(10, 10)
	d.Free(y) // nothing queued since the last wait: nothing to wait for
	require.Equal(t, waits+1, d.HostWaits(), "a wait with nothing queued is not counted")
}

// TestLaunchesAllocateNothing: queuing a decode step's operations (and a
// prefill's bulk product, speculative sampling's draws and test) on a
// Device allocates no Go memory (a GPU launches hundreds a token).
func TestLaunchesAllocateNothing(t *testing.T) {
	d := device(t, 32)
	table, err := d.Load(tensor.FromF32(make([]float32, 50*64), 50, 64))
	require.NoError(t, err)
	w, err := d.Load(tensor.Convert(tensor.FromF32(make([]float32, 64*64), 64, 64), tensor.BF16))
	require.NoError(t, err)
	x, out, logits := d.Alloc(40, 64), d.Alloc(40, 64), d.Alloc(2, 50)
	ids := make([]int32, 40)
	norm, err := d.Load(tensor.FromF32(make([]float32, 64), 64))
	require.NoError(t, err)
	cos, sin := d.Alloc(8, 8), d.Alloc(8, 8)
	rot := &nn.Rotation{Heads: 4, KVHeads: 4, HeadDim: 16, Start: 3, Cos: cos, Sin: sin}
	q, k, v := d.Alloc(1, 64), d.Alloc(1, 64), d.Alloc(1, 64)
	x1, x2, x3, out1, out3 := x.RowSlice(0, 1), x.RowSlice(0, 2), x.RowSlice(0, 3), out.RowSlice(0, 1), out.RowSlice(0, 3)
	require.Positive(t, d.SetPrefetch(gpu.PrefetchHalfL2))
	d.SetF16KVCache(true)
	kc, vc := d.AllocKV(8, 4, 16), d.AllocKV(8, 4, 16)
	ws := []*tensor.Tensor{w, table}
	uniform, dists := []float32{0.3, 0.7}, make([]float32, 2*50)
	step := func() {
		d.PrefetchWeights(ws)
		d.Embedding(x3, table, ids[:3])
		d.Embedding(x, table, ids) // four launches of inline ids
		d.Linear(out1, x1, w, nil)
		d.LinearBulk(out, x, w, nil) // a prefill's rows
		d.Add(out, x)
		d.LinearAdd(out1, x1, w)
		d.NormLinearSwiGLU(out1, x1, norm, 1e-5, w, w)
		d.NormLinearSwiGLU(out3, x3, norm, 1e-5, w, w) // three rows: a scratch norm first
		d.NormLinearQKV(q, k, v, x1, norm, 1e-5, w, w, w, nil, nil, nil, rot)
		d.StoreKV(kc, vc, 3, k, v)
		d.Attention(out1, q, kc, vc, 3, 4, 4, 16)
		d.AttentionBulk(out1, q, kc, vc, 3, 4, 4, 16) // (a prefill's, on one row)
		off, _ := d.KeepArgmax(logits, 2)
		d.EmbeddingKept(x2, table, off, 2)
		d.ReadKept()
		s := nn.Sampling{Temperature: 0.8, TopK: 5, TopP: 0.9}
		off, gen := d.KeepSample(logits, 2, s, uniform)
		d.EmbeddingKept(x2, table, off, 2)
		target, _ := d.KeepSample(logits, 2, s, uniform)
		d.KeepVerdict(off+1, target, 1, uniform)
		d.ReadKept()
		d.ReadKeptDists(dists, gen, off, 2)
	}
	step()
	require.Zero(t, testing.AllocsPerRun(5, step))
}

// TestPrefetch: with weight prefetching on, gputest.Prefetch (the
// decoder's logits unchanged, every weight it names asked for); the chunks
// asked for are checked in TestPrefetchChunks.
func TestPrefetch(t *testing.T) {
	eachWarp(t, func(t *testing.T, d *gpu.Device) { gputest.Prefetch(t, d, gpu.PrefetchHalfL2) })
}

// TestFuseNorm: the norms and residual adds folded into the linear layers
// give the separate kernels' bits (gputest.FuseNorm), with warps of 32 and
// 64.
func TestFuseNorm(t *testing.T) {
	eachWarp(t, func(t *testing.T, d *gpu.Device) { gputest.FuseNorm(t, d) })
}

// limitedDriver is an emulated device with little memory: Alloc fails
// past limit bytes in all.
type limitedDriver struct {
	gpu.Driver
	limit, used int
}

func (l *limitedDriver) Alloc(bytes int) (uintptr, error) {
	if l.used+bytes > l.limit {
		return 0, fmt.Errorf("out of memory (%d bytes in all)", l.limit)
	}
	p, err := l.Driver.Alloc(bytes)
	if err == nil {
		l.used += bytes
	}
	return p, err
}

// TestOutOfMemory: an allocation the device cannot give is an error from
// TryAlloc (a panic from Alloc, whose contract has no error), and a
// decoder whose KV cache does not fit says so and leaves nothing behind.
func TestOutOfMemory(t *testing.T) {
	drv, err := Open(32)
	if errors.Is(err, ErrNoCompiler) || errors.Is(err, errUnavailable) {
		t.Skip(err)
	}
	require.NoError(t, err)
	d, err := gpu.NewDevice(&limitedDriver{Driver: drv, limit: 1 << 20})
	require.NoError(t, err)
	defer func() { require.NoError(t, d.Close()) }()
	held := d.Allocated()

	_, err = d.TryAlloc(1024, 1024)
	const msg = "emu:0 CPU emulator (warp 32): allocating 4.2 MB (0.0 MB held): out of memory (1048576 bytes in all)"
	require.EqualError(t, err, msg)
	require.Equal(t, held, d.Allocated())
	require.PanicsWithError(t, msg, func() { d.Alloc(1024, 1024) })
	x, err := d.TryAlloc(16, 16)
	require.NoError(t, err)
	d.Free(x)

	cfg := nn.Config{Hidden: 64, Intermediate: 96, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 16, Vocab: 50,
		NormEps: 1e-6, RoPE: nn.RoPEConfig{Theta: 10000}, Tied: true}
	w := nn.Weights{Layers: make([]nn.Layer, cfg.Layers)} // not read before a forward
	held = d.Allocated()
	_, err = nn.NewDecoder(d, cfg, w, 4096, 16) // four tensors of 0.5 MB: the second fails
	require.EqualError(t, err, "decoder: kv cache of 4096 positions (2 layers, 2.1 MB in F32): "+
		"emu:0 CPU emulator (warp 32): allocating 0.5 MB (0.5 MB held): out of memory (1048576 bytes in all)")
	require.Equal(t, held, d.Allocated(), "what the decoder allocated is freed")
	_, err = nn.NewDecoder(d, cfg, w, 256, 16)
	require.NoError(t, err)
}

// faultyDriver is an emulated device whose launches fail after ok of
// them, as a GPU's do after a fault.
type faultyDriver struct {
	gpu.Driver
	ok int
}

func (f *faultyDriver) Launch(fn uintptr, grid, block gpu.Dim3, args []uint64) error {
	if f.ok == 0 {
		return errors.New("CUDA_ERROR_ILLEGAL_ADDRESS (injected)")
	}
	f.ok--
	return f.Driver.Launch(fn, grid, block, args)
}

// TestDeviceFailure: a launch the driver refuses mid-forward is the
// decoder's error (matching nn.ErrDevice and naming the device and the
// kernel), not a panic.
func TestDeviceFailure(t *testing.T) {
	drv, err := Open(32)
	if errors.Is(err, ErrNoCompiler) || errors.Is(err, errUnavailable) {
		t.Skip(err)
	}
	require.NoError(t, err)
	faulty := &faultyDriver{Driver: drv, ok: 1 << 30}
	d, err := gpu.NewDevice(faulty)
	require.NoError(t, err)
	defer func() { require.NoError(t, d.Close()) }()
	cfg := nn.Config{Hidden: 64, Intermediate: 96, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 16, Vocab: 50,
		NormEps: 1e-6, RoPE: nn.RoPEConfig{Theta: 10000}, Tied: true}
	load := func(shape ...int) *tensor.Tensor {
		w, err := d.Load(tensor.Convert(tensor.New(tensor.F32, shape...), tensor.BF16))
		require.NoError(t, err)
		return w
	}
	D, q, kv := cfg.Hidden, cfg.Heads*cfg.HeadDim, cfg.KVHeads*cfg.HeadDim
	w := nn.Weights{Embed: load(cfg.Vocab, D), Norm: load(D)}
	w.LMHead = w.Embed
	for range cfg.Layers {
		w.Layers = append(w.Layers, nn.Layer{AttnNorm: load(D), Q: load(q, D), K: load(kv, D), V: load(kv, D), O: load(D, q),
			MLPNorm: load(D), Gate: load(cfg.Intermediate, D), Up: load(cfg.Intermediate, D), Down: load(D, cfg.Intermediate)})
	}
	dec, err := nn.NewDecoder(d, cfg, w, 64, 16)
	require.NoError(t, err)
	_, err = dec.ForwardArgmax([]int32{1, 2, 3}, 0, 1)
	require.NoError(t, err)
	faulty.ok = 5
	_, err = dec.ForwardArgmax([]int32{4}, 3, 1)
	require.ErrorIs(t, err, nn.ErrDevice)
	require.Regexp(t, `^decoder: emu:0 CPU emulator \(warp 32\): launch \w+: CUDA_ERROR_ILLEGAL_ADDRESS \(injected\)$`, err.Error())
}
