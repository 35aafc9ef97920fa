package gputest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/pard"
	"github.com/gopard/gopard/tensor"
)

// waits returns b's count of waits for the device (gpu.Device.HostWaits),
// or -1 when b does not count them.
func waits(b nn.Backend) int64 {
	if w, ok := b.(interface{ HostWaits() int64 }); ok {
		return w.HostWaits()
	}
	return -1
}

// testKept checks the nn.IDChainer operations: kept argmax ids equal
// Argmax's and append to one list, the embedding they name equals the
// CPU's, a list comes back in one wait and a new one starts after it, and
// a list that outgrows its buffer keeps its ids.
func testKept(t *testing.T, b Backend) {
	cpu := hostCPU()
	c, ok := b.(nn.IDChainer)
	if !ok {
		t.Skipf("%s keeps no ids", b.Name())
	}
	r := rng(13)
	x1, _ := upload(t, b, random(r, tensor.F32, 5, 3001))
	x2, _ := upload(t, b, random(r, tensor.F32, 3, 700))
	want := append(b.Argmax(x1, 5), b.Argmax(x2, 3)...)
	gen := c.KeptGeneration()
	off, g := c.KeepArgmax(x1, 5)
	require.Equal(t, gen, g)
	off2, g2 := c.KeepArgmax(x2, 3)
	require.Equal(t, []int{0, 5}, []int{off, off2}, "offsets in one list")
	require.Equal(t, gen, g2)

	table, hostTable := upload(t, b, random(r, tensor.BF16, 3001, 40))
	out := b.Alloc(4, 40)
	w := waits(b)
	c.EmbeddingKept(out, table, 3, 4)
	ids, g3 := c.ReadKept()
	require.Equal(t, gen, g3)
	require.Equal(t, want, ids)
	if w >= 0 {
		require.Equal(t, w+1, waits(b), "the embedding and the list's copy back: one wait")
	}
	again, _ := c.ReadKept()
	require.Equal(t, want, again)
	if w >= 0 {
		require.Equal(t, w+1, waits(b), "a second read copies nothing")
	}
	wantEmb := tensor.New(tensor.F32, 4, 40)
	cpu.Embedding(wantEmb, hostTable, want[3:7])
	require.Equal(t, wantEmb.F32(), read(b, out))

	// The read closed the list: the next keep starts another.
	require.Equal(t, gen+1, c.KeptGeneration())
	off, g = c.KeepArgmax(x2, 3)
	require.Equal(t, 0, off)
	require.Equal(t, gen+1, g)

	// Past the buffer's first size (256 ids), the list keeps its ids.
	x3, _ := upload(t, b, random(r, tensor.F32, 300, 8))
	want3 := b.Argmax(x3, 300)
	off, _ = c.KeepArgmax(x3, 300)
	require.Equal(t, 3, off)
	ids, _ = c.ReadKept()
	require.Equal(t, append(want[5:8:8], want3...), ids)
}

// smallConfig is the shape of the small random decoders the tests run
// (randomModel): hidden 64, four heads of 16 over two key/value heads.
func smallConfig(layers int) nn.Config {
	return nn.Config{Hidden: 64, Intermediate: 96, Layers: layers, Heads: 4, KVHeads: 2, HeadDim: 16, Vocab: 300,
		NormEps: 1e-5, RoPE: nn.RoPEConfig{Theta: 10000}, Tied: true}
}

// step is one forward of decodeLogits: tokens, and the logits rows wanted.
type step struct {
	tokens []int32
	want   int
}

// decodeLogits runs steps one after another on a fresh decoder of cfg and
// w on b that forwards at most chunk rows at a time, from position 0, and
// returns copies of every logits row.
func decodeLogits(t *testing.T, b nn.Backend, cfg nn.Config, w nn.Weights, chunk int, steps []step) [][]float32 {
	capacity := 0
	for _, s := range steps {
		capacity += len(s.tokens)
	}
	d, err := nn.NewDecoder(b, cfg, w, capacity, chunk)
	require.NoError(t, err)
	var logits [][]float32
	pos := 0
	for _, s := range steps {
		rows, err := d.Forward(s.tokens, pos, s.want)
		require.NoError(t, err)
		for _, r := range rows {
			logits = append(logits, slices.Clone(r))
		}
		pos += len(s.tokens)
	}
	return logits
}

// randomModel returns a small decoder's weights on b, random in bf16.
func randomModel(t *testing.T, b nn.Backend, r *rand.Rand, cfg nn.Config) nn.Weights {
	load := func(h *tensor.Tensor) *tensor.Tensor {
		w, err := b.Load(h)
		require.NoError(t, err)
		return w
	}
	mat := func(scale float32, rows, cols int) *tensor.Tensor {
		h := random(r, tensor.F32, rows, cols)
		v := h.F32()
		for i := range v {
			v[i] *= scale
		}
		return load(tensor.Convert(h, tensor.BF16))
	}
	ones := func(n int) *tensor.Tensor {
		v := make([]float32, n)
		for i := range v {
			v[i] = 1 + 0.05*float32(r.NormFloat64())
		}
		return load(tensor.FromF32(v, n))
	}
	D, q, kv := cfg.Hidden, cfg.Heads*cfg.HeadDim, cfg.KVHeads*cfg.HeadDim
	w := nn.Weights{Embed: mat(1, cfg.Vocab, D), Norm: ones(D)}
	for range cfg.Layers {
		w.Layers = append(w.Layers, nn.Layer{AttnNorm: ones(D), Q: mat(0.3, q, D), K: mat(0.3, kv, D), V: mat(0.3, kv, D), O: mat(0.3, D, q),
			MLPNorm: ones(D), Gate: mat(0.3, cfg.Intermediate, D), Up: mat(0.3, cfg.Intermediate, D), Down: mat(0.3, D, cfg.Intermediate)})
	}
	w.LMHead = w.Embed
	return w
}

// hideChain is a pard.Model that is an ArgmaxForwarder but not a
// ChainForwarder, so that the engine reads the drafts before the verify.
type hideChain struct {
	pard.Model
	a pard.ArgmaxForwarder
}

func (h hideChain) ForwardArgmax(tokens []int32, start, want int) ([]int32, error) {
	return h.a.ForwardArgmax(tokens, start, want)
}

func (h hideChain) ForwardArgmaxProb(tokens []int32, start, want int) ([]int32, []float32, error) {
	return h.a.ForwardArgmaxProb(tokens, start, want)
}

// Chain runs greedy PARD and VSD on b with a small random target and
// drafts that share its weights (a PARD draft, whose first draft is always
// accepted, and an AR draft, all of whose drafts are): chained (the
// drafts go from the draft's forwards to the verify on the device) and
// not, the output is AR's either way, and where b counts its waits
// (gpu.Device), a chained iteration waits for the device once and an
// unchained one once per draft forward and once for the verify.
func Chain(t *testing.T, b nn.Backend) {
	cpu := hostCPU()
	cfg := smallConfig(2)
	w := randomModel(t, b, rng(14), cfg)
	const capacity, tokens, k = 96, 24, 4
	dec := func() *nn.Decoder {
		d, err := nn.NewDecoder(b, cfg, w, capacity, 32)
		require.NoError(t, err)
		return d
	}
	info := pard.ModelInfo{Name: "random", VocabSize: cfg.Vocab, PardToken: -1, MaxContext: capacity}
	target := pard.WithInfo(dec(), info)
	info.Name = "random-draft"
	arDraft := pard.WithInfo(dec(), info)
	info.Name, info.PardToken, info.SpdType = "random-pard", int32(cfg.Vocab-1), "pard"
	pardDraft := pard.WithInfo(dec(), info)
	_, ok := pardDraft.(pard.ChainForwarder)
	require.True(t, ok, "a decoder is a ChainForwarder")
	prompt := []int32{5, 17, 250, 3, 99, 42, 7, 7, 120}

	ar, err := pard.Generate(target, nil, prompt, pard.Options{MaxNewTokens: tokens, IgnoreEOS: true})
	require.NoError(t, err)
	run := func(mode pard.Mode, tm, dm pard.Model) (*pard.Result, float64) {
		opt := pard.Options{Mode: mode, K: k, MaxNewTokens: tokens, IgnoreEOS: true}
		_, err := pard.Generate(tm, dm, prompt, opt) // warm-up: buffers grow
		require.NoError(t, err)
		w := waits(b)
		res, err := pard.Generate(tm, dm, prompt, opt)
		require.NoError(t, err)
		require.Equal(t, ar.Output, res.Output, "%v output ≠ AR output", mode)
		return res, float64(waits(b)-w) / float64(res.Stats.Iterations)
	}
	hide := func(m pard.Model) pard.Model { return hideChain{m, m.(pard.ArgmaxForwarder)} }
	for _, c := range []struct {
		mode      pard.Mode
		draft     pard.Model
		minAccept float64 // the mean accepted length a draft sharing the target's weights reaches at least
		plain     float64 // waits per unchained iteration
	}{
		{pard.PARD, pardDraft, 2, 2},
		{pard.VSD, arDraft, k + 1, k + 1},
	} {
		chained, perChained := run(c.mode, target, c.draft)
		plain, perPlain := run(c.mode, hide(target), hide(c.draft))
		require.Equal(t, chained.Stats.AcceptLength, plain.Stats.AcceptLength, "%v", c.mode)
		require.GreaterOrEqual(t, chained.Stats.AcceptLength, c.minAccept, "%v: mean accepted length", c.mode)
		t.Logf("%s, %v: %d iterations, mean accepted length %.2f; waits per iteration %.2f chained, %.2f not",
			b.Name(), c.mode, chained.Stats.Iterations, chained.Stats.AcceptLength, perChained, perPlain)
		if waits(b) >= 0 {
			require.Equal(t, 1.0, perChained, "%v: waits per chained iteration", c.mode)
			require.Equal(t, c.plain, perPlain, "%v: waits per unchained iteration", c.mode)
		}
	}

	// Sampling (speculative rejection sampling): where b draws on the
	// device (nn.SampleChainer), the draft's draws feed the verify there,
	// the acceptance test runs there, and an iteration waits once, for a
	// few ids; else it reads the draft's rows and the target's. With the
	// same seed, the same weights on the CPU, which draws and tests on the
	// host (pard's sampler), draw the same tokens, unless a draw lands
	// within the two sides' rounding of a boundary (the device's
	// distributions are ops.DraftDist's: the same up to rounding and ties).
	wCPU := randomModel(t, cpu, rng(14), cfg)
	onCPU := func(name string, pardToken int32, spd string) pard.Model {
		d, err := nn.NewDecoder(cpu, cfg, wCPU, capacity, 32)
		require.NoError(t, err)
		return pard.WithInfo(d, pard.ModelInfo{Name: name, VocabSize: cfg.Vocab, PardToken: pardToken, SpdType: spd, MaxContext: capacity})
	}
	for _, c := range []struct {
		mode          pard.Mode
		draft, cpuDft pard.Model
	}{
		{pard.PARD, pardDraft, onCPU("random-pard", int32(cfg.Vocab-1), "pard")},
		{pard.VSD, arDraft, onCPU("random-draft", -1, "")},
		{pard.AR, nil, nil},
	} {
		opt := pard.Options{Mode: c.mode, K: k, MaxNewTokens: tokens, IgnoreEOS: true, Temperature: 0.8, TopP: 0.95, Seed: 7}
		got, err := pard.Generate(target, c.draft, prompt, opt) // and the warm-up of the waits' count
		require.NoError(t, err)
		require.Len(t, got.Output, tokens)
		if s, ok := target.(pard.SampleChainForwarder); ok && s.SamplesOnDevice() && waits(b) >= 0 {
			w := waits(b)
			again, err := pard.Generate(target, c.draft, prompt, opt)
			require.NoError(t, err)
			require.Equal(t, got.Output, again.Output, "%v sampling: the same seed, another output", c.mode)
			require.Equal(t, 1.0, float64(waits(b)-w)/float64(again.Stats.Iterations), "%v sampling: waits per chained iteration", c.mode)
			w = waits(b)
			var hidden pard.Model
			if c.draft != nil {
				hidden = hide(c.draft)
			}
			plain, err := pard.Generate(hide(target), hidden, prompt, opt)
			require.NoError(t, err)
			t.Logf("%s, %v sampling: waits per iteration %.2f chained, %.2f not", b.Name(), c.mode,
				1.0, float64(waits(b)-w)/float64(plain.Stats.Iterations))
		}
		want, err := pard.Generate(onCPU("random", -1, ""), c.cpuDft, prompt, opt)
		require.NoError(t, err)
		n := commonPrefix(got.Output, want.Output)
		t.Logf("%s, %v sampling: the CPU with the same seed draws the same first %d of %d tokens", b.Name(), c.mode, n, tokens)
		if a, ok := b.(interface{ BF16Activations() bool }); ok && a.BF16Activations() {
			continue // products of rounded activations: logits a few parts in 10³ apart, so draws may part early
		}
		require.GreaterOrEqual(t, n, 8, "%v: the first sampled tokens differ from the CPU's with the same seed", c.mode)
	}
}

// testDecoderChunks runs a small random decoder on b and on the CPU with
// chunks of 5 rows, so that a prompt of 13 takes three forwards, keeping
// the logits of all its rows, of the last two, or of none (the last
// layer's attention and MLP then skip the rows before them, on device
// views of the buffers' later rows), then decodes a token; the logits
// must agree. With the norms folded where b can, too (decode steps only).
func testDecoderChunks(t *testing.T, b nn.Backend) {
	cpu := hostCPU()
	cfg := smallConfig(2)
	wDev, wCPU := randomModel(t, b, rng(31), cfg), randomModel(t, cpu, rng(31), cfg)
	prompt := []int32{5, 17, 250, 3, 99, 42, 7, 7, 120, 1, 0, 298, 64}
	check := func(name string) {
		for _, want := range []int{len(prompt), 2, 0} {
			steps := []step{{prompt, want}, {[]int32{11}, 1}}
			got, exp := decodeLogits(t, b, cfg, wDev, 5, steps), decodeLogits(t, cpu, cfg, wCPU, 5, steps)
			require.Len(t, got, len(exp))
			for i := range exp {
				Close(t, fmt.Sprintf("%s: prompt keeping %d rows: logits row %d", name, want, i), got[i], exp[i], Tol)
			}
		}
	}
	check("separate")
	if f, ok := b.(interface{ SetFuseNorm(bool) bool }); ok && f.SetFuseNorm(true) {
		check("folded")
		f.SetFuseNorm(false)
	}
	// A prefill's rows through the tiled product (nn.Bulker): a prompt long
	// enough for BulkRows, in chunks of 32 and of 64.
	if s, ok := b.(bulkSetter); ok && s.SetBulk(true) {
		defer s.SetBulk(false)
		long := make([]int32, 45)
		for i := range long {
			long[i] = int32(i*37+5) % int32(cfg.Vocab)
		}
		// Chunk 32: a whole chunk through it, then a short one not; 64:
		// the prompt but its last row, then that row (keeping 1), or all
		// of it (keeping none).
		for _, chunk := range []int{32, 64} {
			for _, want := range []int{1, 0} {
				steps := []step{{long, want}, {[]int32{11}, 1}}
				got, exp := decodeLogits(t, b, cfg, wDev, chunk, steps), decodeLogits(t, cpu, cfg, wCPU, chunk, steps)
				require.Len(t, got, len(exp))
				for i := range exp {
					Close(t, fmt.Sprintf("bulk prefill, chunk %d, keeping %d rows: logits row %d", chunk, want, i), got[i], exp[i], Tol)
				}
			}
		}
	}
}
