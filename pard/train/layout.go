package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Layout is the block layout of one PARD training sequence of S real tokens
// and P blocks after COD (conditional drop-token, spec §3.3): which
// (block, local index) rows are kept. Block 0 holds the real tokens
// x_0..x_{S−1}; block b ≥ 1 holds S mask tokens, the mask at local index c
// standing in for x_c (same RoPE position c). Kept rows are numbered
// block-major, ascending local index within a block, so block 0 is always
// rows 0..S−1 with kept index == local index.
type Layout struct {
	S, P  int
	Block []int32 // block index b of each kept row, block-major order (block 0 first, all S rows of it)
	Local []int32 // local index c of each kept row; it is also the row's RoPE position
	index []int32 // kept-row index of (b, c) at b*S+c, or -1
}

// MaxBlocks is the largest P NewLayout accepts.
const MaxBlocks = 64

// NewLayout samples COD exactly as spec §3.3:
//
//	keep[0] = 0..S−1; cand = 0..S−1
//	for i = 1..P−1:
//	    n_i = min(int(S·max(r^i, rMin)), len(cand)); stop if n_i == 0
//	    keep[i] = n_i positions of cand, uniformly without replacement, sorted
//	    cand = (keep[i] + 1) mod S
//
// so mask (i, c) is kept only if mask (i−1, c−1 mod S) is: every chain a
// kept row attends to survives. r = 1 (or P = 1) keeps everything and
// draws nothing from rng, which may then be nil; P = 1 is plain causal AR
// training.
func NewLayout(S, P int, r, rMin float64, rng *rand.Rand) (*Layout, error) {
	switch {
	case S < 1:
		return nil, fmt.Errorf("train: layout: S = %d < 1", S)
	case P < 1 || P > MaxBlocks:
		return nil, fmt.Errorf("train: layout: P = %d outside [1, %d]", P, MaxBlocks)
	case !(r > 0 && r <= 1):
		return nil, fmt.Errorf("train: layout: drop ratio r = %v outside (0, 1]", r)
	case !(rMin > 0 && rMin <= 1):
		return nil, fmt.Errorf("train: layout: minimum ratio rMin = %v outside (0, 1]", rMin)
	case S > math.MaxInt32/P:
		return nil, fmt.Errorf("train: layout: S·P = %d·%d overflows int32", S, P)
	}
	l := &Layout{S: S, P: P, index: make([]int32, S*P)}
	for i := range l.index {
		l.index[i] = -1
	}
	add := func(b int, cs []int32) {
		for _, c := range cs {
			l.index[b*S+int(c)] = int32(len(l.Block))
			l.Block = append(l.Block, int32(b))
			l.Local = append(l.Local, c)
		}
	}
	cand := make([]int32, S)
	for c := range cand {
		cand[c] = int32(c)
	}
	add(0, cand)
	for i := 1; i < P; i++ {
		n := min(int(float64(S)*max(math.Pow(r, float64(i)), rMin)), len(cand))
		if n == 0 {
			break
		}
		if n < len(cand) {
			if rng == nil {
				return nil, errors.New("train: layout: COD drops tokens but rng is nil")
			}
			// Partial Fisher–Yates: cand[:n] becomes a uniform sample
			// without replacement.
			for k := range n {
				j := k + rng.IntN(len(cand)-k)
				cand[k], cand[j] = cand[j], cand[k]
			}
			cand = cand[:n]
		}
		slices.Sort(cand)
		add(i, cand)
		for k, c := range cand {
			cand[k] = (c + 1) % int32(S)
		}
	}
	return l, nil
}

// Rows is the number of kept rows.
func (l *Layout) Rows() int { return len(l.Block) }

// Index is the kept-row index of (block b, local c), or −1 when that row
// was dropped or (b, c) is out of range.
func (l *Layout) Index(b, c int) int {
	if b < 0 || b >= l.P || c < 0 || c >= l.S {
		return -1
	}
	return int(l.index[b*l.S+c])
}

// Visible is the chain-mask rule of spec §3.2: row (block i, local r) sees
// column (block b, local c) iff
//
//	(b == 0 && c ≤ r−i) || (1 ≤ b ≤ i && c == r−i+b)
//
// i.e. the real prefix x_0..x_{r−i}, the earlier masks of its own chain at
// r−i+1..r−1, and itself (b = i, c = r). Block 0 (i = 0) is the causal mask.
// A chain column with c < 0 does not exist, so rows with r < i see only
// masks, never an empty set.
func Visible(i, r, b, c int) bool {
	if b == 0 {
		return c >= 0 && c <= r-i
	}
	return 1 <= b && b <= i && c >= 0 && c == r-i+b
}

// Inputs writes the token id of every kept row into dst (≥ Rows() long):
// x[c] for block 0, mask for blocks ≥ 1. x holds at least S tokens.
func (l *Layout) Inputs(dst []int32, x []int32, mask int32) {
	dst = dst[:l.Rows()]
	for t, b := range l.Block {
		if b == 0 {
			dst[t] = x[l.Local[t]]
		} else {
			dst[t] = mask
		}
	}
}

// Targets writes the label of every kept row into dst (≥ Rows() long):
// row (i, r) predicts x[r+1] (depth i+1 from the prefix ending at x_{r−i})
// when r+1 ≥ i and r+1 < len(x), else −1 (ignored). Callers pass S+1
// tokens so the last row of block 0 has a label. EOS labels are kept (the
// reference loses them to its pad = eos collator; spec §3.4), as is the
// label of the last kept row (the reference's roll wraps it away).
func (l *Layout) Targets(dst []int32, x []int32) {
	dst = dst[:l.Rows()]
	for t, b := range l.Block {
		next := int(l.Local[t]) + 1
		if next >= int(b) && next < len(x) {
			dst[t] = x[next]
		} else {
			dst[t] = -1
		}
	}
}

// VisiblePairs counts the (row, column) pairs the chain mask lets attend,
// for FLOP accounting: block 0's causal triangle plus each mask row's real
// prefix and chain.
func (l *Layout) VisiblePairs() int {
	n := 0
	for row := range l.Block {
		i, r := int(l.Block[row]), int(l.Local[row])
		n += max(0, r-i+1)
		for b := 1; b <= i; b++ {
			if c := r - i + b; c >= 0 && l.Index(b, c) >= 0 {
				n++
			}
		}
	}
	return n
}
