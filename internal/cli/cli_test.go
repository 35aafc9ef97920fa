package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 4}, 4},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{2, 2, 9, 1, 2}, 2},
	} {
		in := append([]float64(nil), c.in...)
		if got := Median(in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
		for i := range in {
			if in[i] != c.in[i] {
				t.Errorf("Median(%v) reordered its input to %v", c.in, in)
				break
			}
		}
	}
}

// TestLoadProgress: nothing in a load's first second, then the line
// rewritten at most five times a second, and always at the end.
func TestLoadProgress(t *testing.T) {
	var w strings.Builder
	p := loadProgress(&w, "m", time.Now())
	p(1e9, 4e9)
	require.Empty(t, w.String(), "a load shorter than a second says nothing more")

	w.Reset()
	p = loadProgress(&w, "m", time.Now().Add(-2*time.Second))
	p(1e9, 4e9)
	p(2e9, 4e9) // within 200 ms of the last
	p(4e9, 4e9) // the end
	require.Equal(t, "\rloading m ... 1.0 of 4.0 GB\rloading m ... 4.0 of 4.0 GB", w.String())
}
