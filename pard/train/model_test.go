package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gopard/gopard/models/llama"
	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

var llamaArch = llama.Arch{Name: "llama"}

var testArches = []struct {
	arch llama.Arch
	tied bool
}{
	{llamaArch, true},
	{llama.Arch{Name: "qwen2", QKVBias: true}, false},
	{llama.Arch{Name: "qwen3", QKNorm: true}, true},
}

func tinyConfig(vocab int, tied bool) nn.Config {
	return nn.Config{Hidden: 16, Intermediate: 24, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 6, Vocab: vocab,
		NormEps: 1e-5, RoPE: nn.RoPEConfig{Theta: 10000}, MaxPositions: 64, Tied: tied}
}

func randomModel(t *testing.T, cfg nn.Config, arch llama.Arch, seed uint64, std float64) *Model {
	t.Helper()
	m, err := NewModel(cfg, arch)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	for _, p := range m.Params {
		for i := range p.Data {
			p.Data[i] = float32(r.NormFloat64() * std)
			if len(p.Shape) == 1 && isNorm(p.Name) {
				p.Data[i] += 1
			}
		}
	}
	return m
}

// The gradient of the whole PARD loss (block layout, chain mask, COD,
// labels of every depth) against finite differences, for the three
// architectures, on a sample of every tensor.
func TestPARDLossGradient(t *testing.T) {
	const S, P, V = 10, 4, 13
	cpu := ops.NewCPU(2)
	for _, a := range testArches {
		t.Run(a.arch.Name, func(t *testing.T) {
			m := randomModel(t, tinyConfig(V, a.tied), a.arch, 3, 0.3)
			r := rand.New(rand.NewPCG(7, 8))
			l, err := NewLayout(S, P, 0.7, 0.2, r)
			if err != nil {
				t.Fatal(err)
			}
			x := make([]int32, S+1)
			for i := range x {
				x[i] = int32(r.IntN(V - 1))
			}
			const mask = V - 1
			in, tg := make([]int32, l.Rows()), make([]int32, l.Rows())
			l.Inputs(in, x, mask)
			l.Targets(tg, x)
			n := 0
			for _, v := range tg {
				if v >= 0 {
					n++
				}
			}
			ws := NewWorkspace(cpu)
			g := m.Zeros()
			ws.Forward(m, in, l)
			ws.Backward(m, g, in, l, tg, float32(1/float64(n)))
			loss := func() float64 {
				ws.Forward(m, in, l)
				return ws.Backward(m, m.Zeros(), in, l, tg, 1) / float64(n)
			}
			for i, p := range m.Params {
				checkGrad(t, p.Name, p.Data, g.Params[i].Data, loss, 1e-2, 12)
			}
		})
	}
}

// Spec §3.7: the logits of a training row (i, r) equal those of the
// inference-time draft input — the real prefix x_0..x_{r−i} followed by i
// mask tokens at the next positions — run through the runtime's decoder.
func TestTrainingMatchesInferenceDraftInput(t *testing.T) {
	const S, P, V = 12, 5, 17
	cpu := ops.NewCPU(1)
	for _, a := range testArches {
		t.Run(a.arch.Name, func(t *testing.T) {
			cfg := tinyConfig(V, a.tied)
			m := randomModel(t, cfg, a.arch, 11, 0.3)
			r := rand.New(rand.NewPCG(3, 4))
			l, err := NewLayout(S, P, 0.7, 0.2, r)
			if err != nil {
				t.Fatal(err)
			}
			x := make([]int32, S+1)
			for i := range x {
				x[i] = int32(r.IntN(V - 1))
			}
			const mask = V - 1
			in := make([]int32, l.Rows())
			l.Inputs(in, x, mask)
			logits := NewWorkspace(cpu).Forward(m, in, l)

			dec, err := nn.NewDecoder(cpu, cfg, m.Weights(tensor.F32), S+P, 4)
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for row := range l.Rows() {
				i, rr := int(l.Block[row]), int(l.Local[row])
				if rr-i < 0 {
					continue // no real prefix: not an inference input
				}
				draft := append([]int32(nil), x[:rr-i+1]...)
				for range i {
					draft = append(draft, mask)
				}
				dec.Truncate(0)
				out, err := dec.Forward(draft, 0, 1)
				if err != nil {
					t.Fatal(err)
				}
				var worst float64
				for v := range V {
					worst = math.Max(worst, math.Abs(float64(out[0][v]-logits[row*V+v])))
				}
				if worst > 1e-4 {
					t.Fatalf("row (%d,%d): training logits differ from the inference draft input by %g", i, rr, worst)
				}
				checked++
			}
			if checked < S {
				t.Fatalf("only %d rows checked", checked)
			}
		})
	}
}

// Training lowers the loss on a tiny repetitive corpus, AR (P = 1) and PARD.
func TestLossDecreases(t *testing.T) {
	const V = 11
	corpus := make([]int32, 400)
	for i := range corpus {
		corpus[i] = int32((i * 3) % (V - 1)) // period 10: every depth is predictable
	}
	cpu := ops.NewCPU(2)
	for _, P := range []int{1, 4} {
		m, _ := NewModel(tinyConfig(V, true), llamaArch)
		m.Init(rand.New(rand.NewPCG(1, 1)))
		tr, err := NewTrainer(m, cpu, Options{
			SeqLen: 16, Batch: 4, P: P, R: 0.7, RMin: 0.2, MaskID: V - 1, WeightDecay: 0.01, Clip: 1,
			Schedule: Schedule{Kind: "constant", LR: 3e-3, Steps: 150}, Seed: 9,
		}, &Windows{Tokens: corpus})
		if err != nil {
			t.Fatal(err)
		}
		var first, last float64
		for s := range 150 {
			st, err := tr.Step()
			if err != nil {
				t.Fatal(err)
			}
			if s == 0 {
				first = st.Loss
			}
			last = st.Loss
		}
		if !(last < first*0.5) {
			t.Errorf("P=%d: loss %v after 150 steps, from %v: did not halve", P, last, first)
		}
	}
}

// Training gives the same bits whatever the thread count: every kernel
// computes each output element in one fixed order on one thread, so a run
// may be resumed with another --threads and a recipe reproduces exactly.
func TestTrainingIndependentOfThreads(t *testing.T) {
	const V = 37
	corpus := make([]int32, 3000)
	r := rand.New(rand.NewPCG(4, 4))
	for i := range corpus {
		corpus[i] = int32(r.IntN(V - 1))
	}
	cfg := tinyConfig(V, true)
	cfg.Hidden, cfg.Intermediate, cfg.Heads, cfg.KVHeads, cfg.HeadDim = 40, 72, 4, 2, 10 // sizes that are not multiples of the kernels' tiles
	final := func(threads int) []float32 {
		m, _ := NewModel(cfg, llamaArch)
		m.Init(rand.New(rand.NewPCG(1, 1)))
		tr, err := NewTrainer(m, ops.NewCPU(threads), Options{
			SeqLen: 45, Batch: 2, P: 3, R: 0.7, RMin: 0.2, MaskID: V - 1, WeightDecay: 0.1, Clip: 1,
			Schedule: Schedule{Kind: "cosine", LR: 1e-3, Warmup: 1, Steps: 3}, Seed: 5,
		}, &Windows{Tokens: corpus})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := tr.Step(); err != nil {
				t.Fatal(err)
			}
		}
		return m.Flat
	}
	one, two := final(1), final(2)
	for i := range one {
		if math.Float32bits(one[i]) != math.Float32bits(two[i]) {
			t.Fatalf("parameter %d: %v with 1 thread, %v with 2", i, one[i], two[i])
		}
	}
}
