package ops

import (
	"fmt"

	"github.com/gopard/gopard/ops/asm"
	"github.com/gopard/gopard/tensor"
)

// Dot returns Σ a[i]·b[i] over len(a) elements (len(b) ≥ len(a)).
func Dot(a, b []float32) float32 { return asm.Dot(a, b[:len(a)]) }

// Axpy does y[i] += alpha·x[i] over len(x) elements.
func Axpy(alpha float32, x, y []float32) { asm.Axpy(alpha, x, y[:len(x)]) }

// WidenRow writes row n of the (rows, cols) weight w into dst as float32.
// For F32 weights it returns the row itself without copying.
func WidenRow(dst []float32, w *tensor.Tensor, n int) []float32 {
	k := w.Cols()
	switch w.DType {
	case tensor.F32:
		return w.F32()[n*k : (n+1)*k]
	case tensor.BF16:
		asm.BF16ToF32(dst[:k], w.U16()[n*k:(n+1)*k])
	case tensor.F16:
		asm.F16ToF32(dst[:k], w.U16()[n*k:(n+1)*k])
	default:
		panic(fmt.Sprintf("ops: weight dtype %v", w.DType))
	}
	return dst[:k]
}

// matmulBlockBytes bounds the stretch of weight rows every activation tile
// of a worker multiplies in turn: it stays in L2 (1 MiB on Zen 4) while
// the tiles of a prefill reuse it, and is read from memory once.
const matmulBlockBytes = 64 << 10

// matmulGroupBytes bounds the packed activations a prefill multiplies with
// each weight block: with the block they stay in a 1 MiB L2. Above it the
// rows go in groups, each over all the weights (read again from L3, which
// costs less than streaming x from L3 for every block: a 64-row
// down-projection of the Qwen2.5-0.5B shape, x 1.2 MB, went from 196 to
// 290 GFLOP/s). Packed bf16 activations count 2 bytes each, so twice as
// many rows share a group (a 512-token bf16-activation prefill of that
// shape: 898–1036 against 985–1119 ms, four alternating pairs, three of
// them faster).
const matmulGroupBytes = 384 << 10

// MatMul computes the linear layer out = x·wᵀ + bias for M rows:
//
//	out[m][n] = Σ_k x[m][k]·w[n][k] + bias[n]     x (M, K), w (N, K), out (M, N)
//
// x is first packed (asm.Pack; up to 16 rows by every thread for itself,
// see matMulTask.perThread) into tiles: up to 16 rows as
// asm.VerifyTiles splits them (9 = 5+4, 6 = 6 with AVX-512), above greedily into
// 4, 2 and 1 rows (with bf16 activations, asm.PackBF16, and up to 16 rows
// as asm.DotTiles splits them: one tile up to 13). Up to 16
// rows, the weights are split across the pool's threads in one contiguous
// stretch each (a single long stream per core is what the hardware
// prefetchers follow best; handing out blocks in turn measured 1.5× slower
// at M = 1); above, the work is bound by the FMA units and the threads
// claim blocks as they go (Pool.RunDynamic), so that one slowed down by
// other processes does not hold the others up. A thread multiplies every
// tile with a block of matmulBlockBytes of weight rows while it is in
// cache, so a weight row is read from memory once for all M rows
// of x — which is what makes verifying K+1 tokens cost little more than
// decoding one. The kernels widen bf16/f16 weights exactly, in registers.
//
// Every row of out is computed the same way whatever M is, so splitting a
// forward into chunks or tiles never changes a bit. bias may be nil;
// scratch is unused (the packed activations live in the task; CPU keeps
// one, and can opt into bf16 activations: see CPU.SetBF16Activations).
func MatMul(p *Pool, out, x []float32, M int, w *tensor.Tensor, bias []float32, scratch [][]float32) {
	var t matMulTask
	t.run(p, out, x, M, w, bias)
}

// mtile is one packed tile of activation rows.
type mtile struct{ m0, mt, off int }

// matMulTask is a MatMul in flight; CPU keeps one to avoid allocating.
type matMulTask struct {
	out, x, bias []float32
	M, N, K      int
	w            *tensor.Tensor
	bf16Act      bool      // allow bf16 activations (CPU.SetBF16Activations)
	dot          bool      // bf16 weights and bf16 activations (asm.MatDot)
	xp           []float32 // packed activations (asm.Pack), grown as needed
	xp16         []uint16  // or packed bf16 activations (asm.PackBF16)
	// px and px16 are the packed activations the kernels read unless
	// perThread: xp and xp16, or those of another task of the same x
	// (multiMatMul), which then packs x once for all its matrices.
	px   []float32
	px16 []uint16
	// With float32 activations up to 16 rows (perThread), each thread
	// packs x into a buffer of its own as its part starts, instead of the
	// caller packing it before the dispatch. Packed, x is twice its size
	// in float32 (four-row tiles), and the other threads would read all of
	// it from the caller's cache after waiting for it; this way each reads
	// only the rows the others wrote, and nobody waits. A PARD K = 4
	// decode of the embedded pair, float32 activations, ran 3.6% faster
	// on average (seven rounds of a throwaway harness alternating the two
	// per prompt, −1.5% to +7.2%), plain decoding 0.6%; the README's grid
	// (cmd/eval) moved from 1.46–1.52× to 1.54–1.56× of AR. With bf16
	// activations the packing is half of x and the same alternation
	// measured 2–3% slower, so it stays on the caller there. src is the task whose packing t reads (t, or the first
	// task of the same x in a multiMatMul); a thread's buffer holds src's
	// x when its gen is src's.
	perThread bool
	src       *matMulTask
	gen       uint64
	threads   []threadPack
	// accs holds, per worker, the accumulators a tile carries between
	// panels (runPanels); each worker grows only its own.
	accs  [][]float32
	tiles []mtile
	block int // weight rows per cache block
	// groups splits tiles (indices into tiles, len(groups) - 1 groups)
	// into runs whose packed activations stay in L2 beside a weight block
	// (above 16 rows): each group is multiplied with every weight row
	// before the next, so a long x is read once per group from cache
	// rather than once per weight block from L3.
	groups []int
	// prefetchers is how many tiles (those of four to six rows, first in
	// tiles) bring the next block into L2 as they compute, each its share
	// (asm.MatBF16Next): bf16 weights, 4 to 16 rows. 0: none do.
	prefetchers int
}

// threadPack is one thread's packing of a task's float32 activations,
// padded so that threads writing their own do not share a cache line.
type threadPack struct {
	xp  []float32
	gen uint64
	_   [96]byte
}

// dotInOrder is whether the task multiplies bf16 activations, up to 16
// rows, in tiles of up to 13 (asm.DotTiles) that all read the weights in
// address order.
func (t *matMulTask) dotInOrder() bool { return t.dot && t.M <= 16 }

func (t *matMulTask) run(p *Pool, out, x []float32, M int, w *tensor.Tensor, bias []float32) {
	t.prepare(out, x, M, w, bias, nil, p.Threads())
	if M > 16 {
		p.RunDynamic(t.N*(len(t.groups)-1), t.block, t)
	} else {
		p.RunTask(t.N, 4, t)
	}
	t.release()
}

// release drops the task's references to its operands.
func (t *matMulTask) release() {
	t.out, t.x, t.bias, t.w, t.px, t.px16, t.src = nil, nil, nil, nil, nil, nil, nil
}

// prepare checks the weights, lays out the tiles of x (packing it above
// 16 rows; up to 16, sizing the buffers of the given number of threads,
// which pack it themselves) and sizes the cache blocks: everything before
// the threads run. When shared is a prepared task of the same x (the same
// rows in memory, with the same kind of packing), t reads its packed
// activations instead of packing x again.
func (t *matMulTask) prepare(out, x []float32, M int, w *tensor.Tensor, bias []float32, shared *matMulTask, threads int) {
	N, K := w.Rows(), w.Cols()
	switch w.DType {
	case tensor.F32, tensor.BF16, tensor.F16:
	default:
		panic(fmt.Sprintf("ops: weight dtype %v", w.DType))
	}
	t.out, t.x, t.bias, t.M, t.N, t.K, t.w = out[:M*N], x[:M*K], bias, M, N, K, w
	t.dot = t.bf16Act && w.DType == tensor.BF16 && asm.HasMatDot()
	pack := shared == nil || shared.dot != t.dot || shared.M != M || shared.K != K ||
		len(shared.x) == 0 || &shared.x[0] != &t.x[0]
	t.perThread, t.src = M <= 16 && !t.dot, t
	t.gen++
	switch {
	case !pack:
		t.px, t.px16, t.src = shared.px, shared.px16, shared
	case t.perThread:
		if len(t.threads) < threads {
			t.threads = append(t.threads, make([]threadPack, threads-len(t.threads))...)
		}
		for i := range t.threads[:threads] {
			t.threads[i].xp = grow(t.threads[i].xp, asm.PackedLen(M, K))
		}
	case t.dot:
		t.xp16 = grow(t.xp16, asm.PackedBF16Len(M, K))
		t.px16 = t.xp16
	default:
		t.xp = grow(t.xp, asm.PackedLen(M, K))
		t.px = t.xp
	}
	if t.dot && len(t.accs) < threads { // also when sharing another task's packing
		t.accs = append(t.accs, make([][]float32, threads-len(t.accs))...)
	}
	t.tiles = t.tiles[:0]
	var verify []int // the split of a verify-sized M (asm.VerifyTiles)
	switch {
	case t.dotInOrder():
		verify = asm.DotTiles(M)
	case M <= 16:
		verify = asm.VerifyTiles(M)
	}
	for m0, off := 0, 0; m0 < M; {
		mt := 1
		if len(verify) > 0 {
			mt, verify = verify[0], verify[1:]
		} else {
			for _, h := range asm.Tiles {
				if h <= M-m0 {
					mt = h
					break
				}
			}
		}
		t.tiles = append(t.tiles, mtile{m0, mt, off})
		if t.dot {
			off += asm.PackedBF16Len(mt, K)
		} else {
			off += asm.PackedLen(mt, K)
		}
		m0 += mt
	}
	if pack && !t.perThread {
		t.pack(t.px, t.px16)
	}
	t.block = max(4, matmulBlockBytes/max(1, K*w.DType.Size())/4*4)
	t.groups = append(t.groups[:0], 0)
	xbytes := 0
	elem := 4 // bytes per packed activation
	if t.dot {
		elem = 2
	}
	for i, tl := range t.tiles {
		b := tl.mt * K * elem
		if M > 16 && i > 0 && xbytes+b > matmulGroupBytes {
			t.groups, xbytes = append(t.groups, i), 0
		}
		xbytes += b
	}
	t.groups = append(t.groups, len(t.tiles))
	t.prefetchers = 0
	if M <= 16 && w.DType == tensor.BF16 && !t.dot {
		for _, tl := range t.tiles { // largest first: these lead
			if tl.mt >= 3 {
				t.prefetchers++
			}
		}
	}
}

// runPanels multiplies weight rows [b0, b1) with the bf16 tile tl, whose
// packed rows are too long to stay in L1 (asm.UseDotPanels), a panel of
// columns at a time (asm.MatDotPanel): each panel of x stays in L1 while
// every row's part of it streams by, where the whole tile would be read
// from L2 again for each pair of weight rows. The accumulators go to the
// worker's buffer between panels, so the bits are MatDot's. The
// Qwen2.5-0.5B shape's down projection (896 rows of 4864) from memory,
// 5 / 9 / 13 rows (go test -run X -bench 'Linear/896x4864/.*/act=bf16'
// ./ops, three rounds alternating with the build before the panels): on
// two threads 348–366 / 439–449 / 538–555 → 318–351 / 341–391 / 402–425
// µs (and one 444 µs at 5 rows); on one, 634–681 / 829–898 / 1039–1083 →
// 565–606 / 614–658 / 753–813 µs. (The kernels alone over matrices of 64
// rows, go test -bench MatDotPanels ./ops/asm, are mixed: 13 rows 33%
// faster, 5 and 9 rows 5% and 20% slower than the whole tile; a stretch
// that short gives the panels' strided rows little to run on.)
func (t *matMulTask) runPanels(worker int, tl mtile, o []float32, px16 []uint16, b0, b1 int) {
	K, rows := t.K, panelRows
	t.accs[worker] = grow(t.accs[worker], rows*tl.mt*16)
	p := asm.DotPanel(tl.mt)
	w := t.w.U16()
	for r0 := b0; r0 < b1; r0 += rows {
		n := min(rows, b1-r0)
		for k0 := 0; k0 < K; k0 += p {
			asm.MatDotPanel(tl.mt, o[r0-b0:], t.N, px16[tl.off+k0*tl.mt:], w[r0*K+k0:], n, K, k0, min(p, K-k0), t.accs[worker])
		}
	}
}

// panelRows is how many weight rows runPanels takes through all the
// panels before the next, so that their accumulators stay in L1 and L2
// (16, 32 and 64 measured alike; the whole stretch at once, slower).
const panelRows = 32

// grow returns buf with at least n elements, reallocated if it is shorter.
func grow[T any](buf []T, n int) []T {
	if len(buf) < n {
		return make([]T, n)
	}
	return buf
}

// pack writes x's tiles into px (asm.Pack) or, with bf16 activations,
// into px16 (asm.PackBF16).
func (t *matMulTask) pack(px []float32, px16 []uint16) {
	K := t.K
	for _, tl := range t.tiles {
		if t.dot {
			asm.PackBF16(px16[tl.off:], t.x[tl.m0*K:], tl.mt, K, K)
		} else {
			asm.Pack(px[tl.off:], t.x[tl.m0*K:], tl.mt, K, K)
		}
	}
}

// packed returns the packed activations the given thread multiplies:
// when perThread, its own buffer of src's packing, which it fills the
// first time it asks in a dispatch.
func (t *matMulTask) packed(worker int) ([]float32, []uint16) {
	if !t.perThread {
		return t.px, t.px16
	}
	s := t.src
	tp := &s.threads[worker]
	if tp.gen != s.gen {
		s.pack(tp.xp, nil)
		tp.gen = s.gen
	}
	return tp.xp, nil
}

// multiMatMul is several MatMuls of the same few rows (at most 16) in one
// pool dispatch: the rows of its matrices are numbered one after the other
// and each thread takes one contiguous stretch, as for one matrix. A
// decode step of a small model waits several microseconds for each
// dispatch, so the attention's q, k and v projections, or the MLP's gate
// and up, are cheaper as one (CPU.LinearQKV, CPU.LinearSwiGLU). Every
// output is computed as by MatMul.
type multiMatMul struct {
	tasks [3]matMulTask
	n     int    // tasks in use
	offs  [4]int // first row of each task in the joint numbering
}

// add prepares the next task for a pool of the given number of threads.
func (mm *multiMatMul) add(out, x []float32, M int, w *tensor.Tensor, bias []float32, threads int) {
	t := &mm.tasks[mm.n]
	var shared *matMulTask
	if mm.n > 0 {
		shared = &mm.tasks[0]
	}
	t.prepare(out, x, M, w, bias, shared, threads)
	mm.offs[mm.n+1] = mm.offs[mm.n] + t.N
	mm.n++
}

// run dispatches the prepared tasks and releases them.
func (mm *multiMatMul) run(p *Pool) {
	p.RunTask(mm.offs[mm.n], 4, mm)
	mm.release()
}

// release drops the prepared tasks' operands and empties the set.
func (mm *multiMatMul) release() {
	for i := range mm.n {
		mm.tasks[i].release()
	}
	mm.n = 0
}

// Run implements Task over joint rows [lo, hi).
func (mm *multiMatMul) Run(worker, lo, hi int) {
	for i := range mm.n {
		if a, b := max(lo, mm.offs[i]), min(hi, mm.offs[i+1]); a < b {
			mm.tasks[i].Run(worker, a-mm.offs[i], b-mm.offs[i])
		}
	}
}

// Run implements Task over items [lo, hi): weight rows lo%N.. of tile
// group lo/N (one group up to 16 rows).
func (t *matMulTask) Run(worker, lo, hi int) {
	N := t.N
	px, px16 := t.packed(worker)
	for g := lo / N; g*N < hi; g++ {
		a, b := max(lo, g*N)-g*N, min(hi, (g+1)*N)-g*N
		t.runRows(worker, px, px16, t.tiles[t.groups[g]:t.groups[g+1]], a, b)
	}
}

// runRows multiplies weight rows [lo, hi) with the given tiles, packed in
// px (or px16).
func (t *matMulTask) runRows(worker int, px []float32, px16 []uint16, tiles []mtile, lo, hi int) {
	N, K := t.N, t.K
	es := t.w.DType.Size()
	// Without a tile of three rows or more (which read four weight rows at
	// once with AVX-512, two with AVX2) the small tiles stream the weights
	// from memory in address order. With one, the block is prefetched (or
	// read by that tile first), and the small tiles find it in cache. Three
	// rows make one such tile with AVX-512 and AVX2 (asm.VerifyTiles), two
	// and one in Go: as those, a 1408×512 product of three rows from memory
	// cost more than one of four rows (go test -run X -bench
	// 'Linear/1408x512/.*/act=f32' ./ops on a Zen 4 EPYC, two threads,
	// three rounds alternating builds: 3 rows 46.7–56.8 µs before, 31.0–44.0
	// after; 4 rows 36.0–51.3).
	//
	// With bf16 activations, up to 16 rows go in tiles of up to thirteen
	// (asm.DotTiles) that all read the weights in address order: VDPBF16PS
	// keeps up with the memory for that many rows, and two long streams
	// are what the prefetchers follow best (the four-row kernels with
	// software prefetching streamed a 4-row forward of the Qwen2.5-0.5B
	// shape at 30-31 GB/s, in order at 46-49).
	dotInOrder := t.dotInOrder()
	wide := t.tiles[0].mt >= 3 // tiles are largest first
	inOrder := !wide || dotInOrder
	// From 4 to 16 rows the four-row tiles of a bf16 block also bring the
	// next block into L2 as they go (asm.MatBF16Next), each its share, so
	// that the memory streams while the FMA units work.
	next := t.prefetchers > 0
	block := t.block
	if len(tiles) == 1 && inOrder {
		// One tile reuses nothing from cache: the in-order kernels take
		// the whole stretch, which they read as two long streams.
		block = hi - lo
	}
	for b0 := lo; b0 < hi; b0 += block {
		b1 := min(hi, b0+block)
		if wide && t.M <= 16 && (!next || b0 == lo) && !dotInOrder {
			// The four-row kernels read four rows at once, which the
			// hardware prefetchers follow poorly: stream the block into L2
			// in address order first (M = 4: 1.4× faster). Above 16 rows
			// the multiplication hides the memory and this only costs.
			asm.Prefetch(t.w.Data[b0*K*es : b1*K*es])
		}
		for ti, tl := range tiles {
			o := t.out[tl.m0*N+b0:]
			if next && tl.mt >= 3 {
				nb := t.w.Data[b1*K*es : min(hi, b1+t.block)*K*es]
				share := (len(nb)/t.prefetchers + 63) &^ 63
				mine := nb[min(len(nb), ti*share):min(len(nb), (ti+1)*share)]
				asm.MatBF16Next(tl.mt, o, N, px[tl.off:], t.w.U16()[b0*K:b1*K], b1-b0, K, mine)
				continue
			}
			if t.dot {
				if dotInOrder && len(tiles) == 1 && asm.UseDotPanels(tl.mt, K) {
					t.runPanels(worker, tl, o, px16, b0, b1)
					continue
				}
				if dotInOrder && ti > 0 {
					// The first tile brought the block into cache; this one
					// also brings the next (where the CPU has the kernel).
					asm.MatDotNext(tl.mt, o, N, px16[tl.off:], t.w.U16()[b0*K:b1*K], b1-b0, K)
					continue
				}
				asm.MatDot(tl.mt, inOrder, o, N, px16[tl.off:], t.w.U16()[b0*K:b1*K], b1-b0, K)
				continue
			}
			xp := px[tl.off:]
			switch t.w.DType {
			case tensor.BF16:
				asm.MatBF16(tl.mt, inOrder, o, N, xp, t.w.U16()[b0*K:b1*K], b1-b0, K)
			case tensor.F16:
				asm.MatF16(tl.mt, inOrder, o, N, xp, t.w.U16()[b0*K:b1*K], b1-b0, K)
			default:
				asm.MatF32(tl.mt, inOrder, o, N, xp, t.w.F32()[b0*K:b1*K], b1-b0, K)
			}
		}
	}
	if t.bias != nil {
		for _, tl := range tiles {
			for m := tl.m0; m < tl.m0+tl.mt; m++ {
				asm.Add(t.out[m*N+lo:m*N+hi], t.bias[lo:hi])
			}
		}
	}
}
