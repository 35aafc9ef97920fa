package ops

import (
	"math"

	"github.com/gopard/gopard/ops/asm"
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
	t := &attentionTask{}
	t.run(p, out, q, k, v, M, start, heads, kvHeads, headDim, scratch)
}

// attentionTask is an Attention in flight, one item per (row, head); CPU
// keeps one to avoid allocating.
type attentionTask struct {
	out, q, k, v                 []float32
	start, heads, group, headDim int
	qw, kw                       int
	scale                        float32
	scratch                      [][]float32
}

func (t *attentionTask) run(p *Pool, out, q, k, v []float32, M, start, heads, kvHeads, headDim int, scratch [][]float32) {
	*t = attentionTask{out: out, q: q, k: k, v: v, start: start, heads: heads, group: heads / kvHeads, headDim: headDim,
		qw: heads * headDim, kw: kvHeads * headDim, scale: float32(1 / math.Sqrt(float64(headDim))), scratch: scratch}
	p.RunTask(M*heads, 1, t)
	*t = attentionTask{}
}

// Run implements Task over (row, head) items [lo, hi).
func (t *attentionTask) Run(worker, lo, hi int) {
	hd, qw, kw := t.headDim, t.qw, t.kw
	for item := lo; item < hi; item++ {
		m, h := item/t.heads, item%t.heads
		n := t.start + m + 1 // visible positions
		qh := t.q[m*qw+h*hd : m*qw+(h+1)*hd]
		kvOff := (h / t.group) * hd
		score := t.scratch[worker][:n]
		asm.DotRows(score, qh, t.k[kvOff:], kw, n)
		asm.Scale(score, t.scale)
		Softmax(score)
		o := t.out[m*qw+h*hd : m*qw+(h+1)*hd]
		clear(o)
		asm.AxpyRows(o, score, t.v[kvOff:], kw)
	}
}
