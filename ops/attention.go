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
// scratch holds one buffer of at least AttentionScratch(M, start, headDim)
// floats per worker.
//
// The queries that read one key/value head (the group's heads, for every
// row) go four at a time through asm.DotRows4 and asm.AxpyRows4, which
// share each load of a cache row among the four, and a tile of two (a
// decode step with two query heads per key/value head) through
// asm.DotRows2 and asm.AxpyRows2; the positions only some of a tile's
// queries see, and a lone query, go through the one-query kernels.
// Every query's result is the same bits either way, so it never depends
// on M or on how the queries were grouped.
func Attention(p *Pool, out, q, k, v []float32, M, start, heads, kvHeads, headDim int, scratch [][]float32) {
	t := &attentionTask{k: k, v: v}
	t.run(p, out, q, M, start, heads, kvHeads, headDim, scratch)
}

// AttentionF16 is Attention over a KV cache kept in IEEE binary16 (half
// the bytes per position, which attention reads from memory once the
// weights of a forward have evicted them). Each cache element is widened
// exactly where it is read, so the result is, bit for bit, Attention's
// over the widened cache.
func AttentionF16(p *Pool, out, q []float32, k, v []uint16, M, start, heads, kvHeads, headDim int, scratch [][]float32) {
	t := &attentionTask{k16: k, v16: v}
	t.run(p, out, q, M, start, heads, kvHeads, headDim, scratch)
}

// AttentionScratch is the floats of scratch each worker needs for an
// Attention of M rows from position start: four rows of scores and one
// head of output for the padding of a tile.
func AttentionScratch(M, start, headDim int) int { return 4*(start+M) + headDim }

// attentionTask is an Attention in flight, one item per tile of up to four
// queries of one key/value head; CPU keeps one to avoid allocating.
type attentionTask struct {
	out, q, k, v                    []float32
	k16, v16                        []uint16 // a binary16 cache, in place of k and v
	M, start, heads, group, headDim int
	qw, kw                          int
	tiles                           int // tiles per key/value head
	scale                           float32
	scratch                         [][]float32
}

// run computes the attention over t.k, t.v or t.k16, t.v16, whichever
// the caller set.
func (t *attentionTask) run(p *Pool, out, q []float32, M, start, heads, kvHeads, headDim int, scratch [][]float32) {
	group := heads / kvHeads
	*t = attentionTask{out: out, q: q, k: t.k, v: t.v, k16: t.k16, v16: t.v16, M: M, start: start, heads: heads, group: group, headDim: headDim,
		qw: heads * headDim, kw: kvHeads * headDim, tiles: (M*group + 3) / 4,
		scale: float32(1 / math.Sqrt(float64(headDim))), scratch: scratch}
	p.RunTask(kvHeads*t.tiles, 1, t)
	*t = attentionTask{}
}

// Run implements Task over tiles [lo, hi): tile i is queries 4·(i%tiles)
// to 4·(i%tiles)+3 of key/value head i/tiles, numbered row-major (row m,
// head h of the group is query m·group + h), so a tile's first query sees
// the fewest positions.
func (t *attentionTask) Run(worker, lo, hi int) {
	hd, qw, kw := t.headDim, t.qw, t.kw
	span := t.start + t.M
	buf := t.scratch[worker]
	for item := lo; item < hi; item++ {
		g, first := item/t.tiles, 4*(item%t.tiles)
		nq := min(4, t.M*t.group-first) // real queries in the tile
		kvOff := g * hd
		var (
			qs, os, ps [4][]float32
			n          [4]int // positions query j sees
		)
		for j := range 4 {
			qi := first + min(j, nq-1) // padding repeats the last query
			m, h := qi/t.group, g*t.group+qi%t.group
			n[j] = t.start + m + 1
			qs[j] = t.q[m*qw+h*hd : m*qw+(h+1)*hd]
			os[j] = t.out[m*qw+h*hd : m*qw+(h+1)*hd]
			if j >= nq { // the padding's output is thrown away
				n[j], os[j] = n[0], buf[4*span:4*span+hd]
			}
			ps[j] = buf[j*span : j*span+n[j]]
		}
		switch nq {
		case 1:
			t.one(qs[0], os[0], ps[0], kvOff)
			continue
		case 2:
			t.pair(&qs, &os, &ps, n[1], kvOff)
			continue
		}
		common := n[0]
		var common4 [4][]float32
		for j := range 4 {
			common4[j] = ps[j][:common]
		}
		t.dotRows4(&common4, &qs, kvOff, common)
		for j := range nq {
			if n[j] > common {
				t.dotRows(ps[j][common:], qs[j], kvOff+common*kw, n[j]-common)
			}
		}
		for j := range 4 {
			if j < nq { // the padding sums its raw scores into a discarded output
				asm.Scale(ps[j], t.scale)
				Softmax(ps[j])
			}
			clear(os[j])
		}
		t.axpyRows4(&os, &common4, kvOff)
		for j := range nq {
			if n[j] > common {
				t.axpyRows(os[j], ps[j][common:], kvOff+common*kw)
			}
		}
	}
}

// pair is the attention of a tile's two real queries (a decode step with
// two query heads per key/value head, or a verify's last two), without
// the padding to four: the first sees ps[0]'s positions, the second n1.
func (t *attentionTask) pair(qs, os, ps *[4][]float32, n1, kvOff int) {
	common := len(ps[0])
	q2, c2, o2 := [2][]float32{qs[0], qs[1]}, [2][]float32{ps[0], ps[1][:common]}, [2][]float32{os[0], os[1]}
	t.dotRows2(&c2, &q2, kvOff, common)
	if n1 > common {
		t.dotRows(ps[1][common:], qs[1], kvOff+common*t.kw, n1-common)
	}
	for j := range 2 {
		asm.Scale(ps[j], t.scale)
		Softmax(ps[j])
		clear(os[j])
	}
	t.axpyRows2(&o2, &c2, kvOff)
	if n1 > common {
		t.axpyRows(os[1], ps[1][common:], kvOff+common*t.kw)
	}
}

// one is a lone query's attention: scores, softmax, weighted sum of values.
func (t *attentionTask) one(q, o, score []float32, kvOff int) {
	t.dotRows(score, q, kvOff, len(score))
	asm.Scale(score, t.scale)
	Softmax(score)
	clear(o)
	t.axpyRows(o, score, kvOff)
}

// The cache reads, from element off of k or v on, in either dtype.

func (t *attentionTask) dotRows(out, q []float32, off, n int) {
	if t.k16 != nil {
		asm.DotRowsF16(out, q, t.k16[off:], t.kw, n)
		return
	}
	asm.DotRows(out, q, t.k[off:], t.kw, n)
}

func (t *attentionTask) dotRows4(out, q *[4][]float32, off, n int) {
	if t.k16 != nil {
		asm.DotRows4F16(out, q, t.k16[off:], t.kw, n)
		return
	}
	asm.DotRows4(out, q, t.k[off:], t.kw, n)
}

func (t *attentionTask) dotRows2(out, q *[2][]float32, off, n int) {
	if t.k16 != nil {
		asm.DotRows2F16(out, q, t.k16[off:], t.kw, n)
		return
	}
	asm.DotRows2(out, q, t.k[off:], t.kw, n)
}

func (t *attentionTask) axpyRows2(o, p *[2][]float32, off int) {
	if t.v16 != nil {
		asm.AxpyRows2F16(o, p, t.v16[off:], t.kw)
		return
	}
	asm.AxpyRows2(o, p, t.v[off:], t.kw)
}

func (t *attentionTask) axpyRows(o, p []float32, off int) {
	if t.v16 != nil {
		asm.AxpyRowsF16(o, p, t.v16[off:], t.kw)
		return
	}
	asm.AxpyRows(o, p, t.v[off:], t.kw)
}

func (t *attentionTask) axpyRows4(o, p *[4][]float32, off int) {
	if t.v16 != nil {
		asm.AxpyRows4F16(o, p, t.v16[off:], t.kw)
		return
	}
	asm.AxpyRows4(o, p, t.v[off:], t.kw)
}
