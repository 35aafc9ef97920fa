package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
)

func randVec(r *rand.Rand, n int, std float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * std)
	}
	return v
}

// dotR is the scalar probe L = Σ out·R whose gradient with respect to out is R.
func dotR(out, R []float32) float64 {
	var s float64
	for i := range R {
		s += float64(out[i]) * float64(R[i])
	}
	return s
}

// checkGrad compares an analytic gradient of loss with respect to x with
// central differences on every entry (or a sample of limit entries), by the
// relative error ‖fd − an‖ / ‖fd + an‖ over the checked entries.
func checkGrad(t *testing.T, name string, x, analytic []float32, loss func() float64, eps float64, limit int) {
	t.Helper()
	idx := make([]int, 0, len(x))
	step := max(1, len(x)/max(1, limit))
	for i := 0; i < len(x); i += step {
		idx = append(idx, i)
	}
	var diff, sum float64
	for _, i := range idx {
		old := x[i]
		x[i] = old + float32(eps)
		lp := loss()
		x[i] = old - float32(eps)
		lm := loss()
		x[i] = old
		fd := (lp - lm) / (2 * eps)
		an := float64(analytic[i])
		diff += (fd - an) * (fd - an)
		sum += (fd + an) * (fd + an)
	}
	rel := math.Sqrt(diff) / math.Max(math.Sqrt(sum), 1e-12)
	if rel > 1e-2 || math.IsNaN(rel) {
		t.Errorf("%s: relative gradient error %.3g over %d entries (analytic norm %.3g)", name, rel, len(idx), math.Sqrt(sum)/2)
	}
}

func TestLayerGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pool := ops.NewPool(2)
	defer pool.Close()
	cpu := ops.NewCPU(2)
	const T, D, N = 5, 12, 7

	t.Run("linear", func(t *testing.T) {
		x, w, b := randVec(r, T*D, 1), randVec(r, N*D, 1), randVec(r, N, 1)
		R := randVec(r, T*N, 1)
		l := linear{cpu: cpu}
		out := make([]float32, T*N)
		loss := func() float64 { l.forward(out, x, T, w, N, D, b); return dotR(out, R) }
		dx, dw, db := make([]float32, T*D), make([]float32, N*D), make([]float32, N)
		l.backward(dx, dw, db, R, x, nil, w, T, N, D)
		checkGrad(t, "dx", x, dx, loss, 1e-2, 0)
		checkGrad(t, "dw", w, dw, loss, 1e-2, 0)
		checkGrad(t, "db", b, db, loss, 1e-2, 0)
	})
	t.Run("rmsnorm", func(t *testing.T) {
		x, w := randVec(r, T*D, 1), randVec(r, D, 1)
		R := randVec(r, T*D, 1)
		out, rstd := make([]float32, T*D), make([]float32, T)
		loss := func() float64 { rmsnormForward(pool, out, rstd, x, w, T, D, 1e-5); return dotR(out, R) }
		loss()
		dx, dw := make([]float32, T*D), make([]float32, D)
		rmsnormBackward(pool, dx, dw, R, x, w, rstd, T, D)
		checkGrad(t, "dx", x, dx, loss, 1e-2, 0)
		checkGrad(t, "dw", w, dw, loss, 1e-2, 0)
	})
	t.Run("rope", func(t *testing.T) {
		const heads, hd = 2, 6
		cos, sin := nn.RoPEConfig{Theta: 100}.Tables(hd, 16)
		pos := []int32{3, 0, 7, 7, 15}
		x := randVec(r, T*heads*hd, 1)
		R := randVec(r, len(x), 1)
		buf := make([]float32, len(x))
		loss := func() float64 {
			copy(buf, x)
			ropeForward(buf, pos, heads, hd, cos, sin)
			return dotR(buf, R)
		}
		dx := append([]float32(nil), R...)
		ropeBackward(dx, pos, heads, hd, cos, sin)
		checkGrad(t, "dx", x, dx, loss, 1e-2, 0)
	})
	t.Run("swiglu", func(t *testing.T) {
		g, u := randVec(r, T*N, 2), randVec(r, T*N, 1)
		R := randVec(r, T*N, 1)
		out := make([]float32, T*N)
		loss := func() float64 { swigluForward(out, g, u); return dotR(out, R) }
		dg, du := make([]float32, T*N), make([]float32, T*N)
		swigluBackward(pool, dg, du, R, g, u)
		checkGrad(t, "dgate", g, dg, loss, 1e-2, 0)
		checkGrad(t, "dup", u, du, loss, 1e-2, 0)
	})
	t.Run("embedding", func(t *testing.T) {
		const V = 6
		table := randVec(r, V*D, 1)
		ids := []int32{2, 0, 2, 5, 1}
		R := randVec(r, T*D, 1)
		out := make([]float32, T*D)
		loss := func() float64 { embeddingForward(out, table, ids, D); return dotR(out, R) }
		dt := make([]float32, V*D)
		embeddingBackward(dt, R, ids, D)
		checkGrad(t, "dtable", table, dt, loss, 1e-2, 0)
	})
	t.Run("cross-entropy", func(t *testing.T) {
		const V = 9
		logits := randVec(r, T*V, 2)
		targets := []int32{3, -1, 0, 8, 8}
		losses := make([]float64, T)
		buf := make([]float32, T*V)
		loss := func() float64 {
			copy(buf, logits)
			crossEntropy(pool, buf, targets, V, 1, losses)
			var s float64
			for _, l := range losses {
				s += l
			}
			return s
		}
		// Hand check of one row: −log softmax.
		loss()
		row := logits[0:V]
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v))
		}
		if want := math.Log(z) - float64(row[3]); math.Abs(losses[0]-want) > 1e-5 {
			t.Errorf("row 0 loss %v, want %v", losses[0], want)
		}
		if losses[1] != 0 {
			t.Errorf("unlabelled row has loss %v", losses[1])
		}
		grad := append([]float32(nil), buf...)
		checkGrad(t, "dlogits", logits, grad, loss, 1e-2, 0)
	})
}

func TestTranspose(t *testing.T) {
	pool := ops.NewPool(2)
	defer pool.Close()
	for _, sz := range [][2]int{{1, 1}, {3, 70}, {65, 33}, {100, 7}} {
		rows, cols := sz[0], sz[1]
		src := make([]float32, rows*cols)
		for i := range src {
			src[i] = float32(i)
		}
		dst := make([]float32, rows*cols)
		transpose(pool, dst, src, rows, cols)
		for r := range rows {
			for c := range cols {
				if dst[c*rows+r] != src[r*cols+c] {
					t.Fatalf("%dx%d: dst[%d][%d] = %v, want %v", rows, cols, c, r, dst[c*rows+r], src[r*cols+c])
				}
			}
		}
	}
}

func TestScheduleAndAdamW(t *testing.T) {
	s := Schedule{Kind: "cosine", LR: 1e-3, MinLR: 1e-4, Warmup: 10, Steps: 110}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		step int
		want float64
	}{{0, 1e-4}, {9, 1e-3}, {10, 1e-3}, {60, 5.5e-4}, {110, 1e-4}, {500, 1e-4}} {
		if got := s.At(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("cosine At(%d) = %v, want %v", c.step, got, c.want)
		}
	}
	for _, bad := range []Schedule{{Kind: "linear", LR: 1e-3, Steps: 1}, {Kind: "cosine", LR: 0, Steps: 1}, {Kind: "cosine", LR: 1e-3, MinLR: 1, Steps: 1}, {Kind: "constant", LR: 1e-3}} {
		if bad.Validate() == nil {
			t.Errorf("schedule %+v accepted", bad)
		}
	}

	// One AdamW step by hand: the first step moves every weight by
	// lr·sign(g) (m̂ = g, v̂ = g²), plus decay on matrices only.
	cfg := nn.Config{Hidden: 4, Intermediate: 4, Layers: 1, Heads: 1, KVHeads: 1, HeadDim: 4, Vocab: 3, NormEps: 1e-6,
		RoPE: nn.RoPEConfig{Theta: 10000}, MaxPositions: 8, Tied: true}
	m, _ := NewModel(cfg, llamaArch)
	for i := range m.Flat {
		m.Flat[i] = 1
	}
	g := m.Zeros()
	for i := range g.Flat {
		g.Flat[i] = float32(i%3) - 1 // −1, 0, 1
	}
	o := NewAdamW(len(m.Flat), 0.1)
	o.Step(m, g, 0.01)
	off := 0
	for _, p := range m.Params {
		for j, v := range p.Data {
			gi := g.Flat[off+j]
			want := 1.0
			if gi != 0 {
				want -= 0.01 * float64(gi) / math.Abs(float64(gi))
			}
			if p.Decay {
				want -= 0.01 * 0.1
			}
			if math.Abs(float64(v)-want) > 1e-6 {
				t.Fatalf("%s[%d] = %v after one step with grad %v, want %v", p.Name, j, v, gi, want)
			}
		}
		off += len(p.Data)
	}
	if n := ClipGrad(g, 1); math.Abs(n-math.Sqrt(float64(2*len(g.Flat)/3))) > 1 || math.Abs(GradNorm(g)-1) > 1e-5 {
		t.Errorf("clip: norm before %v, after %v (want 1)", n, GradNorm(g))
	}
}
