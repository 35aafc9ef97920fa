package asm

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// testLengths reach every tail path of the 16-lane kernels and two real dims.
var testLengths = func() []int {
	var ls []int
	for i := 0; i <= 17; i++ {
		ls = append(ls, i)
	}
	return append(ls, 31, 32, 33, 63, 64, 65, 127, 128, 129, 896, 4864)
}()

// testOffsets are the start offsets (in elements) of inputs and outputs.
var testOffsets = []int{0, 1, 2, 3}

const guard = float32(-12345.25) // written around outputs; must survive a kernel

func randF32(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// guarded returns a buffer of off+n+8 guard values and the n-long window at off.
func guarded(off, n int) (buf, win []float32) {
	buf = make([]float32, off+n+8)
	for i := range buf {
		buf[i] = guard
	}
	return buf, buf[off : off+n]
}

// checkGuards fails when any value of buf outside [off, off+n) changed.
func checkGuards(t *testing.T, buf []float32, off, n int, what string) {
	t.Helper()
	for i, v := range buf {
		if (i < off || i >= off+n) && v != guard {
			t.Fatalf("%s: guard at %d overwritten with %v", what, i, v)
		}
	}
}

// near reports whether a and b agree within tol·(1+|b|) (NaN-aware).
func near(a, b, tol float32) bool {
	if a == b {
		return true
	}
	if math.IsNaN(float64(a)) || math.IsNaN(float64(b)) {
		return math.IsNaN(float64(a)) && math.IsNaN(float64(b))
	}
	return math.Abs(float64(a-b)) <= float64(tol)*(1+math.Abs(float64(b)))
}

// checkMap runs a kernel and its twin over copies of init, each in a
// guarded window at off, and fails unless same holds for every element
// and nothing outside the window was written.
func checkMap(t *testing.T, what string, off int, init []float32, kernel, twin func(out []float32), same func(got, want float32) bool) {
	t.Helper()
	n := len(init)
	bufA, outA := guarded(off, n)
	_, outG := guarded(off, n)
	copy(outA, init)
	copy(outG, init)
	kernel(outA)
	twin(outG)
	checkGuards(t, bufA, off, n, what)
	for i := range outA {
		if !same(outA[i], outG[i]) {
			t.Fatalf("%s: [%d] = %v, twin %v", what, i, outA[i], outG[i])
		}
	}
}

// sameBits is checkMap's test for kernels that must give the twin's bits.
func sameBits(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }

// verifySplitUses is whether the installed verify split has tiles of mt
// rows: the heights whose Mat kernels are assembly where it has any.
func verifySplitUses(mt int) bool {
	for _, tiles := range verifyTable {
		if slices.Contains(tiles, mt) {
			return true
		}
	}
	return false
}
