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
