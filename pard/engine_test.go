package pard

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// naiveGreedy is the reference AR greedy decoder: it re-reads the whole
// sequence from an empty cache for every token.
func naiveGreedy(m Model, prompt []int32, maxNew, limit, vocab int, eos []int32) ([]int32, string) {
	seq := slices.Clone(prompt)
	for {
		if len(seq) >= limit {
			return seq[len(prompt):], StopContext
		}
		m.Truncate(0)
		rows, err := m.Forward(seq, 0, 1)
		if err != nil {
			panic(err)
		}
		tok := argmax(rows[0][:vocab])
		seq = append(seq, tok)
		out := seq[len(prompt):]
		if slices.Contains(eos, tok) {
			return out, StopEOS
		}
		if maxNew > 0 && len(out) >= maxNew {
			return out, StopMaxTokens
		}
	}
}

func testPrompts(n, vocab int, seed uint64) [][]int32 {
	r := newRNG(seed)
	var ps [][]int32
	for range n {
		p := make([]int32, 1+r.next()%24)
		for i := range p {
			p[i] = int32(r.next() % uint64(vocab-1)) // never the banned mask id
		}
		ps = append(ps, p)
	}
	return ps
}

type engineCase struct {
	name  string
	mode  Mode
	draft func(fakeSet) *fakeLM
	pard  int32 // Options.PardToken
}

func engineCases(vocab int) []engineCase {
	return []engineCase{
		{"vsd-good", VSD, func(s fakeSet) *fakeLM { return s.good }, 0},
		{"vsd-bad", VSD, func(s fakeSet) *fakeLM { return s.bad }, 0},
		{"pard", PARD, func(s fakeSet) *fakeLM { return s.pard }, 0},
		// An AR model used as a PARD draft through the mask-token override.
		{"pard-bad", PARD, func(s fakeSet) *fakeLM { return s.bad }, int32(vocab - 1)},
	}
}

// TestGreedyLossless: every engine, for every K, generates exactly what AR
// greedy decoding generates, including an EOS inside an accepted block and
// the context limit.
func TestGreedyLossless(t *testing.T) {
	const vocab = 96
	eos := []int32{3, 17}
	prompts := testPrompts(40, vocab, 1)
	var eosTrimmed, contextStops, eosStops, budgetStops int
	for _, ec := range engineCases(vocab) {
		for _, k := range []int{1, 2, 4, 8, 12} {
			var committed, iters int
			for pi, prompt := range prompts {
				fs := newFakeSet(t, vocab, eos)
				draft := ec.draft(fs)
				opt := Options{Mode: ec.mode, K: k, MaxNewTokens: 50, PardToken: ec.pard}
				limit := math.MaxInt
				if pi%3 == 0 { // a context limit, from the models' caches
					limit = len(prompt) + 5 + pi
					fs.target.info.MaxContext, draft.info.MaxContext = limit, limit
					opt.MaxNewTokens = 0
				}
				res, err := Generate(fs.target, draft, prompt, opt)
				if err != nil {
					t.Fatalf("%s K=%d prompt %d: %v", ec.name, k, pi, err)
				}
				want, wantReason := naiveGreedy(fs.target, prompt, opt.MaxNewTokens, limit, vocab, eos)
				if !slices.Equal(res.Output, want) || res.StopReason != wantReason {
					t.Fatalf("%s K=%d prompt %d:\n got %v (%s)\nwant %v (%s)", ec.name, k, pi, res.Output, res.StopReason, want, wantReason)
				}
				if !slices.Equal(res.Prompt, prompt) {
					t.Fatalf("Prompt = %v, want %v", res.Prompt, prompt)
				}
				if len(prompt)+len(res.Output) > limit {
					t.Fatalf("sequence %d > limit %d", len(prompt)+len(res.Output), limit)
				}
				if draft.maskViolation {
					t.Fatalf("%s K=%d prompt %d: mask KV survived into a later iteration", ec.name, k, pi)
				}
				st := res.Stats
				if st.Tokens != len(res.Output) {
					t.Fatalf("Stats.Tokens %d, output %d", st.Tokens, len(res.Output))
				}
				if st.Accepted+st.Iterations > len(res.Output) && res.StopReason == StopEOS {
					eosTrimmed++
				}
				switch res.StopReason {
				case StopContext:
					contextStops++
				case StopEOS:
					eosStops++
				case StopMaxTokens:
					budgetStops++
				}
				committed += st.Accepted + st.Iterations
				iters += st.Iterations
			}
			al := float64(committed) / float64(iters)
			t.Logf("%-9s K=%2d accept length %.2f", ec.name, k, al)
			if strings.HasSuffix(ec.name, "bad") && al > 1.2 {
				t.Errorf("%s K=%d: accept length %.2f for a draft that rarely agrees", ec.name, k, al)
			}
			if !strings.HasSuffix(ec.name, "bad") && k >= 4 && al < 2.5 {
				t.Errorf("%s K=%d: accept length %.2f for a good draft (a rewind bug?)", ec.name, k, al)
			}
		}
	}
	t.Logf("stops: eos %d (trimmed inside a block %d), max_tokens %d, context %d", eosStops, eosTrimmed, budgetStops, contextStops)
	if eosTrimmed == 0 || contextStops == 0 || eosStops == 0 || budgetStops == 0 {
		t.Fatal("the cases do not cover every stop reason and an EOS inside an accepted block")
	}
}

// confLog is a draft that logs, for every row it returns, the probability
// of the row's argmax (float64 softmax): what Options.MinConfidence weighs.
type confLog struct {
	*fakeLM
	probs []float64
}

func (c *confLog) Forward(tokens []int32, start, want int) ([][]float32, error) {
	rows, err := c.fakeLM.Forward(tokens, start, want)
	for _, r := range rows {
		top := r[argmax(r)]
		var s float64
		for _, x := range r {
			s += math.Exp(float64(x - top))
		}
		c.probs = append(c.probs, 1/s)
	}
	return rows, err
}

// TestMinConfidence: cutting an iteration's drafts where the draft's own
// probability that all of them are accepted falls below MinConfidence
// leaves the greedy output exactly AR's, and the target verifies exactly
// the drafts the rule keeps (never fewer than one), computed here from the
// draft's rows.
func TestMinConfidence(t *testing.T) {
	const vocab, k = 96, 6
	eos := []int32{3, 17}
	prompts := testPrompts(12, vocab, 5)
	for _, ec := range engineCases(vocab) {
		for _, mc := range []float32{1e-30, 0.2, 0.6, 0.95} {
			var verified, iters, near int
			for pi, prompt := range prompts {
				fs := newFakeSet(t, vocab, eos)
				fake := ec.draft(fs)
				fake.scale = 150 // a sharper draft (same argmax): its confidence spans the thresholds
				draft := &confLog{fakeLM: fake}
				fs.target.record = true
				opt := Options{Mode: ec.mode, K: k, MaxNewTokens: 40, PardToken: ec.pard, MinConfidence: mc}
				res, err := Generate(fs.target, WithInfo(draft, fake.info), prompt, opt)
				if err != nil {
					t.Fatal(err)
				}
				want, wantReason := naiveGreedy(fs.target, prompt, opt.MaxNewTokens, math.MaxInt, vocab, eos)
				if !slices.Equal(res.Output, want) || res.StopReason != wantReason {
					t.Fatalf("%s min %v prompt %d:\n got %v (%s)\nwant %v (%s)", ec.name, mc, pi, res.Output, res.StopReason, want, wantReason)
				}
				// Replay the rule over the logged probabilities: a PARD
				// iteration logs k rows, a VSD one a row per draft forward
				// (the cut draft's included).
				probs, before := draft.probs, verified
				for it, call := range fs.target.calls[:res.Stats.Iterations] {
					kept, conf := k, 1.0
					for j := range k {
						conf *= probs[j]
						if math.Abs(conf/float64(mc)-1) < 1e-5 {
							near++
						}
						if j > 0 && conf < float64(mc) {
							kept = j
							break
						}
					}
					used := k
					if ec.mode == VSD {
						used = min(kept+1, k)
					}
					probs = probs[used:]
					if call.want-1 != kept {
						t.Fatalf("%s min %v prompt %d iteration %d: the target verified %d drafts, want %d", ec.name, mc, pi, it, call.want-1, kept)
					}
					verified += kept
				}
				if res.Stats.Drafted != verified-before {
					t.Fatalf("%s min %v prompt %d: Stats.Drafted %d, verified %d", ec.name, mc, pi, res.Stats.Drafted, verified-before)
				}
				iters += res.Stats.Iterations
			}
			t.Logf("%-9s min %-6v verified %.2f drafts an iteration (%d near the threshold)", ec.name, mc, float64(verified)/float64(iters), near)
			switch {
			case near > 0:
				t.Fatalf("%s min %v: %d products within 1e-5 of the threshold: rounding could flip the cut; choose others", ec.name, mc, near)
			case mc == 1e-30 && verified != k*iters:
				t.Errorf("%s: a negligible minimum cut drafts", ec.name)
			case mc > 1e-30 && verified == k*iters:
				t.Errorf("%s min %v: no iteration was cut", ec.name, mc)
			case mc == 0.2 && verified == iters && !strings.HasSuffix(ec.name, "bad"):
				t.Errorf("%s min %v: every iteration was cut to one draft", ec.name, mc)
			}
		}
	}
}

func TestARMatchesNaive(t *testing.T) {
	const vocab = 64
	for i, prompt := range testPrompts(20, vocab, 2) {
		fs := newFakeSet(t, vocab, []int32{5})
		res, err := Generate(fs.target, nil, prompt, Options{MaxNewTokens: 40})
		if err != nil {
			t.Fatal(err)
		}
		want, reason := naiveGreedy(fs.target, prompt, 40, math.MaxInt, vocab, []int32{5})
		if !slices.Equal(res.Output, want) || res.StopReason != reason {
			t.Fatalf("prompt %d: got %v %s, want %v %s", i, res.Output, res.StopReason, want, reason)
		}
		st := res.Stats
		if st.DraftForwards != 0 || st.TargetForwards != len(want) || st.AcceptLength != 1 || st.Acc != 0 || len(st.PerDepth) != 0 {
			t.Fatalf("AR stats %+v", st)
		}
	}
}

// TestIgnoreEOS: without the EOS stop the output runs to the budget.
func TestIgnoreEOS(t *testing.T) {
	fs := newFakeSet(t, 96, []int32{3, 17})
	prompt := []int32{1, 2}
	want, _ := naiveGreedy(fs.target, prompt, 300, math.MaxInt, 96, nil)
	if !slices.ContainsFunc(want, func(id int32) bool { return id == 3 || id == 17 }) {
		t.Fatal("the case has no EOS to ignore")
	}
	res, err := Generate(fs.target, fs.pard, prompt, Options{Mode: PARD, K: 6, MaxNewTokens: 300, IgnoreEOS: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Output, want) || res.StopReason != StopMaxTokens {
		t.Fatalf("got %d tokens (%s), want %d", len(res.Output), res.StopReason, len(want))
	}
}

// TestRewindWorkedExample checks the forward calls and cache rewinds of
// spec §1.4's worked example (L = 10, K = 4, 2 drafts accepted in the first
// iteration, all 4 in the second) for PARD and VSD.
func TestRewindWorkedExample(t *testing.T) {
	prompt := []int32{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	tests := []struct {
		mode       Mode
		corrupt    func(call, depth int) bool
		draftCalls []fwdCall
		draftTrunc []int
	}{{
		mode:    PARD,
		corrupt: func(call, depth int) bool { return call == 0 && depth == 2 }, // d3 wrong in it1
		draftCalls: []fwdCall{
			{0, 13, 4}, // it1: prompt (0–9) + 3 masks (10–12)
			{10, 6, 4}, // it2: d1, d2, t2 (10–12) + 3 masks (13–15)
			{13, 8, 4}, // it3: d1..d4, bonus (13–17) + 3 masks
			{18, 8, 4}, // it4
			{23, 8, 4}, // it5
		},
		draftTrunc: []int{0, 10, 13, 18, 23, 28},
	}, {
		mode:    VSD,
		corrupt: func(call, depth int) bool { return call == 2 }, // d3 wrong in it1
		draftCalls: []fwdCall{
			{0, 10, 1}, {10, 1, 1}, {11, 1, 1}, {12, 1, 1}, // it1: prompt, then d1, d2, d3
			{12, 1, 1}, {13, 1, 1}, {14, 1, 1}, {15, 1, 1}, // it2: keep[-1:] = t2 at 12, then d1..d3
			{16, 2, 1}, {18, 1, 1}, {19, 1, 1}, {20, 1, 1}, // it3: keep[-2:] = d4, bonus at 16–17
			{21, 2, 1}, {23, 1, 1}, {24, 1, 1}, {25, 1, 1}, // it4
			{26, 2, 1}, {28, 1, 1}, {29, 1, 1}, {30, 1, 1}, // it5
		},
		draftTrunc: []int{0, 12, 16, 21, 26, 31},
	}}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			fs := newFakeSet(t, 96, nil)
			draft := fs.good
			if tt.mode == PARD {
				draft = fs.pard
			}
			draft.noise = nil
			draft.corrupt = tt.corrupt
			fs.target.record, draft.record = true, true
			res, err := Generate(fs.target, draft, prompt, Options{Mode: tt.mode, K: 4, MaxNewTokens: 3 + 5*4})
			if err != nil {
				t.Fatal(err)
			}
			wantTarget := []fwdCall{
				{0, 14, 5}, // it1: prompt (0–9) + d1..d4 (10–13), logits 9..13
				{12, 5, 5}, // it2: t2 (12) + 4 drafts (13–16)
				{17, 5, 5}, // it3: bonus (17) + 4 drafts
				{22, 5, 5}, // it4
				{27, 5, 5}, // it5
			}
			if !reflect.DeepEqual(fs.target.calls, wantTarget) {
				t.Errorf("target calls %v, want %v", fs.target.calls, wantTarget)
			}
			if want := []int{0, 12, 17, 22, 27, 32}; !slices.Equal(fs.target.truncs, want) {
				t.Errorf("target truncations %v, want %v", fs.target.truncs, want)
			}
			if !reflect.DeepEqual(draft.calls, tt.draftCalls) {
				t.Errorf("draft calls %v, want %v", draft.calls, tt.draftCalls)
			}
			if !slices.Equal(draft.truncs, tt.draftTrunc) {
				t.Errorf("draft truncations %v, want %v", draft.truncs, tt.draftTrunc)
			}
			want, _ := naiveGreedy(fs.target, prompt, 23, math.MaxInt, 96, nil)
			if !slices.Equal(res.Output, want) {
				t.Errorf("output %v, want %v", res.Output, want)
			}
			if st := res.Stats; st.Iterations != 5 || st.Accepted != 18 || res.StopReason != StopMaxTokens {
				t.Errorf("stats %+v, stop %s", st, res.StopReason)
			}
		})
	}
}

// TestStatsHandCase scripts the accepted counts 2, 4, 0, 1 with K = 4.
func TestStatsHandCase(t *testing.T) {
	pardBad := map[[2]int]bool{{0, 2}: true, {2, 0}: true, {3, 1}: true} // (call, depth)
	vsdBad := map[int]bool{2: true, 8: true, 13: true}                   // call (4 per iteration)
	for _, mode := range []Mode{PARD, VSD} {
		fs := newFakeSet(t, 96, nil)
		draft := fs.good
		draft.noise = nil
		draft.corrupt = func(call, _ int) bool { return vsdBad[call] }
		if mode == PARD {
			draft = fs.pard
			draft.corrupt = func(call, depth int) bool { return pardBad[[2]int{call, depth}] }
		}
		res, err := Generate(fs.target, draft, []int32{1, 2, 3}, Options{Mode: mode, K: 4, MaxNewTokens: 3 + 5 + 1 + 2})
		if err != nil {
			t.Fatal(err)
		}
		st := res.Stats
		drafts := 4
		if mode == VSD {
			drafts = 16
		}
		if st.Iterations != 4 || st.TargetForwards != 4 || st.DraftForwards != drafts || st.Drafted != 16 || st.Accepted != 7 {
			t.Fatalf("%s: counts %+v", mode, st)
		}
		if st.AcceptLength != 2.75 || st.Acc != 0.7 {
			t.Errorf("%s: accept length %v (want 2.75), acc %v (want 0.7)", mode, st.AcceptLength, st.Acc)
		}
		if want := []float64{3.0 / 4, 2.0 / 3, 1.0 / 2, 1}; !slices.Equal(st.PerDepth, want) {
			t.Errorf("%s: per depth %v, want %v", mode, st.PerDepth, want)
		}
		if len(res.Output) != 11 || res.StopReason != StopMaxTokens {
			t.Errorf("%s: %d tokens, %s", mode, len(res.Output), res.StopReason)
		}
		if st.Total <= 0 || st.PrefillTime <= 0 || st.PrefillTime > st.Total || st.TokensPerSecond <= 0 {
			t.Errorf("%s: times %+v", mode, st)
		}
	}
}

// TestRecordVariableK covers iterations that draft fewer than K tokens (the
// context's end) and AR steps inside a speculative run, and Add.
func TestRecordVariableK(t *testing.T) {
	st := Stats{DepthTried: make([]int, 3), DepthAccepted: make([]int, 3)}
	for _, it := range [][2]int{{3, 3}, {3, 1}, {2, 2}, {1, 0}, {0, 0}} { // (drafted, accepted)
		st.record(it[0], it[1])
	}
	st.finish()
	// keep lengths 4, 2, 3, 1, 1; ones 3+1+2 = 6, mismatches 2.
	if st.AcceptLength != 11.0/5 || st.Acc != 6.0/8 || st.Drafted != 9 || st.Rejected != 2 || st.Verified != 9.0/5 {
		t.Fatalf("%+v", st)
	}
	// depth 0: tried by 4 iterations, passed by 3; depth 1: 3 tried, 2 passed;
	// depth 2: tried by the first only (the third drafted 2).
	if want := []float64{3.0 / 4, 2.0 / 3, 1}; !slices.Equal(st.PerDepth, want) {
		t.Fatalf("per depth %v, want %v", st.PerDepth, want)
	}
	one := Stats{DepthTried: make([]int, 4), DepthAccepted: make([]int, 4)}
	one.record(4, 0)
	one.finish()
	if !slices.Equal(one.PerDepth, []float64{0}) {
		t.Fatalf("per depth %v, want [0] (deeper depths never tried)", one.PerDepth)
	}

	// Add sums the counts and recomputes the ratios; the operands keep theirs.
	one.Tokens, one.Total, one.PrefillTime = 1, 3e9, 1e9
	st.Tokens, st.Total, st.PrefillTime = 11, 2e9, 1e9
	sum := st
	sum.Add(one)
	if sum.Iterations != 6 || sum.Accepted != 6 || sum.Rejected != 3 || sum.AcceptLength != 2 || sum.Acc != 6.0/9 || sum.Verified != 13.0/6 ||
		!slices.Equal(sum.DepthTried, []int{5, 3, 1, 0}) || !slices.Equal(sum.PerDepth, []float64{3.0 / 5, 2.0 / 3, 1}) ||
		sum.TokensPerSecond != 4 {
		t.Fatalf("sum %+v", sum)
	}
	if !slices.Equal(st.DepthTried, []int{4, 3, 1}) || st.Iterations != 5 {
		t.Fatalf("Add changed its operand: %+v", st)
	}
	var zero Stats
	zero.Add(st)
	if zero.AcceptLength != st.AcceptLength || !slices.Equal(zero.PerDepth, st.PerDepth) {
		t.Fatalf("Add to zero: %+v", zero)
	}
}

// TestContextLimit fills the context exactly, K shrinking at the end, and
// never writes beyond the caches (the fakes check their MaxContext).
func TestContextLimit(t *testing.T) {
	prompt := []int32{4, 5, 6, 7, 8, 9, 10, 11, 12, 13}
	for _, ec := range engineCases(96) {
		for _, k := range []int{1, 3, 8, 12} {
			for _, limit := range []int{11, 12, 15, 31} {
				fs := newFakeSet(t, 96, nil)
				draft := ec.draft(fs)
				fs.target.info.MaxContext, draft.info.MaxContext = 1000, 1000
				fs.pard.corrupt = nil
				opt := Options{Mode: ec.mode, K: k, MaxContext: limit, PardToken: ec.pard}
				res, err := Generate(fs.target, draft, prompt, opt)
				if err != nil {
					t.Fatal(err)
				}
				if len(prompt)+len(res.Output) != limit || res.StopReason != StopContext {
					t.Fatalf("%s K=%d limit %d: %d tokens, %s", ec.name, k, limit, len(prompt)+len(res.Output), res.StopReason)
				}
				want, _ := naiveGreedy(fs.target, prompt, 0, limit, 96, nil)
				if !slices.Equal(res.Output, want) {
					t.Fatalf("%s K=%d limit %d: output differs", ec.name, k, limit)
				}
				// The models' own capacity is also a limit.
				fs.target.info.MaxContext = limit
				opt.MaxContext = 0
				res, err = Generate(fs.target, draft, prompt, opt)
				if err != nil || !slices.Equal(res.Output, want) {
					t.Fatalf("%s K=%d model limit %d: %v", ec.name, k, limit, err)
				}
			}
		}
	}
}

// TestPaddedVocab: a draft with more logits rows than the target whose
// padding rows would win is masked (the fake target fails on an id ≥ 96).
func TestPaddedVocab(t *testing.T) {
	fs := newFakeSet(t, 96, []int32{3})
	draft := newFake(t, roleAR, 100, seedT)
	draft.info.EOS, draft.highIDs, draft.highFrom, draft.ban = []int32{3}, true, 96, 95
	prompt := []int32{1, 2, 3, 4}
	for _, temp := range []float32{0, 1} {
		res, err := Generate(fs.target, draft, prompt, Options{Mode: VSD, K: 4, MaxNewTokens: 40, Temperature: temp, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		if temp == 0 {
			want, _ := naiveGreedy(fs.target, prompt, 40, math.MaxInt, 96, []int32{3})
			if !slices.Equal(res.Output, want) {
				t.Fatalf("output differs")
			}
		}
	}
	// And the Vocab option restricts both models further.
	res, err := Generate(fs.target, draft, prompt, Options{Mode: VSD, K: 4, MaxNewTokens: 40, Vocab: 50})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := naiveGreedy(fs.target, prompt, 40, math.MaxInt, 50, []int32{3})
	if !slices.Equal(res.Output, want) {
		t.Fatalf("output with Vocab 50 differs")
	}
}

// TestLongGeneration grows the sequence buffer past its first size.
func TestLongGeneration(t *testing.T) {
	fs := newFakeSet(t, 96, []int32{3})
	prompt := []int32{1, 2, 3}
	ar, err := Generate(fs.target, nil, prompt, Options{MaxNewTokens: 5000, IgnoreEOS: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Generate(fs.target, fs.pard, prompt, Options{Mode: PARD, K: 12, MaxNewTokens: 5000, IgnoreEOS: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(ar.Output) != 5000 || !slices.Equal(res.Output, ar.Output) {
		t.Fatalf("%d and %d tokens, equal %v", len(ar.Output), len(res.Output), slices.Equal(res.Output, ar.Output))
	}
}

func TestOnToken(t *testing.T) {
	fs := newFakeSet(t, 96, []int32{3, 17})
	for _, p := range testPrompts(10, 96, 3) {
		var got []int32
		blocks := 0
		opt := Options{Mode: PARD, K: 5, MaxNewTokens: 37, OnToken: func(ids []int32) {
			if len(ids) == 0 {
				t.Fatal("empty block")
			}
			blocks++
			got = append(got, ids...)
		}}
		res, err := Generate(fs.target, fs.pard, p, opt)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, res.Output) || blocks != res.Stats.Iterations {
			t.Fatalf("streamed %v in %d blocks, output %v in %d iterations", got, blocks, res.Output, res.Stats.Iterations)
		}
	}
}

// TestModelReuse: Generate resets the caches, so one model pair serves many
// prompts.
func TestModelReuse(t *testing.T) {
	fs := newFakeSet(t, 96, []int32{3})
	for i, p := range testPrompts(10, 96, 4) {
		res, err := Generate(fs.target, fs.pard, p, Options{Mode: PARD, K: 4, MaxNewTokens: 30})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := naiveGreedy(newFakeSet(t, 96, nil).target, p, 30, math.MaxInt, 96, []int32{3})
		if !slices.Equal(res.Output, want) {
			t.Fatalf("prompt %d differs", i)
		}
	}
}

func TestErrors(t *testing.T) {
	fs := newFakeSet(t, 96, []int32{3})
	other := newFake(t, roleAR, 120, 1)
	other.info.EOS = []int32{100}
	small := newFakeSet(t, 96, nil).target
	small.info.MaxContext = 8
	p := []int32{1, 2, 3}
	tests := []struct {
		name          string
		target, draft Model
		prompt        []int32
		opt           Options
		want          string
	}{
		{"no target", nil, nil, p, Options{}, "no target"},
		{"bad mode", fs.target, fs.good, p, Options{Mode: 7, K: 2}, "unknown mode"},
		{"vsd without draft", fs.target, nil, p, Options{Mode: VSD, K: 2}, "needs a draft"},
		{"pard without draft", fs.target, nil, p, Options{Mode: PARD, K: 2}, "needs a draft"},
		{"negative K", fs.target, fs.good, p, Options{Mode: VSD, K: -1}, "out of range"},
		{"huge K", fs.target, fs.good, p, Options{Mode: VSD, K: MaxK + 1}, "out of range"},
		{"empty prompt", fs.target, nil, nil, Options{MaxNewTokens: 1}, "empty prompt"},
		{"prompt too long", small, nil, []int32{1, 2, 3, 4, 5, 6, 7, 8}, Options{}, "no room"},
		{"prompt too long by option", fs.target, nil, p, Options{MaxContext: 3}, "no room"},
		{"token out of range", fs.target, nil, []int32{1, 96}, Options{MaxNewTokens: 1}, "outside the vocabulary"},
		{"negative token", fs.target, nil, []int32{-1}, Options{MaxNewTokens: 1}, "outside the vocabulary"},
		{"no pard token", fs.target, fs.good, p, Options{Mode: PARD, K: 2}, `--pard-token ID or a draft config.json with "pard_token"`},
		{"pard token beyond vocab", fs.target, fs.good, p, Options{Mode: PARD, K: 2, PardToken: 96}, "outside the draft"},
		{"incompatible draft", fs.target, other, p, Options{Mode: VSD, K: 2}, "no common EOS"},
		{"negative temperature", fs.target, nil, p, Options{Temperature: -1}, "temperature"},
		{"NaN temperature", fs.target, nil, p, Options{Temperature: float32(math.NaN())}, "temperature"},
		{"temperature too small to divide by", fs.target, nil, p, Options{Temperature: 1e-40}, "too small"},
		{"negative top-k", fs.target, nil, p, Options{Temperature: 1, TopK: -1}, "top-k"},
		{"top-p above 1", fs.target, nil, p, Options{Temperature: 1, TopP: 1.5}, "top-p"},
		{"negative budget", fs.target, nil, p, Options{MaxNewTokens: -1}, "MaxNewTokens"},
		{"negative context", fs.target, nil, p, Options{MaxContext: -1}, "MaxContext"},
		{"vocab beyond target", fs.target, nil, p, Options{Vocab: 97}, "exceeds"},
		{"unbounded", fs.target, nil, p, Options{}, "nothing bounds"},
		{"negative confidence", fs.target, fs.good, p, Options{Mode: VSD, K: 2, MaxNewTokens: 5, MinConfidence: -0.1}, "minimum confidence"},
		{"confidence 1", fs.target, fs.good, p, Options{Mode: VSD, K: 2, MaxNewTokens: 5, MinConfidence: 1}, "minimum confidence"},
		{"NaN confidence", fs.target, fs.good, p, Options{Mode: VSD, K: 2, MaxNewTokens: 5, MinConfidence: float32(math.NaN())}, "minimum confidence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var target Model
			if tt.target != nil {
				target = tt.target
			}
			_, err := Generate(target, tt.draft, tt.prompt, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	// K = 0 in a speculative mode is AR: the draft is not used and needs no mask token.
	res, err := Generate(fs.target, fs.good, p, Options{Mode: PARD, MaxNewTokens: 5})
	if err != nil || res.Stats.DraftForwards != 0 || len(res.Stats.PerDepth) != 0 {
		t.Fatalf("PARD with K=0: %v %+v", err, res)
	}
}

// failingModel returns an error from Forward.
type failingModel struct{ *fakeLM }

func (f failingModel) Forward([]int32, int, int) ([][]float32, error) {
	return nil, fmt.Errorf("out of memory")
}

func TestForwardErrors(t *testing.T) {
	fs := newFakeSet(t, 96, nil)
	if _, err := Generate(failingModel{fs.target}, fs.pard, []int32{1}, Options{Mode: PARD, K: 2, MaxNewTokens: 9}); err == nil || !strings.Contains(err.Error(), "target forward at 0: out of memory") {
		t.Fatalf("error %v", err)
	}
	if _, err := Generate(fs.target, failingModel{fs.pard}, []int32{1}, Options{Mode: PARD, K: 2, MaxNewTokens: 9}); err == nil || !strings.Contains(err.Error(), "draft forward") {
		t.Fatalf("error %v", err)
	}
}

// lyingModel reports a cache length that its forwards do not produce.
type lyingModel struct{ *fakeLM }

func (f lyingModel) Len() int { return f.fakeLM.Len() + 1 }

func TestCacheLengthChecked(t *testing.T) {
	fs := newFakeSet(t, 96, nil)
	_, err := Generate(fs.target, lyingModel{fs.good}, []int32{1}, Options{Mode: VSD, K: 2, MaxNewTokens: 9})
	if err == nil || !strings.Contains(err.Error(), "cache holds") {
		t.Fatalf("error %v", err)
	}
}

// TestWrongRewindCaught guards the tests: plausible rewind bugs make the
// fakes (or the AR comparison) fail.
func TestWrongRewindCaught(t *testing.T) {
	prompts := testPrompts(10, 96, 5)
	// run returns how the fakes noticed a problem ("" when they did not).
	run := func(mode Mode) string {
		for _, p := range prompts {
			fs := newFakeSet(t, 96, nil)
			draft := fs.good
			if mode == PARD {
				draft = fs.pard
			}
			var misused bool
			fs.target.caught, draft.caught = &misused, &misused
			res, err := func() (res *Result, err error) {
				defer func() {
					if r := recover(); r != nil {
						if _, ok := r.(misuse); !ok {
							panic(r)
						}
						err = fmt.Errorf("misuse: %v", r)
					}
				}()
				return Generate(fs.target, draft, p, Options{Mode: mode, K: 4, MaxNewTokens: 40})
			}()
			want, _ := naiveGreedy(newFakeSet(t, 96, nil).target, p, 40, math.MaxInt, 96, nil)
			switch {
			case err != nil:
				return err.Error()
			case !slices.Equal(res.Output, want):
				return "output differs from AR"
			case draft.maskViolation:
				return "mask KV survived"
			case float64(res.Stats.Accepted+res.Stats.Iterations)/float64(res.Stats.Iterations) < 2.5:
				return "acceptance collapsed"
			}
		}
		return ""
	}
	if r := run(PARD) + run(VSD); r != "" {
		t.Fatalf("the correct rules are flagged: %s", r)
	}
	bugs := []struct {
		name string
		mode Mode
		v    *func(int, int) int
		bug  func(int, int) int
	}{
		{"target keeps the slot of a rejected draft", PARD, &rewindTarget, func(total, tLen int) int { return min(total, tLen) }},
		{"target not rewound", VSD, &rewindTarget, func(total, tLen int) int { return tLen }},
		{"PARD draft keeps a mask", PARD, &rewindPARD, func(dLen, k int) int { return dLen - (k - 2) }},
		{"VSD draft keeps a rejected draft", VSD, &rewindVSD, func(total, dLen int) int { return min(total, dLen) }},
		{"VSD draft rewound like the target's", VSD, &rewindVSD, func(total, dLen int) int { return total - 1 }},
	}
	for _, b := range bugs {
		saved := *b.v
		*b.v = b.bug
		how := run(b.mode)
		*b.v = saved
		if how == "" {
			t.Errorf("%s: not caught", b.name)
		}
		t.Logf("%s: %s", b.name, how)
	}
}

// TestFakeSeesStaleSlots guards the fakes themselves: a cache that keeps the
// slot of a rejected draft, writes a token one position off, or keeps a mask
// gives different logits than the right cache. (In the engine, whose next
// input is always the committed tokens a cache lacks, such bugs mostly show
// up as malformed forwards, which the fakes also reject; see above.)
func TestFakeSeesStaleSlots(t *testing.T) {
	prefix := []int32{5, 6, 7, 8}
	row := func(m *fakeLM) []float32 { return slices.Clone(m.rows[0]) }
	right := newFake(t, roleTarget, 96, seedT)
	right.Forward(append(slices.Clone(prefix), 9), 0, 1) // prefix + correction 9
	want := row(right)

	stale := newFake(t, roleTarget, 96, seedT)
	stale.Forward(append(slices.Clone(prefix), 40, 41), 0, 3) // prefix + rejected drafts 40, 41
	stale.Truncate(5)                                         // keeps 40 at position 4
	stale.Forward([]int32{9}, 5, 1)                           // correction written after it
	if slices.Equal(row(stale), want) {
		t.Fatal("a stale slot does not change the logits")
	}
	stale.Truncate(4)
	stale.Forward([]int32{9}, 4, 1) // rewound right: same logits as a fresh cache
	if !slices.Equal(row(stale), want) {
		t.Fatal("a correctly rewound cache gives other logits")
	}

	pd := newFake(t, rolePARD, 96, seedT)
	pd.info.PardToken = 95
	pd.Forward(append(slices.Clone(prefix), 95, 95), 0, 3)
	pd.Truncate(5) // one mask survives
	pd.Forward([]int32{9}, 5, 1)
	if !pd.maskViolation {
		t.Fatal("a surviving mask is not flagged")
	}
	caught := false
	pd.caught = &caught
	func() {
		defer func() { recover() }()
		pd.Forward([]int32{1}, 9, 1)
	}()
	if !caught {
		t.Fatal("a forward beyond Len is not flagged")
	}
}
