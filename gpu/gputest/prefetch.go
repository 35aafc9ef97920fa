package gputest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/tensor"
)

// Prefetching is what Prefetch needs of a backend beyond nn.Backend: the
// weight prefetching of gpu.Device.
type Prefetching interface {
	nn.Backend
	nn.Prefetcher
	SetPrefetch(bytes int) int
	PrefetchedBytes() int64
}

// wholePrefetch is what prefetching a whole tensor asks for: its bytes
// rounded down to a multiple of 16 (the bulk prefetch's unit).
func wholePrefetch(t *tensor.Tensor) int64 {
	return int64(t.Len()*t.DType.Size()) / 16 * 16
}

// Prefetch runs a small random decoder on b with weight prefetching off
// and on (budget bytes a call; gpu.PrefetchHalfL2 for the default): a
// prompt of 9 tokens, then two decoding steps. The logits must be the
// same bits either way (a prefetch changes no result), and each forward
// with logits must ask for every weight the decoder names: per layer its
// o, gate and up projections after q/k/v, and after its MLP the next
// layer's q, k and v, or the LM head after the last. The model is small
// enough for the default budget to take every tensor whole.
func Prefetch(t *testing.T, b Prefetching, budget int) {
	cfg := smallConfig(2)
	w := randomModel(t, b, rng(15), cfg)
	var perForward int64
	for l, lw := range w.Layers {
		perForward += wholePrefetch(lw.O) + wholePrefetch(lw.Gate) + wholePrefetch(lw.Up)
		if l+1 < len(w.Layers) {
			next := w.Layers[l+1]
			perForward += wholePrefetch(next.Q) + wholePrefetch(next.K) + wholePrefetch(next.V)
		} else {
			perForward += wholePrefetch(w.LMHead)
		}
	}
	steps := []step{{[]int32{5, 17, 250, 3, 99, 42, 7, 7, 120}, 2}, {[]int32{11}, 1}, {[]int32{260}, 1}}
	run := func() [][]float32 { return decodeLogits(t, b, cfg, w, 16, steps) }

	b.SetPrefetch(0)
	before := b.PrefetchedBytes()
	want := run()
	require.Equal(t, before, b.PrefetchedBytes(), "prefetching off asks for nothing")
	set := b.SetPrefetch(budget)
	defer b.SetPrefetch(0)
	if set == 0 {
		t.Skipf("%s cannot prefetch into its L2", b.Name())
	}
	require.Equal(t, want, run(), "logits with prefetching on ≠ off")
	got := b.PrefetchedBytes() - before
	require.Equal(t, 3*perForward, got, "bytes asked for in three forwards (budget %d)", set)
	t.Logf("%s: %d bytes a forward asked for, budget %d a call", b.Name(), got/3, set)
}
