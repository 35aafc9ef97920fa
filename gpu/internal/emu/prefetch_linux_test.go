//go:build cgo && linux

package emu

import (
	"cmp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/tensor"
)

// TestPrefetchChunks checks the bulk prefetches l2_prefetch asks for, which
// the emulator records, against a budget shared out by hand.
func TestPrefetchChunks(t *testing.T) {
	d, drv := deviceOn(t, 32)
	load := func(dt tensor.DType, rows, cols int) *tensor.Tensor {
		w, err := d.Load(tensor.Convert(tensor.FromF32(make([]float32, rows*cols), rows, cols), dt))
		require.NoError(t, err)
		return w
	}
	// 10 000, 200 000 and 200 000 bytes under a budget of 256 KiB: the
	// first fits its third (87 381) and is taken whole; the other two
	// split the 252 144 left, 126 072 each, rounded down to a multiple of
	// 16: 126 064, seven chunks of 16 384 and one of 11 376.
	small, big1, big2 := load(tensor.BF16, 50, 100), load(tensor.F32, 500, 100), load(tensor.F16, 1000, 100)
	require.Equal(t, 256<<10, d.SetPrefetch(256<<10))
	emu := drv.(*driver)
	emu.recording = true
	d.PrefetchWeights([]*tensor.Tensor{small, big1, big2})
	got := emu.takePrefetches()
	emu.recording = false
	want := []prefetch{{small.Ptr, 10000}}
	for _, w := range []*tensor.Tensor{big1, big2} {
		for i := range 7 {
			want = append(want, prefetch{w.Ptr + uintptr(i*16384), 16384})
		}
		want = append(want, prefetch{w.Ptr + 7*16384, 11376})
	}
	// The emulator runs the threads one after another: sort both.
	byAddr := func(a, b prefetch) int { return cmp.Compare(a.addr, b.addr) }
	slices.SortFunc(got, byAddr)
	slices.SortFunc(want, byAddr)
	require.Equal(t, want, got)
	require.Equal(t, int64(10000+2*126064), d.PrefetchedBytes())

	// A tensor that is not 16-byte aligned is left out.
	odd := big1.RowSlice(0, 1)
	odd.Ptr += 4
	emu.recording = true
	d.PrefetchWeights([]*tensor.Tensor{odd, small})
	got = emu.takePrefetches()
	emu.recording = false
	require.Equal(t, []prefetch{{small.Ptr, 10000}}, got)

	require.Equal(t, 0, d.SetPrefetch(0))
	before := d.PrefetchedBytes()
	d.PrefetchWeights([]*tensor.Tensor{small})
	require.Equal(t, before, d.PrefetchedBytes(), "off: nothing asked for")
	require.Panics(t, func() { d.PrefetchWeights(make([]*tensor.Tensor, 5)) }, "five tensors")
}
