package ops

import (
	"math"
)

// Attention is causal grouped-query attention of M new positions over a KV
// cache. Query row m sits at position start+m and sees cache rows
// 0..start+m. Head h reads key/value head h/(heads/kvHeads).
//
//	score[t] = q·k[t] / sqrt(headDim)      t ≤ start+m
//	out      = Σ_t softmax(score)[t] · v[t]
//
// q and out are (M, heads·headDim); k and v are (≥ start+M, kvHeads·headDim).
// scratch holds one buffer of at least start+M floats per worker.
func Attention(p *Pool, out, q, k, v []float32, M, start, heads, kvHeads, headDim int, scratch [][]float32) {
	group := heads / kvHeads
	qw, kw := heads*headDim, kvHeads*headDim
	scale := float32(1 / math.Sqrt(float64(headDim)))
	p.Run(M*heads, 1, func(worker, lo, hi int) {
		for item := lo; item < hi; item++ {
			m, h := item/heads, item%heads
			n := start + m + 1 // visible positions
			qh := q[m*qw+h*headDim : m*qw+(h+1)*headDim]
			kvOff := (h / group) * headDim
			score := scratch[worker][:n]
			for t := range score {
				score[t] = Dot(qh, k[t*kw+kvOff:t*kw+kvOff+headDim]) * scale
			}
			Softmax(score)
			o := out[m*qw+h*headDim : m*qw+(h+1)*headDim]
			clear(o)
			for t, pt := range score {
				Axpy(pt, v[t*kw+kvOff:t*kw+kvOff+headDim], o)
			}
		}
	})
}
