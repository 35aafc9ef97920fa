package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gopard/gopard/tensor"
)

// BenchmarkMatMul times whole MatMuls on two threads at the Qwen2.5-0.5B
// MLP shapes: decode and verify rows with the weights coming from memory
// (32 matrices in turn, 279 MB), verify rows from L3 (one 8.7 MB matrix),
// and 64-row prefill of the up and down
// projections (the down projection's long rows are what the tile groups
// are for). It reports GFLOP/s and GB/s of weights.
func BenchmarkMatMul(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	pool := NewPool(2)
	defer pool.Close()
	for _, c := range []struct{ N, K, mats, M int }{
		{4864, 896, 32, 1}, {4864, 896, 32, 9}, {4864, 896, 1, 9}, {4864, 896, 1, 64}, {896, 4864, 1, 64},
	} {
		ws := make([]*tensor.Tensor, c.mats)
		for i := range ws {
			ws[i] = tensor.New(tensor.BF16, c.N, c.K)
			for j, u := 0, ws[i].U16(); j < len(u); j++ {
				u[j] = uint16(r.Uint32()>>20) | 0x3c00
			}
		}
		x := randSlice(r, c.M*c.K)
		out := make([]float32, c.M*c.N)
		b.Run(fmt.Sprintf("bf16/%dx%d/M=%d/mats=%d", c.N, c.K, c.M, c.mats), func(b *testing.B) {
			i := 0
			for b.Loop() {
				MatMul(pool, out, x, c.M, ws[i], nil, nil)
				i = (i + 1) % c.mats
			}
			s := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(2*c.M*c.N*c.K)/s/1e9, "GFLOP/s")
			b.ReportMetric(float64(2*c.N*c.K)/s/1e9, "GB/s")
		})
	}
}
