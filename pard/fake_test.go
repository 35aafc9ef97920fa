package pard

import (
	"fmt"
	"math"
	"testing"
)

// fakeLM is a deterministic toy language model with a real (if tiny) KV
// cache: slot p holds the token at position p and a hash of the whole prefix
// up to p, computed from slot p−1 when the token is written. Its logits at a
// position are a pseudo-random function of that prefix hash, so any stale
// slot, wrong start position or missing token changes every later
// prediction. It fails the test on misuse (start > Len, Truncate beyond Len,
// token ids outside its vocabulary).
type fakeLM struct {
	t     testing.TB
	info  ModelInfo
	role  fakeRole
	seed  uint64  // the logits function; the target's for agreeing drafts
	scale float32 // logits spread

	// noise perturbs an AR draft's prediction at the positions it selects.
	noise func(h uint64) bool
	// corrupt perturbs a draft's prediction in its call-th Forward (counted
	// from 0 after the last Truncate(0)) at draft depth d: 0 = the last real token (always 0 for an AR
	// draft), d ≥ 1 = the d-th mask of a PARD draft.
	corrupt func(call, depth int) bool
	// highIDs adds a large bonus to ids ≥ highFrom (a padded draft vocabulary
	// that would like to propose ids the target does not have).
	highIDs  bool
	highFrom int
	// ban, when ≥ 0, is an id no model ever predicts (the PARD mask token
	// must never be generated as a real token, or the PARD fake would take it
	// for a mask).
	ban int32

	toks []int32
	hs   []uint64
	n    int
	rows [][]float32

	record        bool
	calls         []fwdCall
	truncs        []int
	nForward      int
	maskViolation bool // a real token was written after a mask: mask KV survived

	// caught, when set, turns misuse into a panic(errMisuse) after setting
	// *caught, instead of failing the test (for tests of the fake itself).
	caught *bool
}

type misuse struct{ msg string }

func (f *fakeLM) failf(format string, args ...any) {
	f.t.Helper()
	if f.caught != nil {
		*f.caught = true
		panic(misuse{fmt.Sprintf(format, args...)})
	}
	f.t.Fatalf(format, args...)
}

type fakeRole int

const (
	roleTarget fakeRole = iota // logits from the prefix hash
	roleAR                     // the target's function with noise
	rolePARD                   // looks ahead through masks with the target's greedy continuation
)

type fwdCall struct{ start, n, want int }

func newFake(t testing.TB, role fakeRole, vocab int, seed uint64) *fakeLM {
	return &fakeLM{
		t: t, role: role, seed: seed, scale: 4, ban: -1,
		info: ModelInfo{Name: "fake", VocabSize: vocab, PardToken: -1},
	}
}

func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

const hashRoot = 0x1234567887654321

func chain(prev uint64, tok int32, pos int) uint64 {
	return mix64(prev ^ mix64(uint64(tok)+1) ^ mix64(uint64(pos)<<20+7))
}

// fill writes the seed's logits for a prefix hash.
func (f *fakeLM) fill(row []float32, seed, h uint64) {
	for v := range row {
		u := float32(mix64(seed^h^uint64(v)*0x9e3779b97f4a7c15)>>40) / (1 << 24)
		row[v] = f.scale * (u - 0.5)
	}
	if f.highIDs {
		for v := f.highFrom; v < len(row); v++ {
			row[v] += 100
		}
	}
	if f.ban >= 0 && int(f.ban) < len(row) {
		row[f.ban] = -100
	}
}

func roll(row []float32) { // shifts the scores by one id: a different argmax
	first := row[0]
	copy(row, row[1:])
	row[len(row)-1] = first
}

func (f *fakeLM) Info() ModelInfo { return f.info }
func (f *fakeLM) Len() int        { return f.n }

func (f *fakeLM) Truncate(n int) {
	f.t.Helper()
	if n < 0 || n > f.n {
		f.failf("%s: Truncate(%d) with Len %d", f.info.Name, n, f.n)
	}
	if f.record {
		f.truncs = append(f.truncs, n)
	}
	if n == 0 { // a new sequence: count forwards from 0 again
		f.nForward = 0
	}
	f.n = n
}

func (f *fakeLM) Forward(tokens []int32, start, want int) ([][]float32, error) {
	f.t.Helper()
	if start < 0 || start > f.n {
		f.failf("%s: Forward at %d with Len %d", f.info.Name, start, f.n)
	}
	if want < 1 || want > len(tokens) {
		f.failf("%s: Forward of %d tokens wants %d rows", f.info.Name, len(tokens), want)
	}
	if c := f.info.MaxContext; c > 0 && start+len(tokens) > c {
		f.failf("%s: Forward writes positions up to %d beyond the cache of %d", f.info.Name, start+len(tokens)-1, c)
	}
	if f.record {
		f.calls = append(f.calls, fwdCall{start, len(tokens), want})
	}
	call := f.nForward
	f.nForward++
	for i, tok := range tokens {
		if tok < 0 || int(tok) >= f.info.VocabSize {
			f.failf("%s: token %d outside the vocabulary %d", f.info.Name, tok, f.info.VocabSize)
		}
		p := start + i
		for len(f.toks) <= p {
			f.toks, f.hs = append(f.toks, 0), append(f.hs, 0)
		}
		prev := uint64(hashRoot)
		if p > 0 {
			prev = f.hs[p-1]
			if f.role == rolePARD && tok != f.info.PardToken && f.toks[p-1] == f.info.PardToken {
				f.maskViolation = true
			}
		}
		f.toks[p], f.hs[p] = tok, chain(prev, tok, p)
	}
	f.n = start + len(tokens)
	for len(f.rows) < want {
		f.rows = append(f.rows, make([]float32, f.info.VocabSize))
	}
	out := f.rows[:want]
	for i, row := range out {
		f.predict(row, f.n-want+i, call)
	}
	return out, nil
}

// predict writes the logits at position p.
func (f *fakeLM) predict(row []float32, p, call int) {
	switch f.role {
	case roleTarget:
		f.fill(row, f.seed, f.hs[p])
	case roleAR:
		f.fill(row, f.seed, f.hs[p])
		if (f.noise != nil && f.noise(f.hs[p])) || (f.corrupt != nil && f.corrupt(call, 0)) {
			roll(row)
		}
	case rolePARD:
		r := p // the last real position
		for r >= 0 && f.toks[r] == f.info.PardToken {
			r--
		}
		depth := p - r
		h := uint64(hashRoot)
		if r >= 0 {
			h = f.hs[r]
		}
		// Roll the target's greedy continuation forward depth steps.
		for s := 1; s <= depth; s++ {
			f.fill(row, f.seed, h)
			h = chain(h, argmax(row[:f.targetVocab()]), r+s)
		}
		f.fill(row, f.seed, h)
		if f.corrupt != nil && f.corrupt(call, depth) {
			roll(row)
		}
	}
}

// targetVocab is the vocabulary the rollout may use (the draft's own).
func (f *fakeLM) targetVocab() int {
	if f.highIDs {
		return f.highFrom
	}
	return f.info.VocabSize
}

// fakes builds a target and its drafts over one vocabulary.
type fakeSet struct {
	target, good, bad, pard *fakeLM
}

const (
	seedT = 0xabcdef
)

func newFakeSet(t testing.TB, vocab int, eos []int32) fakeSet {
	s := fakeSet{
		target: newFake(t, roleTarget, vocab, seedT),
		good:   newFake(t, roleAR, vocab, seedT),
		bad:    newFake(t, roleAR, vocab, 0x5eed),
		pard:   newFake(t, rolePARD, vocab, seedT),
	}
	s.target.info.Name, s.good.info.Name, s.bad.info.Name, s.pard.info.Name = "target", "good-draft", "bad-draft", "pard-draft"
	s.good.noise = func(h uint64) bool { return mix64(h^0x77)%4 == 0 } // disagree on ~1/4 of positions
	s.pard.info.PardToken = int32(vocab - 1)
	s.pard.corrupt = func(call, depth int) bool { // deeper drafts err more
		return depth > 0 && mix64(uint64(call)<<8|uint64(depth))%16 < uint64(depth)
	}
	for _, m := range []*fakeLM{s.target, s.good, s.bad, s.pard} {
		m.info.EOS = eos
		m.ban = int32(vocab - 1)
	}
	return s
}

// isDistribution reports whether a row of probabilities is a distribution.
func isDistribution(p []float32) bool {
	var s float64
	for _, x := range p {
		if x < 0 || math.IsNaN(float64(x)) {
			return false
		}
		s += float64(x)
	}
	return math.Abs(s-1) < 1e-5
}
