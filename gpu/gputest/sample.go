package gputest

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// sampleChainer is an nn.SampleChainer that copies its distributions back
// (gpu.Device.ReadKeptDists).
type sampleChainer interface {
	nn.SampleChainer
	ReadKeptDists(dst []float32, gen uint64, off, n int) bool
}

// testSample checks nn.SampleChainer's draws (the draft_sample kernel)
// against ops.DraftDist: each row's kept distribution has the reference's
// support and values, its id has probability > 0 and is where the
// uniform number falls in the running sum of that distribution; the ids
// join the kept list (after argmax ids), come back with it in one wait,
// and the distributions after it without another; draws among a row's
// first values (Sampling.Vocab); and the verdict (testVerdict).
func testSample(t *testing.T, b Backend) {
	c, ok := b.(sampleChainer)
	if !ok {
		t.Skipf("%s draws no ids", b.Name())
	}
	const n = 3001 // not a multiple of the block: a short last chunk
	r := rng(17)
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	// 11 rows (two launches of at most 8): peaked random logits, then rows
	// of ties (top-k and top-p keep or drop them together), NaNs, nothing
	// finite and a +Inf.
	rows := 11
	h := random(r, tensor.F32, rows, n)
	x := h.F32()
	for i := range x {
		x[i] *= 4
	}
	for i := range n {
		x[6*n+i] = float32(i % 7)     // ties of 7 values
		x[7*n+i] = float32(i%5) * 0.5 // ties of 5
		if i%3 == 0 {
			x[8*n+i] = nan
		}
		x[9*n+i] = float32(math.Inf(-1))
	}
	x[9*n+5] = nan
	x[10*n+1234], x[10*n+2000] = inf, inf
	us := []float32{0, 0.999999, 0.5, 0.25, 0.75, 0.123, 0.9, 0.33, 0.66, 0.5, 0.01}
	dev, _ := upload(t, b, h)

	for _, s := range []nn.Sampling{
		{Temperature: 1},
		{Temperature: 0.7, TopK: 40},
		{Temperature: 1.3, TopP: 0.9},
		{Temperature: 0.8, TopK: 100, TopP: 0.95},
		{Temperature: 1, TopK: 1},
		{Temperature: 2, TopK: 3, TopP: 0.5},
	} {
		name := fmt.Sprintf("T %v top-k %d top-p %v", s.Temperature, s.TopK, s.TopP)
		// Two argmax ids first: the draws go after them in the list.
		a, ga := c.KeepArgmax(dev.RowSlice(0, 2), 2)
		off, g := c.KeepSample(dev, rows, s, us)
		require.Equal(t, ga, g, "%s: one list", name)
		require.Equal(t, a+2, off, "%s: the draws after the argmax ids", name)
		w := waits(b)
		ids, _ := c.ReadKept()
		if w >= 0 {
			require.Equal(t, w+1, waits(b), "%s: the list's copy back: one wait", name)
		}
		dists := make([]float32, rows*n)
		require.True(t, c.ReadKeptDists(dists, g, off, rows), "%s: the list read is still the newest", name)
		if w >= 0 {
			require.Equal(t, w+1, waits(b), "%s: the distributions from the idle device: no wait", name)
		}
		want := make([]float32, n)
		for row := range rows {
			q, id := dists[row*n:(row+1)*n], int(ids[off+row])
			ops.DraftDist(want, x[row*n:(row+1)*n], s.Temperature, s.TopK, s.TopP)
			var wantSupport, support int
			for i := range q {
				if (q[i] > 0) != (want[i] > 0) {
					t.Fatalf("%s: row %d: value %d has probability %g on the device, %g in ops.DraftDist", name, row, i, q[i], want[i])
				}
				if q[i] > 0 {
					support++
				}
				if want[i] > 0 {
					wantSupport++
				}
			}
			Close(t, fmt.Sprintf("%s: row %d (support %d)", name, row, support), q, want, 1e-5)
			require.True(t, id >= 0 && id < n && q[id] > 0, "%s: row %d: id %d drawn with probability 0", name, row, id)
			var before, sum float64
			for i, v := range q {
				sum += float64(v)
				if i < id {
					before += float64(v)
				}
			}
			target := float64(us[row]) * sum
			require.True(t, before <= target+1e-5 && before+float64(q[id]) >= target-1e-5,
				"%s: row %d: id %d spans %g..%g of the running sum, u·Σq = %g", name, row, id, before, before+float64(q[id]), target)
		}
	}

	// Among each row's first 2000 values only.
	limited := nn.Sampling{Temperature: 0.9, TopP: 0.9, Vocab: 2000}
	off, g := c.KeepSample(dev, rows, limited, us)
	ids, _ := c.ReadKept()
	dists := make([]float32, 6*2000)
	require.True(t, c.ReadKeptDists(dists, g, off, 6))
	want := make([]float32, 2000)
	for row := range 6 {
		ops.DraftDist(want, x[row*n:row*n+2000], limited.Temperature, limited.TopK, limited.TopP)
		Close(t, fmt.Sprintf("the first 2000: row %d", row), dists[row*2000:(row+1)*2000], want, 1e-5)
		require.Less(t, ids[off+row], int32(2000))
	}

	testVerdict(t, b, c, x[:6*n], n)

	// A new list: the old one's distributions are gone; argmax ids have none.
	off, g = c.KeepArgmax(dev.RowSlice(0, 1), 1)
	require.False(t, c.ReadKeptDists(make([]float32, n), g-1, 0, 1), "an older list's distributions")
	require.Panics(t, func() { c.ReadKeptDists(make([]float32, n), g, off, 1) }, "an argmax id has no distribution")
	c.ReadKept()
	require.Panics(t, func() { c.KeepSample(dev, rows, nn.Sampling{Temperature: 1}, us[:3]) }, "fewer uniform numbers than rows")
	require.Panics(t, func() { c.KeepSample(dev, rows, nn.Sampling{}, us) }, "temperature 0")
}

// testVerdict checks KeepVerdict (the spec_accept kernel) against
// ops.Verdict over the distributions and draws the device kept: k = 4
// drafts drawn from rows 0..3 of x (rows of n), verified against targets
// whose rows repeat the drafts' for the first `same` depths (whose tests
// then pass whatever the number: u·q < p = q) and are rows 4 and 5 of x
// after, so that each case accepts `same` drafts or more, rejecting a
// later one or, with every row the same, accepting all and then taking
// the target's last draw.
func testVerdict(t *testing.T, b Backend, c sampleChainer, x []float32, n int) {
	const k = 4
	s := nn.Sampling{Temperature: 1.1, TopK: 300}
	u := []float32{0.3, 0.8, 0.5, 0.1}
	v := []float32{0.7, 0.4, 0.9, 0.2, 0.6}
	draftRows, _ := upload(t, b, tensor.FromF32(x[:k*n], k, n))
	for same := 0; same <= k; same++ {
		tv := slices.Clone(x[:same*n])
		for a := same; a <= k; a++ {
			r := k + a%2
			tv = append(tv, x[r*n:(r+1)*n]...)
		}
		targetRows, _ := upload(t, b, tensor.FromF32(tv, k+1, n))
		dOff, gen := c.KeepSample(draftRows, k, s, u)
		tOff, _ := c.KeepSample(targetRows, k+1, s, []float32{0, 0, 0, 0, v[k]})
		w := waits(b)
		vOff := c.KeepVerdict(dOff, tOff, k, v)
		ids, g := c.ReadKept()
		require.Equal(t, gen, g)
		if w >= 0 {
			require.Equal(t, w+1, waits(b), "same %d: the verdict comes back in one wait", same)
		}
		q, p := make([]float32, k*n), make([]float32, (k+1)*n)
		require.True(t, c.ReadKeptDists(q, gen, dOff, k))
		require.True(t, c.ReadKeptDists(p, gen, tOff, k+1))
		qs, ps := make([][]float32, k), make([][]float32, k+1)
		for a := range k + 1 {
			if a < k {
				qs[a] = q[a*n : (a+1)*n]
			}
			ps[a] = p[a*n : (a+1)*n]
		}
		wantA, wantNext := ops.Verdict(ids[dOff:dOff+k], qs, ps, ids[tOff+k], v)
		require.Equal(t, []int32{int32(wantA), wantNext}, ids[vOff:vOff+2], "same %d: accepted and next", same)
		t.Logf("same %d: %d of %d accepted, then %d", same, wantA, k, wantNext)
		require.GreaterOrEqual(t, wantA, same, "same %d: equal distributions pass", same)
		if same == k {
			require.Equal(t, ids[tOff+k], wantNext, "every draft accepted: then the target's draw")
		}
	}
	require.Panics(t, func() { c.KeepVerdict(0, 0, 4, v[:3]) }, "too few uniform numbers")
}
