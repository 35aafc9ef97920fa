package pard

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/gopard/gopard/ops"
	"github.com/stretchr/testify/require"
)

// argmaxFake is a fakeLM with ForwardArgmax (the argmax of each whole row,
// as nn.Decoder's) and ForwardArgmaxProb (with its softmax probability, as
// the Decoder's on the CPU), counting which of its forwards the engine
// calls (idCalls counts both; probCalls the second). It is
// a wrapper rather than a method of fakeLM so that the failing and lying
// wrappers of the other tests keep going through their own Forward.
type argmaxFake struct {
	*fakeLM
	rowCalls, idCalls, probCalls int
	ids                          []int32
	probs, exps                  []float32
}

func (f *argmaxFake) Forward(tokens []int32, start, want int) ([][]float32, error) {
	f.rowCalls++
	return f.fakeLM.Forward(tokens, start, want)
}

func (f *argmaxFake) ForwardArgmax(tokens []int32, start, want int) ([]int32, error) {
	f.idCalls++
	rows, err := f.fakeLM.Forward(tokens, start, want)
	if err != nil {
		return nil, err
	}
	f.ids = f.ids[:0]
	for _, r := range rows {
		f.ids = append(f.ids, argmax(r))
	}
	return f.ids, nil
}

func (f *argmaxFake) ForwardArgmaxProb(tokens []int32, start, want int) ([]int32, []float32, error) {
	f.idCalls++
	f.probCalls++
	rows, err := f.fakeLM.Forward(tokens, start, want)
	if err != nil {
		return nil, nil, err
	}
	f.ids, f.probs = f.ids[:0], f.probs[:0]
	for _, r := range rows {
		id := argmax(r)
		f.exps = append(f.exps[:0], r...)
		ops.Softmax(f.exps)
		f.ids, f.probs = append(f.ids, id), append(f.probs, f.exps[id])
	}
	return f.ids, f.probs, nil
}

// counts is s without its timings, which differ between runs.
func counts(s Stats) Stats {
	s.PrefillTime, s.TargetTime, s.DraftTime, s.Total, s.TokensPerSecond = 0, 0, 0, 0, 0
	return s
}

// TestArgmaxForwardLossless: a greedy engine whose models have
// ForwardArgmax (both, or only one) generates exactly what the rows path
// generates, with the same stats, and calls ForwardArgmax for every forward
// of those models (through WithInfo, as internal/cli wraps them), and for
// the draft's ForwardArgmaxProb under MinConfidence, whose cuts are then
// the rows path's. Sampling keeps reading rows.
func TestArgmaxForwardLossless(t *testing.T) {
	const vocab = 96
	eos := []int32{3, 17}
	prompts := testPrompts(12, vocab, 11)
	type which struct{ target, draft bool }
	cases := append([]engineCase{{"ar", AR, nil, 0}}, engineCases(vocab)...)
	for _, ec := range cases {
		for _, w := range []which{{true, true}, {true, false}, {false, true}} {
			if ec.draft == nil && !w.target {
				continue
			}
			for _, tc := range []struct{ temp, minConf float32 }{{0, 0}, {0.8, 0}, {0, 0.3}} {
				temp := tc.temp
				if ec.draft == nil && tc.minConf > 0 {
					continue
				}
				name := fmt.Sprintf("%s/target=%v/draft=%v/temp=%v/min-confidence=%v", ec.name, w.target, w.draft, temp, tc.minConf)
				t.Run(name, func(t *testing.T) {
					for _, k := range []int{1, 4, 8} {
						for pi, prompt := range prompts {
							opt := Options{Mode: ec.mode, K: k, MaxNewTokens: 40, PardToken: ec.pard, Temperature: temp, Seed: uint64(pi), MinConfidence: tc.minConf}
							if pi%3 == 0 { // a context limit too
								opt.MaxNewTokens, opt.MaxContext = 0, len(prompt)+7+pi
							}
							// The rows path: the plain fakes.
							rs := newFakeSet(t, vocab, eos)
							// Under MinConfidence a sharper draft (same argmax),
							// whose confidence spans the threshold (TestMinConfidence).
							sharpen := func(f *fakeLM) *fakeLM {
								if tc.minConf > 0 {
									f.scale = 150
								}
								return f
							}
							var rDraft Model
							if ec.draft != nil {
								rDraft = sharpen(ec.draft(rs))
							}
							want, err := Generate(rs.target, rDraft, prompt, opt)
							require.NoError(t, err)

							// The same models, with ForwardArgmax where asked.
							is := newFakeSet(t, vocab, eos)
							target := &argmaxFake{fakeLM: is.target}
							var tm, dm Model = is.target, nil
							if w.target {
								tm = WithInfo(target, is.target.info)
							}
							draft := &argmaxFake{}
							if ec.draft != nil {
								draft.fakeLM = sharpen(ec.draft(is))
								dm = draft.fakeLM
								if w.draft {
									dm = WithInfo(draft, draft.info)
								}
							}
							got, err := Generate(tm, dm, prompt, opt)
							require.NoError(t, err)

							msg := fmt.Sprintf("K=%d prompt %d", k, pi)
							require.Equal(t, want.Output, got.Output, msg)
							require.Equal(t, want.StopReason, got.StopReason, msg)
							require.Equal(t, counts(want.Stats), counts(got.Stats), msg)
							if ec.draft != nil {
								require.False(t, draft.maskViolation, msg)
							}

							// Each wrapped model is called through one forward only:
							// ForwardArgmax when greedy (the draft's
							// ForwardArgmaxProb under MinConfidence), Forward when
							// sampling.
							check := func(role string, wrapped bool, f *argmaxFake, forwards int) {
								ids, probs, rows := 0, 0, 0
								if wrapped && temp == 0 {
									ids = forwards
									if role == "draft" && tc.minConf > 0 {
										probs = forwards
									}
								} else if wrapped {
									rows = forwards
								}
								require.Equal(t, ids, f.idCalls, "%s: %s ForwardArgmax calls", msg, role)
								require.Equal(t, probs, f.probCalls, "%s: %s ForwardArgmaxProb calls", msg, role)
								require.Equal(t, rows, f.rowCalls, "%s: %s Forward calls", msg, role)
							}
							check("target", w.target, target, got.Stats.TargetForwards)
							if ec.draft != nil {
								check("draft", w.draft, draft, got.Stats.DraftForwards)
							}
						}
					}
				})
			}
		}
	}
}

// TestArgmaxForwardNarrowVocab: a model whose rows are wider than the
// vocabulary the engine generates from is read by rows, cut to that
// vocabulary (a whole-row argmax could pick an id the engine must not
// generate); the other model still gives ids.
func TestArgmaxForwardNarrowVocab(t *testing.T) {
	const vocab = 96
	eos := []int32{3}
	tests := []struct {
		name                string
		draftVocab          int // > vocab: padded, and its padding ids would win
		optVocab            int // Options.Vocab
		genVocab            int // ids the engine generates from
		targetIDs, draftIDs bool
	}{
		{"padded draft", 100, 0, vocab, true, false},
		{"Vocab option", vocab, 50, 50, false, false},
		{"Vocab option of the whole rows", vocab, vocab, vocab, true, true},
		{"same widths", vocab, 0, vocab, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []Mode{VSD, PARD} {
				for pi, prompt := range testPrompts(8, tt.genVocab, 12) {
					fs := newFakeSet(t, vocab, eos)
					d := newFake(t, roleAR, tt.draftVocab, seedT)
					d.info.Name, d.info.EOS, d.ban = "draft", eos, vocab-1
					if tt.draftVocab > vocab {
						d.highIDs, d.highFrom = true, vocab
					}
					target, draft := &argmaxFake{fakeLM: fs.target}, &argmaxFake{fakeLM: d}
					opt := Options{Mode: mode, K: 4, MaxNewTokens: 40, Vocab: tt.optVocab, PardToken: int32(vocab - 1)}
					res, err := Generate(WithInfo(target, fs.target.info), WithInfo(draft, d.info), prompt, opt)
					require.NoError(t, err)
					want, _ := naiveGreedy(newFakeSet(t, vocab, nil).target, prompt, 40, math.MaxInt, tt.genVocab, eos)
					msg := fmt.Sprintf("%s prompt %d", mode, pi)
					require.Equal(t, want, res.Output, msg)
					require.Equal(t, tt.targetIDs, target.idCalls > 0, "%s: target used ForwardArgmax", msg)
					require.Equal(t, tt.targetIDs, target.rowCalls == 0, "%s: target used Forward", msg)
					require.Equal(t, tt.draftIDs, draft.idCalls > 0, "%s: draft used ForwardArgmax", msg)
					require.Equal(t, tt.draftIDs, draft.rowCalls == 0, "%s: draft used Forward", msg)
				}
			}
		})
	}
}

// TestWithInfoArgmax: WithInfo's Model has ForwardArgmax exactly when its
// Forwarder has it, and passes the calls through.
func TestWithInfoArgmax(t *testing.T) {
	info := ModelInfo{Name: "wrapped", VocabSize: 96}
	plain := newFake(t, roleTarget, 96, seedT)
	_, ok := WithInfo(plain, info).(ArgmaxForwarder)
	require.False(t, ok, "a Forwarder without ForwardArgmax must not gain it")

	f := &argmaxFake{fakeLM: newFake(t, roleTarget, 96, seedT)}
	m := WithInfo(f, info)
	a, ok := m.(ArgmaxForwarder)
	require.True(t, ok, "WithInfo hides ForwardArgmax")
	require.Equal(t, info, m.Info())
	ids, err := a.ForwardArgmax([]int32{5, 6, 7}, 0, 2)
	require.NoError(t, err)
	require.Equal(t, []int32{argmax(f.rows[0]), argmax(f.rows[1])}, ids)
	require.Equal(t, 3, m.Len())
	_, err = m.Forward([]int32{8}, 3, 1)
	require.NoError(t, err)
	require.Equal(t, 1, f.idCalls)
	require.Equal(t, 1, f.rowCalls)
}

// badArgmax spoils the ids of a correct ForwardArgmax.
type badArgmax struct {
	*argmaxFake
	spoil      func(ids []int32) ([]int32, error)
	spoilProbs bool
}

func (b badArgmax) ForwardArgmax(tokens []int32, start, want int) ([]int32, error) {
	ids, err := b.argmaxFake.ForwardArgmax(tokens, start, want)
	if err != nil {
		return nil, err
	}
	return b.spoil(ids)
}

// ForwardArgmaxProb spoils the ids as ForwardArgmax does, and gives one
// probability too few when spoilProbs.
func (b badArgmax) ForwardArgmaxProb(tokens []int32, start, want int) ([]int32, []float32, error) {
	_, probs, err := b.argmaxFake.ForwardArgmaxProb(tokens, start, want)
	if err != nil {
		return nil, nil, err
	}
	if b.spoilProbs {
		return b.argmaxFake.ids, probs[1:], nil
	}
	ids, err := b.spoil(b.argmaxFake.ids)
	return ids, probs, err
}

// lyingArgmax reports a cache length that its forwards do not produce.
type lyingArgmax struct{ *argmaxFake }

func (f lyingArgmax) Len() int { return f.argmaxFake.Len() + 1 }

// TestArgmaxForwardChecked: the engine checks ForwardArgmax's output as it
// checks Forward's: its error, the number of ids, their range, the cache
// length.
func TestArgmaxForwardChecked(t *testing.T) {
	spoil := map[string]func([]int32) ([]int32, error){
		"returned 1 argmax ids, want 2":       func(ids []int32) ([]int32, error) { return ids[:1], nil },
		"argmax id 96 outside the vocabulary": func(ids []int32) ([]int32, error) { ids[len(ids)-1] = 96; return ids, nil },
		"argmax id -1 outside the vocabulary": func(ids []int32) ([]int32, error) { ids[0] = -1; return ids, nil },
		"forward at 0: out of memory":         func([]int32) ([]int32, error) { return nil, errors.New("out of memory") },
	}
	for want, sp := range spoil {
		for _, role := range []string{"target", "draft"} {
			t.Run(role+"/"+want, func(t *testing.T) {
				fs := newFakeSet(t, 96, nil)
				var target, draft Model = fs.target, fs.pard
				bad := badArgmax{&argmaxFake{}, sp, false}
				if role == "target" {
					bad.fakeLM, target = fs.target, bad
				} else {
					bad.fakeLM, draft = fs.pard, bad
				}
				// K = 1 verifies 2 rows; the PARD draft gives 2 rows with K = 2.
				k := 1
				if role == "draft" {
					k = 2
				}
				_, err := Generate(target, draft, []int32{1}, Options{Mode: PARD, K: k, MaxNewTokens: 9})
				require.ErrorContains(t, err, role)
				require.ErrorContains(t, err, want)
			})
		}
	}
	fs := newFakeSet(t, 96, nil)
	_, err := Generate(fs.target, lyingArgmax{&argmaxFake{fakeLM: fs.good}}, []int32{1}, Options{Mode: VSD, K: 2, MaxNewTokens: 9})
	require.ErrorContains(t, err, "cache holds")

	// Under MinConfidence the draft's ids come through ForwardArgmaxProb,
	// checked the same way, and so is the number of probabilities.
	for want, sp := range spoil {
		fs := newFakeSet(t, 96, nil)
		_, err := Generate(fs.target, badArgmax{&argmaxFake{fakeLM: fs.pard}, sp, false}, []int32{1}, Options{Mode: PARD, K: 2, MaxNewTokens: 9, MinConfidence: 0.1})
		require.ErrorContains(t, err, "draft", "min-confidence")
		require.ErrorContains(t, err, want, "min-confidence")
	}
	fs = newFakeSet(t, 96, nil)
	_, err = Generate(fs.target, badArgmax{&argmaxFake{fakeLM: fs.pard}, nil, true}, []int32{1}, Options{Mode: PARD, K: 2, MaxNewTokens: 9, MinConfidence: 0.1})
	require.ErrorContains(t, err, "returned 1 argmax probabilities, want 2")
}

// trivialArgmax is trivialLM with ForwardArgmax.
type trivialArgmax struct {
	*trivialLM
	ids   []int32
	probs []float32
}

func (m *trivialArgmax) ForwardArgmax(tokens []int32, start, want int) ([]int32, error) {
	rows, err := m.Forward(tokens, start, want)
	m.ids = m.ids[:0]
	for _, r := range rows {
		m.ids = append(m.ids, argmax(r))
	}
	return m.ids, err
}

func (m *trivialArgmax) ForwardArgmaxProb(tokens []int32, start, want int) ([]int32, []float32, error) {
	ids, err := m.ForwardArgmax(tokens, start, want)
	m.probs = m.probs[:0]
	for range ids {
		m.probs = append(m.probs, 1) // the trivial models are sure
	}
	return ids, m.probs, err
}

// TestArgmaxNoAllocsPerIteration: the ids path allocates nothing per
// iteration either.
func TestArgmaxNoAllocsPerIteration(t *testing.T) {
	for _, mode := range []Mode{AR, VSD, PARD} {
		for _, minConf := range []float32{0, 0.5} {
			if mode == AR && minConf > 0 {
				continue
			}
			target, draft := &trivialArgmax{trivialLM: newTrivial(1000, -1)}, &trivialArgmax{trivialLM: newTrivial(1000, 999)}
			allocs := func(n int) float64 {
				opt := Options{Mode: mode, K: 4, MaxNewTokens: n, MinConfidence: minConf}
				return testing.AllocsPerRun(5, func() {
					res, err := Generate(target, draft, []int32{1, 2, 3}, opt)
					if err != nil || len(res.Output) != n {
						t.Fatal(err)
					}
				})
			}
			if short, long := allocs(50), allocs(1500); short != long {
				t.Errorf("%s, min-confidence %v: %v allocations for 50 tokens, %v for 1500", mode, minConf, short, long)
			}
			if len(target.ids) == 0 {
				t.Errorf("%s: the target's ForwardArgmax was not used", mode)
			}
			if minConf > 0 && len(draft.probs) == 0 {
				t.Errorf("%s: the draft's ForwardArgmaxProb was not used", mode)
			}
		}
	}
}
