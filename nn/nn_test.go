package nn_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

func TestLlama3RoPEScalingRegimes(t *testing.T) {
	// theta 10000, head_dim 8: inv_freq = 1, 0.1, 0.01, 0.001 → wavelengths 2π·(1, 10, 100, 1000).
	// orig 400, low 1, high 4: high_wavelen = 100, low_wavelen = 400.
	r := nn.RoPEConfig{Theta: 10000, Scaling: &nn.Llama3Scaling{Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 400}}
	f := r.InvFreq(8)
	assert.InDelta(t, 1.0, f[0], 1e-12)     // 6.28 < 100: unchanged
	assert.InDelta(t, 0.1, f[1], 1e-12)     // 62.8 < 100: unchanged
	assert.InDelta(t, 0.001/8, f[3], 1e-15) // 6283 > 400: divided by the factor
	// 628.3 > 400 too → divided; make a band case: theta chosen so wavelen lands in (100, 400).
	r2 := nn.RoPEConfig{Theta: 40000, Scaling: r.Scaling}
	f2 := r2.InvFreq(4) // inv = 1, 1/200 → wavelen 2π·200 = 1256.6 > 400
	assert.InDelta(t, 1.0/200/8, f2[1], 1e-15)
	r3 := nn.RoPEConfig{Theta: 1600, Scaling: r.Scaling} // head_dim 4: inv = 1, 1/40 → wavelen 251.3 ∈ (100, 400)
	f3 := r3.InvFreq(4)
	inv := 1.0 / 40
	s := (400/(2*math.Pi/inv) - 1) / (4 - 1)
	assert.InDelta(t, (1-s)*inv/8+s*inv, f3[1], 1e-15)
	assert.True(t, s > 0 && s < 1)
}

func TestRoPETables(t *testing.T) {
	r := nn.RoPEConfig{Theta: 10000}
	cos, sin := r.Tables(4, 3)
	// position 2, i = 1: angle 2·10000^(-2/4) = 0.02
	assert.InDelta(t, math.Cos(0.02), cos[2*2+1], 1e-7)
	assert.InDelta(t, math.Sin(0.02), sin[2*2+1], 1e-7)
	assert.Equal(t, float32(1), cos[0])
}

// randomDecoder builds a small decoder with random weights of the given dtype.
func randomDecoder(t *testing.T, b nn.Backend, dt tensor.DType, chunk int, qwen3 bool) *nn.Decoder {
	return randomDecoderVocab(t, b, dt, chunk, qwen3, 50)
}

// randomDecoderVocab is randomDecoder with a vocabulary of vocab tokens
// (the first 50 rows of its embedding are randomDecoder's).
func randomDecoderVocab(t *testing.T, b nn.Backend, dt tensor.DType, chunk int, qwen3 bool, vocab int) *nn.Decoder {
	cfg := nn.Config{Hidden: 32, Intermediate: 48, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 8, Vocab: vocab,
		NormEps: 1e-6, RoPE: nn.RoPEConfig{Theta: 10000}, Tied: true}
	r := rand.New(rand.NewPCG(7, 7))
	mk := func(scale float64, shape ...int) *tensor.Tensor {
		v := make([]float32, tensor.NumElements(shape))
		for i := range v {
			v[i] = float32(r.NormFloat64() * scale)
		}
		w, err := b.Load(tensor.Convert(tensor.FromF32(v, shape...), dt))
		require.NoError(t, err)
		return w
	}
	ones := func(n int) *tensor.Tensor {
		v := make([]float32, n)
		for i := range v {
			v[i] = 1 + float32(r.NormFloat64()*0.05)
		}
		return tensor.FromF32(v, n)
	}
	D, q, kv := cfg.Hidden, cfg.Heads*cfg.HeadDim, cfg.KVHeads*cfg.HeadDim
	w := nn.Weights{Embed: mk(0.5, cfg.Vocab, D), Norm: ones(D)}
	for range cfg.Layers {
		L := nn.Layer{AttnNorm: ones(D), Q: mk(0.3, q, D), K: mk(0.3, kv, D), V: mk(0.3, kv, D), O: mk(0.3, D, q),
			MLPNorm: ones(D), Gate: mk(0.3, cfg.Intermediate, D), Up: mk(0.3, cfg.Intermediate, D), Down: mk(0.3, D, cfg.Intermediate),
			QBias: mk(0.1, q), KBias: mk(0.1, kv), VBias: mk(0.1, kv)}
		if qwen3 {
			L.QNorm, L.KNorm = ones(cfg.HeadDim), ones(cfg.HeadDim)
		}
		w.Layers = append(w.Layers, L)
	}
	w.LMHead = w.Embed
	d, err := nn.NewDecoder(b, cfg, w, 64, chunk)
	require.NoError(t, err)
	return d
}

func copyRows(rows [][]float32) [][]float32 {
	out := make([][]float32, len(rows))
	for i, r := range rows {
		out[i] = append([]float32(nil), r...)
	}
	return out
}

// Chunked prefill (small internal chunks, or several Forward calls) must give
// the same logits as one forward, bit for bit: every row's arithmetic is the same.
// So must they with a binary16 KV cache.
func TestChunkedPrefillEqualsOneShot(t *testing.T) {
	tokens := []int32{1, 5, 9, 2, 44, 17, 3, 3, 8, 31, 0, 49, 12}
	for _, c := range []struct {
		dt    tensor.DType
		f16KV bool
	}{{tensor.F32, false}, {tensor.BF16, false}, {tensor.BF16, true}} {
		cpu, dt := ops.NewCPU(2), c.dt
		cpu.SetF16KVCache(c.f16KV)
		one := randomDecoder(t, cpu, dt, 256, true)
		want, err := one.Forward(tokens, 0, len(tokens))
		require.NoError(t, err)
		want = copyRows(want)

		small := randomDecoder(t, cpu, dt, 3, true)
		got, err := small.Forward(tokens, 0, len(tokens))
		require.NoError(t, err)
		require.Equal(t, want, copyRows(got), "internal chunks of 3")

		pieces := randomDecoder(t, cpu, dt, 256, true)
		var rows [][]float32
		for _, cut := range [][2]int{{0, 4}, {4, 5}, {5, 11}, {11, 13}} {
			out, err := pieces.Forward(tokens[cut[0]:cut[1]], cut[0], cut[1]-cut[0])
			require.NoError(t, err)
			rows = append(rows, copyRows(out)...)
		}
		require.Equal(t, want, rows, "several Forward calls")
	}
}

// Asking for fewer logit rows skips the last layer's attention and MLP for
// the rows before them: the rows returned, and what later forwards read
// from the cache, must keep their bits, whatever the chunking.
func TestFewerLogitRowsSameBits(t *testing.T) {
	cpu := ops.NewCPU(2)
	tokens := []int32{1, 5, 9, 2, 44, 17, 3, 3, 8, 31, 0, 49, 12}
	next := []int32{7, 21, 4}
	n := len(tokens)
	ref := randomDecoder(t, cpu, tensor.BF16, 256, true)
	all, err := ref.Forward(tokens, 0, n)
	require.NoError(t, err)
	all = copyRows(all)
	after, err := ref.Forward(next, n, len(next))
	require.NoError(t, err)
	after = copyRows(after)
	for _, chunk := range []int{256, 3} {
		d := randomDecoder(t, cpu, tensor.BF16, chunk, true)
		for want := 0; want <= n; want++ {
			d.Truncate(0)
			got, err := d.Forward(tokens, 0, want)
			require.NoError(t, err)
			require.Equal(t, all[n-want:], copyRows(got), "chunk %d, want %d", chunk, want)
			got, err = d.Forward(next, n, len(next))
			require.NoError(t, err)
			require.Equal(t, after, copyRows(got), "chunk %d, want %d: the next forward", chunk, want)
		}
	}
}

// Truncating the cache and forwarding other tokens must equal a fresh run
// of the same tokens: stale slots past the length are never read.
func TestTruncateReforward(t *testing.T) {
	for _, f16KV := range []bool{false, true} {
		t.Run(fmt.Sprintf("f16KV=%v", f16KV), func(t *testing.T) { testTruncateReforward(t, f16KV) })
	}
}

func testTruncateReforward(t *testing.T, f16KV bool) {
	cpu := ops.NewCPU(2)
	cpu.SetF16KVCache(f16KV)
	d := randomDecoder(t, cpu, tensor.BF16, 256, false)
	prefix := []int32{3, 1, 4, 1, 5}
	_, err := d.Forward(prefix, 0, 0)
	require.NoError(t, err)
	_, err = d.Forward([]int32{9, 2, 6, 5}, 5, 4) // a rejected draft
	require.NoError(t, err)
	require.Equal(t, 9, d.Len())
	d.Truncate(6) // keep the first draft token
	require.Equal(t, 6, d.Len())
	got, err := d.Forward([]int32{7, 7}, 6, 2)
	require.NoError(t, err)

	fresh := randomDecoder(t, cpu, tensor.BF16, 256, false)
	want, err := fresh.Forward([]int32{3, 1, 4, 1, 5, 9, 7, 7}, 0, 2)
	require.NoError(t, err)
	require.Equal(t, copyRows(want), copyRows(got))
}

// TestF16KVCache checks what SetF16KVCache changes: the cache's dtype and
// bytes, and logits near (not equal to) those of a float32 cache, with
// and without Qwen3's q/k norms (applied before the keys are stored).
func TestF16KVCache(t *testing.T) {
	tokens := []int32{1, 5, 9, 2, 44, 17, 3, 3, 8, 31, 0, 49, 12}
	for _, qwen3 := range []bool{false, true} {
		exact, half := ops.NewCPU(2), ops.NewCPU(2)
		half.SetF16KVCache(true)
		de, dh := randomDecoder(t, exact, tensor.BF16, 4, qwen3), randomDecoder(t, half, tensor.BF16, 4, qwen3)
		require.Equal(t, tensor.F32, de.Cache().DType())
		require.Equal(t, tensor.F16, dh.Cache().DType())
		require.Equal(t, de.Cache().Bytes(), 2*dh.Cache().Bytes())
		want, err := de.Forward(tokens, 0, len(tokens))
		require.NoError(t, err)
		want = copyRows(want)
		got, err := dh.Forward(tokens, 0, len(tokens))
		require.NoError(t, err)
		same := true
		for r := range want {
			assert.InDeltaSlice(t, want[r], got[r], 2e-2, "qwen3 %v row %d", qwen3, r)
			same = same && slices.Equal(want[r], got[r])
		}
		assert.False(t, same, "qwen3 %v: a binary16 cache gave the float32 cache's logits exactly", qwen3)
	}
}

func TestForwardErrors(t *testing.T) {
	d := randomDecoder(t, ops.NewCPU(1), tensor.F32, 8, false)
	// ForwardArgmax validates exactly as Forward does.
	forwards := map[string]func(tokens []int32, start, want int) error{
		"Forward": func(tokens []int32, start, want int) error {
			_, err := d.Forward(tokens, start, want)
			return err
		},
		"ForwardArgmax": func(tokens []int32, start, want int) error {
			_, err := d.ForwardArgmax(tokens, start, want)
			return err
		},
	}
	for name, forward := range forwards {
		t.Run(name, func(t *testing.T) {
			d.Truncate(0)
			assert.ErrorContains(t, forward(nil, 0, 0), "no tokens")
			assert.ErrorContains(t, forward([]int32{1}, 3, 1), "beyond the cached length")
			assert.ErrorContains(t, forward([]int32{50}, 0, 1), "outside the vocabulary")
			assert.ErrorContains(t, forward([]int32{1, 2}, 0, 3), "want 3")
			assert.ErrorContains(t, forward([]int32{1, 2}, 0, -1), "want -1")
			assert.ErrorContains(t, forward(make([]int32, 65), 0, 1), "exceed the context capacity of 64")
			assert.Equal(t, 0, d.Len(), "a rejected forward leaves the cache alone")
		})
	}
}
