package nn_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// chainDevice is argmaxDevice with an IDChainer whose list lives in host
// memory, with gpu.Device's generations, counting the copies back.
type chainDevice struct {
	*argmaxDevice
	kept, host []int32
	gen        uint64
	closed     bool
	downloads  int // ReadKept calls that copied
	embedded   int // ids gathered through EmbeddingKept
}

func newChainDevice() *chainDevice {
	return &chainDevice{argmaxDevice: &argmaxDevice{deviceCPU: newDeviceCPU()}}
}

func (b *chainDevice) KeepArgmax(t *tensor.Tensor, rows int) (int, uint64) {
	if b.closed {
		b.kept, b.closed = b.kept[:0], false
		b.gen++
	}
	off := len(b.kept)
	b.kept = append(b.kept, b.Argmax(t, rows)...)
	return off, b.gen
}

func (b *chainDevice) EmbeddingKept(out, table *tensor.Tensor, off, n int) {
	if off < 0 || off+n > len(b.kept) {
		panic(fmt.Sprintf("EmbeddingKept: ids %d..%d of %d", off, off+n-1, len(b.kept)))
	}
	b.embedded += n
	b.Embedding(out, table, b.kept[off:off+n])
}

func (b *chainDevice) ReadKept() ([]int32, uint64) {
	if !b.closed {
		b.closed = true
		b.downloads++
		b.host = append(b.host[:0], b.kept...)
	}
	return b.host, b.gen
}

func (b *chainDevice) KeptGeneration() uint64 {
	if b.closed {
		return b.gen + 1
	}
	return b.gen
}

// TestForwardArgmaxChained: a draft's ForwardArgmaxPending followed by a
// target's ForwardArgmaxAfter gives the ids of the draft's ForwardArgmax
// and of the target's ForwardArgmax over its tokens and those ids, over a
// run of PARD-shaped iterations (and across the chunks of a small chunk
// size). On one chaining device the drafts never leave it: each pair costs
// one copy back and no logits rows. Across backends, on the host, or with
// a handle already read, the ids go through the host with the same result.
func TestForwardArgmaxChained(t *testing.T) {
	type setup struct {
		target, draft nn.Backend
		chained       bool
	}
	one := newChainDevice()
	setups := map[string]func() setup{
		"one-device": func() setup { b := newChainDevice(); return setup{b, b, true} },
		"host":       func() setup { return setup{ops.NewCPU(2), ops.NewCPU(2), false} },
		"two-devices": func() setup {
			return setup{newChainDevice(), newChainDevice(), false}
		},
		"host-draft":   func() setup { return setup{newChainDevice(), ops.NewCPU(2), false} },
		"device-draft": func() setup { return setup{ops.NewCPU(2), one, false} },
	}
	// Each iteration: the target's uncached tokens, the draft's input, K.
	iterations := []struct {
		target, draft []int32
		k             int
	}{
		{[]int32{1, 5, 9, 2, 44, 17, 3}, []int32{1, 5, 9, 2, 44, 17, 3, 49, 49, 49}, 4}, // a prefill
		{[]int32{8}, []int32{8, 49, 49, 49}, 4},
		{[]int32{12, 30}, []int32{12, 30, 49}, 2},
		{[]int32{7}, []int32{7}, 1},
		{[]int32{4, 4, 6}, []int32{4, 4, 6, 49, 49, 49, 49, 49}, 6},
	}
	for name, mk := range setups {
		for _, chunk := range []int{256, 3} {
			t.Run(fmt.Sprintf("%s/chunk=%d", name, chunk), func(t *testing.T) {
				s := mk()
				target, draft := randomDecoder(t, s.target, tensor.BF16, chunk, true), randomDecoder(t, s.draft, tensor.BF16, chunk, false)
				refT, refD := randomDecoder(t, ops.NewCPU(2), tensor.BF16, chunk, true), randomDecoder(t, ops.NewCPU(2), tensor.BF16, chunk, false)
				dev, _ := s.target.(*chainDevice)
				for i, it := range iterations {
					wantDrafts, err := refD.ForwardArgmax(it.draft, refD.Len(), it.k)
					require.NoError(t, err)
					wantDrafts = append([]int32(nil), wantDrafts...)
					wantIDs, err := refT.ForwardArgmax(append(append([]int32(nil), it.target...), wantDrafts...), refT.Len(), it.k+1)
					require.NoError(t, err)

					var downloads, reads int
					if dev != nil {
						downloads, reads = dev.downloads, dev.reads
					}
					p, err := draft.ForwardArgmaxPending(it.draft, draft.Len(), it.k)
					require.NoError(t, err)
					drafts, ids, err := target.ForwardArgmaxAfter(it.target, p, target.Len(), it.k+1)
					require.NoError(t, err)
					require.Equal(t, wantDrafts, drafts, "iteration %d: drafts", i)
					require.Equal(t, wantIDs, ids, "iteration %d: target ids", i)
					again, err := p.IDs()
					require.NoError(t, err)
					require.Equal(t, wantDrafts, again, "iteration %d: the handle's ids after the verify", i)
					require.Equal(t, refD.Len(), draft.Len(), "iteration %d: draft cache", i)
					require.Equal(t, refT.Len(), target.Len(), "iteration %d: target cache", i)
					if s.chained {
						require.Equal(t, downloads+1, dev.downloads, "iteration %d: copies back", i)
						require.Equal(t, reads, dev.reads, "iteration %d: logits read", i)
					}
					// Rewind as an engine would after rejecting the last draft.
					refT.Truncate(refT.Len() - 1)
					target.Truncate(target.Len() - 1)
					refD.Truncate(refD.Len() - (it.k - 1))
					draft.Truncate(draft.Len() - (it.k - 1))
				}
				if s.chained {
					require.Equal(t, 4+4+2+1+6, dev.embedded, "drafts gathered on the device")
				}
			})
		}
	}
}

// TestForwardArgmaxChainedFallbacks: a handle whose ids were read, or
// whose list was read and closed by another handle's reader, still gives
// the right ids; a handle whose list was replaced reports it.
func TestForwardArgmaxChainedFallbacks(t *testing.T) {
	b := newChainDevice()
	target, draft := randomDecoder(t, b, tensor.BF16, 256, true), randomDecoder(t, b, tensor.BF16, 256, false)
	refT, refD := randomDecoder(t, ops.NewCPU(2), tensor.BF16, 256, true), randomDecoder(t, ops.NewCPU(2), tensor.BF16, 256, false)
	in := []int32{3, 9, 27, 49, 49}
	wantDrafts, err := refD.ForwardArgmax(in, 0, 3)
	require.NoError(t, err)
	wantDrafts = append([]int32(nil), wantDrafts...)
	wantIDs, err := refT.ForwardArgmax(append([]int32{3, 9, 27}, wantDrafts...), 0, 4)
	require.NoError(t, err)

	// Read before the verify: the verify takes them from the host.
	p, err := draft.ForwardArgmaxPending(in, 0, 3)
	require.NoError(t, err)
	got, err := p.IDs()
	require.NoError(t, err)
	require.Equal(t, wantDrafts, got)
	embedded := b.embedded
	drafts, ids, err := target.ForwardArgmaxAfter([]int32{3, 9, 27}, p, 0, 4)
	require.NoError(t, err)
	require.Equal(t, wantDrafts, drafts)
	require.Equal(t, wantIDs, ids)
	require.Equal(t, embedded, b.embedded, "ids already read are not gathered from the list")

	// A later list replaces the handle's: IDs reports it.
	draft.Truncate(0)
	p, err = draft.ForwardArgmaxPending(in, 0, 3)
	require.NoError(t, err)
	b.ReadKept()                    // closes the list
	b.KeepArgmax(b.Alloc(2, 10), 2) // and opens another
	_, _, err = draft.ForwardArgmaxAfter(nil, p, 5, 1)
	require.ErrorContains(t, err, "are gone")
}

// TestForwardArgmaxPendingAfter: an autoregressive draft's K sequential
// forwards, each fed the draft before it through ForwardArgmaxPendingAfter,
// leave one handle on all K drafts, which the target's verify takes: the
// ids of the same forwards run one by one on the host. On one chaining
// device an iteration copies back once.
func TestForwardArgmaxPendingAfter(t *testing.T) {
	setups := map[string]func() (target, draft nn.Backend, chained bool){
		"one-device":   func() (nn.Backend, nn.Backend, bool) { b := newChainDevice(); return b, b, true },
		"host":         func() (nn.Backend, nn.Backend, bool) { return ops.NewCPU(2), ops.NewCPU(2), false },
		"two-devices":  func() (nn.Backend, nn.Backend, bool) { return newChainDevice(), newChainDevice(), false },
		"device-draft": func() (nn.Backend, nn.Backend, bool) { return ops.NewCPU(2), newChainDevice(), false },
	}
	iterations := []struct {
		target, draft []int32 // uncached tokens of each
		k             int
	}{
		{[]int32{1, 5, 9, 2, 44, 17, 3}, []int32{1, 5, 9, 2, 44, 17, 3}, 4},
		{[]int32{8}, []int32{8}, 3},
		{[]int32{12, 30}, []int32{12, 30}, 1},
		{[]int32{7}, []int32{7}, 5},
	}
	for name, mk := range setups {
		for _, chunk := range []int{256, 2} {
			t.Run(fmt.Sprintf("%s/chunk=%d", name, chunk), func(t *testing.T) {
				tb, db, chained := mk()
				target, draft := randomDecoder(t, tb, tensor.BF16, chunk, true), randomDecoder(t, db, tensor.BF16, chunk, false)
				refT, refD := randomDecoder(t, ops.NewCPU(2), tensor.BF16, chunk, true), randomDecoder(t, ops.NewCPU(2), tensor.BF16, chunk, false)
				dev, _ := tb.(*chainDevice)
				for i, it := range iterations {
					var want []int32
					in := it.draft
					for range it.k {
						ids, err := refD.ForwardArgmax(in, refD.Len(), 1)
						require.NoError(t, err)
						want = append(want, ids[0])
						in = want[len(want)-1:]
					}
					wantIDs, err := refT.ForwardArgmax(append(append([]int32(nil), it.target...), want...), refT.Len(), it.k+1)
					require.NoError(t, err)

					var downloads int
					if dev != nil {
						downloads = dev.downloads
					}
					p, err := draft.ForwardArgmaxPending(it.draft, draft.Len(), 1)
					require.NoError(t, err)
					for range it.k - 1 {
						p, err = draft.ForwardArgmaxPendingAfter(nil, p, 1, draft.Len(), 1)
						require.NoError(t, err)
					}
					drafts, ids, err := target.ForwardArgmaxAfter(it.target, p, target.Len(), it.k+1)
					require.NoError(t, err)
					require.Equal(t, want, drafts, "iteration %d: drafts", i)
					require.Equal(t, wantIDs, ids, "iteration %d: target ids", i)
					require.Equal(t, refD.Len(), draft.Len(), "iteration %d: draft cache", i)
					if chained {
						require.Equal(t, downloads+1, dev.downloads, "iteration %d: copies back", i)
					}
					// Rewind as a VSD engine would after rejecting the last draft.
					refT.Truncate(refT.Len() - 1)
					target.Truncate(target.Len() - 1)
					refD.Truncate(refD.Len() - 1)
					draft.Truncate(draft.Len() - 1)
				}
			})
		}
	}

	// Feeding back more ids than the handle holds is an error.
	d := randomDecoder(t, ops.NewCPU(2), tensor.BF16, 256, false)
	p, err := d.ForwardArgmaxPending([]int32{1, 2}, 0, 1)
	require.NoError(t, err)
	_, err = d.ForwardArgmaxPendingAfter(nil, p, 2, 2, 1)
	require.ErrorContains(t, err, "feeding back 2 of 1 ids")
}
