package ops

import (
	"math"

	"github.com/gopard/gopard/ops/asm"
)

// RMSNorm normalizes each row of x (rows of len(w) values) by its root
// mean square and scales it by w, as Llama and Qwen do:
//
//	out = x / sqrt(mean(x²) + eps) · w
//
// out may alias x. The sum of squares runs in 16 float32 lanes.
func RMSNorm(out, x, w []float32, eps float32) {
	d := len(w)
	for r := 0; r+d <= len(x); r += d {
		ss := float64(asm.SumSq(x[r : r+d]))
		scale := float32(1 / math.Sqrt(ss/float64(d)+float64(eps)))
		asm.ScaleMul(out[r:r+d], x[r:r+d], scale, w)
	}
}

// Add does dst[i] += src[i].
func Add(dst, src []float32) { asm.Add(dst[:len(src)], src) }
