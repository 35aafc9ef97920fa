package ops

import (
	"math"

	"github.com/gopard/gopard/ops/asm"
)

// SiLUMul is the SwiGLU gate: out[i] = silu(gate[i]) · up[i], where
// silu(x) = x · sigmoid(x). out may alias gate or up.
func SiLUMul(out, gate, up []float32) { asm.SiLUMul(out[:len(gate)], gate, up[:len(gate)]) }

// Softmax replaces x by exp(x - max) / Σ exp(x - max), with asm.Exp.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	sum := asm.ExpSub(x, asm.Max(x))
	asm.Scale(x, 1/sum)
}

// LogSoftmax writes log(softmax(x)) into out (which may alias x), computed
// in float64 as log-probabilities are compared with a float64 reference.
func LogSoftmax(out, x []float32) {
	if len(x) == 0 {
		return
	}
	mx := x[0]
	for _, v := range x[1:] {
		mx = max(mx, v)
	}
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v - mx))
	}
	lse := float64(mx) + math.Log(sum)
	out = out[:len(x)]
	for i, v := range x {
		out[i] = float32(float64(v) - lse)
	}
}

// Argmax returns the index of the largest value (the first one on ties).
// NaNs never win (0 when every value is NaN), as in the GPU argmax kernel
// and pard's sampler, so that greedy ids do not depend on where the argmax
// runs: a NaN at index 0 must not hide the row's real maximum. It runs in
// AVX-512 where the CPU has it (asm.Argmax).
func Argmax(x []float32) int { return asm.Argmax(x) }

// TopK fills idx with the indices of the len(idx) largest values of x,
// largest first and, among equal values, the lower index first: the
// order of a stable sort of x by value, descending, cut after len(idx).
// NaN ranks as -Inf. One pass keeps the best so far in order, so a large
// vocabulary's top few cost about a read of x, not a sort.
func TopK(idx []int, x []float32) {
	k := min(len(idx), len(x))
	idx = idx[:k]
	if k == 0 {
		return
	}
	key := func(i int) float32 {
		if v := x[i]; v == v {
			return v
		}
		return float32(math.Inf(-1))
	}
	n := 0 // idx[:n] holds the best so far, in order
	for i := range x {
		v := key(i)
		if n == k && v <= key(idx[k-1]) {
			continue // not above the worst kept (an equal one came first)
		}
		// Insert after every kept value ≥ v: equal values keep index order.
		lo, hi := 0, n
		for lo < hi {
			if mid := (lo + hi) / 2; key(idx[mid]) >= v {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		if n < k {
			n++
		}
		copy(idx[lo+1:n], idx[lo:n-1])
		idx[lo] = i
	}
}
