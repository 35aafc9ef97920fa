package gputest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/tensor"
)

// LinearShape is a matrix a benchmark multiplies: N outputs of K inputs.
type LinearShape struct {
	Name string
	N, K int
}

// LlamaShapes are the bf16 matrices of a Llama-3.2-1B and a Llama-3.1-8B
// layer: the q, k/v, gate/up and down projections (o is q's shape).
var LlamaShapes = []LinearShape{
	{"1b-q", 2048, 2048}, {"1b-kv", 512, 2048}, {"1b-up", 8192, 2048}, {"1b-down", 2048, 8192},
	{"8b-q", 4096, 4096}, {"8b-kv", 1024, 4096}, {"8b-up", 14336, 4096}, {"8b-down", 4096, 14336},
}

// Bench times Linear on dev for each shape with M = 1 (a decode step), 9
// and 16 rows (verifies), with float32 activations and, where dev has
// tensor cores (SetBF16Activations), bf16 ones: device time by events,
// reported as µs a product and as the weights' GB/s, the roofline's
// measure (a product reads them once for all rows). A device without
// events (the emulator) is timed by the wall clock.
func Bench(b *testing.B, dev Backend, shapes []LinearShape) {
	acts := []bool{false}
	if s, ok := dev.(bf16Setter); ok && s.SetBF16Activations(false) {
		acts = append(acts, true)
		defer s.SetBF16Activations(false)
	}
	r := rng(20)
	for _, sh := range shapes {
		w, err := dev.Load(random(r, tensor.BF16, sh.N, sh.K))
		if err != nil {
			b.Fatal(err)
		}
		x, err := dev.Load(random(r, tensor.F32, 16, sh.K))
		if err != nil {
			b.Fatal(err)
		}
		out := dev.Alloc(16, sh.N)
		for _, bf16 := range acts {
			if s, ok := dev.(bf16Setter); ok {
				s.SetBF16Activations(bf16)
			}
			act := "f32"
			if bf16 {
				act = "bf16"
			}
			for _, M := range []int{1, 9, 16} {
				b.Run(fmt.Sprintf("%s/M=%d/act=%s", sh.Name, M, act), func(b *testing.B) {
					xm, om := x.RowSlice(0, M), out.RowSlice(0, M)
					per := timeEach(b, dev, om, func() { dev.Linear(om, xm, w, nil) })
					b.ReportMetric(per*1e6, "µs/op")
					b.ReportMetric(float64(sh.N*sh.K*2)/per/1e9, "GB/s")
				})
			}
		}
	}
}

// LayerShape is a decoder layer a fold benchmark runs: hidden width,
// heads, key/value heads, head width and MLP width.
type LayerShape struct {
	Name                                          string
	Hidden, Heads, KVHeads, HeadDim, Intermediate int
}

// LlamaLayers are the layers of Llama-3.2-1B and Llama-3.1-8B.
var LlamaLayers = []LayerShape{
	{"1b", 2048, 32, 8, 64, 8192},
	{"8b", 4096, 32, 8, 128, 14336},
}

// BenchFold times the linear layers of a decode step's layer (M = 1, bf16
// weights, float32 activations; attention left out: its output is a fixed
// input) as the separate kernels run them — add+norm, q/k/v, rotation, o,
// add+norm, gate/up, down — and folded (gpu.Device.SetFuseNorm): q/k/v
// normalizing and rotating, o adding, gate/up normalizing, down adding.
// Device time by events (the emulator: wall time), as µs a layer and as
// the GB/s of its weights.
func BenchFold(b *testing.B, dev NormFusing, layers []LayerShape) {
	r := rng(24)
	load := func(h *tensor.Tensor) *tensor.Tensor {
		t, err := dev.Load(h)
		if err != nil {
			b.Fatal(err)
		}
		return t
	}
	for _, s := range layers {
		D, nq, nkv := s.Hidden, s.Heads*s.HeadDim, s.KVHeads*s.HeadDim
		wq, wk, wv := load(random(r, tensor.BF16, nq, D)), load(random(r, tensor.BF16, nkv, D)), load(random(r, tensor.BF16, nkv, D))
		wo := load(random(r, tensor.BF16, D, nq))
		gate, up := load(random(r, tensor.BF16, s.Intermediate, D)), load(random(r, tensor.BF16, s.Intermediate, D))
		down := load(random(r, tensor.BF16, D, s.Intermediate))
		attnNorm, mlpNorm := load(random(r, tensor.F32, D)), load(random(r, tensor.F32, D))
		const positions, start = 8, 5
		cosT, sinT := nn.RoPEConfig{Theta: 10000}.Tables(s.HeadDim, positions)
		cos, sin := load(tensor.FromF32(cosT, positions, s.HeadDim/2)), load(tensor.FromF32(sinT, positions, s.HeadDim/2))
		rot := &nn.Rotation{Heads: s.Heads, KVHeads: s.KVHeads, HeadDim: s.HeadDim, Start: start, Cos: cos, Sin: sin}
		x, att := load(random(r, tensor.F32, 1, D)), load(random(r, tensor.F32, 1, nq))
		xb, proj, q, k, v := dev.Alloc(1, D), dev.Alloc(1, D), dev.Alloc(1, nq), dev.Alloc(1, nkv), dev.Alloc(1, nkv)
		mid := dev.Alloc(1, s.Intermediate)
		bytes := 2 * (nq*D + 2*nkv*D + D*nq + 3*s.Intermediate*D)
		steps := []struct {
			name string
			step func()
		}{
			{"separate", func() {
				dev.AddRMSNorm(xb, x, proj, attnNorm, 1e-5)
				dev.LinearQKV(q, k, v, xb, wq, wk, wv, nil, nil, nil)
				dev.RoPEQK(q, k, s.Heads, s.KVHeads, s.HeadDim, start, cos, sin)
				dev.Linear(proj, att, wo, nil)
				dev.AddRMSNorm(xb, x, proj, mlpNorm, 1e-5)
				dev.LinearSwiGLU(mid, xb, gate, up)
				dev.Linear(proj, mid, down, nil)
			}},
			{"folded", func() {
				dev.NormLinearQKV(q, k, v, x, attnNorm, 1e-5, wq, wk, wv, nil, nil, nil, rot)
				dev.LinearAdd(x, att, wo)
				dev.NormLinearSwiGLU(mid, x, mlpNorm, 1e-5, gate, up)
				dev.LinearAdd(x, mid, down)
			}},
		}
		for _, st := range steps {
			b.Run(fmt.Sprintf("%s/%s", s.Name, st.name), func(b *testing.B) {
				per := timeEach(b, dev, x, st.step)
				b.ReportMetric(per*1e6, "µs/layer")
				b.ReportMetric(float64(bytes)/per/1e9, "GB/s")
			})
		}
	}
}

// timeEach runs step once to warm up (kernels loaded, weights in place),
// then b.N times, and returns the seconds each took: device time by
// events, or, without them (the emulator), the wall time ended by copying
// back one value of out, which the steps write.
func timeEach(b *testing.B, dev Backend, out *tensor.Tensor, step func()) float64 {
	step()
	run := func() {
		for range b.N {
			step()
		}
	}
	d, err := dev.Time(run)
	if err != nil {
		start := time.Now()
		run()
		dev.Read(make([]float32, 1), out)
		d = time.Since(start)
	}
	return d.Seconds() / float64(b.N)
}

// BulkRows is the row count BenchBulk multiplies: a prefill chunk of the
// decoder's default size (models/llama.DefaultChunk).
const BulkRows = 256

// BenchBulk times a prefill chunk's product (BulkRows rows, bf16 weights,
// float32 activations) of each shape on dev both ways: Linear (launches
// of 16 rows, each reading the weights) and the Bulker's tiled
// LinearBulk; on a device with tensor cores, both again with the
// activations rounded to bf16 (linear_mma.cu's kernels, and the tiled
// linear_bulk_mma_bf16). Device time by events, as µs a product and its
// GFLOP/s.
func BenchBulk(b *testing.B, dev Backend, shapes []LinearShape) {
	bulk, ok := dev.(nn.Bulker)
	if !ok {
		b.Skipf("%s has no bulk product", dev.Name())
	}
	r := rng(25)
	for _, sh := range shapes {
		w, err := dev.Load(random(r, tensor.BF16, sh.N, sh.K))
		if err != nil {
			b.Fatal(err)
		}
		x, err := dev.Load(random(r, tensor.F32, BulkRows, sh.K))
		if err != nil {
			b.Fatal(err)
		}
		out := dev.Alloc(BulkRows, sh.N)
		for _, way := range []struct {
			name string
			bf16 bool // activations rounded to bf16: tensor cores
			mul  func()
		}{
			{"linear", false, func() { dev.Linear(out, x, w, nil) }},
			{"bulk", false, func() { bulk.LinearBulk(out, x, w, nil) }},
			{"linear-bf16", true, func() { dev.Linear(out, x, w, nil) }},
			{"bulk-bf16", true, func() { bulk.LinearBulk(out, x, w, nil) }},
		} {
			if way.bf16 {
				s, ok := dev.(bf16Setter)
				if !ok || !s.SetBF16Activations(true) {
					continue
				}
			}
			b.Run(fmt.Sprintf("%s/M=%d/%s", sh.Name, BulkRows, way.name), func(b *testing.B) {
				per := timeEach(b, dev, out, way.mul)
				b.ReportMetric(per*1e6, "µs/op")
				b.ReportMetric(2*float64(BulkRows)*float64(sh.N*sh.K)/per/1e9, "GFLOP/s")
			})
			if way.bf16 {
				dev.(bf16Setter).SetBF16Activations(false)
			}
		}
	}
}

// AttentionShape is the heads of a model's attention.
type AttentionShape struct {
	Name                    string
	Heads, KVHeads, HeadDim int
}

// LlamaAttention are the attention heads of Llama-3.2-1B and Llama-3.1-8B.
var LlamaAttention = []AttentionShape{{"1b", 32, 8, 64}, {"8b", 32, 8, 128}}

// BenchBulkAttention times a prefill chunk's attention (BulkRows rows at
// each of starts, a float32 cache) of each shape on dev both ways:
// Attention (a block per row, head and 64 positions, each reading its
// keys and values) and the Bulker's AttentionBulk (the cache read by tiles
// shared across rows and heads). Device time by events, as µs a chunk and
// the GFLOP/s of its scores and weighted sums.
func BenchBulkAttention(b *testing.B, dev Backend, shapes []AttentionShape, starts []int) {
	bulk, ok := dev.(nn.Bulker)
	if !ok {
		b.Skipf("%s has no bulk attention", dev.Name())
	}
	r := rng(26)
	for _, sh := range shapes {
		for _, start := range starts {
			load := func(rows, cols int) *tensor.Tensor {
				t, err := dev.Load(random(r, tensor.F32, rows, cols))
				if err != nil {
					b.Fatal(err)
				}
				return t
			}
			q := load(BulkRows, sh.Heads*sh.HeadDim)
			k, v := load(start+BulkRows, sh.KVHeads*sh.HeadDim), load(start+BulkRows, sh.KVHeads*sh.HeadDim)
			out := dev.Alloc(BulkRows, sh.Heads*sh.HeadDim)
			// Each row m scores and sums start+m+1 positions, 2 FLOPs a
			// dimension for each.
			flops := 4 * float64(sh.Heads*sh.HeadDim) * (float64(BulkRows*start) + float64(BulkRows*(BulkRows+1)/2))
			for _, way := range []struct {
				name string
				run  func()
			}{
				{"attention", func() { dev.Attention(out, q, k, v, start, sh.Heads, sh.KVHeads, sh.HeadDim) }},
				{"bulk", func() { bulk.AttentionBulk(out, q, k, v, start, sh.Heads, sh.KVHeads, sh.HeadDim) }},
			} {
				b.Run(fmt.Sprintf("%s/M=%d/start=%d/%s", sh.Name, BulkRows, start, way.name), func(b *testing.B) {
					per := timeEach(b, dev, out, way.run)
					b.ReportMetric(per*1e6, "µs/op")
					b.ReportMetric(flops/per/1e9, "GFLOP/s")
				})
			}
			for _, t := range []*tensor.Tensor{q, k, v, out} {
				if f, ok := dev.(nn.Allocator); ok {
					f.Free(t)
				}
			}
		}
	}
}
