package train

import (
	"fmt"
	"math"
)

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter), over a
// Model's flat parameter slice:
//
//	m ← β1·m + (1−β1)·g          v ← β2·v + (1−β2)·g²
//	m̂ = m/(1−β1ᵗ)               v̂ = v/(1−β2ᵗ)
//	θ ← θ − lr·( m̂/(√v̂ + ε) + λ·θ )        (λ only on decayed tensors)
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	M, V                           []float32 // first and second moments, like Model.Flat
	T                              int       // steps taken
}

// NewAdamW returns an optimizer for n parameters with the usual defaults
// (β1 0.9, β2 0.95, ε 1e-8) and the given weight decay.
func NewAdamW(n int, weightDecay float64) *AdamW {
	return &AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: weightDecay, M: make([]float32, n), V: make([]float32, n)}
}

// Step applies one update with learning rate lr to m from its gradient g.
func (o *AdamW) Step(m, g *Model, lr float64) {
	o.T++
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	c1 := float32(1 - math.Pow(o.Beta1, float64(o.T)))
	c2 := float32(1 - math.Pow(o.Beta2, float64(o.T)))
	eps, flr := float32(o.Eps), float32(lr)
	off := 0
	for i, p := range m.Params {
		n := len(p.Data)
		decay := float32(0)
		if p.Decay {
			decay = float32(o.WeightDecay)
		}
		th, gr := p.Data, g.Params[i].Data
		mm, vv := o.M[off:off+n], o.V[off:off+n]
		for j := range th {
			gj := gr[j]
			mm[j] = b1*mm[j] + (1-b1)*gj
			vv[j] = b2*vv[j] + (1-b2)*gj*gj
			mh, vh := mm[j]/c1, vv[j]/c2
			th[j] -= flr * (mh/(float32(math.Sqrt(float64(vh)))+eps) + decay*th[j])
		}
		off += n
	}
}

// GradNorm returns the L2 norm of a gradient.
func GradNorm(g *Model) float64 {
	var s float64
	for _, v := range g.Flat {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// ClipGrad scales g so that its norm is at most maxNorm (≤ 0: no clipping)
// and returns the norm before clipping.
func ClipGrad(g *Model, maxNorm float64) float64 {
	n := GradNorm(g)
	if maxNorm > 0 && n > maxNorm {
		s := float32(maxNorm / n)
		for i := range g.Flat {
			g.Flat[i] *= s
		}
	}
	return n
}

// Schedule gives the learning rate of each step.
type Schedule struct {
	Kind   string  // "cosine" or "constant"
	LR     float64 // peak learning rate
	MinLR  float64 // cosine floor
	Warmup int     // linear warm-up steps from 0
	Steps  int     // total steps (the cosine reaches MinLR there)
}

// Validate reports a schedule that cannot run.
func (s Schedule) Validate() error {
	switch {
	case s.Kind != "cosine" && s.Kind != "constant":
		return fmt.Errorf("schedule %q: want cosine or constant", s.Kind)
	case !(s.LR > 0) || s.LR > 1:
		return fmt.Errorf("learning rate %v: want 0 < lr ≤ 1", s.LR)
	case s.MinLR < 0 || s.MinLR > s.LR:
		return fmt.Errorf("minimum learning rate %v: want 0 ≤ min ≤ lr %v", s.MinLR, s.LR)
	case s.Warmup < 0 || s.Steps < 1:
		return fmt.Errorf("warm-up %d and steps %d: want warm-up ≥ 0 and steps ≥ 1", s.Warmup, s.Steps)
	}
	return nil
}

// At returns the learning rate of step (0-based).
func (s Schedule) At(step int) float64 {
	if step < s.Warmup {
		return s.LR * float64(step+1) / float64(s.Warmup)
	}
	if s.Kind == "constant" {
		return s.LR
	}
	span := max(1, s.Steps-s.Warmup)
	f := min(1, float64(step-s.Warmup)/float64(span))
	return s.MinLR + 0.5*(s.LR-s.MinLR)*(1+math.Cos(math.Pi*f))
}
