package ops

import (
	"bufio"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/ops/asm"
	"github.com/gopard/gopard/tensor"
)

func TestRMSNormHand(t *testing.T) {
	// x = (1, 2, 3, 4): mean(x²) = 7.5; eps = 0.5 → scale = 1/sqrt(8) = 0.35355339
	x := []float32{1, 2, 3, 4}
	w := []float32{1, 2, 0.5, -1}
	out := make([]float32, 4)
	RMSNorm(out, x, w, 0.5)
	s := float32(1 / math.Sqrt(8))
	assert.InDeltaSlice(t, []float32{1 * s, 4 * s, 1.5 * s, -4 * s}, out, 1e-6)
	// In place, two rows.
	x2 := []float32{1, 2, 3, 4, 2, 0, 0, 0}
	RMSNorm(x2, x2, []float32{1, 1, 1, 1}, 0)
	assert.InDeltaSlice(t, []float32{1 / float32(math.Sqrt(7.5)), 2 / float32(math.Sqrt(7.5)), 3 / float32(math.Sqrt(7.5)), 4 / float32(math.Sqrt(7.5)), 2, 0, 0, 0}, x2, 1e-6)
}

func TestSiLUMulHand(t *testing.T) {
	gate := []float32{0, 1, -2}
	up := []float32{5, 2, 3}
	out := make([]float32, 3)
	SiLUMul(out, gate, up)
	// silu(0)=0, silu(1)=1/(1+e^-1)=0.7310586, silu(-2)=-2/(1+e^2)=-0.23840584
	assert.InDeltaSlice(t, []float32{0, 2 * 0.7310586, 3 * -0.23840584}, out, 1e-6)
}

func TestRoPEHand(t *testing.T) {
	// One head of dim 4 at position 1 with angles θ0 = 0.5, θ1 = 0.25:
	// pairs (x0, x2) and (x1, x3) rotate by θ0 and θ1.
	cos := []float32{1, 1, float32(math.Cos(0.5)), float32(math.Cos(0.25))}
	sin := []float32{0, 0, float32(math.Sin(0.5)), float32(math.Sin(0.25))}
	x := []float32{1, 2, 3, 4}
	RoPE(x, 1, 4, 1, cos, sin)
	c0, s0, c1, s1 := math.Cos(0.5), math.Sin(0.5), math.Cos(0.25), math.Sin(0.25)
	want := []float32{float32(1*c0 - 3*s0), float32(2*c1 - 4*s1), float32(3*c0 + 1*s0), float32(4*c1 + 2*s1)}
	assert.InDeltaSlice(t, want, x, 1e-6)
}

func TestSoftmaxAndLogSoftmax(t *testing.T) {
	x := []float32{1, 2, 3}
	lp := make([]float32, 3)
	LogSoftmax(lp, x)
	z := math.Log(math.Exp(1) + math.Exp(2) + math.Exp(3))
	assert.InDeltaSlice(t, []float32{float32(1 - z), float32(2 - z), float32(3 - z)}, lp, 1e-6)
	Softmax(x)
	assert.InDeltaSlice(t, []float32{float32(math.Exp(1 - z)), float32(math.Exp(2 - z)), float32(math.Exp(3 - z))}, x, 1e-6)
	assert.Equal(t, 1, Argmax([]float32{1, 5, 5, 2}))
}

func TestArgmax(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		name string
		x    []float32
		want int
	}{
		{"empty", nil, 0},
		{"one", []float32{-3}, 0},
		{"first on ties", []float32{1, 5, 5, 2}, 1},
		{"last", []float32{1, 2, 3}, 2},
		{"all -inf", []float32{-inf, -inf}, 0},
		{"+inf", []float32{1, inf, 2}, 1},
		{"leading NaN skipped", []float32{nan, 1, 3, 2}, 2},
		{"inner NaN skipped", []float32{1, nan, 0}, 0},
		{"all NaN", []float32{nan, nan}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, Argmax(tc.x)) })
	}
}

// naiveAttention is the definition, one query row and head at a time, in float64.
func naiveAttention(q, k, v []float32, M, start, heads, kvHeads, hd int) []float32 {
	out := make([]float32, M*heads*hd)
	for m := 0; m < M; m++ {
		for h := 0; h < heads; h++ {
			kh := h / (heads / kvHeads)
			n := start + m + 1
			sc := make([]float64, n)
			mx := math.Inf(-1)
			for t := 0; t < n; t++ {
				var s float64
				for i := 0; i < hd; i++ {
					s += float64(q[m*heads*hd+h*hd+i]) * float64(k[t*kvHeads*hd+kh*hd+i])
				}
				sc[t] = s / math.Sqrt(float64(hd))
				mx = math.Max(mx, sc[t])
			}
			var sum float64
			for t := range sc {
				sc[t] = math.Exp(sc[t] - mx)
				sum += sc[t]
			}
			for i := 0; i < hd; i++ {
				var o float64
				for t := range sc {
					o += sc[t] / sum * float64(v[t*kvHeads*hd+kh*hd+i])
				}
				out[m*heads*hd+h*hd+i] = float32(o)
			}
		}
	}
	return out
}

func attentionScratch(p *Pool, M, start, hd int) [][]float32 {
	s := make([][]float32, p.Threads())
	for i := range s {
		s[i] = make([]float32, AttentionScratch(M, start, hd))
	}
	return s
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func TestAttentionGQACausalAtOffset(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pool := NewPool(3)
	defer pool.Close()
	for _, tc := range []struct{ M, start, heads, kvHeads, hd int }{
		{1, 0, 1, 1, 4}, {3, 5, 4, 2, 8}, {7, 2, 6, 3, 16}, {4, 0, 8, 1, 2},
		// the four-query kernels: tiles of four, padded tiles, lone queries
		{9, 37, 8, 4, 64}, {9, 20, 14, 2, 64}, {5, 3, 16, 8, 128}, {3, 7, 6, 2, 64}, {1, 30, 14, 2, 64}, {2, 11, 2, 2, 128},
	} {
		n := tc.start + tc.M
		q := randSlice(r, tc.M*tc.heads*tc.hd)
		k := randSlice(r, n*tc.kvHeads*tc.hd)
		v := randSlice(r, n*tc.kvHeads*tc.hd)
		scratch := attentionScratch(pool, tc.M, tc.start, tc.hd)
		out := make([]float32, len(q))
		Attention(pool, out, q, k, v, tc.M, tc.start, tc.heads, tc.kvHeads, tc.hd, RowMajor(tc.kvHeads, tc.hd), scratch)
		assert.InDeltaSlice(t, naiveAttention(q, k, v, tc.M, tc.start, tc.heads, tc.kvHeads, tc.hd), out, 1e-5, "%+v", tc)
		// Each row alone (as a decode step computes it) gives the same bits.
		w := tc.heads * tc.hd
		for m := 0; m < tc.M; m++ {
			one := make([]float32, w)
			Attention(pool, one, q[m*w:(m+1)*w], k, v, 1, tc.start+m, tc.heads, tc.kvHeads, tc.hd, RowMajor(tc.kvHeads, tc.hd), attentionScratch(pool, 1, tc.start+m, tc.hd))
			for i := range one {
				if math.Float32bits(one[i]) != math.Float32bits(out[m*w+i]) {
					t.Fatalf("%+v: row %d alone differs at %d: %v vs %v", tc, m, i, one[i], out[m*w+i])
				}
			}
		}
	}
	// Causality: the first query row must not see the cache rows after its position.
	q := randSlice(r, 2*4)
	k, v := randSlice(r, 3*4), randSlice(r, 3*4)
	scratch := attentionScratch(pool, 2, 1, 4)
	a := make([]float32, 8)
	Attention(pool, a, q, k, v, 2, 1, 1, 1, 4, RowMajor(1, 4), scratch)
	k[2*4], v[2*4] = 100, 100 // position 2 is visible to row 1 only
	b := make([]float32, 8)
	Attention(pool, b, q, k, v, 2, 1, 1, 1, 4, RowMajor(1, 4), scratch)
	assert.Equal(t, a[:4], b[:4])
	assert.NotEqual(t, a[4:], b[4:])
}

// headMajor copies a RowMajor cache of n positions into a HeadMajor one of
// capacity positions, the slots past n filled with NaN (never read).
func headMajor[T asm.Cache](x []T, n, capacity, kvHeads, hd int, nan T) []T {
	out := make([]T, kvHeads*capacity*hd)
	for i := range out {
		out[i] = nan
	}
	for g := range kvHeads {
		for t := range n {
			copy(out[(g*capacity+t)*hd:][:hd], x[(t*kvHeads+g)*hd:][:hd])
		}
	}
	return out
}

// TestAttentionLayouts: attention over a HeadMajor cache (CPU.AllocKV's) is
// bit for bit attention over the same RowMajor cache, float32 and binary16,
// and a cache short of what its layout needs is refused.
func TestAttentionLayouts(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	pool := NewPool(2)
	defer pool.Close()
	nan32, nan16 := float32(math.NaN()), uint16(0x7e00)
	for _, tc := range []struct{ M, start, heads, kvHeads, hd int }{
		{1, 0, 1, 1, 4}, {3, 5, 4, 2, 8}, {1, 300, 8, 4, 64}, {5, 300, 8, 4, 64}, {9, 37, 14, 2, 64}, {3, 40, 16, 8, 128},
	} {
		n, capacity := tc.start+tc.M, tc.start+tc.M+7
		q := randSlice(r, tc.M*tc.heads*tc.hd)
		k, v := randSlice(r, n*tc.kvHeads*tc.hd), randSlice(r, n*tc.kvHeads*tc.hd)
		k16, v16 := make([]uint16, len(k)), make([]uint16, len(v))
		asm.F32ToF16(k16, k)
		asm.F32ToF16(v16, v)
		rows, heads := RowMajor(tc.kvHeads, tc.hd), HeadMajor(capacity, tc.hd)
		scratch := attentionScratch(pool, tc.M, tc.start, tc.hd)
		want, got := make([]float32, len(q)), make([]float32, len(q))
		Attention(pool, want, q, k, v, tc.M, tc.start, tc.heads, tc.kvHeads, tc.hd, rows, scratch)
		Attention(pool, got, q, headMajor(k, n, capacity, tc.kvHeads, tc.hd, nan32), headMajor(v, n, capacity, tc.kvHeads, tc.hd, nan32),
			tc.M, tc.start, tc.heads, tc.kvHeads, tc.hd, heads, scratch)
		want16, got16 := make([]float32, len(q)), make([]float32, len(q))
		Attention(pool, want16, q, k16, v16, tc.M, tc.start, tc.heads, tc.kvHeads, tc.hd, rows, scratch)
		Attention(pool, got16, q, headMajor(k16, n, capacity, tc.kvHeads, tc.hd, nan16), headMajor(v16, n, capacity, tc.kvHeads, tc.hd, nan16),
			tc.M, tc.start, tc.heads, tc.kvHeads, tc.hd, heads, scratch)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) || math.Float32bits(got16[i]) != math.Float32bits(want16[i]) {
				t.Fatalf("%+v, %d: head-major %v / %v (binary16), row-major %v / %v", tc, i, got[i], got16[i], want[i], want16[i])
			}
		}
	}
	q, k := randSlice(r, 2*8), randSlice(r, 2*3*8) // two heads of 8, three positions
	require.PanicsWithValue(t, "ops: Attention: a cache of 48 keys and 48 values is short of the 56 a layout {RowStride:8 HeadStride:32} needs",
		func() {
			Attention(pool, make([]float32, 16), q, k, k, 1, 2, 2, 2, 8, HeadMajor(4, 8), attentionScratch(pool, 1, 2, 8))
		})
}

// TestStoreKV: CPU.StoreKV puts each position's keys and values where HeadMajor
// says, rounded to binary16 in a binary16 cache, and nowhere else.
func TestStoreKV(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	const kvHeads, rows, hd, start, M = 3, 10, 8, 4, 5
	k := tensor.FromF32(randSlice(r, M*kvHeads*hd), M, kvHeads*hd)
	v := tensor.FromF32(randSlice(r, M*kvHeads*hd), M, kvHeads*hd)
	for _, f16 := range []bool{false, true} {
		c := NewCPU(1)
		c.SetF16KVCache(f16)
		kc, vc := c.AllocKV(rows, kvHeads, hd), c.AllocKV(rows, kvHeads, hd)
		require.Equal(t, []int{kvHeads, rows, hd}, kc.Shape)
		c.StoreKV(kc, vc, start, k, v)
		for _, s := range []struct{ cache, src *tensor.Tensor }{{kc, k}, {vc, v}} {
			got := make([]float32, s.cache.Len())
			if f16 {
				asm.F16ToF32(got, s.cache.U16())
			} else {
				copy(got, s.cache.F32())
			}
			l := HeadMajor(rows, hd)
			for g := range kvHeads {
				for p := range rows {
					for i := range hd {
						want := float32(0)
						if p >= start && p < start+M {
							want = s.src.F32()[(p-start)*kvHeads*hd+g*hd+i]
							if f16 {
								h := []uint16{0}
								asm.F32ToF16(h, []float32{want})
								w := []float32{0}
								asm.F16ToF32(w, h)
								want = w[0]
							}
						}
						require.Equal(t, want, got[g*l.HeadStride+p*l.RowStride+i], "f16 %v head %d position %d, %d", f16, g, p, i)
					}
				}
			}
		}
		require.Panics(t, func() { c.StoreKV(kc, vc, rows-M+1, k, v) }, "positions past the cache")
		c.Pool().Close()
	}
}

// TestAttentionIsLoneQuery checks every query of Attention, bit for bit,
// against the one-query kernels run over all the positions it sees at once
// (scores, scale, softmax, weighted sum): however Attention tiles the
// queries (four, two or one at a time, the positions only some of a
// tile's queries see apart), a verify's rows are the bits of decode steps.
// The contexts are long enough for the kernels' main loops and
// prefetches to run.
func TestAttentionIsLoneQuery(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	pool := NewPool(2)
	defer pool.Close()
	for _, tc := range []struct{ M, start, heads, kvHeads, hd int }{
		{1, 400, 8, 4, 64}, {5, 300, 8, 4, 64}, {7, 260, 4, 2, 64}, {9, 130, 14, 2, 64}, {3, 200, 16, 8, 128}, {16, 70, 8, 1, 16},
	} {
		n := tc.start + tc.M
		q := randSlice(r, tc.M*tc.heads*tc.hd)
		k := randSlice(r, n*tc.kvHeads*tc.hd)
		v := randSlice(r, n*tc.kvHeads*tc.hd)
		out := make([]float32, len(q))
		Attention(pool, out, q, k, v, tc.M, tc.start, tc.heads, tc.kvHeads, tc.hd, RowMajor(tc.kvHeads, tc.hd), attentionScratch(pool, tc.M, tc.start, tc.hd))
		kw, group := tc.kvHeads*tc.hd, tc.heads/tc.kvHeads
		scale := float32(1 / math.Sqrt(float64(tc.hd)))
		for m := range tc.M {
			for h := range tc.heads {
				off := (m*tc.heads + h) * tc.hd
				kvOff := h / group * tc.hd
				score := make([]float32, tc.start+m+1)
				asm.DotRows(score, q[off:off+tc.hd], k[kvOff:], kw, len(score))
				asm.Scale(score, scale)
				Softmax(score)
				want := make([]float32, tc.hd)
				asm.AxpyRows(want, score, v[kvOff:], kw)
				for i, w := range want {
					if math.Float32bits(out[off+i]) != math.Float32bits(w) {
						t.Fatalf("%+v: row %d head %d, %d: %v, one query alone %v", tc, m, h, i, out[off+i], w)
					}
				}
			}
		}
	}
}

// TestAttentionF16IsAttentionWidened checks that attention over a binary16
// cache gives the bits of Attention over the same cache widened, whole
// and row by row (so speculative decoding stays exact with it), at the
// shapes above.
func TestAttentionF16IsAttentionWidened(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pool := NewPool(3)
	defer pool.Close()
	for _, tc := range []struct{ M, start, heads, kvHeads, hd int }{
		{1, 0, 1, 1, 4}, {3, 5, 4, 2, 8}, {7, 2, 6, 3, 16},
		{9, 37, 8, 4, 64}, {9, 20, 14, 2, 64}, {5, 3, 16, 8, 128}, {1, 30, 14, 2, 64}, {2, 11, 2, 2, 128},
	} {
		n := tc.start + tc.M
		q := randSlice(r, tc.M*tc.heads*tc.hd)
		k16, v16 := make([]uint16, n*tc.kvHeads*tc.hd), make([]uint16, n*tc.kvHeads*tc.hd)
		asm.F32ToF16(k16, randSlice(r, len(k16)))
		asm.F32ToF16(v16, randSlice(r, len(v16)))
		k, v := make([]float32, len(k16)), make([]float32, len(v16))
		asm.F16ToF32(k, k16)
		asm.F16ToF32(v, v16)
		want := make([]float32, len(q))
		Attention(pool, want, q, k, v, tc.M, tc.start, tc.heads, tc.kvHeads, tc.hd, RowMajor(tc.kvHeads, tc.hd), attentionScratch(pool, tc.M, tc.start, tc.hd))
		got := make([]float32, len(q))
		Attention(pool, got, q, k16, v16, tc.M, tc.start, tc.heads, tc.kvHeads, tc.hd, RowMajor(tc.kvHeads, tc.hd), attentionScratch(pool, tc.M, tc.start, tc.hd))
		w := tc.heads * tc.hd
		for m := range tc.M {
			one := make([]float32, w)
			Attention(pool, one, q[m*w:(m+1)*w], k16, v16, 1, tc.start+m, tc.heads, tc.kvHeads, tc.hd, RowMajor(tc.kvHeads, tc.hd), attentionScratch(pool, 1, tc.start+m, tc.hd))
			for i := range one {
				if j := m*w + i; math.Float32bits(got[j]) != math.Float32bits(want[j]) || math.Float32bits(one[i]) != math.Float32bits(want[j]) {
					t.Fatalf("%+v: row %d, %d: %v (row alone %v), over the widened cache %v", tc, m, i, got[j], one[i], want[j])
				}
			}
		}
	}
}

func TestMatMulDTypes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pool := NewPool(2)
	defer pool.Close()
	for _, tc := range []struct{ M, N, K int }{{1, 1, 1}, {3, 37, 19}, {9, 64, 896 / 8}, {16, 5, 33}} {
		x := randSlice(r, tc.M*tc.K)
		wf := randSlice(r, tc.N*tc.K)
		bias := randSlice(r, tc.N)
		for _, dt := range []tensor.DType{tensor.F32, tensor.BF16, tensor.F16} {
			w := tensor.Convert(tensor.FromF32(wf, tc.N, tc.K), dt)
			wv := w.ToF32() // the exact values the kernel sees
			xv := x
			scratch := [][]float32{make([]float32, tc.K), make([]float32, tc.K)}
			out := make([]float32, tc.M*tc.N)
			MatMul(pool, out, x, tc.M, w, bias, scratch)
			for m := 0; m < tc.M; m++ {
				for n := 0; n < tc.N; n++ {
					var s float64
					for k := 0; k < tc.K; k++ {
						s += float64(xv[m*tc.K+k]) * float64(wv[n*tc.K+k])
					}
					require.InDelta(t, s+float64(bias[n]), out[m*tc.N+n], 1e-4*math.Sqrt(float64(tc.K)), "%v %+v m=%d n=%d", dt, tc, m, n)
				}
			}
		}
	}
}

// TestSpinning checks the pool's spin budget: polls go on for spinTime
// from the 64th, the clock read once every 64 polls, whatever a poll
// costs on the CPU.
func TestSpinning(t *testing.T) {
	var start time.Time
	for spins := range 63 {
		if !spinning(spins, &start) {
			t.Fatalf("poll %d: parked before the clock was read", spins)
		}
	}
	if !spinning(63, &start) || start.IsZero() {
		t.Fatal("poll 63 should read the clock and go on")
	}
	start = time.Now().Add(time.Hour) // however slow this machine is now
	if !spinning(127, &start) {
		t.Fatal("poll 127, before spinTime: parked early")
	}
	start = time.Now().Add(-2 * spinTime)
	if !spinning(128, &start) {
		t.Fatal("poll 128 should not read the clock")
	}
	if spinning(191, &start) {
		t.Fatalf("poll 191, %v after the 64th: still spinning", 2*spinTime)
	}
}

func TestPoolCoversRangeOnce(t *testing.T) {
	p := NewPool(4)
	defer p.Close()
	for _, tc := range []struct{ n, grain int }{{0, 1}, {1, 1}, {5, 1}, {100, 16}, {17, 16}, {1000, 3}} {
		hits := make([]int, tc.n)
		p.Run(tc.n, tc.grain, func(worker, lo, hi int) {
			require.True(t, worker >= 0 && worker < 4)
			if hi < tc.n {
				require.Zero(t, (hi-lo)%tc.grain, "part [%d,%d) not a multiple of grain %d", lo, hi, tc.grain)
			}
			for i := lo; i < hi; i++ {
				hits[i]++
			}
		})
		for i, h := range hits {
			require.Equal(t, 1, h, "n=%d index %d", tc.n, i)
		}
	}
}

// With bf16 activations on (where the CPU has AVX512-BF16), Linear must
// equal the float64 product of the bf16-rounded activations and weights.
func TestLinearBF16Activations(t *testing.T) {
	c := NewCPU(2)
	if !c.SetBF16Activations(true) {
		t.Skip("CPU lacks AVX512-BF16")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ M, N, K int }{{1, 9, 31}, {5, 37, 64}, {9, 64, 896}, {13, 5, 33}} {
		x := tensor.FromF32(randSlice(r, tc.M*tc.K), tc.M, tc.K)
		w := tensor.Convert(tensor.FromF32(randSlice(r, tc.N*tc.K), tc.N, tc.K), tensor.BF16)
		out := c.Alloc(tc.M, tc.N)
		c.Linear(out, x, w, nil)
		xv, wv := tensor.Convert(x, tensor.BF16).ToF32(), w.ToF32()
		for m := 0; m < tc.M; m++ {
			for n := 0; n < tc.N; n++ {
				var s float64
				for k := 0; k < tc.K; k++ {
					s += float64(xv[m*tc.K+k]) * float64(wv[n*tc.K+k])
				}
				require.InDelta(t, s, out.F32()[m*tc.N+n], 1e-4*math.Sqrt(float64(tc.K)), "%+v m=%d n=%d", tc, m, n)
			}
		}
	}
}

// With bf16 activations, each row of a Linear must not depend on the rows
// beside it: a verify of M rows (one in-order pass per tile of up to
// asm.MaxDotTile rows, two above) and a prefill (four-row tiles) give
// every row the bits it gets alone, which keeps speculative decoding exact
// in that mode too.
func TestLinearBF16ActivationsRowsIndependent(t *testing.T) {
	c := NewCPU(2)
	if !c.SetBF16Activations(true) {
		t.Skip("CPU lacks AVX512-BF16")
	}
	r := rand.New(rand.NewPCG(7, 8))
	const N, K = 37, 77 // an odd row left over by the two-stream kernels, a ragged tail
	w := tensor.Convert(tensor.FromF32(randSlice(r, N*K), N, K), tensor.BF16)
	x := randSlice(r, 24*K)
	alone := make([][]float32, 24)
	for m := range alone {
		out := c.Alloc(1, N)
		c.Linear(out, tensor.FromF32(x[m*K:(m+1)*K], 1, K), w, nil)
		alone[m] = append([]float32(nil), out.F32()...)
	}
	for M := 1; M <= 24; M++ {
		out := c.Alloc(M, N)
		c.Linear(out, tensor.FromF32(x[:M*K], M, K), w, nil)
		for m := 0; m < M; m++ {
			require.Equal(t, alone[m], out.F32()[m*N:(m+1)*N], "M=%d row %d", M, m)
		}
	}
}

type coverTask struct{ hits []int32 }

func (c *coverTask) Run(worker, lo, hi int) {
	for i := lo; i < hi; i++ {
		c.hits[i]++
	}
}

func TestPoolDynamicCoversRangeOnce(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	for _, tc := range []struct{ n, grain int }{{0, 1}, {1, 1}, {5, 1}, {100, 16}, {17, 16}, {1000, 3}, {4864, 36}} {
		c := &coverTask{hits: make([]int32, tc.n)}
		for range 3 { // the same pool, loop after loop, mixed with static loops
			clear(c.hits)
			p.RunDynamic(tc.n, tc.grain, c)
			for i, h := range c.hits {
				require.Equal(t, int32(1), h, "n=%d index %d", tc.n, i)
			}
			clear(c.hits)
			p.RunTask(tc.n, tc.grain, c)
			for i, h := range c.hits {
				require.Equal(t, int32(1), h, "static n=%d index %d", tc.n, i)
			}
		}
	}
}

// A prefill-sized MatMul goes through RunDynamic: it must equal the same
// product computed one row at a time.
func TestMatMulDynamicEqualsRows(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	pool := NewPool(3)
	defer pool.Close()
	const M, N, K = 21, 300, 40
	x := randSlice(r, M*K)
	w := tensor.Convert(tensor.FromF32(randSlice(r, N*K), N, K), tensor.BF16)
	out := make([]float32, M*N)
	MatMul(pool, out, x, M, w, nil, nil)
	for m := 0; m < M; m++ {
		row := make([]float32, N)
		MatMul(pool, row, x[m*K:(m+1)*K], 1, w, nil, nil)
		require.Equal(t, row, out[m*N:(m+1)*N], "row %d", m)
	}
}

// TestCPUFusedEqualsSeparate checks CPU's nn.Fused operations against the
// separate ones, bit for bit: one pool dispatch up to 16 rows, separate
// MatMuls above.
func TestCPUFusedEqualsSeparate(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	c := NewCPU(2)
	defer c.Pool().Close()
	mat := func(dt tensor.DType, rows, cols int) *tensor.Tensor {
		return tensor.Convert(tensor.FromF32(randSlice(r, rows*cols), rows, cols), dt)
	}
	vec := func(n int) *tensor.Tensor { return tensor.FromF32(randSlice(r, n), n) }
	const K, Nq, Nkv, I = 96, 64, 32, 160
	for _, bf16Act := range []bool{false, true} {
		if bf16Act && !c.SetBF16Activations(true) {
			continue // no AVX512-BF16 here
		}
		testFusedEqualsSeparate(t, r, c, mat, vec, K, Nq, Nkv, I)
	}
}

func testFusedEqualsSeparate(t *testing.T, r *rand.Rand, c *CPU, mat func(tensor.DType, int, int) *tensor.Tensor, vec func(int) *tensor.Tensor, K, Nq, Nkv, I int) {
	for _, dt := range []tensor.DType{tensor.BF16, tensor.F32} {
		wq, wk, wv, gate, up := mat(dt, Nq, K), mat(dt, Nkv, K), mat(dt, Nkv, K), mat(dt, I, K), mat(dt, I, K)
		for _, withBias := range []bool{false, true} {
			var bq, bk, bv *tensor.Tensor
			if withBias {
				bq, bk, bv = vec(Nq), vec(Nkv), vec(Nkv)
			}
			for _, M := range []int{1, 4, 9, 16, 21} {
				x := tensor.FromF32(randSlice(r, M*K), M, K)
				q, k, v := c.Alloc(M, Nq), c.Alloc(M, Nkv), c.Alloc(M, Nkv)
				c.LinearQKV(q, k, v, x, wq, wk, wv, bq, bk, bv)
				for _, o := range []struct {
					got, w, b *tensor.Tensor
				}{{q, wq, bq}, {k, wk, bk}, {v, wv, bv}} {
					want := c.Alloc(o.got.Shape...)
					c.Linear(want, x, o.w, o.b)
					require.Equal(t, want.F32(), o.got.F32(), "%v M=%d bias=%v", dt, M, withBias)
				}
				out, want, u := c.Alloc(M, I), c.Alloc(M, I), c.Alloc(M, I)
				c.LinearSwiGLU(out, x, gate, up)
				c.Linear(want, x, gate, nil)
				c.Linear(u, x, up, nil)
				c.SiLUMul(want, want, u)
				require.Equal(t, want.F32(), out.F32(), "swiglu %v M=%d", dt, M)
			}
		}
	}
}

// TestReusedTasksPackEachCall checks that CPU's kept tasks, whose threads
// pack the activations for themselves up to 16 rows, never multiply a
// previous call's packing: one input buffer is overwritten between calls
// (as a forward reuses its activation rows, layer after layer), M changes,
// and every product equals a fresh MatMul on one thread, bit for bit.
func TestReusedTasksPackEachCall(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 9))
	c := NewCPU(3)
	ref := NewPool(1)
	defer ref.Close()
	const N, K = 70, 48
	for _, dt := range []tensor.DType{tensor.F32, tensor.BF16, tensor.F16} {
		w := tensor.Convert(tensor.FromF32(randSlice(r, N*K), N, K), dt)
		w2 := tensor.Convert(tensor.FromF32(randSlice(r, N*K), N, K), dt)
		xbuf := make([]float32, 17*K)
		for i, M := range []int{5, 5, 1, 7, 16, 17, 5, 2} {
			copy(xbuf, randSlice(r, M*K))
			x := tensor.FromF32(xbuf[:M*K], M, K)
			want, want2 := make([]float32, M*N), make([]float32, M*N)
			MatMul(ref, want, x.F32(), M, w, nil, nil)
			MatMul(ref, want2, x.F32(), M, w2, nil, nil)
			out := tensor.New(tensor.F32, M, N)
			c.Linear(out, x, w, nil)
			require.Equal(t, want, out.F32(), "%v call %d M=%d: Linear", dt, i, M)
			out2 := tensor.New(tensor.F32, M, N)
			c.LinearQKV(out, out2, tensor.New(tensor.F32, M, N), x, w, w2, w, nil, nil, nil)
			require.Equal(t, want, out.F32(), "%v call %d M=%d: LinearQKV q", dt, i, M)
			require.Equal(t, want2, out2.F32(), "%v call %d M=%d: LinearQKV k", dt, i, M)
		}
	}
}

// TestMultiMatMulPacksEachInput checks that the matrices of one dispatch
// share packed activations only when they multiply the same rows: with two
// different inputs, each product equals its own MatMul.
func TestMultiMatMulPacksEachInput(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 1))
	pool := NewPool(2)
	defer pool.Close()
	const M, N, K = 5, 40, 48
	w := tensor.Convert(tensor.FromF32(randSlice(r, N*K), N, K), tensor.BF16)
	xs := [3][]float32{randSlice(r, M*K), randSlice(r, M*K)}
	xs[2] = xs[0] // the same rows again: shares the first task's packing
	var mm multiMatMul
	outs := make([][]float32, len(xs))
	for i, x := range xs {
		outs[i] = make([]float32, M*N)
		mm.add(outs[i], x, M, w, nil, pool.Threads())
	}
	mm.run(pool)
	for i, x := range xs {
		want := make([]float32, M*N)
		MatMul(pool, want, x, M, w, nil, nil)
		require.Equal(t, want, outs[i], "input %d", i)
	}
}

// TestAttentionAllocatesNothing checks that a decode step's and a verify's
// attention with the four-query kernels (head size 64, grouped queries)
// make no heap allocation once the scratch has grown.
func TestAttentionAllocatesNothing(t *testing.T) {
	c := NewCPU(2)
	r := rand.New(rand.NewPCG(5, 6))
	const heads, kvHeads, hd, start = 8, 2, 64, 40
	k, v := tensor.New(tensor.F32, start+9, kvHeads*hd), tensor.New(tensor.F32, start+9, kvHeads*hd)
	copy(k.F32(), randSlice(r, len(k.F32())))
	copy(v.F32(), randSlice(r, len(v.F32())))
	for _, M := range []int{1, 9} {
		q, out := tensor.New(tensor.F32, M, heads*hd), tensor.New(tensor.F32, M, heads*hd)
		copy(q.F32(), randSlice(r, len(q.F32())))
		att := func() { c.Attention(out, q, k, v, start, heads, kvHeads, hd) }
		att()
		if a := testing.AllocsPerRun(20, att); a != 0 {
			t.Errorf("M=%d: %v allocations per attention, want 0", M, a)
		}
	}
}

// TestSibling checks that a sibling shares its CPU's pool and KV-cache
// dtype but keeps its own activation setting: with bf16 activations on the
// sibling only, the sibling's Linear matches a CPU with bf16 activations
// and the original still gives the exact float32 products, bit for bit,
// whatever order they run in.
func TestSibling(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 1))
	c := NewCPU(2)
	defer c.Pool().Close()
	c.SetF16KVCache(true)
	sib := c.Sibling()
	require.Same(t, c.Pool(), sib.Pool())
	require.Equal(t, tensor.F16, sib.AllocKV(2, 2, 4).DType, "the sibling keeps the KV-cache dtype")
	if !sib.SetBF16Activations(true) {
		t.Skip("no AVX512-BF16 here: bf16 activations fall back to float32")
	}
	bf16 := NewCPU(1)
	defer bf16.Pool().Close()
	bf16.SetBF16Activations(true)
	exact := NewCPU(1)
	defer exact.Pool().Close()

	const M, N, K = 5, 40, 96
	w := tensor.Convert(tensor.FromF32(randSlice(r, N*K), N, K), tensor.BF16)
	x := tensor.FromF32(randSlice(r, M*K), M, K)
	run := func(b *CPU) []float32 {
		out := b.Alloc(M, N)
		b.Linear(out, x, w, nil)
		return out.F32()
	}
	wantExact, wantBF16 := run(exact), run(bf16)
	require.NotEqual(t, wantExact, wantBF16, "bf16 activations round x, so some bits differ")
	for range 2 {
		require.Equal(t, wantBF16, run(sib))
		require.Equal(t, wantExact, run(c))
	}
}

func TestParseCPUInfo(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\n\nprocessor\t: 1\nmodel name\t: other\n", "AMD EPYC (family 25, model 17)"},
		{"model name\t: Some CPU\n", "Some CPU"},
		{"processor\t: 0\nBogoMIPS\t: 50.00\n", ""},
		{"", ""},
	} {
		if got := parseCPUInfo(bufio.NewScanner(strings.NewReader(c.in))); got != c.want {
			t.Errorf("parseCPUInfo(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	t.Logf("this machine: %q", CPUName())
}

// TestBF16PanelsEqualRows: with bf16 activations, products whose rows are
// too long for a tile's packed rows to stay in L1 go in panels of columns
// (asm.UseDotPanels); every row must still equal the same row multiplied
// alone, bit for bit, on several threads, whatever M (one and two tiles).
func TestBF16PanelsEqualRows(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 11))
	c := NewCPU(3)
	defer c.Pool().Close()
	if !c.SetBF16Activations(true) {
		t.Skip("no AVX512-BF16 here")
	}
	const N, K = 71, 4864
	w := tensor.Convert(tensor.FromF32(randSlice(r, N*K), N, K), tensor.BF16)
	w2 := tensor.Convert(tensor.FromF32(randSlice(r, N*K), N, K), tensor.BF16)
	for _, M := range []int{3, 5, 9, 13, 16} {
		if !asm.UseDotPanels(min(M, asm.MaxDotTile), K) && M <= asm.MaxDotTile {
			t.Fatalf("M=%d: the test wants rows long enough for panels", M)
		}
		x := tensor.FromF32(randSlice(r, M*K), M, K)
		out := c.Alloc(M, N)
		c.Linear(out, x, w, nil)
		for m := range M {
			row := c.Alloc(1, N)
			c.Linear(row, tensor.FromF32(x.F32()[m*K:(m+1)*K], 1, K), w, nil)
			require.Equal(t, row.F32(), out.F32()[m*N:(m+1)*N], "M=%d row %d", M, m)
		}
		// Fused products share one packing of x between their tasks.
		fused, up, want := c.Alloc(M, N), c.Alloc(M, N), c.Alloc(M, N)
		c.LinearSwiGLU(fused, x, w, w2)
		c.Linear(up, x, w2, nil)
		c.SiLUMul(want, out, up)
		require.Equal(t, want.F32(), fused.F32(), "swiglu M=%d", M)
	}
}

// TopK gives a stable descending sort's first k indices, ties and NaNs
// included, for every k.
func TestTopK(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 7, 100, 1000} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.IntN(20)) // many ties
		}
		if n > 5 {
			x[1], x[3] = float32(math.NaN()), float32(math.Inf(-1))
			x[n-1] = float32(math.Inf(1))
		}
		key := func(i int) float32 {
			if x[i] != x[i] {
				return float32(math.Inf(-1))
			}
			return x[i]
		}
		want := make([]int, n)
		for i := range want {
			want[i] = i
		}
		sort.SliceStable(want, func(a, b int) bool { return key(want[a]) > key(want[b]) })
		for _, k := range []int{0, 1, 2, 5, n / 2, n, n + 3} {
			got := make([]int, k)
			TopK(got, x)
			require.Equal(t, want[:min(k, n)], got[:min(k, n)], "n %d k %d", n, k)
		}
	}
}
