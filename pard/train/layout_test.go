package train

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// denseMask is the spec §3.2 attention mask over all S·P rows (nothing
// dropped), built from the text of the rule rather than from Visible: row
// (block i, local r) may attend to the real tokens x_0..x_{r−i}, the earlier
// masks of its own chain (block b at local r−i+b for b = 1..i−1, where that
// local index exists), and itself. mask[row*N+col], row = i·S+r.
func denseMask(S, P int) []bool {
	N := S * P
	m := make([]bool, N*N)
	for i := range P {
		for r := range S {
			row := i*S + r
			for c := 0; c <= r-i; c++ { // real tokens
				m[row*N+c] = true
			}
			for b := 1; b < i; b++ { // earlier masks of the chain
				if c := r - i + b; c >= 0 {
					m[row*N+b*S+c] = true
				}
			}
			m[row*N+row] = true // itself
		}
	}
	return m
}

func TestLayoutVisibleDense(t *testing.T) {
	for _, tc := range []struct{ S, P int }{{6, 4}, {1, 1}, {5, 1}, {3, 5}, {9, 8}, {16, 3}} {
		m := denseMask(tc.S, tc.P)
		N := tc.S * tc.P
		for row := range N {
			for col := range N {
				i, r, b, c := row/tc.S, row%tc.S, col/tc.S, col%tc.S
				require.Equal(t, m[row*N+col], Visible(i, r, b, c), "S=%d P=%d row (%d,%d) col (%d,%d)", tc.S, tc.P, i, r, b, c)
			}
		}
	}
	// Out-of-range columns are never visible.
	assert.False(t, Visible(2, 0, 1, -1))
	assert.False(t, Visible(1, 3, 2, 4))
	assert.False(t, Visible(0, 3, 0, -1))
}

func TestLayoutVisibleSpecExample(t *testing.T) {
	// Spec §3.2, S=6, P=4: (block, local) pairs each row sees.
	type bc struct{ b, c int }
	x012 := []bc{{0, 0}, {0, 1}, {0, 2}}
	for _, tc := range []struct {
		i, r int
		want []bc
	}{
		{1, 3, append(slices.Clone(x012), bc{1, 3})},
		{2, 4, append(slices.Clone(x012), bc{1, 3}, bc{2, 4})},
		{3, 5, append(slices.Clone(x012), bc{1, 3}, bc{2, 4}, bc{3, 5})},
		{0, 2, x012},                         // block 0 is causal
		{2, 0, []bc{{2, 0}}},                 // r < i: only itself
		{3, 1, []bc{{2, 0}, {3, 1}}},         // wraps to masks only
		{3, 2, []bc{{1, 0}, {2, 1}, {3, 2}}}, // r = i−1: the whole chain, no real token
	} {
		var got []bc
		for b := range 4 {
			for c := range 6 {
				if Visible(tc.i, tc.r, b, c) {
					got = append(got, bc{b, c})
				}
			}
		}
		assert.Equal(t, tc.want, got, "row (%d,%d)", tc.i, tc.r)
	}
}

func TestLayoutCODCounts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		S, P    int
		r, rMin float64
		want    []int // kept rows per block
	}{
		// Kept fractions 1, .7, .49, .343, .2401, .2, .2, .2 truncated.
		{"pard1", 512, 8, 0.7, 0.2, []int{512, 358, 250, 175, 122, 102, 102, 102}},
		{"keep all", 50, 6, 1, 0.2, []int{50, 50, 50, 50, 50, 50}},
		{"AR", 37, 1, 0.7, 0.2, []int{37}},
		// n_i reaches 0 (int(4·0.1) = 0): the loop stops, later blocks empty.
		{"stop at zero", 4, 5, 0.5, 0.1, []int{4, 2, 1, 0, 0}},
		// min(r^i, ...) clamps at rMin = 1: everything kept.
		{"rMin one", 8, 4, 0.3, 1, []int{8, 8, 8, 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewLayout(tc.S, tc.P, tc.r, tc.rMin, rand.New(rand.NewPCG(1, 2)))
			require.NoError(t, err)
			got := make([]int, tc.P)
			for _, b := range l.Block {
				got[b]++
			}
			assert.Equal(t, tc.want, got)
			total := 0
			for _, n := range tc.want {
				total += n
			}
			assert.Equal(t, total, l.Rows())
			assert.Len(t, l.Local, l.Rows())
		})
	}
}

func TestLayoutCODIntegrity(t *testing.T) {
	for _, tc := range []struct {
		S, P    int
		r, rMin float64
		seed    uint64
	}{
		{512, 8, 0.7, 0.2, 1}, {512, 16, 0.7, 0.1, 2}, {16, 4, 0.7, 0.2, 3}, {7, 7, 0.5, 0.3, 4}, {3, 8, 0.9, 0.1, 5},
	} {
		l, err := NewLayout(tc.S, tc.P, tc.r, tc.rMin, rand.New(rand.NewPCG(tc.seed, 9)))
		require.NoError(t, err)
		S := tc.S
		// Block-major, ascending local, block 0 complete and first, index consistent.
		for k := range l.Rows() {
			if k < S {
				require.Equal(t, int32(0), l.Block[k])
				require.Equal(t, int32(k), l.Local[k])
			}
			if k > 0 {
				prev := int(l.Block[k-1])*S + int(l.Local[k-1])
				require.Less(t, prev, int(l.Block[k])*S+int(l.Local[k]))
			}
			require.Equal(t, k, l.Index(int(l.Block[k]), int(l.Local[k])))
		}
		kept := 0
		for b := range tc.P {
			for c := range S {
				if j := l.Index(b, c); j >= 0 {
					kept++
					// Kept positions of block b ⊆ (kept of block b−1) + 1 mod S.
					if b >= 1 {
						require.GreaterOrEqual(t, l.Index(b-1, (c+S-1)%S), 0, "(%d,%d) kept without its predecessor", b, c)
					}
				}
			}
		}
		require.Equal(t, l.Rows(), kept)
		// Every column a kept row sees is kept.
		for k := range l.Rows() {
			i, r := int(l.Block[k]), int(l.Local[k])
			for b := range tc.P {
				for c := range S {
					if Visible(i, r, b, c) {
						require.GreaterOrEqual(t, l.Index(b, c), 0, "row (%d,%d) sees dropped (%d,%d)", i, r, b, c)
					}
				}
			}
		}
	}
}

func TestLayoutCODDeterminism(t *testing.T) {
	a, err := NewLayout(64, 8, 0.7, 0.2, rand.New(rand.NewPCG(7, 7)))
	require.NoError(t, err)
	b, err := NewLayout(64, 8, 0.7, 0.2, rand.New(rand.NewPCG(7, 7)))
	require.NoError(t, err)
	c, err := NewLayout(64, 8, 0.7, 0.2, rand.New(rand.NewPCG(8, 7)))
	require.NoError(t, err)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a.Local, c.Local) // a different seed samples differently
	// Keeping everything draws nothing: a nil rng is fine.
	full, err := NewLayout(10, 3, 1, 0.5, nil)
	require.NoError(t, err)
	assert.Equal(t, 30, full.Rows())
	for k := range 30 {
		assert.Equal(t, int32(k/10), full.Block[k])
		assert.Equal(t, int32(k%10), full.Local[k])
	}
	ar, err := NewLayout(10, 1, 0.7, 0.2, nil)
	require.NoError(t, err)
	assert.Equal(t, 10, ar.Rows())
}

func TestLayoutErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		name    string
		S, P    int
		r, rMin float64
		rng     *rand.Rand
	}{
		{"S zero", 0, 4, 0.7, 0.2, rng},
		{"P zero", 8, 0, 0.7, 0.2, rng},
		{"P too big", 8, 65, 0.7, 0.2, rng},
		{"r zero", 8, 4, 0, 0.2, rng},
		{"r above one", 8, 4, 1.5, 0.2, rng},
		{"r NaN", 8, 4, nanF(), 0.2, rng},
		{"rMin zero", 8, 4, 0.7, 0, rng},
		{"rMin above one", 8, 4, 0.7, 1.01, rng},
		{"nil rng while dropping", 8, 4, 0.7, 0.2, nil},
	} {
		_, err := NewLayout(tc.S, tc.P, tc.r, tc.rMin, tc.rng)
		assert.Error(t, err, tc.name)
	}
	l, err := NewLayout(4, 2, 0.5, 0.5, rng)
	require.NoError(t, err)
	for _, bc := range [][2]int{{-1, 0}, {2, 0}, {0, -1}, {0, 4}} {
		assert.Equal(t, -1, l.Index(bc[0], bc[1]))
	}
}

func nanF() float64 { var z float64; return z / z }

// handLayout builds a Layout with the given kept local indices per block.
func handLayout(S, P int, kept [][]int32) *Layout {
	l := &Layout{S: S, P: P, index: make([]int32, S*P)}
	for i := range l.index {
		l.index[i] = -1
	}
	for b, cs := range kept {
		for _, c := range cs {
			l.index[b*S+int(c)] = int32(len(l.Block))
			l.Block = append(l.Block, int32(b))
			l.Local = append(l.Local, c)
		}
	}
	return l
}

func TestLayoutInputsTargets(t *testing.T) {
	x := []int32{10, 11, 12, 13, 14} // S+1 tokens
	for _, tc := range []struct {
		name       string
		l          *Layout
		x          []int32
		wantIn, tg []int32
	}{
		{
			// Row (i, r) → x[r+1] iff r+1 ≥ i: block 0: x1..x4; block 1:
			// x1..x4; block 2: row 0 has 1 < 2 → −1, then x2 x3 x4.
			"full", handLayout(4, 3, [][]int32{{0, 1, 2, 3}, {0, 1, 2, 3}, {0, 1, 2, 3}}), x,
			[]int32{10, 11, 12, 13, 99, 99, 99, 99, 99, 99, 99, 99},
			[]int32{11, 12, 13, 14, 11, 12, 13, 14, -1, 12, 13, 14},
		},
		{
			// Only S tokens: the last row of every block has no label.
			"S tokens", handLayout(4, 3, [][]int32{{0, 1, 2, 3}, {0, 1, 2, 3}, {0, 1, 2, 3}}), x[:4],
			[]int32{10, 11, 12, 13, 99, 99, 99, 99, 99, 99, 99, 99},
			[]int32{11, 12, 13, -1, 11, 12, 13, -1, -1, 12, 13, -1},
		},
		{
			// COD kept (1,1), (1,3), (2,0), (2,2): (1,1) → x2, (1,3) → x4,
			// (2,0) → −1, (2,2) → x3.
			"COD", handLayout(4, 3, [][]int32{{0, 1, 2, 3}, {1, 3}, {0, 2}}), x,
			[]int32{10, 11, 12, 13, 99, 99, 99, 99},
			[]int32{11, 12, 13, 14, 12, 14, -1, 13},
		},
		{
			// AR (P = 1) is next-token prediction.
			"AR", handLayout(3, 1, [][]int32{{0, 1, 2}}), []int32{5, 6, 7, 8},
			[]int32{5, 6, 7}, []int32{6, 7, 8},
		},
	} {
		in := make([]int32, tc.l.Rows())
		tg := make([]int32, tc.l.Rows())
		tc.l.Inputs(in, tc.x, 99)
		tc.l.Targets(tg, tc.x)
		assert.Equal(t, tc.wantIn, in, tc.name)
		assert.Equal(t, tc.tg, tg, tc.name)
	}
	// NewLayout with r = 1 builds the same full layout as the hand one.
	full, err := NewLayout(4, 3, 1, 1, nil)
	require.NoError(t, err)
	assert.Equal(t, handLayout(4, 3, [][]int32{{0, 1, 2, 3}, {0, 1, 2, 3}, {0, 1, 2, 3}}), full)
}
