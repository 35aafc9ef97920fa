package ops

import (
	"fmt"
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
// q and out are (M, heads·headDim); k and v hold key/value head g's
// position t at element g·HeadStride + t·RowStride of layout (RowMajor:
// rows of positions; HeadMajor: each head's positions together, which
// attention then streams from memory, CPU.AllocKV's layout), in float32 or
// in IEEE binary16 (a half-precision cache: half the bytes per position,
// which attention reads from memory once the weights of a forward have
// evicted them; each element is widened exactly where it is read, so the
// result is, bit for bit, the one over the widened cache). The layout does
// not change a bit of the result. scratch holds one buffer of at least
// AttentionScratch(M, start, headDim) floats per worker.
//
// The queries that read one key/value head (the group's heads, for every
// row) go four at a time through asm.DotRows4 and asm.AxpyRows4, which
// share each load of a cache row among the four, and a tile of two (a
// decode step with two query heads per key/value head) through
// asm.DotRows2 and asm.AxpyRows2; the positions only some of a tile's
// queries see, and a lone query, go through the one-query kernels.
// Every query's result is the same bits either way, so it never depends
// on M or on how the queries were grouped.
func Attention[T asm.Cache](p *Pool, out, q []float32, k, v []T, M, start, heads, kvHeads, headDim int, layout KVLayout, scratch [][]float32) {
	t := &attentionTask[T]{}
	t.run(p, out, q, k, v, M, start, heads, kvHeads, headDim, layout, scratch)
}

// KVLayout places a KV cache's elements: key/value head g's position t
// starts at element g·HeadStride + t·RowStride.
type KVLayout struct{ RowStride, HeadStride int }

// RowMajor is the layout of a cache whose rows are positions, each the
// kvHeads heads of headDim values one after the other.
func RowMajor(kvHeads, headDim int) KVLayout { return KVLayout{kvHeads * headDim, headDim} }

// HeadMajor is the layout of a cache of capacity positions that keeps each
// head's positions together: (kvHeads, capacity, headDim).
func HeadMajor(capacity, headDim int) KVLayout { return KVLayout{headDim, capacity * headDim} }

// AttentionScratch is the floats of scratch each worker needs for an
// Attention of M rows from position start: four rows of scores and one
// head of output for the padding of a tile.
func AttentionScratch(M, start, headDim int) int { return 4*(start+M) + headDim }

// attentionTask is an Attention in flight, one item per tile of up to four
// queries of one key/value head; CPU keeps one per cache dtype to avoid
// allocating.
type attentionTask[T asm.Cache] struct {
	out, q                          []float32
	k, v                            []T
	M, start, heads, group, headDim int
	qw, kw                          int // query row stride; key/value position stride
	headStride                      int // key/value head stride
	tiles                           int // tiles per key/value head
	scale                           float32
	scratch                         [][]float32
}

func (t *attentionTask[T]) run(p *Pool, out, q []float32, k, v []T, M, start, heads, kvHeads, headDim int, layout KVLayout, scratch [][]float32) {
	group := heads / kvHeads
	if need := (kvHeads-1)*layout.HeadStride + (start+M-1)*layout.RowStride + headDim; layout.RowStride < headDim || len(k) < need || len(v) < need {
		panic(fmt.Sprintf("ops: Attention: a cache of %d keys and %d values is short of the %d a layout %+v needs", len(k), len(v), need, layout))
	}
	*t = attentionTask[T]{out: out, q: q, k: k, v: v, M: M, start: start, heads: heads, group: group, headDim: headDim,
		qw: heads * headDim, kw: layout.RowStride, headStride: layout.HeadStride, tiles: (M*group + 3) / 4,
		scale: float32(1 / math.Sqrt(float64(headDim))), scratch: scratch}
	p.RunTask(kvHeads*t.tiles, 1, t)
	*t = attentionTask[T]{}
}

// Run implements Task over tiles [lo, hi): tile i is queries 4·(i%tiles)
// to 4·(i%tiles)+3 of key/value head i/tiles, numbered row-major (row m,
// head h of the group is query m·group + h), so a tile's first query sees
// the fewest positions. A tile of three is padded to four; one of two
// goes through the two-query kernels, one of one through the one-query
// kernels.
func (t *attentionTask[T]) Run(worker, lo, hi int) {
	hd, qw, kw := t.headDim, t.qw, t.kw
	span := t.start + t.M
	buf := t.scratch[worker]
	for item := lo; item < hi; item++ {
		g, first := item/t.tiles, 4*(item%t.tiles)
		nq := min(4, t.M*t.group-first) // real queries in the tile
		kvOff := g * t.headStride
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
		if nq == 1 {
			t.one(qs[0], os[0], ps[0], kvOff)
			continue
		}
		w := 4 // the tile's width: 2 for two queries, else 4 with padding
		if nq == 2 {
			w = 2
		}
		common := n[0]
		var common4 [4][]float32
		for j := range w {
			common4[j] = ps[j][:common]
		}
		t.dotRows(w, &common4, &qs, kvOff, common)
		for j := range nq {
			if n[j] > common {
				asm.DotRows(ps[j][common:], qs[j], t.k[kvOff+common*kw:], kw, n[j]-common)
			}
		}
		for j := range w {
			if j < nq { // the padding sums its raw scores into a discarded output
				asm.Scale(ps[j], t.scale)
				Softmax(ps[j])
			}
			clear(os[j])
		}
		t.axpyRows(w, &os, &common4, kvOff)
		for j := range nq {
			if n[j] > common {
				asm.AxpyRows(os[j], ps[j][common:], t.v[kvOff+common*kw:], kw)
			}
		}
	}
}

// one is a lone query's attention: scores, softmax, weighted sum of values.
func (t *attentionTask[T]) one(q, o, score []float32, kvOff int) {
	asm.DotRows(score, q, t.k[kvOff:], t.kw, len(score))
	asm.Scale(score, t.scale)
	Softmax(score)
	clear(o)
	asm.AxpyRows(o, score, t.v[kvOff:], t.kw)
}

// dotRows and axpyRows run the tile's common positions through the
// kernels of its width w (the first w of each array).
func (t *attentionTask[T]) dotRows(w int, out, q *[4][]float32, kvOff, n int) {
	if w == 2 {
		asm.DotRows2((*[2][]float32)(out[:2]), (*[2][]float32)(q[:2]), t.k[kvOff:], t.kw, n)
		return
	}
	asm.DotRows4(out, q, t.k[kvOff:], t.kw, n)
}

func (t *attentionTask[T]) axpyRows(w int, o, p *[4][]float32, kvOff int) {
	if w == 2 {
		asm.AxpyRows2((*[2][]float32)(o[:2]), (*[2][]float32)(p[:2]), t.v[kvOff:], t.kw)
		return
	}
	asm.AxpyRows4(o, p, t.v[kvOff:], t.kw)
}
