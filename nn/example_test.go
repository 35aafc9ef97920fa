package nn_test

import (
	"fmt"
	"math"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// A decoder over a CPU backend whose KV cache is kept in binary16: build
// it, forward a prompt, and read the logits of its last position. Models
// normally come from models.Load; the weights here are made up.
func ExampleDecoder() {
	cfg := nn.Config{Hidden: 32, Intermediate: 64, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 8, Vocab: 50,
		NormEps: 1e-6, RoPE: nn.RoPEConfig{Theta: 10000}, Tied: true}
	cpu := ops.NewCPU(2)
	defer cpu.Pool().Close()
	cpu.SetF16KVCache(true) // before the decoder allocates its cache

	seed := 1.0
	weight := func(shape ...int) *tensor.Tensor {
		v := make([]float32, tensor.NumElements(shape))
		for i := range v {
			seed++
			v[i] = float32(0.3 * math.Sin(seed*1.7))
		}
		w, err := cpu.Load(tensor.Convert(tensor.FromF32(v, shape...), tensor.BF16))
		if err != nil {
			panic(err)
		}
		return w
	}
	ones := func(n int) *tensor.Tensor {
		v := make([]float32, n)
		for i := range v {
			v[i] = 1
		}
		return tensor.FromF32(v, n)
	}
	D, q, kv := cfg.Hidden, cfg.Heads*cfg.HeadDim, cfg.KVHeads*cfg.HeadDim
	w := nn.Weights{Embed: weight(cfg.Vocab, D), Norm: ones(D)}
	for range cfg.Layers {
		w.Layers = append(w.Layers, nn.Layer{AttnNorm: ones(D), MLPNorm: ones(D),
			Q: weight(q, D), K: weight(kv, D), V: weight(kv, D), O: weight(D, q),
			Gate: weight(cfg.Intermediate, D), Up: weight(cfg.Intermediate, D), Down: weight(D, cfg.Intermediate)})
	}
	w.LMHead = w.Embed

	d, err := nn.NewDecoder(cpu, cfg, w, 64, 16) // 64 positions, 16 per internal chunk
	if err != nil {
		panic(err)
	}
	logits, err := d.Forward([]int32{1, 7, 3, 9}, 0, 1) // the last position's logits only
	if err != nil {
		panic(err)
	}
	fmt.Println("cache:", d.Cache().DType(), d.Cache().Bytes(), "bytes for", d.Cache().Capacity, "positions")
	fmt.Println("cached positions:", d.Len(), "logit rows:", len(logits), "of", len(logits[0]))
	// Output:
	// cache: F16 8192 bytes for 64 positions
	// cached positions: 4 logit rows: 1 of 50
}
