package pard

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
)

// chainFake is an argmaxFake with the ChainForwarder methods, as
// nn.Decoder has them on a backend without an IDChainer: the pending ids
// are computed at once, and ForwardArgmaxAfter forwards tokens and those
// ids together. It counts its calls and checks that the ids it is handed
// are the latest of another model.
type chainFake struct {
	*argmaxFake
	// pendingCalls counts both pending forwards, firstCalls the first of
	// an iteration (ForwardArgmaxPending), afterCalls the verifies.
	pendingCalls, firstCalls, afterCalls int
	pending                              fakePending
	prev, joined                         []int32
	spoilPrev                            func([]int32) []int32 // when set, what After returns as prev's ids
}

type fakePending struct {
	from *chainFake
	ids  []int32
	call int // from.pendingCalls when it was made
}

func (p *fakePending) IDs() ([]int32, error) {
	if p.call != p.from.pendingCalls {
		return nil, errors.New("stale pending ids")
	}
	return p.ids, nil
}

func (f *chainFake) ForwardArgmaxPending(tokens []int32, start, want int) (nn.Pending, error) {
	f.pendingCalls++
	f.firstCalls++
	ids, err := f.argmaxFake.ForwardArgmax(tokens, start, want)
	if err != nil {
		return nil, err
	}
	f.pending = fakePending{from: f, ids: ids, call: f.pendingCalls}
	return &f.pending, nil
}

// ForwardArgmaxPendingAfter feeds back the last feed ids of prev, which
// must be this model's latest handle, and holds prev's ids and its own.
func (f *chainFake) ForwardArgmaxPendingAfter(tokens []int32, prev nn.Pending, feed, start, want int) (nn.Pending, error) {
	if p, ok := prev.(*fakePending); !ok || p.from != f {
		return nil, fmt.Errorf("handed %T, not its own handle", prev)
	}
	ids, err := prev.IDs()
	if err != nil {
		return nil, err
	}
	f.prev = append(f.prev[:0], ids...)
	f.joined = append(append(f.joined[:0], tokens...), f.prev[len(f.prev)-feed:]...)
	f.pendingCalls++
	own, err := f.argmaxFake.ForwardArgmax(f.joined, start, want)
	if err != nil {
		return nil, err
	}
	f.pending = fakePending{from: f, ids: append(append([]int32(nil), f.prev...), own...), call: f.pendingCalls}
	return &f.pending, nil
}

func (f *chainFake) ForwardArgmaxAfter(tokens []int32, prev nn.Pending, start, want int) ([]int32, []int32, error) {
	f.afterCalls++
	if p, ok := prev.(*fakePending); !ok || p.from == f {
		return nil, nil, fmt.Errorf("handed %T from itself", prev)
	}
	ids, err := prev.IDs()
	if err != nil {
		return nil, nil, err
	}
	f.prev = append(f.prev[:0], ids...)
	f.joined = append(append(f.joined[:0], tokens...), ids...)
	own, err := f.argmaxFake.ForwardArgmax(f.joined, start, want)
	if f.spoilPrev != nil {
		return f.spoilPrev(f.prev), own, err
	}
	return f.prev, own, err
}

// TestChainedPARD: a greedy PARD or VSD engine whose models are both
// ChainForwarders (through WithInfo) hands each iteration's drafts from
// the draft's pending forwards to the target's ForwardArgmaxAfter, and
// generates what the rows path generates with the same stats; it does not
// chain for sampling, a minimum confidence (the cut needs the
// probabilities first) or when only one model can.
func TestChainedPARD(t *testing.T) {
	const vocab = 96
	eos := []int32{3, 17}
	prompts := testPrompts(10, vocab, 5)
	for _, tc := range []struct {
		name           string
		mode           Mode
		temp, minConf  float32
		target, draft  bool // which models are ChainForwarders
		chained        bool
		pardTokenIsBad bool
	}{
		{name: "pard", mode: PARD, target: true, draft: true, chained: true},
		{name: "pard-bad-draft", mode: PARD, target: true, draft: true, chained: true, pardTokenIsBad: true},
		{name: "pard/target-only", mode: PARD, target: true},
		{name: "pard/draft-only", mode: PARD, draft: true},
		{name: "pard/sampling", mode: PARD, temp: 0.8, target: true, draft: true},
		{name: "pard/min-confidence", mode: PARD, minConf: 0.3, target: true, draft: true},
		{name: "vsd", mode: VSD, target: true, draft: true, chained: true},
		{name: "vsd/min-confidence", mode: VSD, minConf: 0.3, target: true, draft: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []int{1, 4, 8} {
				for pi, prompt := range prompts {
					opt := chainRun(Options{Mode: tc.mode, K: k, MaxNewTokens: 40, Temperature: tc.temp, Seed: uint64(pi), MinConfidence: tc.minConf},
						pi, len(prompt), tc.pardTokenIsBad, vocab)
					rs := newFakeSet(t, vocab, eos)
					want, err := Generate(rs.target, rs.draftFor(tc.mode, tc.pardTokenIsBad), prompt, opt)
					require.NoError(t, err)

					cs := newFakeSet(t, vocab, eos)
					target := &chainFake{argmaxFake: &argmaxFake{fakeLM: cs.target}}
					draft := &chainFake{argmaxFake: &argmaxFake{fakeLM: cs.draftFor(tc.mode, tc.pardTokenIsBad)}}
					wrap := func(f *chainFake, chain bool) Model {
						if chain {
							return WithInfo(f, f.info)
						}
						return WithInfo(f.argmaxFake, f.info)
					}
					got, err := Generate(wrap(target, tc.target), wrap(draft, tc.draft), prompt, opt)
					require.NoError(t, err)
					msg := fmt.Sprintf("K=%d prompt %d", k, pi)
					require.Equal(t, want.Output, got.Output, msg)
					require.Equal(t, want.StopReason, got.StopReason, msg)
					require.Equal(t, counts(want.Stats), counts(got.Stats), msg)
					if !tc.chained {
						require.Zero(t, draft.pendingCalls+target.afterCalls, "%s: chained", msg)
						continue
					}
					// Every draft forward is a pending one, and each
					// iteration's drafts go to one verify; the other
					// verifies (no room for a draft) are plain.
					require.Equal(t, got.Stats.DraftForwards, draft.pendingCalls, msg)
					require.Equal(t, draft.pendingCalls, draft.idCalls, msg)
					require.Equal(t, draft.firstCalls, target.afterCalls, msg)
					if tc.mode == PARD {
						require.Equal(t, draft.pendingCalls, draft.firstCalls, msg)
					}
					require.Equal(t, got.Stats.TargetForwards, target.idCalls, msg)
					require.Zero(t, draft.rowCalls+target.rowCalls, msg)
				}
			}
		})
	}
}

// chainRun is opt for run pi of a chained engine's test over a prompt of
// plen tokens: every third run hits the context limit (iterations with
// fewer drafts, and none); with pardTokenIsBad, an AR model is the PARD
// draft.
func chainRun(opt Options, pi, plen int, pardTokenIsBad bool, vocab int) Options {
	if pi%3 == 0 {
		opt.MaxNewTokens, opt.MaxContext = 0, plen+7+pi
	}
	if pardTokenIsBad {
		opt.PardToken = int32(vocab - 1)
	}
	return opt
}

// draftFor is the draft of mode in s: the good AR draft for VSD, the PARD
// draft, or with pardTokenIsBad the bad AR draft.
func (s fakeSet) draftFor(mode Mode, pardTokenIsBad bool) *fakeLM {
	switch {
	case mode == VSD:
		return s.good
	case pardTokenIsBad:
		return s.bad
	}
	return s.pard
}

// TestChainedPARDChecked: the drafts and ids a chained verify returns are
// checked as the separate forwards' are.
func TestChainedPARDChecked(t *testing.T) {
	for want, spoil := range map[string]func([]int32) []int32{
		"draft pard-draft returned 1 argmax ids, want 2":                func(ids []int32) []int32 { return ids[:1] },
		"draft pard-draft returned argmax id 96 outside the vocabulary": func(ids []int32) []int32 { ids[1] = 96; return ids },
	} {
		fs := newFakeSet(t, 96, nil)
		target := &chainFake{argmaxFake: &argmaxFake{fakeLM: fs.target}, spoilPrev: spoil}
		draft := &chainFake{argmaxFake: &argmaxFake{fakeLM: fs.pard}}
		_, err := Generate(WithInfo(target, fs.target.info), WithInfo(draft, fs.pard.info), []int32{1}, Options{Mode: PARD, K: 2, MaxNewTokens: 9})
		require.ErrorContains(t, err, want)
	}
	fs := newFakeSet(t, 96, nil)
	target := &chainFake{argmaxFake: &argmaxFake{fakeLM: fs.target}}
	draft := &chainFake{argmaxFake: &argmaxFake{fakeLM: fs.pard}}
	draft.spoilPrev = nil
	_, err := Generate(WithInfo(target, fs.target.info), lyingChain{draft}, []int32{1}, Options{Mode: PARD, K: 2, MaxNewTokens: 9})
	require.ErrorContains(t, err, "draft pard-draft cache holds")
}

// lyingChain is a chainFake draft that reports a cache length its
// forwards do not produce.
type lyingChain struct{ *chainFake }

func (f lyingChain) Len() int { return f.chainFake.Len() + 1 }
func (f lyingChain) Info() ModelInfo {
	return f.chainFake.info
}

// trivialChain is trivialArgmax with the ChainForwarder methods.
type trivialChain struct {
	*trivialArgmax
	pending           fakeIDs
	prev, joined, buf []int32 // buf: the pending ids' own storage
}

type fakeIDs []int32

func (p *fakeIDs) IDs() ([]int32, error) { return *p, nil }

func (m *trivialChain) ForwardArgmaxPending(tokens []int32, start, want int) (nn.Pending, error) {
	ids, err := m.ForwardArgmax(tokens, start, want)
	m.buf = append(m.buf[:0], ids...)
	m.pending = m.buf
	return &m.pending, err
}

func (m *trivialChain) ForwardArgmaxPendingAfter(tokens []int32, prev nn.Pending, feed, start, want int) (nn.Pending, error) {
	ids, _ := prev.IDs()
	m.prev = append(m.prev[:0], ids...)
	m.joined = append(append(m.joined[:0], tokens...), m.prev[len(m.prev)-feed:]...)
	own, err := m.ForwardArgmax(m.joined, start, want)
	m.buf = append(append(m.buf[:0], m.prev...), own...)
	m.pending = m.buf
	return &m.pending, err
}

func (m *trivialChain) ForwardArgmaxAfter(tokens []int32, prev nn.Pending, start, want int) ([]int32, []int32, error) {
	ids, _ := prev.IDs()
	m.prev = append(m.prev[:0], ids...)
	m.joined = append(append(m.joined[:0], tokens...), ids...)
	own, err := m.ForwardArgmax(m.joined, start, want)
	return m.prev, own, err
}

// TestChainedNoAllocsPerIteration: the chained PARD and VSD iterations
// allocate nothing either.
func TestChainedNoAllocsPerIteration(t *testing.T) {
	for _, mode := range []Mode{PARD, VSD} {
		target := &trivialChain{trivialArgmax: &trivialArgmax{trivialLM: newTrivial(1000, -1)}}
		draft := &trivialChain{trivialArgmax: &trivialArgmax{trivialLM: newTrivial(1000, 999)}}
		allocs := func(n int) float64 {
			opt := Options{Mode: mode, K: 4, MaxNewTokens: n}
			return testing.AllocsPerRun(5, func() {
				res, err := Generate(target, draft, []int32{1, 2, 3}, opt)
				if err != nil || len(res.Output) != n {
					t.Fatal(err)
				}
			})
		}
		if short, long := allocs(50), allocs(1500); short != long {
			t.Errorf("%s: %v allocations for 50 tokens, %v for 1500", mode, short, long)
		}
		require.NotEmpty(t, target.joined, "%s: the chained verify was not used", mode)
	}
}
