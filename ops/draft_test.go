package ops

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDraftDist(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	e := func(x float64) float64 { return math.Exp(x) }
	// norm divides weights by their sum.
	norm := func(w ...float64) []float32 {
		var s float64
		for _, v := range w {
			s += v
		}
		q := make([]float32, len(w))
		for i, v := range w {
			q[i] = float32(v / s)
		}
		return q
	}
	for _, c := range []struct {
		name   string
		logits []float32
		temp   float32
		topK   int
		topP   float32
		want   []float32
	}{
		{"softmax", []float32{0, 1, 2}, 1, 0, 0, norm(e(-2), e(-1), 1)},
		{"temperature", []float32{0, 1, 2}, 2, 0, 0, norm(e(-1), e(-0.5), 1)},
		{"top-k 2", []float32{0, 1, 2}, 1, 2, 0, norm(0, e(-1), 1)},
		{"top-k keeps ties", []float32{1, 0, 1, 2}, 1, 2, 0, norm(e(-1), 0, e(-1), 1)},
		{"top-k off at n", []float32{0, 1}, 1, 2, 0, norm(e(-1), 1)},
		// Masses 1, e^-1 ≈ .368, e^-2 ≈ .135 of 1.503: the top one holds
		// .665, the top two .910.
		{"top-p .6", []float32{0, 1, 2}, 1, 0, 0.6, norm(0, 0, 1)},
		{"top-p .7", []float32{0, 1, 2}, 1, 0, 0.7, norm(0, e(-1), 1)},
		{"top-p .95", []float32{0, 1, 2}, 1, 0, 0.95, norm(e(-2), e(-1), 1)},
		{"top-p 1 is off", []float32{0, 1, 2}, 1, 0, 1, norm(e(-2), e(-1), 1)},
		{"top-p keeps ties", []float32{1, 2, 1}, 1, 0, 0.7, norm(e(-1), 1, e(-1))},
		{"top-k then top-p", []float32{0, 1, 2, 3}, 1, 3, 0.7, norm(0, 0, e(-1), 1)},
		{"NaN as -Inf", []float32{nan, 1, 1}, 1, 0, 0, norm(0, 1, 1)},
		{"-Inf", []float32{-inf, 0}, 1, 0, 0, norm(0, 1)},
		{"nothing finite", []float32{-inf, nan, -inf}, 1, 0, 0, []float32{1, 0, 0}},
		{"all NaN", []float32{nan, nan}, 1, 0, 0, []float32{1, 0}},
		{"+Inf wins", []float32{0, inf, inf}, 1, 0, 0, []float32{0, 1, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := make([]float32, len(c.logits))
			DraftDist(q, c.logits, c.temp, c.topK, c.topP)
			require.InDeltaSlice(t, c.want, q, 1e-6)
		})
	}
}

func TestDraw(t *testing.T) {
	q := []float32{0, 0.25, 0, 0.5, 0.25}
	for _, c := range []struct {
		u    float64
		want int
	}{{0, 1}, {0.2499, 1}, {0.25, 3}, {0.7499, 3}, {0.75, 4}, {0.9999, 4}, {1, 4}} {
		require.Equal(t, c.want, Draw(q, c.u), "u %v", c.u)
	}
	require.Equal(t, 0, Draw([]float32{0, 0}, 0.5), "no weight")
}
