package pard

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
)

// sampleChainFake is a chainFake with the SampleChainForwarder methods, as
// nn.Decoder has them on a GPU, drawing and verifying on the host as the
// device does (ops.DraftDist, ops.Draw, ops.Verdict). It counts its draws'
// forwards and its verifies.
type sampleChainFake struct {
	*chainFake
	onDevice                bool
	drawCalls, verifyCalls  int
	sampled                 fakeSampled
	spoilVerdict            func(a int, next int32) (int, int32) // when set, applied to each verdict
	drawnIDs, joinedSampled []int32
}

// fakeSampled is a handle on drawn ids and their distributions.
type fakeSampled struct {
	fakePending
	dists [][]float32
}

func (f *sampleChainFake) SamplesOnDevice() bool { return f.onDevice }

// dist is the draws' distribution of a row: ops.DraftDist over its first
// s.Vocab values.
func dist(row []float32, s nn.Sampling) []float32 {
	row = row[:s.Vocab]
	q := make([]float32, len(row))
	ops.DraftDist(q, row, s.Temperature, s.TopK, s.TopP)
	return q
}

// draw forwards tokens and draws one id a wanted row, appending the ids
// and the distributions to the handle's (held) ones.
func (f *sampleChainFake) draw(tokens []int32, start, want int, s nn.Sampling, u []float32, ids []int32, dists [][]float32) (nn.Pending, error) {
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
		q := dist(r, s)
		ids, dists = append(ids, int32(ops.Draw(q, float64(u[i])))), append(dists, q)
	}
	f.sampled = fakeSampled{fakePending{from: f.chainFake, ids: ids, call: f.pendingCalls}, dists}
	return &f.sampled, nil
}

func (f *sampleChainFake) ForwardSamplePending(tokens []int32, start, want int, s nn.Sampling, u []float32) (nn.Pending, error) {
	f.firstCalls++
	return f.draw(tokens, start, want, s, u, nil, nil)
}

func (f *sampleChainFake) ForwardSamplePendingAfter(tokens []int32, prev nn.Pending, feed, start, want int, s nn.Sampling, u []float32) (nn.Pending, error) {
	p, ok := prev.(*fakeSampled)
	if !ok || p.from != f.chainFake || p.call != f.pendingCalls {
		return nil, fmt.Errorf("handed %T, not its own latest handle", prev)
	}
	f.joinedSampled = append(append(f.joinedSampled[:0], tokens...), p.ids[len(p.ids)-feed:]...)
	return f.draw(f.joinedSampled, start, want, s, u, slices.Clone(p.ids), slices.Clone(p.dists))
}

func (f *sampleChainFake) ForwardVerifySampled(tokens []int32, prev nn.Pending, start, k int, s nn.Sampling, u []float32) ([]int32, int, int32, error) {
	f.verifyCalls++
	p, ok := prev.(*fakeSampled)
	if !ok || p.from == f.chainFake || len(p.ids) != k || len(u) != k+1 {
		return nil, 0, 0, fmt.Errorf("handed %T with %d drafts to verify %d with %d numbers", prev, len(p.ids), k, len(u))
	}
	if _, err := p.IDs(); err != nil {
		return nil, 0, 0, err
	}
	f.drawnIDs = append(f.drawnIDs[:0], p.ids...)
	f.joined = append(append(f.joined[:0], tokens...), p.ids...)
	rows, err := f.fakeLM.Forward(f.joined, start, k+1)
	if err != nil {
		return nil, 0, 0, err
	}
	ps := make([][]float32, k+1)
	for a, r := range rows {
		ps[a] = dist(r, s)
	}
	a, next := ops.Verdict(p.ids, p.dists, ps, int32(ops.Draw(ps[k], float64(u[k]))), u)
	if f.spoilVerdict != nil {
		a, next = f.spoilVerdict(a, next)
	}
	return f.drawnIDs, a, next, nil
}

func newSampleChainFake(m *fakeLM, onDevice bool) *sampleChainFake {
	return &sampleChainFake{chainFake: &chainFake{argmaxFake: &argmaxFake{fakeLM: m}}, onDevice: onDevice}
}

// TestChainedSampling: a sampling engine whose models draw on the device
// draws the target's tokens there, and a PARD or VSD one hands each
// iteration's drafts to one ForwardVerifySampled; no logits row reaches
// the host. Its draws and tests take the uniform numbers the host's would,
// in the same order, so it mostly generates what the rows path does with
// the same seed (the distributions differ in rounding and ties,
// ops.DraftDist against the sampler); a wrong count of numbers taken would
// part them at the first rejection. It does not chain with a minimum
// confidence, when a model cannot draw on its device, or for greedy
// decoding.
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
		{name: "ar", mode: AR, temp: 0.9, topP: 0.8, onDevice: true, chained: true},
		{name: "pard/host", mode: PARD, temp: 0.8},
		{name: "pard/min-confidence", mode: PARD, temp: 0.8, minConf: 0.3, onDevice: true},
		{name: "pard/greedy", mode: PARD, onDevice: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			same, runs := 0, 0
			for _, k := range []int{1, 4, 8} {
				for pi, prompt := range prompts {
					opt := chainRun(Options{Mode: tc.mode, K: k, MaxNewTokens: 40, Temperature: tc.temp, TopK: tc.topK, TopP: tc.topP,
						Seed: uint64(pi), MinConfidence: tc.minConf}, pi, len(prompt), tc.pardTokenIsBad, vocab)
					rs := newFakeSet(t, vocab, eos)
					want, err := Generate(rs.target, rs.draftFor(tc.mode, tc.pardTokenIsBad), prompt, opt)
					require.NoError(t, err)

					cs := newFakeSet(t, vocab, eos)
					target := newSampleChainFake(cs.target, tc.onDevice)
					draft := newSampleChainFake(cs.draftFor(tc.mode, tc.pardTokenIsBad), tc.onDevice)
					var dm Model
					if tc.mode != AR {
						dm = WithInfo(draft, draft.info)
					}
					got, err := Generate(WithInfo(target, target.info), dm, prompt, opt)
					require.NoError(t, err)
					msg := fmt.Sprintf("K=%d prompt %d", k, pi)
					runs++
					if slices.Equal(want.Output, got.Output) {
						same++
					}
					if !tc.chained {
						require.Zero(t, draft.drawCalls+target.drawCalls+target.verifyCalls, "%s: chained", msg)
						continue
					}
					// Every draft forward draws, each iteration's drafts go
					// to one verify, the target draws its own tokens in the
					// others (no room for a draft); no row reaches the host.
					require.Equal(t, got.Stats.DraftForwards, draft.drawCalls, msg)
					require.Equal(t, draft.firstCalls, target.verifyCalls, msg)
					if tc.mode == PARD {
						require.Equal(t, draft.drawCalls, draft.firstCalls, msg)
					}
					require.Equal(t, got.Stats.TargetForwards, target.verifyCalls+target.drawCalls, msg)
					require.Zero(t, draft.rowCalls+draft.idCalls+target.rowCalls+target.idCalls, msg)
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

// TestChainedSamplingChecked: a verdict outside the drafts or the
// vocabulary fails the iteration with an error.
func TestChainedSamplingChecked(t *testing.T) {
	const vocab = 64
	prompt := []int32{5, 9, 11}
	for name, spoil := range map[string]func(int, int32) (int, int32){
		"more than k accepted": func(a int, next int32) (int, int32) { return 4, next },
		"negative":             func(a int, next int32) (int, int32) { return -1, next },
		"token outside":        func(a int, next int32) (int, int32) { return a, vocab },
	} {
		t.Run(name, func(t *testing.T) {
			fs := newFakeSet(t, vocab, nil)
			target, draft := newSampleChainFake(fs.target, true), newSampleChainFake(fs.pard, true)
			target.spoilVerdict = spoil
			_, err := Generate(WithInfo(target, target.info), WithInfo(draft, draft.info), prompt,
				Options{Mode: PARD, K: 3, MaxNewTokens: 10, Temperature: 1, Seed: 1})
			require.ErrorContains(t, err, "of 3 drafts")
		})
	}
}
