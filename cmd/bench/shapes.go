package main

import (
	"math"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/tensor"
)

// shape is a model family's dimensions, for a random model built in memory.
type shape struct {
	cfg     nn.Config
	qkvBias bool // Qwen2: q/k/v projections have biases
	qkNorm  bool // Qwen3: per-head q/k RMSNorm
}

var shapes = map[string]shape{
	"qwen2.5-0.5b": {cfg: nn.Config{Hidden: 896, Intermediate: 4864, Layers: 24, Heads: 14, KVHeads: 2, HeadDim: 64,
		Vocab: 151936, NormEps: 1e-6, RoPE: nn.RoPEConfig{Theta: 1e6}, MaxPositions: 32768, Tied: true}, qkvBias: true},
	"llama3.2-1b": {cfg: nn.Config{Hidden: 2048, Intermediate: 8192, Layers: 16, Heads: 32, KVHeads: 8, HeadDim: 64,
		Vocab: 128256, NormEps: 1e-5, RoPE: nn.RoPEConfig{Theta: 500000}, MaxPositions: 131072, Tied: true}},
	"qwen3-0.6b": {cfg: nn.Config{Hidden: 1024, Intermediate: 3072, Layers: 28, Heads: 16, KVHeads: 8, HeadDim: 128,
		Vocab: 151936, NormEps: 1e-6, RoPE: nn.RoPEConfig{Theta: 1e6}, MaxPositions: 40960, Tied: true}, qkNorm: true},
	"tiny": {cfg: nn.Config{Hidden: 64, Intermediate: 128, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 16,
		Vocab: 1000, NormEps: 1e-6, RoPE: nn.RoPEConfig{Theta: 10000}, MaxPositions: 4096, Tied: true}},
}

// rng is a xorshift generator: filling half a billion weights with
// math/rand would take longer than the benchmark.
type rng uint64

func (r *rng) next() uint64 {
	x := uint64(*r)
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	*r = rng(x)
	return x
}

// randomBF16 returns a (rows, cols) bf16 matrix of values uniform in ±scale.
func randomBF16(r *rng, scale float32, rows, cols int) *tensor.Tensor {
	t := tensor.New(tensor.BF16, rows, cols)
	u := t.U16()
	for i := 0; i < len(u); i += 4 {
		x := r.next()
		for j := 0; j < 4 && i+j < len(u); j++ {
			f := (float32(uint16(x>>(16*j)))/32768 - 1) * scale
			u[i+j] = uint16(math.Float32bits(f) >> 16)
		}
	}
	return t
}

func filled(n int, v float32) *tensor.Tensor {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return tensor.FromF32(s, n)
}

// randomWeights builds a model of shape s with random bf16 matrices and
// returns it with the bytes of matrices a forward streams.
func randomWeights(s shape) (nn.Weights, int64) {
	c := s.cfg
	r := rng(0x9e3779b97f4a7c15)
	D, q, kv := c.Hidden, c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	sc := float32(1 / math.Sqrt(float64(D)))
	var bytes int64
	mat := func(rows, cols int) *tensor.Tensor {
		bytes += int64(rows * cols * 2)
		return randomBF16(&r, sc, rows, cols)
	}
	w := nn.Weights{Embed: mat(c.Vocab, D), Norm: filled(D, 1)}
	w.LMHead = w.Embed
	for range c.Layers {
		L := nn.Layer{AttnNorm: filled(D, 1), MLPNorm: filled(D, 1),
			Q: mat(q, D), K: mat(kv, D), V: mat(kv, D), O: mat(D, q),
			Gate: mat(c.Intermediate, D), Up: mat(c.Intermediate, D), Down: mat(D, c.Intermediate)}
		if s.qkvBias {
			L.QBias, L.KBias, L.VBias = filled(q, 0.01), filled(kv, 0.01), filled(kv, 0.01)
		}
		if s.qkNorm {
			L.QNorm, L.KNorm = filled(c.HeadDim, 1), filled(c.HeadDim, 1)
		}
		w.Layers = append(w.Layers, L)
	}
	return w, bytes
}
