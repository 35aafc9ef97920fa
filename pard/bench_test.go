package pard

import (
	"testing"
)

// trivialLM predicts (t+1) mod (vocab−1) with one-hot logits that it updates
// in O(1), so that a benchmark measures the engine, not the model.
type trivialLM struct {
	info ModelInfo
	n    int
	last []int32 // token at each position
	rows [][]float32
	hot  []int
	peak float32
}

func newTrivial(vocab int, pardTok int32) *trivialLM {
	return &trivialLM{info: ModelInfo{Name: "trivial", VocabSize: vocab, PardToken: pardTok}, peak: 30}
}

func (m *trivialLM) Info() ModelInfo { return m.info }
func (m *trivialLM) Len() int        { return m.n }
func (m *trivialLM) Truncate(n int)  { m.n = n }

func (m *trivialLM) Forward(tokens []int32, start, want int) ([][]float32, error) {
	for len(m.last) < start+len(tokens) {
		m.last = append(m.last, 0)
	}
	copy(m.last[start:], tokens)
	m.n = start + len(tokens)
	for len(m.rows) < want {
		m.rows = append(m.rows, make([]float32, m.info.VocabSize))
		m.hot = append(m.hot, 0)
	}
	mod := int32(m.info.VocabSize - 1)
	for i := range want {
		p := m.n - want + i
		r := p
		for r > 0 && m.last[r] == m.info.PardToken {
			r--
		}
		next := (m.last[r] + int32(p-r) + 1) % mod
		m.rows[i][m.hot[i]] = 0
		m.rows[i][next] = m.peak
		m.hot[i] = int(next)
	}
	return m.rows[:want], nil
}

// BenchmarkEngine measures the engine's own cost per iteration (one target
// forward) with models that cost almost nothing; allocs/op are per Generate
// call of 1024 tokens, none of them per iteration.
func BenchmarkEngine(b *testing.B) {
	cases := []struct {
		name  string
		mode  Mode
		k     int
		vocab int
		temp  float32
	}{
		{"ar/v=32000", AR, 0, 32000, 0},
		{"vsd/k=4/v=32000", VSD, 4, 32000, 0},
		{"pard/k=8/v=32000", PARD, 8, 32000, 0},
		{"pard/k=8/v=152064", PARD, 8, 152064, 0},
		{"pard/k=8/v=32000/sampling", PARD, 8, 32000, 0.7},
		{"pard/k=8/v=32000/top-p", PARD, 8, 32000, 0.7},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			target := newTrivial(c.vocab, -1)
			draft := newTrivial(c.vocab, int32(c.vocab-1))
			opt := Options{Mode: c.mode, K: c.k, MaxNewTokens: 1024, Temperature: c.temp}
			if c.name[len(c.name)-5:] == "top-p" {
				opt.TopP = 0.9
			}
			b.ReportAllocs()
			iters := 0
			for b.Loop() {
				res, err := Generate(target, draft, []int32{1, 2, 3}, opt)
				if err != nil {
					b.Fatal(err)
				}
				iters += res.Stats.Iterations
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(iters), "ns/iter")
		})
	}
}

func BenchmarkArgmax(b *testing.B) {
	row := make([]float32, 152064)
	r := newRNG(1)
	for i := range row {
		row[i] = float32(r.float64())
	}
	for b.Loop() {
		argmax(row)
	}
}

func BenchmarkProbs(b *testing.B) {
	row := make([]float32, 152064)
	r := newRNG(1)
	for i := range row {
		row[i] = float32(r.float64() * 30)
	}
	dst := make([]float32, len(row))
	for _, c := range []struct {
		name string
		k    int
		p    float32
	}{{"plain", 0, 0}, {"top-k=50", 50, 0}, {"top-p=0.9", 0, 0.9}} {
		b.Run(c.name, func(b *testing.B) {
			s := newSampler(0.7, c.k, c.p, len(row))
			for b.Loop() {
				s.probs(dst, row)
			}
		})
	}
}

// TestNoAllocsPerIteration: a Generate call allocates the same whether it
// runs 10 or 300 iterations.
func TestNoAllocsPerIteration(t *testing.T) {
	for _, temp := range []float32{0, 0.8} {
		target, draft := newTrivial(1000, -1), newTrivial(1000, 999)
		allocs := func(n int) float64 {
			opt := Options{Mode: PARD, K: 4, MaxNewTokens: n, Temperature: temp, TopP: 0.9}
			return testing.AllocsPerRun(5, func() {
				if _, err := Generate(target, draft, []int32{1, 2, 3}, opt); err != nil {
					t.Fatal(err)
				}
			})
		}
		short, long := allocs(50), allocs(1500)
		if short != long {
			t.Errorf("temperature %v: %v allocations for 50 tokens, %v for 1500", temp, short, long)
		}
	}
}
