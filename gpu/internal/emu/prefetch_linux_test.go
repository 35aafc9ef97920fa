//go:build cgo && linux

package emu

import (
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/gpu"
	"github.com/gopard/gopard/tensor"
)

// TestPrefetchLines checks the lines l2_prefetch asks L2 for, which the
// emulator records, against a budget shared out by hand.
func TestPrefetchLines(t *testing.T) {
	drv, err := Open(32)
	if errors.Is(err, ErrNoCompiler) || errors.Is(err, errUnavailable) {
		t.Skip(err)
	}
	require.NoError(t, err)
	d, err := gpu.NewDevice(drv)
	require.NoError(t, err)
	defer d.Close()
	load := func(dt tensor.DType, rows, cols int) *tensor.Tensor {
		w, err := d.Load(tensor.Convert(tensor.FromF32(make([]float32, rows*cols), rows, cols), dt))
		require.NoError(t, err)
		return w
	}
	// 10 000, 50 000 and 50 000 bytes under a budget of 64 KiB: the
	// first fits its third (21 845) and is taken whole; the other two
	// split the 55 536 left, 27 768 each, rounded down to 27 648, 216
	// lines of 128.
	small, big1, big2 := load(tensor.BF16, 50, 100), load(tensor.F32, 125, 100), load(tensor.F16, 250, 100)
	require.Equal(t, 64<<10, d.SetPrefetch(64<<10))
	emu := drv.(*driver)
	emu.recording = true
	d.PrefetchWeights([]*tensor.Tensor{small, big1, big2})
	got := emu.takePrefetches()
	emu.recording = false
	var want []uintptr
	for _, r := range []struct {
		w     *tensor.Tensor
		lines int
	}{{small, 79}, {big1, 216}, {big2, 216}} {
		for i := range r.lines {
			want = append(want, r.w.Ptr+uintptr(i*128))
		}
	}
	// The threads take the lines in turn: the emulator runs them one
	// after another, so the order is the threads', not the lines'.
	slices.Sort(got)
	slices.Sort(want)
	require.Equal(t, want, got)
	require.Equal(t, int64((79+216+216)*128), d.PrefetchedBytes())

	require.Equal(t, 0, d.SetPrefetch(0))
	d.PrefetchWeights([]*tensor.Tensor{small})
	require.Equal(t, int64((79+216+216)*128), d.PrefetchedBytes(), "off: nothing asked for")
	require.Panics(t, func() { d.PrefetchWeights(make([]*tensor.Tensor, 5)) }, "five tensors")
}
