package pard

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func softmax(l []float64, temp float64) []float64 {
	out := make([]float64, len(l))
	var s float64
	for i, x := range l {
		out[i] = math.Exp(x / temp)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// TestProbs checks the transform against hand-computed distributions.
func TestProbs(t *testing.T) {
	logits := []float32{1, 3, 2, 0, 3}
	full := softmax([]float64{1, 3, 2, 0, 3}, 1)
	half := softmax([]float64{1, 3, 2, 0, 3}, 0.5)
	top2 := softmax([]float64{3, 3}, 1)    // ids 1, 4 (ties)
	top3 := softmax([]float64{3, 2, 3}, 1) // ids 1, 2, 4
	pTop := full[1] + full[4]              // mass of the two best
	tests := []struct {
		name string
		temp float32
		k    int
		p    float32
		want map[int]float64
	}{
		{"softmax", 1, 0, 0, map[int]float64{0: full[0], 1: full[1], 2: full[2], 3: full[3], 4: full[4]}},
		{"temperature", 0.5, 0, 1, map[int]float64{0: half[0], 1: half[1], 2: half[2], 3: half[3], 4: half[4]}},
		{"top-k 2 with a tie", 1, 2, 0, map[int]float64{1: top2[0], 4: top2[1]}},
		{"top-k 3", 1, 3, 0, map[int]float64{1: top3[0], 2: top3[1], 4: top3[2]}},
		{"top-k 1 keeps the lower id of a tie", 1, 1, 0, map[int]float64{1: 1}},
		{"top-k ≥ vocab is off", 1, 9, 0, map[int]float64{0: full[0], 1: full[1], 2: full[2], 3: full[3], 4: full[4]}},
		{"top-p exactly the best two", 1, 0, float32(pTop) - 1e-6, map[int]float64{1: 0.5, 4: 0.5}},
		{"top-p just above two", 1, 0, float32(pTop) + 1e-4, map[int]float64{1: full[1] / (pTop + full[2]), 4: full[4] / (pTop + full[2]), 2: full[2] / (pTop + full[2])}},
		{"top-p small keeps one", 1, 0, 0.01, map[int]float64{1: 1}},
		{"top-k then top-p", 1, 3, 0.7, map[int]float64{1: 0.5, 4: 0.5}}, // within top-3 the best two hold 0.73
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSampler(tt.temp, tt.k, tt.p, len(logits))
			got := make([]float32, len(logits))
			s.probs(got, logits)
			for i, g := range got {
				if !near(float64(g), tt.want[i]) {
					t.Fatalf("p = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestProbsLarge compares top-k and top-p on a large random row with a
// plain sort-based implementation.
func TestProbsLarge(t *testing.T) {
	const n = 5000
	r := newRNG(9)
	logits := make([]float32, n)
	for i := range logits {
		logits[i] = float32(r.float64()*20 - 10)
		if i%7 == 0 {
			logits[i] = logits[i-i%14] // some ties
		}
	}
	for _, c := range []struct {
		k int
		p float32
	}{{0, 0.9}, {50, 0}, {50, 0.5}, {0, 0.3}, {1000, 0.99}} {
		s := newSampler(0.8, c.k, c.p, n)
		got := make([]float32, n)
		s.probs(got, logits)
		// Reference: sort all, cut k, softmax, cut p.
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return cmpCand(cand{logits[a], int32(a)}, cand{logits[b], int32(b)}) })
		if c.k > 0 {
			idx = idx[:c.k]
		}
		w := make([]float64, len(idx))
		var sum float64
		for i, id := range idx {
			w[i] = float64(float32(math.Exp(float64(logits[id]-logits[idx[0]]) / 0.8)))
			sum += w[i]
		}
		keep := len(idx)
		if c.p > 0 {
			var cum float64
			for i := range w {
				cum += w[i]
				if cum >= float64(c.p)*sum {
					keep = i + 1
					break
				}
			}
		}
		want := make([]float64, n)
		var ks float64
		for i := range keep {
			ks += w[i]
		}
		for i := range keep {
			want[idx[i]] = w[i] / ks
		}
		for i := range got {
			if math.Abs(float64(got[i])-want[i]) > 1e-6 {
				t.Fatalf("k=%d p=%v: id %d: %v, want %v", c.k, c.p, i, got[i], want[i])
			}
		}
		if !isDistribution(got) {
			t.Fatalf("k=%d p=%v: not a distribution", c.k, c.p)
		}
	}
}

// TestProbsFlatTopP: a top-p cut inside a run of equal probabilities (all
// in the one bucket that probs sorts) keeps the lower ids.
func TestProbsFlatTopP(t *testing.T) {
	const n = 5000
	logits := make([]float32, n)
	for i := range logits {
		logits[i] = 1
	}
	logits[n-1] = 3 // one above the rest: a bucket of its own, kept unsorted
	s := newSampler(1, 0, 0.5, n)
	got := make([]float32, n)
	s.probs(got, logits)
	w1, w3 := 1.0, math.Exp(2)
	var keep int // the top id, then ids 0.. until half the mass
	for cum := w3; cum < 0.5*(w3+(n-1)*w1); cum += w1 {
		keep++
	}
	mass := w3 + float64(keep)*w1
	for i, g := range got {
		var want float64
		switch {
		case i == n-1:
			want = w3 / mass
		case i < keep:
			want = w1 / mass
		}
		if math.Abs(float64(g)-want) > 1e-6 {
			t.Fatalf("id %d: %v, want %v (the top id and the %d lowest ids)", i, g, want, keep)
		}
	}
}

func TestProbsDegenerate(t *testing.T) {
	s := newSampler(1, 0, 0.9, 4)
	got := make([]float32, 4)
	inf := float32(math.Inf(-1))
	s.probs(got, []float32{inf, float32(math.NaN()), inf, inf})
	if !isDistribution(got) {
		t.Fatalf("%v", got)
	}
	s.probs(got, []float32{float32(math.NaN()), 2, float32(math.NaN()), 2})
	if !slices.Equal(got, []float32{0, 0.5, 0, 0.5}) {
		t.Fatalf("%v", got)
	}
}

func TestExpNeg(t *testing.T) {
	for x := 0.0; x > -750; x -= 0.0137 {
		got, want := expNeg(x), math.Exp(x)
		if want > 1e-300 && math.Abs(got-want) > 1e-8*want || want <= 1e-300 && got > 1e-300 {
			t.Fatalf("expNeg(%v) = %v, want %v", x, got, want)
		}
	}
	if expNeg(0) != 1 || expNeg(math.Inf(-1)) != 0 || expNeg(math.NaN()) != 0 {
		t.Fatal("special values")
	}
}

func TestArgmax(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		row  []float32
		want int32
	}{
		{[]float32{1, 3, 3, 2}, 1},
		{[]float32{nan, 1, 0}, 1},
		{[]float32{nan, nan}, 0},
		{[]float32{float32(math.Inf(-1)), float32(math.Inf(-1))}, 0},
		{[]float32{-5}, 0},
		{[]float32{nan, 2, nan, 7, 7}, 3},
		{[]float32{}, 0},
	} {
		if got := argmax(c.row); got != c.want {
			t.Errorf("argmax(%v) = %d, want %d", c.row, got, c.want)
		}
	}
}

func TestSampleResidual(t *testing.T) {
	p := []float32{0.5, 0.3, 0.2, 0}
	q := []float32{0.1, 0.5, 0.2, 0.2}
	// residual (p−q)⁺ = {0.4, 0, 0, 0}: always id 0.
	for _, u := range []float64{0, 0.3, 0.999999} {
		if got := sampleResidual(p, q, u); got != 0 {
			t.Fatalf("u=%v: %d", u, got)
		}
	}
	// p = q: falls back to p.
	if got := sampleResidual(p, p, 0.9); got != 2 {
		t.Fatalf("fallback: %d", got)
	}
	if got := sampleFrom([]float32{0, 1, 0, 3}, 0.2); got != 1 {
		t.Fatalf("sampleFrom: %d", got)
	}
	if got := sampleFrom([]float32{0, 1, 0, 3}, 0.3); got != 3 {
		t.Fatalf("sampleFrom: %d", got)
	}
	if got := sampleFrom([]float32{0, 1, 0, 3}, math.Nextafter(1, 0)); got != 3 {
		t.Fatalf("sampleFrom at the top: %d", got)
	}
}

func TestRNG(t *testing.T) {
	a, b, c := newRNG(1), newRNG(1), newRNG(2)
	same, diff := true, false
	var sum float64
	for range 10000 {
		x, y, z := a.float64(), b.float64(), c.float64()
		same = same && x == y
		diff = diff || x != z
		if x < 0 || x >= 1 {
			t.Fatalf("%v outside [0, 1)", x)
		}
		sum += x
	}
	if !same || !diff || math.Abs(sum/10000-0.5) > 0.01 {
		t.Fatalf("same %v diff %v mean %v", same, diff, sum/10000)
	}
	// Pin the stream so that seeds stay reproducible across versions.
	r := newRNG(42)
	if got := fmt.Sprintf("%016x", r.next()); got != pinnedRNG42 {
		t.Fatalf("first output of seed 42 = %s, want %s", got, pinnedRNG42)
	}
}

const pinnedRNG42 = "15780b2e0c2ec716"

// TestRNGVectors checks the generators against their published outputs.
func TestRNGVectors(t *testing.T) {
	r := rng{s: [4]uint64{1, 2, 3, 4}} // xoshiro256** reference vector
	for i, want := range []uint64{11520, 0, 1509978240, 1215971899390074240} {
		if got := r.next(); got != want {
			t.Fatalf("xoshiro256** output %d = %d, want %d", i, got, want)
		}
	}
	if got := newRNG(0).s[0]; got != 0xe220a8397b1dcdaf { // splitmix64(0)
		t.Fatalf("splitmix64 seeding: %x", got)
	}
}

// TestSamplingReproducible: the same seed gives the same output; other
// seeds give other outputs.
func TestSamplingReproducible(t *testing.T) {
	fs := newFakeSet(t, 96, nil)
	prompt := []int32{1, 2, 3}
	for _, ec := range engineCases(96) {
		opt := Options{Mode: ec.mode, K: 4, MaxNewTokens: 30, Temperature: 0.9, TopK: 20, TopP: 0.95, PardToken: ec.pard, Seed: 11}
		a, err := Generate(fs.target, ec.draft(fs), prompt, opt)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Generate(fs.target, ec.draft(fs), prompt, opt)
		opt.Seed = 12
		c, _ := Generate(fs.target, ec.draft(fs), prompt, opt)
		if !slices.Equal(a.Output, b.Output) || slices.Equal(a.Output, c.Output) {
			t.Fatalf("%s: seed 11 %v / %v, seed 12 %v", ec.name, a.Output, b.Output, c.Output)
		}
	}
}

// TestSamplingDistribution: speculative sampling (VSD and PARD, good and bad
// drafts, several K) draws 3-token continuations from exactly the
// distribution of AR sampling, computed analytically from the target's
// transformed distributions. Chi-square over fixed seeds: deterministic.
func TestSamplingDistribution(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const (
		vocab = 6 // id 5 is the PARD mask, never generated
		steps = 3
		runs  = 20000
	)
	prompt := []int32{1, 4, 2}
	configs := []struct {
		temp float32
		k    int
		p    float32
	}{{1, 0, 0}, {0.8, 3, 0}, {1.5, 0, 0.7}}
	for ci, cfg := range configs {
		fs := newFakeSet(t, vocab, nil)
		fs.target.scale, fs.good.scale, fs.bad.scale, fs.pard.scale = 3, 3, 3, 3
		// Exact distribution of AR sampling over the 6^3 continuations.
		smp := newSampler(cfg.temp, cfg.k, cfg.p, vocab)
		exact := make([]float64, 216)
		row := make([]float32, vocab)
		for seq := range 216 {
			ids := []int32{int32(seq / 36), int32(seq / 6 % 6), int32(seq % 6)}
			pr := 1.0
			for i := range steps {
				fs.target.Truncate(0)
				rows, _ := fs.target.Forward(append(slices.Clone(prompt), ids[:i]...), 0, 1)
				smp.probs(row, rows[0])
				pr *= float64(row[ids[i]])
			}
			exact[seq] = pr
		}
		chi2 := func(counts []int) (float64, int) {
			var x, restE float64
			var restO, cells int
			for i, e := range exact {
				e *= runs
				if e < 5 {
					restE += e
					restO += counts[i]
					continue
				}
				d := float64(counts[i]) - e
				x += d * d / e
				cells++
			}
			if restE > 0 {
				d := float64(restO) - restE
				x += d * d / max(restE, 1)
				cells++
			}
			return x, cells - 1
		}
		sample := func(target, draft Model, mode Mode, k int, minConf float32) []int {
			counts, cut := make([]int, 216), false
			for i := range runs {
				res, err := Generate(target, draft, prompt, Options{
					Mode: mode, K: k, MaxNewTokens: steps, Temperature: cfg.temp, TopK: cfg.k, TopP: cfg.p,
					PardToken: vocab - 1, Seed: uint64(ci)<<32 | uint64(i), MinConfidence: minConf,
				})
				if err != nil {
					t.Fatal(err)
				}
				o := res.Output
				counts[int(o[0])*36+int(o[1])*6+int(o[2])]++
				if minConf > 0 && res.Stats.Drafted < k*res.Stats.Iterations {
					cut = true
				}
			}
			if minConf > 0 && !cut {
				t.Errorf("minimum confidence %v cut no iteration", minConf)
			}
			return counts
		}
		// The minimum confidences cut some iterations and not others: the
		// cut depends on the draft's probabilities of its own samples.
		// The -chain engines draw the drafts as a device does (ops.DraftDist,
		// TestChainedSampling) and verify with those distributions.
		chained := func(m *fakeLM) Model {
			f := newSampleChainFake(m, true)
			return WithInfo(f, f.info)
		}
		engines := []struct {
			name    string
			mode    Mode
			draft   Model
			k       int
			minConf float32
			target  Model // nil: fs.target
		}{
			{"ar", AR, nil, 0, 0, nil},
			{"vsd-good", VSD, fs.good, 2, 0, nil},
			{"vsd-bad", VSD, fs.bad, 3, 0, nil},
			{"pard", PARD, fs.pard, 1, 0, nil},
			{"pard", PARD, fs.pard, 3, 0, nil},
			{"pard-bad", PARD, fs.bad, 4, 0, nil},
			{"vsd-good-cut", VSD, fs.good, 3, 0.3, nil},
			{"pard-cut", PARD, fs.pard, 3, 0.3, nil},
			{"vsd-bad-chain", VSD, chained(fs.bad), 3, 0, chained(fs.target)},
			{"pard-chain", PARD, chained(fs.pard), 3, 0, chained(fs.target)},
		}
		for _, en := range engines {
			target := en.target
			if target == nil {
				target = fs.target
			}
			x, df := chi2(sample(target, en.draft, en.mode, en.k, en.minConf))
			limit := float64(df) + 7*math.Sqrt(2*float64(df))
			t.Logf("T=%v top-k %d top-p %v %-8s K=%d: chi2 %.1f, df %d, limit %.1f", cfg.temp, cfg.k, cfg.p, en.name, en.k, x, df, limit)
			if x > limit {
				t.Errorf("T=%v top-k %d top-p %v %s K=%d: chi2 %.1f > %.1f: not the target's distribution", cfg.temp, cfg.k, cfg.p, en.name, en.k, x, limit)
			}
		}
		// Power: the draft's own distribution (what "accept everything"
		// would sample) is far outside the limit.
		x, df := chi2(sample(fs.bad, nil, AR, 0, 0))
		if limit := float64(df) + 7*math.Sqrt(2*float64(df)); x < 10*limit {
			t.Errorf("the test cannot tell the draft's distribution from the target's: chi2 %.1f", x)
		}
	}
}
