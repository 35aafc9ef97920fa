package main

import (
	"fmt"
	"math"
	"runtime"
	"sync"

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
	// 16 GB of bf16 weights: for GPUs (and hosts with the memory to spare).
	"llama3.1-8b": {cfg: nn.Config{Hidden: 4096, Intermediate: 14336, Layers: 32, Heads: 32, KVHeads: 8, HeadDim: 128,
		Vocab: 128256, NormEps: 1e-5, RoPE: nn.RoPEConfig{Theta: 500000}, MaxPositions: 131072}},
	"qwen3-0.6b": {cfg: nn.Config{Hidden: 1024, Intermediate: 3072, Layers: 28, Heads: 16, KVHeads: 8, HeadDim: 128,
		Vocab: 151936, NormEps: 1e-6, RoPE: nn.RoPEConfig{Theta: 1e6}, MaxPositions: 40960, Tied: true}, qkNorm: true},
	// The embedded default target's dimensions (57.3 MB of bf16 weights at
	// 9 layers): with --layers, the same model made larger or smaller, to
	// see how a verify's cost over one step's moves with the weights' size
	// against the CPU's caches.
	"gopard-go": {cfg: nn.Config{Hidden: 512, Intermediate: 1408, Layers: 9, Heads: 8, KVHeads: 4, HeadDim: 64,
		Vocab: 4096, NormEps: 1e-5, RoPE: nn.RoPEConfig{Theta: 10000}, MaxPositions: 1024, Tied: true}},
	"tiny": {cfg: nn.Config{Hidden: 64, Intermediate: 128, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 16,
		Vocab: 1000, NormEps: 1e-6, RoPE: nn.RoPEConfig{Theta: 10000}, MaxPositions: 4096, Tied: true}},
}

// rng is a xorshift generator: filling billions of weights with
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

// randomBF16 returns a (rows, cols) bf16 matrix of values uniform in ±scale,
// drawn from seed. Blocks of rows are filled in parallel, each from its
// own stream, so the values depend on seed alone.
func randomBF16(seed uint64, scale float32, rows, cols int) *tensor.Tensor {
	t := tensor.New(tensor.BF16, rows, cols)
	u := t.U16()
	const block = 1 << 20 // elements per stream
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for b0 := 0; b0 < len(u); b0 += block {
		wg.Add(1)
		sem <- struct{}{}
		go func(part []uint16, stream uint64) {
			defer func() { <-sem; wg.Done() }()
			r := rng(seed ^ (stream+1)*0x9e3779b97f4a7c15)
			for range 4 { // decorrelate neighbouring seeds
				r.next()
			}
			for i := 0; i < len(part); i += 4 {
				x := r.next()
				for j := 0; j < 4 && i+j < len(part); j++ {
					f := (float32(uint16(x>>(16*j)))/32768 - 1) * scale
					part[i+j] = uint16(math.Float32bits(f) >> 16)
				}
			}
		}(u[b0:min(len(u), b0+block)], uint64(b0/block))
	}
	wg.Wait()
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
// returns it with the bytes of matrices a forward streams (the embedding
// table only when it is also the LM head: decoding gathers a few rows).
func randomWeights(s shape) (nn.Weights, int64) {
	c := s.cfg
	D, q, kv := c.Hidden, c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	sc := float32(1 / math.Sqrt(float64(D)))
	var bytes int64
	seed := uint64(0x9e3779b97f4a7c15)
	mat := func(rows, cols int, streamed bool) *tensor.Tensor {
		if streamed {
			bytes += int64(rows * cols * 2)
		}
		seed++
		return randomBF16(seed, sc, rows, cols)
	}
	w := nn.Weights{Embed: mat(c.Vocab, D, c.Tied), Norm: filled(D, 1)}
	w.LMHead = w.Embed
	if !c.Tied {
		w.LMHead = mat(c.Vocab, D, true)
	}
	for range c.Layers {
		L := nn.Layer{AttnNorm: filled(D, 1), MLPNorm: filled(D, 1),
			Q: mat(q, D, true), K: mat(kv, D, true), V: mat(kv, D, true), O: mat(D, q, true),
			Gate: mat(c.Intermediate, D, true), Up: mat(c.Intermediate, D, true), Down: mat(D, c.Intermediate, true)}
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

// loadWeights makes the host weights w usable by b (a GPU uploads them),
// as a checkpoint loader does; a tied LM head stays the embedding.
func loadWeights(b nn.Backend, w nn.Weights) (nn.Weights, error) {
	var err error
	load := func(t *tensor.Tensor) *tensor.Tensor {
		if t == nil || err != nil {
			return t
		}
		var d *tensor.Tensor
		if d, err = b.Load(t); err != nil {
			err = fmt.Errorf("loading a %v weight on %s: %w", t.Shape, b.Name(), err)
		}
		return d
	}
	tied := w.LMHead == w.Embed
	out := nn.Weights{Embed: load(w.Embed), Norm: load(w.Norm)}
	out.LMHead = out.Embed
	if !tied {
		out.LMHead = load(w.LMHead)
	}
	for _, L := range w.Layers {
		out.Layers = append(out.Layers, nn.Layer{
			AttnNorm: load(L.AttnNorm), MLPNorm: load(L.MLPNorm),
			Q: load(L.Q), K: load(L.K), V: load(L.V), O: load(L.O),
			QBias: load(L.QBias), KBias: load(L.KBias), VBias: load(L.VBias),
			QNorm: load(L.QNorm), KNorm: load(L.KNorm),
			Gate: load(L.Gate), Up: load(L.Up), Down: load(L.Down)})
	}
	return out, err
}
