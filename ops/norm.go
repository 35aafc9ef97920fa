package ops

import "math"

// RMSNorm normalizes each row of x (rows of len(w) values) by its root
// mean square and scales it by w, as Llama and Qwen do:
//
//	out = x / sqrt(mean(x²) + eps) · w
//
// out may alias x. The mean is accumulated in float64.
func RMSNorm(out, x, w []float32, eps float32) {
	d := len(w)
	for r := 0; r+d <= len(x); r += d {
		row, o := x[r:r+d], out[r:r+d]
		var ss float64
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		scale := float32(1 / math.Sqrt(ss/float64(d)+float64(eps)))
		for i, v := range row {
			o[i] = v * scale * w[i]
		}
	}
}

// Add does dst[i] += src[i].
func Add(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += v
	}
}
