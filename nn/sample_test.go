package nn_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// sampleDevice is chainDevice with a SampleChainer that draws on the host
// (ops.DraftDist, ops.Draw), keeping each draw's distribution beside its
// id as gpu.Device does.
type sampleDevice struct {
	*chainDevice
	dists [][]float32 // row i for kept id i; nil for an argmax id
}

func newSampleDevice() *sampleDevice { return &sampleDevice{chainDevice: newChainDevice()} }

func (b *sampleDevice) reopen() {
	if b.closed {
		b.dists = b.dists[:0]
	}
}

func (b *sampleDevice) KeepArgmax(t *tensor.Tensor, rows int) (int, uint64) {
	b.reopen()
	b.dists = append(b.dists, make([][]float32, rows)...)
	return b.chainDevice.KeepArgmax(t, rows)
}

func (b *sampleDevice) KeepSample(t *tensor.Tensor, rows int, s nn.Sampling, u []float32) (int, uint64) {
	b.reopen()
	if b.closed {
		b.kept, b.closed = b.kept[:0], false
		b.gen++
	}
	v := b.deviceCPU.host(t).F32() // (chainDevice.host is its list)
	n := len(v) / rows
	off := len(b.kept)
	for r := range rows {
		q := make([]float32, n)
		ops.DraftDist(q, v[r*n:(r+1)*n], s.Temperature, s.TopK, s.TopP)
		b.kept = append(b.kept, int32(ops.Draw(q, float64(u[r]))))
		b.dists = append(b.dists, q)
	}
	return off, b.gen
}

func (b *sampleDevice) ReadKeptDists(dst []float32, gen uint64, off, n int) bool {
	if gen != b.gen {
		return false
	}
	dst = dst[:0]
	for _, q := range b.dists[off : off+n] {
		if q == nil {
			panic("ReadKeptDists: an argmax id")
		}
		dst = append(dst, q...)
	}
	return true
}

// TestForwardSampleChained: a PARD draft's ForwardSamplePending, or a VSD
// draft's ForwardSamplePending and ForwardSamplePendingAfter, followed by
// the target's ForwardAfter give the draws ops.DraftDist and ops.Draw make
// from the draft's own rows, the target's rows over its tokens and those
// draws, and the distributions; the drafts never leave the device and
// the pair copies the list back once. On the host, sampling on a device
// is an error, and a handle's distributions need its ids read first and
// its list still the newest.
func TestForwardSampleChained(t *testing.T) {
	s := nn.Sampling{Temperature: 0.9, TopK: 20, TopP: 0.9}
	for _, vsd := range []bool{false, true} {
		dev := newSampleDevice()
		target, draft := randomDecoder(t, dev, tensor.BF16, 256, true), randomDecoder(t, dev, tensor.BF16, 256, false)
		refT, refD := randomDecoder(t, ops.NewCPU(2), tensor.BF16, 256, true), randomDecoder(t, ops.NewCPU(2), tensor.BF16, 256, false)
		require.True(t, draft.SamplesOnDevice())
		prompt := []int32{1, 5, 9, 2, 44, 17, 3}
		u := []float32{0.1, 0.9, 0.5, 0.3}
		k := len(u)

		// The reference: the draft's rows, its draws, then the target's rows.
		var wantDrafts []int32
		var wantDists [][]float32
		draw := func(row []float32, u float32) {
			q := make([]float32, len(row))
			ops.DraftDist(q, row, s.Temperature, s.TopK, s.TopP)
			wantDrafts, wantDists = append(wantDrafts, int32(ops.Draw(q, float64(u)))), append(wantDists, q)
		}
		var p nn.Sampled
		var err error
		if vsd {
			rows, err := refD.Forward(prompt, 0, 1)
			require.NoError(t, err)
			draw(rows[0], u[0])
			for j := 1; j < k; j++ {
				rows, err := refD.Forward(wantDrafts[j-1:j], refD.Len(), 1)
				require.NoError(t, err)
				draw(rows[0], u[j])
			}
			p, err = draft.ForwardSamplePending(prompt, 0, 1, s, u[:1])
			require.NoError(t, err)
			for j := 1; j < k; j++ {
				p, err = draft.ForwardSamplePendingAfter(nil, p, 1, draft.Len(), 1, s, u[j:j+1])
				require.NoError(t, err)
			}
		} else {
			in := append(slices.Clone(prompt), 49, 49, 49)
			rows, err := refD.Forward(in, 0, k)
			require.NoError(t, err)
			for j, r := range rows {
				draw(r, u[j])
			}
			p, err = draft.ForwardSamplePending(in, 0, k, s, u)
			require.NoError(t, err)
		}
		_, err = p.Dists()
		require.Error(t, err, "distributions before the ids")
		wantRows, err := refT.Forward(append(slices.Clone(prompt), wantDrafts...), 0, k+1)
		require.NoError(t, err)

		downloads, reads := dev.downloads, dev.reads
		drafts, rows, err := target.ForwardAfter(prompt, p, 0, k+1)
		require.NoError(t, err)
		require.Equal(t, wantDrafts, drafts, "vsd %v: drafts", vsd)
		require.Equal(t, wantRows, rows, "vsd %v: target rows", vsd)
		require.Equal(t, downloads+1, dev.downloads, "vsd %v: one copy of the list", vsd)
		require.Equal(t, reads+1, dev.reads, "vsd %v: the target's rows, no draft row", vsd)
		fed := 0 // VSD feeds each draft but the last back to the draft
		if vsd {
			fed = k - 1
		}
		require.Equal(t, k+fed, dev.embedded, "vsd %v: drafts gathered on the device", vsd)
		dists, err := p.Dists()
		require.NoError(t, err)
		require.Equal(t, wantDists, dists, "vsd %v: distributions", vsd)

		// A new list: the handle's distributions are gone.
		_, err = draft.ForwardArgmaxPending([]int32{7}, draft.Len(), 1)
		require.NoError(t, err)
		q, err := draft.ForwardSamplePending([]int32{8}, draft.Len(), 1, s, u[:1])
		require.NoError(t, err)
		_, err = q.IDs()
		require.NoError(t, err)
		_, _ = target.ForwardArgmaxPending([]int32{9}, target.Len(), 1) // opens the next list
		_, err = q.Dists()
		require.ErrorContains(t, err, "gone")

		// Bad settings.
		for _, c := range []struct {
			s nn.Sampling
			u []float32
		}{{nn.Sampling{}, u[:1]}, {s, nil}, {s, []float32{1}}, {nn.Sampling{Temperature: 1, TopP: 2}, u[:1]}} {
			_, err := draft.ForwardSamplePending([]int32{8}, draft.Len(), 1, c.s, c.u)
			require.Error(t, err, "%+v %v", c.s, c.u)
		}
	}

	cpu := randomDecoder(t, ops.NewCPU(2), tensor.BF16, 256, false)
	require.False(t, cpu.SamplesOnDevice())
	_, err := cpu.ForwardSamplePending([]int32{1}, 0, 1, s, []float32{0.5})
	require.ErrorContains(t, err, "does not draw ids on a device")
}
