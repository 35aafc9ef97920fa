package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// A grown model computes the same logits as the model it grew from (by
// the inference decoder, not the training code), its new layers sit
// where Grow says, and they train: their output projections get
// gradients.
func TestGrow(t *testing.T) {
	const V = 11
	cpu := ops.NewCPU(1)
	tokens := []int32{3, 1, 4, 1, 5, 9, 2, 6}
	logits := func(t *testing.T, m *Model) [][]float32 {
		t.Helper()
		dec, err := nn.NewDecoder(cpu, m.Cfg, m.Weights(tensor.F32), len(tokens), len(tokens))
		if err != nil {
			t.Fatal(err)
		}
		out, err := dec.Forward(tokens, 0, len(tokens))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, a := range testArches {
		t.Run(a.arch.Name, func(t *testing.T) {
			cfg := tinyConfig(V, a.tied)
			cfg.Layers = 3
			m := randomModel(t, cfg, a.arch, 5, 0.3)
			want := logits(t, m)
			for _, tc := range []struct {
				layers int
				from   []int // which of m's layers each grown layer copies
				zero   []bool
			}{
				{3, []int{0, 1, 2}, []bool{false, false, false}},
				{4, []int{0, 1, 2, 2}, []bool{false, false, false, true}},
				{5, []int{0, 1, 1, 2, 2}, []bool{false, false, true, false, true}},
				{7, []int{0, 0, 1, 1, 2, 2, 2}, []bool{false, true, false, true, false, true, true}},
			} {
				g, err := Grow(m, tc.layers)
				if err != nil {
					t.Fatal(err)
				}
				if g.Cfg.Layers != tc.layers || len(g.Layers) != tc.layers {
					t.Fatalf("grown to %d: config says %d layers, has %d", tc.layers, g.Cfg.Layers, len(g.Layers))
				}
				for j, l := range g.Layers {
					src := m.Layers[tc.from[j]]
					if l.Q[0] != src.Q[0] || l.Gate[1] != src.Gate[1] || l.AttnNorm[2] != src.AttnNorm[2] {
						t.Fatalf("grown to %d: layer %d is not a copy of layer %d", tc.layers, j, tc.from[j])
					}
					zero := true
					for _, v := range append(append([]float32(nil), l.O...), l.Down...) {
						zero = zero && v == 0
					}
					if zero != tc.zero[j] {
						t.Fatalf("grown to %d: layer %d has zero output projections %v, want %v", tc.layers, j, zero, tc.zero[j])
					}
				}
				got := logits(t, g)
				for r := range want {
					for v := range want[r] {
						if d := math.Abs(float64(got[r][v] - want[r][v])); d > 1e-5 {
							t.Fatalf("grown to %d: logit [%d][%d] %g, want %g", tc.layers, r, v, got[r][v], want[r][v])
						}
					}
				}
			}
			// An AR step (P = 1) on the grown model: the zero projections
			// of a new layer get gradients, the rest of it none yet.
			g, err := Grow(m, 4)
			if err != nil {
				t.Fatal(err)
			}
			l, err := NewLayout(len(tokens)-1, 1, 0.7, 0.2, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			in, tg := make([]int32, l.Rows()), make([]int32, l.Rows())
			l.Inputs(in, tokens, V-1)
			l.Targets(tg, tokens)
			ws, grad := NewWorkspace(cpu), g.Zeros()
			ws.Forward(g, in, l)
			ws.Backward(g, grad, in, l, tg, 1)
			norm := func(x []float32) (s float64) {
				for _, v := range x {
					s += float64(v) * float64(v)
				}
				return s
			}
			if nl := grad.Layers[3]; norm(nl.O) == 0 || norm(nl.Down) == 0 {
				t.Fatal("a new layer's output projections got no gradient")
			}
			if nl := grad.Layers[3]; norm(nl.Q) != 0 || norm(nl.Gate) != 0 {
				t.Fatal("a new layer's inner projections got gradients through zero output projections")
			}
			if _, err := Grow(m, 2); err == nil {
				t.Fatal("growing 3 layers to 2 succeeded")
			}
		})
	}
}
