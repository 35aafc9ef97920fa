package pard

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
)

// sampleChainFake is a chainFake with the SampleChainForwarder methods, as
// nn.Decoder has them on a GPU, drawing on the host as the device does
// (ops.DraftDist, then ops.Draw by the uniform number). It counts its
// draws' forwards and its verifies after another model's handle.
type sampleChainFake struct {
	*chainFake
	onDevice                bool
	drawCalls, rowsAfter    int
	sampled                 fakeSampled
	spoilDists              func([][]float32) // when set, applied to each handle's distributions
	drawnIDs, joinedSampled []int32
}

// fakeSampled is a handle on drawn ids and their distributions.
type fakeSampled struct {
	fakePending
	dists [][]float32
}

func (p *fakeSampled) Dists() ([][]float32, error) {
	if p.call != p.from.pendingCalls {
		return nil, errors.New("stale sampled handle")
	}
	return p.dists, nil
}

func (f *sampleChainFake) SamplesOnDevice() bool { return f.onDevice }

// draw forwards tokens and draws one id a wanted row, appending the ids
// and copies of the distributions to the handle's (held) ones.
func (f *sampleChainFake) draw(tokens []int32, start, want int, s nn.Sampling, u []float32, ids []int32, dists [][]float32) (nn.Sampled, error) {
	if len(u) != want {
		return nil, fmt.Errorf("%d uniform numbers for %d draws", len(u), want)
	}
	f.drawCalls++
	f.pendingCalls++
	rows, err := f.fakeLM.Forward(tokens, start, want)
	if err != nil {
		return nil, err
	}
	for i, r := range rows {
		q := make([]float32, len(r))
		ops.DraftDist(q, r, s.Temperature, s.TopK, s.TopP)
		ids = append(ids, int32(ops.Draw(q, float64(u[i]))))
		dists = append(dists, q)
	}
	if f.spoilDists != nil {
		f.spoilDists(dists)
	}
	f.sampled = fakeSampled{fakePending{from: f.chainFake, ids: ids, call: f.pendingCalls}, dists}
	return &f.sampled, nil
}

func (f *sampleChainFake) ForwardSamplePending(tokens []int32, start, want int, s nn.Sampling, u []float32) (nn.Sampled, error) {
	f.firstCalls++
	return f.draw(tokens, start, want, s, u, nil, nil)
}

func (f *sampleChainFake) ForwardSamplePendingAfter(tokens []int32, prev nn.Pending, feed, start, want int, s nn.Sampling, u []float32) (nn.Sampled, error) {
	p, ok := prev.(*fakeSampled)
	if !ok || p.from != f.chainFake || p.call != f.pendingCalls {
		return nil, fmt.Errorf("handed %T, not its own latest handle", prev)
	}
	f.joinedSampled = append(append(f.joinedSampled[:0], tokens...), p.ids[len(p.ids)-feed:]...)
	return f.draw(f.joinedSampled, start, want, s, u, slices.Clone(p.ids), slices.Clone(p.dists))
}

func (f *sampleChainFake) ForwardAfter(tokens []int32, prev nn.Pending, start, want int) ([]int32, [][]float32, error) {
	f.rowsAfter++
	if p, ok := prev.(*fakeSampled); !ok || p.from == f.chainFake {
		return nil, nil, fmt.Errorf("handed %T from itself", prev)
	}
	ids, err := prev.IDs()
	if err != nil {
		return nil, nil, err
	}
	f.drawnIDs = append(f.drawnIDs[:0], ids...)
	f.joined = append(append(f.joined[:0], tokens...), ids...)
	rows, err := f.fakeLM.Forward(f.joined, start, want)
	return f.drawnIDs, rows, err
}

func newSampleChainFake(m *fakeLM, onDevice bool) *sampleChainFake {
	return &sampleChainFake{chainFake: &chainFake{argmaxFake: &argmaxFake{fakeLM: m}}, onDevice: onDevice}
}

// TestChainedSampling: a sampling PARD or VSD engine whose models both
// draw on the device hands each iteration's drafts to one ForwardAfter and
// reads no draft rows; its draws take the uniform numbers the host's
// would, so it mostly generates what the rows path does with the same
// seed (the draft distributions differ in rounding, ops.DraftDist against
// the sampler); it does not chain with a minimum confidence, when a model
// cannot draw on its device, or for greedy decoding.
func TestChainedSampling(t *testing.T) {
	const vocab = 96
	eos := []int32{3, 17}
	prompts := testPrompts(10, vocab, 5)
	for _, tc := range []struct {
		name           string
		mode           Mode
		temp, minConf  float32
		topK           int
		topP           float32
		onDevice       bool
		chained        bool
		pardTokenIsBad bool
	}{
		{name: "pard", mode: PARD, temp: 0.8, onDevice: true, chained: true},
		{name: "pard/top-p", mode: PARD, temp: 1.2, topP: 0.9, onDevice: true, chained: true},
		{name: "pard-bad-draft/top-k", mode: PARD, temp: 1, topK: 20, onDevice: true, chained: true, pardTokenIsBad: true},
		{name: "vsd", mode: VSD, temp: 0.8, onDevice: true, chained: true},
		{name: "vsd/top-k-top-p", mode: VSD, temp: 0.7, topK: 30, topP: 0.95, onDevice: true, chained: true},
		{name: "pard/host", mode: PARD, temp: 0.8},
		{name: "pard/min-confidence", mode: PARD, temp: 0.8, minConf: 0.3, onDevice: true},
		{name: "pard/greedy", mode: PARD, onDevice: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			same, runs := 0, 0
			for _, k := range []int{1, 4, 8} {
				for pi, prompt := range prompts {
					opt := Options{Mode: tc.mode, K: k, MaxNewTokens: 40, Temperature: tc.temp, TopK: tc.topK, TopP: tc.topP,
						Seed: uint64(pi), MinConfidence: tc.minConf}
					if pi%3 == 0 { // the context limit: iterations with fewer drafts, and none
						opt.MaxNewTokens, opt.MaxContext = 0, len(prompt)+7+pi
					}
					if tc.pardTokenIsBad {
						opt.PardToken = vocab - 1
					}
					pick := func(s fakeSet) *fakeLM {
						switch {
						case tc.mode == VSD:
							return s.good
						case tc.pardTokenIsBad:
							return s.bad
						}
						return s.pard
					}
					rs := newFakeSet(t, vocab, eos)
					want, err := Generate(rs.target, pick(rs), prompt, opt)
					require.NoError(t, err)

					cs := newFakeSet(t, vocab, eos)
					target, draft := newSampleChainFake(cs.target, tc.onDevice), newSampleChainFake(pick(cs), tc.onDevice)
					got, err := Generate(WithInfo(target, target.info), WithInfo(draft, draft.info), prompt, opt)
					require.NoError(t, err)
					msg := fmt.Sprintf("K=%d prompt %d", k, pi)
					runs++
					if slices.Equal(want.Output, got.Output) {
						same++
					}
					if !tc.chained {
						require.Zero(t, draft.drawCalls+target.rowsAfter, "%s: chained", msg)
						continue
					}
					// Every draft forward draws, each iteration's drafts go
					// to one verify; the other verifies (no room for a
					// draft) are plain; no draft row reaches the host.
					require.Equal(t, got.Stats.DraftForwards, draft.drawCalls, msg)
					require.Equal(t, draft.firstCalls, target.rowsAfter, msg)
					if tc.mode == PARD {
						require.Equal(t, draft.drawCalls, draft.firstCalls, msg)
					}
					require.Equal(t, got.Stats.TargetForwards, target.rowsAfter+target.rowCalls, msg)
					require.Zero(t, draft.rowCalls+draft.idCalls, msg)
				}
			}
			t.Logf("%d of %d runs generate what the host's draws do", same, runs)
			if tc.chained {
				require.GreaterOrEqual(t, same, runs*9/10, "the same uniform numbers should mostly draw the same drafts")
			} else {
				require.Equal(t, runs, same, "unchained: the rows path itself")
			}
		})
	}
}

// TestChainedSamplingChecked: a draft whose handle gives a drawn id
// probability 0, or distributions of the wrong count or width, fails the
// iteration with an error instead of a biased acceptance.
func TestChainedSamplingChecked(t *testing.T) {
	const vocab = 64
	prompt := []int32{5, 9, 11}
	for name, spoil := range map[string]func([][]float32){
		"probability 0": func(d [][]float32) {
			for _, q := range d {
				clear(q)
			}
		},
		"narrow rows": func(d [][]float32) { d[0] = d[0][:vocab/2] },
	} {
		t.Run(name, func(t *testing.T) {
			fs := newFakeSet(t, vocab, nil)
			target, draft := newSampleChainFake(fs.target, true), newSampleChainFake(fs.pard, true)
			draft.spoilDists = spoil
			_, err := Generate(WithInfo(target, target.info), WithInfo(draft, draft.info), prompt,
				Options{Mode: PARD, K: 3, MaxNewTokens: 10, Temperature: 1, Seed: 1})
			require.Error(t, err)
			t.Log(err)
		})
	}
}
