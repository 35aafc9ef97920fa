package nn_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// sampleDevice is chainDevice with a SampleChainer that draws and tests
// on the host (ops.DraftDist, ops.Draw, ops.Verdict), keeping each draw's
// distribution beside its id as gpu.Device does.
type sampleDevice struct {
	*chainDevice
	dists [][]float32 // row i for kept id i; nil for an argmax id
}

func newSampleDevice() *sampleDevice { return &sampleDevice{chainDevice: newChainDevice()} }

// reopen starts a new list after a read, as chainDevice.KeepArgmax does,
// the distributions with the ids.
func (b *sampleDevice) reopen() {
	if b.closed {
		b.kept, b.dists, b.closed = b.kept[:0], b.dists[:0], false
		b.gen++
	}
}

func (b *sampleDevice) KeepArgmax(t *tensor.Tensor, rows int) (int, uint64) {
	b.reopen()
	b.dists = append(b.dists, make([][]float32, rows)...)
	return b.chainDevice.KeepArgmax(t, rows)
}

func (b *sampleDevice) KeepSample(t *tensor.Tensor, rows int, s nn.Sampling, u []float32) (int, uint64) {
	b.reopen()
	v := b.deviceCPU.host(t).F32() // (chainDevice.host is its list)
	n := len(v) / rows
	off := len(b.kept)
	for r := range rows {
		q := hostDist(v[r*n:(r+1)*n], s)
		b.kept = append(b.kept, int32(ops.Draw(q, float64(u[r]))))
		b.dists = append(b.dists, q)
	}
	return off, b.gen
}

// hostDist is a draw's distribution of a row: ops.DraftDist over its first
// s.Vocab values (all when 0).
func hostDist(row []float32, s nn.Sampling) []float32 {
	if s.Vocab > 0 {
		row = row[:s.Vocab]
	}
	q := make([]float32, len(row))
	ops.DraftDist(q, row, s.Temperature, s.TopK, s.TopP)
	return q
}

func (b *sampleDevice) KeepVerdict(drafts, target, k int, u []float32) int {
	a, next := ops.Verdict(b.kept[drafts:drafts+k], b.dists[drafts:drafts+k], b.dists[target:target+k+1], b.kept[target+k], u)
	off := len(b.kept)
	b.kept = append(b.kept, int32(a), next)
	b.dists = append(b.dists, nil, nil)
	return off
}

// TestForwardSampleChained: a PARD draft's ForwardSamplePending, or a VSD
// draft's ForwardSamplePending and ForwardSamplePendingAfter, followed by
// the target's ForwardVerifySampled give the draws ops.DraftDist and
// ops.Draw make from the draft's own rows (among the first Vocab values),
// and ops.Verdict's over them and the target's rows; the drafts never
// leave the device, no logits row comes back, the list comes back in one
// copy. On the host, sampling on a device is an error, as are bad
// settings and a handle of another count of drafts.
func TestForwardSampleChained(t *testing.T) {
	s := nn.Sampling{Temperature: 0.9, TopK: 20, TopP: 0.9, Vocab: 45}
	for _, vsd := range []bool{false, true} {
		dev := newSampleDevice()
		target, draft := randomDecoder(t, dev, tensor.BF16, 256, true), randomDecoder(t, dev, tensor.BF16, 256, false)
		refT, refD := randomDecoder(t, ops.NewCPU(2), tensor.BF16, 256, true), randomDecoder(t, ops.NewCPU(2), tensor.BF16, 256, false)
		require.True(t, draft.SamplesOnDevice())
		prompt := []int32{1, 5, 9, 2, 44, 17, 3}
		u := []float32{0.1, 0.9, 0.5, 0.3}
		v := []float32{0.01, 0.02, 0.99, 0.4, 0.6} // the verify's: the first test passes here, the second fails
		k := len(u)

		// The reference: the draft's rows, its draws, the target's rows,
		// its bonus draw and the verdict.
		var wantDrafts []int32
		var q [][]float32
		draw := func(row []float32, u float32) {
			d := hostDist(row, s)
			wantDrafts, q = append(wantDrafts, int32(ops.Draw(d, float64(u)))), append(q, d)
		}
		var h nn.Pending
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
			h, err = draft.ForwardSamplePending(prompt, 0, 1, s, u[:1])
			require.NoError(t, err)
			for j := 1; j < k; j++ {
				h, err = draft.ForwardSamplePendingAfter(nil, h, 1, draft.Len(), 1, s, u[j:j+1])
				require.NoError(t, err)
			}
		} else {
			in := append(slices.Clone(prompt), 49, 49, 49)
			rows, err := refD.Forward(in, 0, k)
			require.NoError(t, err)
			for j, r := range rows {
				draw(r, u[j])
			}
			h, err = draft.ForwardSamplePending(in, 0, k, s, u)
			require.NoError(t, err)
		}
		rows, err := refT.Forward(append(slices.Clone(prompt), wantDrafts...), 0, k+1)
		require.NoError(t, err)
		p := make([][]float32, k+1)
		for a, r := range rows {
			p[a] = hostDist(r, s)
		}
		wantA, wantNext := ops.Verdict(wantDrafts, q, p, int32(ops.Draw(p[k], float64(v[k]))), v)

		_, _, _, err = target.ForwardVerifySampled(prompt, h, 0, k-1, s, v[:k])
		require.ErrorContains(t, err, "not drawn", "vsd %v: a handle on another count of drafts", vsd)
		wide := s
		wide.Vocab = 0
		_, _, _, err = target.ForwardVerifySampled(prompt, h, 0, k, wide, v)
		require.ErrorContains(t, err, "drafts drawn among 45 tokens, the target's draws among 50", "vsd %v", vsd)
		if vsd {
			_, err = draft.ForwardSamplePendingAfter(nil, h, 1, draft.Len(), 1, wide, u[:1])
			require.ErrorContains(t, err, "draws among 50 tokens after draws among 45")
		}
		downloads, reads := dev.downloads, dev.reads
		drafts, a, next, err := target.ForwardVerifySampled(prompt, h, 0, k, s, v)
		require.NoError(t, err)
		require.Equal(t, wantDrafts, drafts, "vsd %v: drafts", vsd)
		require.Equal(t, []any{wantA, wantNext}, []any{a, next}, "vsd %v: verdict", vsd)
		t.Logf("vsd %v: %d of %d drafts accepted, then %d", vsd, a, k, next)
		require.Equal(t, downloads+1, dev.downloads, "vsd %v: one copy of the list", vsd)
		require.Equal(t, reads, dev.reads, "vsd %v: no logits row", vsd)
		fed := 0 // VSD feeds each draft but the last back to the draft
		if vsd {
			fed = k - 1
		}
		require.Equal(t, k+fed, dev.embedded, "vsd %v: drafts gathered on the device", vsd)
		require.Equal(t, len(prompt)+k, target.Len(), "vsd %v: target cache", vsd)

		// Bad settings.
		for _, c := range []struct {
			s nn.Sampling
			u []float32
		}{{nn.Sampling{}, u[:1]}, {s, nil}, {s, []float32{1}}, {nn.Sampling{Temperature: 1, TopP: 2}, u[:1]}, {nn.Sampling{Temperature: 1, Vocab: 51}, u[:1]}, {nn.Sampling{Temperature: 1e-40}, u[:1]}} {
			_, err := draft.ForwardSamplePending([]int32{8}, draft.Len(), 1, c.s, c.u)
			require.Error(t, err, "%+v %v", c.s, c.u)
		}
	}

	// A draft with a larger vocabulary than the target's, drawing among the
	// target's: its draws feed the verify on the device all the same.
	dev := newSampleDevice()
	target, draft := randomDecoder(t, dev, tensor.BF16, 256, true), randomDecoderVocab(t, dev, tensor.BF16, 256, false, 60)
	h, err := draft.ForwardSamplePending([]int32{1, 5, 49, 49}, 0, 3, s, []float32{0.2, 0.5, 0.8})
	require.NoError(t, err)
	downloads := dev.downloads
	drafts, _, _, err := target.ForwardVerifySampled([]int32{1, 5}, h, 0, 3, s, []float32{0.1, 0.2, 0.3, 0.4})
	require.NoError(t, err)
	require.Len(t, drafts, 3)
	require.Equal(t, downloads+1, dev.downloads, "drafts of a wider draft: still one copy")

	cpu := randomDecoder(t, ops.NewCPU(2), tensor.BF16, 256, false)
	require.False(t, cpu.SamplesOnDevice())
	_, err = cpu.ForwardSamplePending([]int32{1}, 0, 1, nn.Sampling{Temperature: 1}, []float32{0.5})
	require.ErrorContains(t, err, "does not draw ids on a device")
}
