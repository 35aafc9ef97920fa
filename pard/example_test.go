package pard_test

import (
	"fmt"

	"github.com/gopard/gopard/pard"
)

// toy is a Model that knows one rule: after t comes (t+1) mod 10, and 0 is
// the end of sequence. As a PARD draft (mask ≥ 0) it predicts through its
// mask tokens by applying the rule again, but it wrongly believes that 3
// follows 7.
type toy struct {
	mask  int32
	cache []int32
}

func (m *toy) Info() pard.ModelInfo {
	return pard.ModelInfo{Name: "toy", VocabSize: 12, EOS: []int32{0}, PardToken: m.mask}
}
func (m *toy) Len() int       { return len(m.cache) }
func (m *toy) Truncate(n int) { m.cache = m.cache[:n] }
func (m *toy) step(t int32) int32 {
	if m.mask >= 0 && t == 7 {
		return 3
	}
	return (t + 1) % 10
}

func (m *toy) Forward(tokens []int32, start, want int) ([][]float32, error) {
	m.cache = append(m.cache[:start], tokens...)
	var rows [][]float32
	for p := len(m.cache) - want; p < len(m.cache); p++ {
		r := p // the last real token, then one rule step per mask after it
		for m.cache[r] == m.mask {
			r--
		}
		next := m.cache[r]
		for range p - r + 1 {
			next = m.step(next)
		}
		row := make([]float32, 12)
		row[next] = 1
		rows = append(rows, row)
	}
	return rows, nil
}

func ExampleGenerate() {
	target, draft := &toy{mask: -1}, &toy{mask: 11}
	opt := pard.Options{Mode: pard.PARD, K: 3, MaxNewTokens: 100}
	opt.OnToken = func(ids []int32) { fmt.Println("committed", ids) }
	res, err := pard.Generate(target, draft, []int32{2}, opt)
	if err != nil {
		panic(err)
	}
	st := res.Stats
	fmt.Println(res.Output, res.StopReason)
	fmt.Printf("%d iterations, accept length %.2f, acc %.3f, per depth %.2f\n", st.Iterations, st.AcceptLength, st.Acc, st.PerDepth)
	// Output:
	// committed [3 4 5 6]
	// committed [7 8]
	// committed [9 0]
	// [3 4 5 6 7 8 9 0] eos
	// 3 iterations, accept length 3.33, acc 0.875, per depth [1.00 0.67 1.00]
}
