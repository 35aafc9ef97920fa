package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/ops"
)

// attnCase is one attention problem: a layout and random q, k, v, dout.
type attnCase struct {
	name          string
	l             *Layout
	H, KVH, hd    int
	T, qw, kw     int
	q, k, v, dout []float32
}

func newAttnCase(t testing.TB, name string, S, P int, r, rMin float64, H, KVH, hd int, seed uint64) *attnCase {
	rng := rand.New(rand.NewPCG(seed, 17))
	l, err := NewLayout(S, P, r, rMin, rng)
	require.NoError(t, err)
	c := &attnCase{l: l, H: H, KVH: KVH, hd: hd, T: l.Rows(), qw: H * hd, kw: KVH * hd, name: name}
	fill := func(n int, s float32) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = s * float32(rng.NormFloat64())
		}
		return x
	}
	// Scores of O(1) spread so the softmax is neither uniform nor one-hot.
	c.q, c.k, c.v, c.dout = fill(c.T*c.qw, 1), fill(c.T*c.kw, 1), fill(c.T*c.kw, 1), fill(c.T*c.qw, 1)
	return c
}

// refVisible is the dense reference mask restricted to kept rows.
func refVisible(l *Layout) func(t, u int) bool {
	m := denseMask(l.S, l.P)
	N := l.S * l.P
	return func(t, u int) bool {
		return m[(int(l.Block[t])*l.S+int(l.Local[t]))*N+int(l.Block[u])*l.S+int(l.Local[u])]
	}
}

// refAttention is a dense float64 forward and analytic backward under the
// reference mask: out (T, H·hd), and dq, dk, dv for the given dout.
func refAttention(c *attnCase) (out, dq, dk, dv []float64) {
	vis := refVisible(c.l)
	T, H, hd := c.T, c.H, c.hd
	group := H / c.KVH
	scale := 1 / math.Sqrt(float64(hd))
	out = make([]float64, T*c.qw)
	dq = make([]float64, T*c.qw)
	dk = make([]float64, T*c.kw)
	dv = make([]float64, T*c.kw)
	p := make([]float64, T)
	dp := make([]float64, T)
	for t := range T {
		for h := range H {
			qo, ko := t*c.qw+h*hd, (h/group)*hd
			mx := math.Inf(-1)
			for u := range T {
				if !vis(t, u) {
					p[u] = math.Inf(-1)
					continue
				}
				var s float64
				for d := range hd {
					s += float64(c.q[qo+d]) * float64(c.k[u*c.kw+ko+d])
				}
				p[u] = s * scale
				mx = max(mx, p[u])
			}
			var sum float64
			for u := range T {
				p[u] = math.Exp(p[u] - mx)
				sum += p[u]
			}
			var D float64
			for u := range T {
				p[u] /= sum
				var s float64
				for d := range hd {
					out[qo+d] += p[u] * float64(c.v[u*c.kw+ko+d])
					s += float64(c.dout[qo+d]) * float64(c.v[u*c.kw+ko+d])
				}
				dp[u] = s
				D += p[u] * s
			}
			for u := range T {
				ds := p[u] * (dp[u] - D) * scale
				for d := range hd {
					dq[qo+d] += ds * float64(c.k[u*c.kw+ko+d])
					dk[u*c.kw+ko+d] += ds * float64(c.q[qo+d])
					dv[u*c.kw+ko+d] += p[u] * float64(c.dout[qo+d])
				}
			}
		}
	}
	return out, dq, dk, dv
}

// run is the kernel's forward and backward on fresh buffers.
func (c *attnCase) run(p *ops.Pool) (out, lse, dq, dk, dv []float32) {
	out, lse = make([]float32, c.T*c.qw), make([]float32, c.T*c.H)
	AttentionForward(p, out, lse, c.q, c.k, c.v, c.l, c.H, c.KVH, c.hd)
	dq, dk, dv = make([]float32, c.T*c.qw), make([]float32, c.T*c.kw), make([]float32, c.T*c.kw)
	AttentionBackward(p, dq, dk, dv, c.dout, c.q, c.k, c.v, out, lse, c.l, c.H, c.KVH, c.hd)
	return
}

func maxAbsDiff(t *testing.T, got []float32, want []float64) float64 {
	require.Len(t, got, len(want))
	var m float64
	for i := range got {
		m = max(m, math.Abs(float64(got[i])-want[i]))
	}
	return m
}

var attnCases = []struct {
	name       string
	S, P       int
	r, rMin    float64
	H, KVH, hd int
}{
	{"COD GQA", 16, 4, 0.7, 0.2, 4, 2, 8},
	{"COD MHA", 12, 5, 0.6, 0.2, 2, 2, 4},
	{"COD MQA", 10, 8, 0.8, 0.1, 3, 1, 8},
	{"full", 8, 3, 1, 1, 2, 1, 4},
	{"AR", 9, 1, 1, 1, 2, 2, 4},
}

func TestAttentionForwardDense(t *testing.T) {
	p := ops.NewPool(2)
	defer p.Close()
	for k, tc := range attnCases {
		c := newAttnCase(t, tc.name, tc.S, tc.P, tc.r, tc.rMin, tc.H, tc.KVH, tc.hd, uint64(k+1))
		out, lse, _, _, _ := c.run(p)
		want, _, _, _ := refAttention(c)
		require.Less(t, maxAbsDiff(t, out, want), 1e-5, tc.name)
		// lse is log Σ exp(s): check one (row, head) per row against a
		// direct float64 sum.
		vis := refVisible(c.l)
		for r := range c.T {
			h := r % c.H
			var sum float64
			for u := range c.T {
				if vis(r, u) {
					var s float64
					for d := range c.hd {
						s += float64(c.q[r*c.qw+h*c.hd+d]) * float64(c.k[u*c.kw+(h/(c.H/c.KVH))*c.hd+d])
					}
					sum += math.Exp(s / math.Sqrt(float64(c.hd)))
				}
			}
			require.InDelta(t, math.Log(sum), float64(lse[r*c.H+h]), 1e-5, "%s lse row %d", tc.name, r)
		}
	}
}

func TestAttentionBackwardDense(t *testing.T) {
	p := ops.NewPool(2)
	defer p.Close()
	for k, tc := range attnCases {
		c := newAttnCase(t, tc.name, tc.S, tc.P, tc.r, tc.rMin, tc.H, tc.KVH, tc.hd, uint64(k+10))
		_, _, dq, dk, dv := c.run(p)
		_, wdq, wdk, wdv := refAttention(c)
		require.Less(t, maxAbsDiff(t, dq, wdq), 1e-4, "%s dq", tc.name)
		require.Less(t, maxAbsDiff(t, dk, wdk), 1e-4, "%s dk", tc.name)
		require.Less(t, maxAbsDiff(t, dv, wdv), 1e-4, "%s dv", tc.name)
	}
}

func TestAttentionBackwardAccumulates(t *testing.T) {
	p := ops.NewPool(2)
	defer p.Close()
	c := newAttnCase(t, "acc", 16, 4, 0.7, 0.2, 4, 2, 8, 5)
	out, lse, dq, dk, dv := c.run(p)
	for _, g := range [][]float32{dq, dk, dv} {
		for i := range g {
			g[i] += 1 // what a second call onto buffers of ones must give
		}
	}
	aq, ak, av := make([]float32, len(dq)), make([]float32, len(dk)), make([]float32, len(dv))
	for _, g := range [][]float32{aq, ak, av} {
		for i := range g {
			g[i] = 1
		}
	}
	AttentionBackward(p, aq, ak, av, c.dout, c.q, c.k, c.v, out, lse, c.l, c.H, c.KVH, c.hd)
	for _, pair := range [][2][]float32{{aq, dq}, {ak, dk}, {av, dv}} {
		for i := range pair[0] {
			require.InDelta(t, pair[1][i], pair[0][i], 1e-5)
		}
	}
}

// TestAttentionBackwardFiniteDiff checks the gradients of L = Σ out·R
// (R = dout) against central differences of the float32 kernel's forward,
// L summed in float64.
func TestAttentionBackwardFiniteDiff(t *testing.T) {
	p := ops.NewPool(2)
	defer p.Close()
	for _, tc := range []struct {
		name       string
		S, P       int
		r, rMin    float64
		H, KVH, hd int
		samples    int // random entries per tensor; 0 = all
	}{
		{"tiny all entries", 4, 3, 0.7, 0.2, 2, 1, 4, 0},
		{"tiny full all entries", 3, 3, 1, 1, 2, 2, 2, 0},
		{"COD sampled", 16, 4, 0.7, 0.2, 4, 2, 8, 40},
	} {
		c := newAttnCase(t, tc.name, tc.S, tc.P, tc.r, tc.rMin, tc.H, tc.KVH, tc.hd, 99)
		_, _, dq, dk, dv := c.run(p)
		out, lse := make([]float32, c.T*c.qw), make([]float32, c.T*c.H)
		loss := func() float64 {
			AttentionForward(p, out, lse, c.q, c.k, c.v, c.l, c.H, c.KVH, c.hd)
			var s float64
			for i, o := range out {
				s += float64(o) * float64(c.dout[i])
			}
			return s
		}
		const eps = 1e-2 // float32 L noise ~1e-6 → ~1e-4 in the quotient; curvature error ~eps²
		rng := rand.New(rand.NewPCG(4, 4))
		checked, worst := 0, 0.0
		for _, x := range []struct {
			name string
			x    []float32
			g    []float32
		}{{"q", c.q, dq}, {"k", c.k, dk}, {"v", c.v, dv}} {
			n := len(x.x)
			if tc.samples > 0 {
				n = tc.samples
			}
			for s := range n {
				i := s
				if tc.samples > 0 {
					i = rng.IntN(len(x.x))
				}
				orig := x.x[i]
				x.x[i] = orig + eps
				lp := loss()
				x.x[i] = orig - eps
				lm := loss()
				x.x[i] = orig
				fd := (lp - lm) / (2 * eps)
				an := float64(x.g[i])
				rel := math.Abs(fd-an) / max(math.Abs(fd), math.Abs(an), 0.05)
				require.Less(t, rel, 1e-2, "%s d%s[%d]: finite diff %g, analytic %g", tc.name, x.name, i, fd, an)
				worst = max(worst, rel)
				checked++
			}
		}
		require.Positive(t, checked)
		t.Logf("%s: %d entries, worst relative error %.2g", tc.name, checked, worst)
	}
}

func TestAttentionThreadsBitIdentical(t *testing.T) {
	p1, p2 := ops.NewPool(1), ops.NewPool(2)
	defer p1.Close()
	defer p2.Close()
	for k, tc := range []struct {
		name       string
		S, P       int
		H, KVH, hd int
	}{
		{"GQA", 64, 8, 4, 2, 16},
		{"odd KV heads", 40, 6, 6, 3, 8},
		{"MQA", 33, 4, 4, 1, 16},
	} {
		c := newAttnCase(t, tc.name, tc.S, tc.P, 0.7, 0.2, tc.H, tc.KVH, tc.hd, uint64(k+20))
		o1, l1, q1, k1, v1 := c.run(p1)
		o2, l2, q2, k2, v2 := c.run(p2)
		for _, pair := range [][2][]float32{{o1, o2}, {l1, l2}, {q1, q2}, {k1, k2}, {v1, v2}} {
			for i := range pair[0] {
				require.Equal(t, math.Float32bits(pair[0][i]), math.Float32bits(pair[1][i]), "%s element %d", tc.name, i)
			}
		}
	}
}

// BenchmarkAttentionForwardBackward is one PARD-1 training sequence
// (S = 512, P = 8, COD r = 0.7, rMin = 0.2: ≈3.37·S rows) through a
// forward and a backward of one layer's attention.
func BenchmarkAttentionForwardBackward(b *testing.B) {
	c := newAttnCase(b, "bench", 512, 8, 0.7, 0.2, 8, 4, 64, 1)
	p := ops.NewPool(0)
	defer p.Close()
	out, lse := make([]float32, c.T*c.qw), make([]float32, c.T*c.H)
	dq, dk, dv := make([]float32, c.T*c.qw), make([]float32, c.T*c.kw), make([]float32, c.T*c.kw)
	b.ResetTimer()
	for range b.N {
		AttentionForward(p, out, lse, c.q, c.k, c.v, c.l, c.H, c.KVH, c.hd)
		AttentionBackward(p, dq, dk, dv, c.dout, c.q, c.k, c.v, out, lse, c.l, c.H, c.KVH, c.hd)
	}
	b.ReportMetric(float64(c.T*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(c.T), "rows")
}
