//go:build cgo && linux

package emu

import (
	"cmp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/gpu"
	"github.com/gopard/gopard/gpu/gputest"
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

// linearLanes returns the prefetches of a linear layer's one block on d,
// in the order its threads ran, their addresses made offsets in the
// layer's weights (each device has its own copy).
func linearLanes(t *testing.T, d *gpu.Device, emu *driver) []prefetch {
	w, err := d.Load(tensor.Convert(tensor.FromF32(make([]float32, 8*256), 8, 256), tensor.BF16))
	require.NoError(t, err)
	x, out := d.Alloc(1, 256), d.Alloc(1, 8)
	emu.recording = true
	d.Linear(out, x, w, nil)
	got := emu.takePrefetches()
	emu.recording = false
	for i := range got {
		got[i].addr -= w.Ptr
	}
	d.Free(w)
	d.Free(x)
	d.Free(out)
	return got
}

// TestCopies: two drivers open at once run on copies of the kernels of
// their own (an order set on one leaves the other's alone), and a driver
// that reuses a closed one's copy starts in the default order.
func TestCopies(t *testing.T) {
	d1, drv1 := deviceOn(t, 32)
	first := linearLanes(t, d1, drv1.(*driver))
	require.Len(t, first, 256)
	drv1.(*driver).SetOrder(LastToFirst)
	last := slices.Clone(first)
	slices.Reverse(last)
	require.Equal(t, last, linearLanes(t, d1, drv1.(*driver)))

	d2, drv2 := deviceOn(t, 32)
	require.Equal(t, first, linearLanes(t, d2, drv2.(*driver)), "a second driver's order")
	require.Equal(t, last, linearLanes(t, d1, drv1.(*driver)), "the first driver's order, the second's open")
	require.NoError(t, d1.Close())
	d3, drv3 := deviceOn(t, 32) // d1's copy, put back
	require.Equal(t, first, linearLanes(t, d3, drv3.(*driver)), "a reused copy's order")
	require.NoError(t, d2.Close())
}

// TestOrders runs the kernel tests with each block's threads resumed in
// the emulator's two other orders (SetOrder), each order on a device of
// its own, in parallel: a barrier missing between a write to shared memory
// and another thread's read of it may pass by luck in the usual order,
// seldom in all three. That the order changes shows in the prefetches a
// linear layer's 256 lanes ask for before their first barrier, one each,
// which the emulator records in the order the threads ran.
func TestOrders(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	t.Parallel()
	lanes := func(t *testing.T, order int) (*gpu.Device, []prefetch) {
		d, drv := deviceOn(t, 32)
		drv.(*driver).SetOrder(order)
		return d, linearLanes(t, d, drv.(*driver))
	}
	_, first := lanes(t, FirstToLast)
	require.Len(t, first, 256)
	for _, o := range []struct {
		name  string
		order int
		want  func() []prefetch // first's prefetches in the order's order
	}{
		{"LastToFirst", LastToFirst, func() []prefetch {
			p := slices.Clone(first)
			slices.Reverse(p)
			return p
		}},
		{"WarpsAhead", WarpsAhead, func() []prefetch {
			var p []prefetch
			for w := 7; w >= 0; w-- {
				p = append(p, first[32*w:32*w+32]...)
			}
			return p
		}},
	} {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			d, got := lanes(t, o.order)
			require.Equal(t, o.want(), got)
			t.Run("Kernels", func(t *testing.T) { gputest.Kernels(t, d) })
			t.Run("FuseNorm", func(t *testing.T) { gputest.FuseNorm(t, d) })
			t.Run("KVCacheF16", func(t *testing.T) { gputest.KVCacheF16(t, d) })
		})
	}
}
