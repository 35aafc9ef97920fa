package train

import (
	"math"

	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/ops/asm"
)

// Grouped-query attention over the kept rows of a Layout under the PARD
// chain mask, forward beside backward. The N×N mask is never built: the
// visible kept columns of row t = (i, r) are
//
//	block 0, rows 0..r−i          contiguous (block 0 is fully kept and first)
//	Index(b, r−i+b), b = 1..i     the chain, ending at t itself (b = i)
//
// so a row sees at most S+P−1 columns. Head h reads KV head g = h/(H/KVH).
// Rows are (T, H·hd) for q, out and (T, KVH·hd) for k, v; RoPE is applied
// by the caller.
//
// Forward, per row t and head h (s, p over the visible columns j):
//
//	s_j    = q·k_j / √hd
//	lse    = log Σ_j exp(s_j)           (max-subtracted)
//	p_j    = exp(s_j − lse)
//	out    = Σ_j p_j v_j
//
// Backward, given dout (p recomputed from q, k and lse):
//
//	dp_j   = dout·v_j
//	D      = Σ_j p_j dp_j = dout·out
//	ds_j   = p_j (dp_j − D)
//	dq    += Σ_j ds_j k_j / √hd
//	dk_j  += ds_j q / √hd
//	dv_j  += p_j dout

// attnTask is one AttentionForward or AttentionBackward in flight.
type attnTask struct {
	l                       *Layout
	q, k, v, out, lse       []float32
	dq, dk, dv, dout, D     []float32 // D: dout·out per (row, head)
	from                    []int32   // suffixStarts
	H, group, hd, qw, kw, T int
	scale                   float32
	scratch                 []attnScratch
}

// attnScratch is one worker's buffers: the scores (then probabilities) of
// one row over its visible columns, their gradients, and the kept-row
// indices of its chain columns.
type attnScratch struct {
	s, ds []float32
	chain []int32
}

func newAttnTask(p *ops.Pool, l *Layout, H, KVH, hd int) *attnTask {
	if H%KVH != 0 {
		panic("train: attention: H not a multiple of KVH")
	}
	t := &attnTask{l: l, H: H, group: H / KVH, hd: hd, qw: H * hd, kw: KVH * hd, T: l.Rows(),
		scale: float32(1 / math.Sqrt(float64(hd))), scratch: make([]attnScratch, p.Threads())}
	n := l.S + l.P
	for w := range t.scratch {
		t.scratch[w] = attnScratch{s: make([]float32, n), ds: make([]float32, n), chain: make([]int32, l.P)}
	}
	return t
}

// scores writes s_j = q_t,h·k_j/√hd into w.s for the visible columns of row
// t: first the n0 block-0 columns 0..n0−1, then the chain columns w.chain
// (kept-row indices). It returns the visible columns as w.s[:n0+len(chain)]
// and the chain. The forward and the backward row pass share it, so the
// row pass recomputes the forward's scores exactly.
func (a *attnTask) scores(w *attnScratch, t, h int) (s []float32, n0 int, chain []int32) {
	l, hd, kw := a.l, a.hd, a.kw
	i, r := int(l.Block[t]), int(l.Local[t])
	n0 = max(r-i+1, 0)
	chain = w.chain[:0]
	for b := max(1, i-r); b <= i; b++ { // c = r−i+b ≥ 0
		if j := l.Index(b, r-i+b); j >= 0 {
			chain = append(chain, int32(j))
		}
	}
	s = w.s[:n0+len(chain)]
	qh := a.q[t*a.qw+h*hd : t*a.qw+(h+1)*hd]
	koff := (h / a.group) * hd
	asm.DotRows(s, qh, a.k[koff:], kw, n0)
	for c, j := range chain {
		s[n0+c] = ops.Dot(qh, a.k[int(j)*kw+koff:])
	}
	asm.Scale(s, a.scale)
	return s, n0, chain
}

// AttentionForward computes, for every kept row t and head h,
//
//	out[t][h] = Σ_j softmax_j(q[t][h]·k[j][g]/√hd) v[j][g]
//
// over the visible columns j of t, g = h/(H/KVH). q (T, H·hd), k and v
// (T, KVH·hd) are already rotated; out (T, H·hd); lse (T·H) receives the
// log-sum-exp of each (row, head)'s scaled scores, which the backward pass
// uses to recompute the probabilities. The work is split over (head, row)
// items; each writes only its own out and lse entries, so the result does
// not depend on the number of threads.
func AttentionForward(p *ops.Pool, out, lse, q, k, v []float32, l *Layout, H, KVH, hd int) {
	a := newAttnTask(p, l, H, KVH, hd)
	a.out, a.lse, a.q, a.k, a.v = out, lse, q, k, v
	a.checkLens(len(out), len(q), len(k), len(v), len(lse))
	p.RunDynamic(H*a.T, 64, attnForwardTask{a})
}

type attnForwardTask struct{ *attnTask }

// Run handles (head, row) items [lo, hi), item = h·T + t.
func (a attnForwardTask) Run(worker, lo, hi int) {
	w := &a.scratch[worker]
	hd, kw := a.hd, a.kw
	for item := lo; item < hi; item++ {
		h, t := item/a.T, item%a.T
		s, n0, chain := a.scores(w, t, h)
		m := asm.Max(s)
		sum := asm.ExpSub(s, m) // s_j ← exp(s_j − m)
		a.lse[t*a.H+h] = m + float32(math.Log(float64(sum)))
		asm.Scale(s, 1/sum) // p_j
		o := a.out[t*a.qw+h*hd : t*a.qw+(h+1)*hd]
		clear(o)
		voff := (h / a.group) * hd
		asm.AxpyRows(o, s[:n0], a.v[voff:], kw)
		for c, j := range chain {
			ops.Axpy(s[n0+c], a.v[int(j)*kw+voff:int(j)*kw+voff+hd], o)
		}
	}
}

// AttentionBackward accumulates (+=) into dq, dk, dv the gradients of
// AttentionForward given dout (T, H·hd), recomputing the probabilities
// from q, k and lse:
//
//	p_j = exp(s_j − lse), dp_j = dout·v_j, ds_j = p_j (dp_j − D), D = dout·out
//	dq += Σ_j ds_j k_j/√hd, dk_j += ds_j q/√hd, dv_j += p_j dout
//
// (D = Σ_j p_j dp_j.) It runs in two passes, FlashAttention-2's
// arrangement: a row pass over (head, row) items computes D and dq, then a
// column pass over (KV head, column) items recomputes p and ds down each
// column and accumulates dk and dv. Every output row of every head is
// written by one item only, in a fixed order, so there are no races and
// the result is bit-identical for any number of threads, while both passes
// use every thread (parallelism is not capped at KVH).
func AttentionBackward(p *ops.Pool, dq, dk, dv, dout, q, k, v, out, lse []float32, l *Layout, H, KVH, hd int) {
	a := newAttnTask(p, l, H, KVH, hd)
	a.dq, a.dk, a.dv, a.dout, a.q, a.k, a.v, a.out, a.lse = dq, dk, dv, dout, q, k, v, out, lse
	a.checkLens(len(out), len(q), len(k), len(v), len(lse))
	a.checkLens(len(dout), len(dq), len(dk), len(dv), len(lse))
	a.D = make([]float32, a.T*H)
	a.from = suffixStarts(l)
	p.RunDynamic(H*a.T, 64, attnRowTask{a})
	p.RunDynamic(KVH*a.T, 16, attnColTask{a})
}

// suffixStarts returns, for block i and local c in 0..S, the kept-row index
// of the first kept row of block i with local index ≥ c (the end of the
// block when none) at i·(S+1)+c, and the end of block i at i·(S+1)+S. The
// rows of block i that see block-0 column c are [from[i][c+i], from[i][S]).
func suffixStarts(l *Layout) []int32 {
	S := l.S
	from := make([]int32, l.P*(S+1))
	t := int32(0)
	for i := range l.P {
		for c := 0; c <= S; c++ {
			for int(t) < len(l.Block) && int(l.Block[t]) == i && int(l.Local[t]) < c {
				t++
			}
			from[i*(S+1)+c] = t
		}
	}
	return from
}

type attnRowTask struct{ *attnTask }

// Run handles (head, row) items [lo, hi), item = h·T + t: D and dq.
func (a attnRowTask) Run(worker, lo, hi int) {
	w := &a.scratch[worker]
	hd, qw, kw := a.hd, a.qw, a.kw
	for item := lo; item < hi; item++ {
		h, t := item/a.T, item%a.T
		s, n0, chain := a.scores(w, t, h)
		asm.ExpSub(s, a.lse[t*a.H+h]) // p_j
		do := a.dout[t*qw+h*hd : t*qw+(h+1)*hd]
		D := ops.Dot(do, a.out[t*qw+h*hd:t*qw+(h+1)*hd])
		a.D[t*a.H+h] = D
		koff := (h / a.group) * hd
		ds := w.ds[:len(s)]
		asm.DotRows(ds, do, a.v[koff:], kw, n0) // dp_j
		for c, j := range chain {
			ds[n0+c] = ops.Dot(do, a.v[int(j)*kw+koff:])
		}
		for j, pj := range s {
			ds[j] = pj * (ds[j] - D) * a.scale // ds_j/√hd
		}
		dqh := a.dq[t*qw+h*hd : t*qw+(h+1)*hd]
		asm.AxpyRows(dqh, ds[:n0], a.k[koff:], kw)
		for c, j := range chain {
			ops.Axpy(ds[n0+c], a.k[int(j)*kw+koff:int(j)*kw+koff+hd], dqh)
		}
	}
}

type attnColTask struct{ *attnTask }

// Run handles (KV head, column) items [lo, hi), item = g·T + u: dk and dv
// of kept row u, KV head g, from every (row, head) that sees it. The rows
// that see a block-0 column c are, in each block i, the kept rows with
// local ≥ c+i (a contiguous range); those that see mask (b, c) are the
// single rows (i, c+i−b), i ≥ b.
func (a attnColTask) Run(worker, lo, hi int) {
	w := &a.scratch[worker]
	l, S := a.l, a.l.S
	for item := lo; item < hi; item++ {
		g, u := item/a.T, item%a.T
		b, c := int(l.Block[u]), int(l.Local[u])
		for i := b; i < l.P; i++ {
			if b == 0 {
				if c+i < S {
					a.column(w, g, u, int(a.from[i*(S+1)+c+i]), int(a.from[i*(S+1)+S]))
				}
			} else if t := l.Index(i, c+i-b); t >= 0 {
				a.column(w, g, u, t, t+1)
			}
		}
	}
}

// column accumulates into dk and dv of column u, KV head g, the terms of
// rows [t0, t1) for each head of the group:
//
//	p_t = exp(q_t·k_u/√hd − lse_t), ds_t = p_t (dout_t·v_u − D_t)
//	dk_u += Σ_t ds_t q_t/√hd, dv_u += Σ_t p_t dout_t
func (a *attnTask) column(w *attnScratch, g, u, t0, t1 int) {
	n := t1 - t0
	if n <= 0 {
		return
	}
	hd, qw, kw := a.hd, a.qw, a.kw
	off := u*kw + g*hd
	ku, vu := a.k[off:off+hd], a.v[off:off+hd]
	dku, dvu := a.dk[off:off+hd], a.dv[off:off+hd]
	p, ds := w.s[:n], w.ds[:n]
	for h := g * a.group; h < (g+1)*a.group; h++ {
		qh, do := a.q[t0*qw+h*hd:], a.dout[t0*qw+h*hd:]
		asm.DotRows(p, ku, qh, qw, n)
		asm.Scale(p, a.scale)
		for t := range p {
			p[t] -= a.lse[(t0+t)*a.H+h]
		}
		asm.ExpSub(p, 0)
		asm.DotRows(ds, vu, do, qw, n) // dp_t
		for t, pt := range p {
			ds[t] = pt * (ds[t] - a.D[(t0+t)*a.H+h]) * a.scale
		}
		asm.AxpyRows(dku, ds, qh, qw)
		asm.AxpyRows(dvu, p, do, qw)
	}
}

func (a *attnTask) checkLens(out, q, k, v, lse int) {
	if out < a.T*a.qw || q < a.T*a.qw || k < a.T*a.kw || v < a.T*a.kw || lse < a.T*a.H {
		panic("train: attention: buffers shorter than the layout's rows")
	}
}
