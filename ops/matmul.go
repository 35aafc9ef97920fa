package ops

import (
	"fmt"

	"github.com/gopard/gopard/tensor"
)

// Dot returns Σ a[i]·b[i] over len(a) elements (len(b) ≥ len(a)).
// Four independent partial sums let the CPU overlap the additions.
func Dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Axpy does y[i] += alpha·x[i] over len(x) elements.
func Axpy(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// WidenRow writes row n of the (rows, cols) weight w into dst as float32.
// For F32 weights it returns the row itself without copying.
func WidenRow(dst []float32, w *tensor.Tensor, n int) []float32 {
	k := w.Cols()
	switch w.DType {
	case tensor.F32:
		return w.F32()[n*k : (n+1)*k]
	case tensor.BF16:
		tensor.BF16ToF32(dst[:k], w.U16()[n*k:(n+1)*k])
	case tensor.F16:
		tensor.F16ToF32(dst[:k], w.U16()[n*k:(n+1)*k])
	default:
		panic(fmt.Sprintf("ops: weight dtype %v", w.DType))
	}
	return dst[:k]
}

// matmulGrain is the number of weight rows a worker takes at a time: big
// enough that a worker streams a contiguous stretch of the weight.
const matmulGrain = 16

// MatMul computes the linear layer out = x·wᵀ + bias for M rows:
//
//	out[m][n] = Σ_k x[m][k]·w[n][k] + bias[n]     x (M, K), w (N, K), out (M, N)
//
// Each weight row is read (and widened from bf16/f16) once and used for all
// M rows of x, which is what makes verifying K+1 tokens cost little more
// than decoding one. Rows of w are split across the pool's workers; scratch
// holds one K-long float32 buffer per worker. bias may be nil.
func MatMul(p *Pool, out, x []float32, M int, w *tensor.Tensor, bias []float32, scratch [][]float32) {
	N, K := w.Rows(), w.Cols()
	out, x = out[:M*N], x[:M*K]
	p.Run(N, matmulGrain, func(worker, lo, hi int) {
		buf := scratch[worker]
		for n := lo; n < hi; n++ {
			row := WidenRow(buf, w, n)
			b := float32(0)
			if bias != nil {
				b = bias[n]
			}
			for m := 0; m < M; m++ {
				out[m*N+n] = Dot(row, x[m*K:(m+1)*K]) + b
			}
		}
	})
}
