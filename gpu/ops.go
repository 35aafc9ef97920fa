package gpu

import (
	"fmt"
	"math"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/tensor"
)

// The nn.Backend operations: each checks its operands, then queues the
// kernel of the same name in gpu/kernels (see there for the math).

// Embedding implements nn.Backend: out (len(ids), dim) gets rows ids of
// table (vocab, dim), whose dtype it keeps.
func (d *Device) Embedding(out, table *tensor.Tensor, ids []int32) {
	M := len(ids)
	dim := d.embeddingOperands("Embedding", out, table, M)
	if M == 0 {
		return
	}
	for i, id := range ids {
		if !(id >= 0 && int(id) < table.Rows()) {
			d.badShape("Embedding", "id %d at %d outside the table's %d rows", id, i, table.Rows())
		}
	}
	if M <= embeddingInlineLaunches*embeddingInlineIDs {
		name := embeddingInlineNames[table.DType]
		for m0 := 0; m0 < M; m0 += embeddingInlineIDs {
			part := ids[m0:min(M, m0+embeddingInlineIDs)]
			var slots [embeddingInlineIDs / 2]uint64
			for i, id := range part {
				slots[i/2] |= uint64(uint32(id)) << (32 * (i % 2))
			}
			d.launch(name, Dim3{uint32(len(part)), 1, 1}, Dim3{threadsFor(dim), 1, 1},
				uint64(out.Ptr)+uint64(m0*dim*4), ptr(table), i32(dim), slots[0], slots[1], slots[2], slots[3], slots[4], slots[5], slots[6], slots[7])
		}
		return
	}
	buf := d.grow(&d.ids, M*4)
	d.hostIDs = append(d.hostIDs[:0], ids...)
	if err := d.upload(buf, unsafePointer(d.hostIDs), M*4); err != nil {
		d.fail("Embedding: uploading ids", err)
	}
	d.gather(out, table, buf, M)
}

// embeddingOperands checks op's out (n, dim) and table (vocab, dim), and
// returns dim.
func (d *Device) embeddingOperands(op string, out, table *tensor.Tensor, n int) int {
	d.operand(op, out, tensor.F32)
	d.operand(op, table, tensor.F32, tensor.BF16, tensor.F16)
	dim := table.Cols()
	if out.Len() != n*dim {
		d.badShape(op, "out %v for %d ids of table %v", out.Shape, n, table.Shape)
	}
	return dim
}

// gather queues the embedding kernel: out gets the rows of table named by
// the n ids at device address ids.
func (d *Device) gather(out, table *tensor.Tensor, ids uintptr, n int) {
	dim := table.Cols()
	d.launch(embeddingNames[table.DType], Dim3{uint32(n), 1, 1}, Dim3{threadsFor(dim), 1, 1}, ptr(out), ptr(table), uint64(ids), i32(dim))
}

// embeddingNames and embeddingInlineNames are the embedding kernels' names
// by table dtype, built once: formatting them per launch would allocate.
var (
	embeddingNames       = dtypeNames("embedding")
	embeddingInlineNames = dtypeNames("embedding_inline")
)

// dtypeNames builds family_<dtype> for each weight dtype.
func dtypeNames(family string) map[tensor.DType]string {
	names := map[tensor.DType]string{}
	for _, dt := range []tensor.DType{tensor.F32, tensor.BF16, tensor.F16} {
		names[dt] = family + "_" + suffix(dt)
	}
	return names
}

// Linear implements nn.Backend: out = x·wᵀ + bias, x (M, K), w (N, K) in
// its stored dtype, out (M, N), bias (N) or nil. Rows of x go in launches
// of up to linearMaxRows, each reading the weights once, with the kernel
// of the smallest row bucket that holds them (see linear.cu).
func (d *Device) Linear(out, x, w, bias *tensor.Tensor) { d.linear("Linear", out, x, w, bias, false) }

// LinearAdd implements nn.NormFuser: x += in·wᵀ, in (M, K), w (N, K), x
// (M, N), with the add in the linear kernel's store (add = 1), bit for bit
// as Linear into a scratch tensor and Add.
func (d *Device) LinearAdd(x, in, w *tensor.Tensor) { d.linear("LinearAdd", x, in, w, nil, true) }

// linear is Linear, or with add LinearAdd (op names the caller in panics).
func (d *Device) linear(op string, out, x, w, bias *tensor.Tensor, add bool) {
	M, K, N, b := d.linearOperands(op, out, x, w, bias)
	var accumulate uint64
	if add {
		accumulate = 1
	}
	if M == 0 || N == 0 {
		return
	}
	if d.mma(x, w) {
		grid, block, split := mmaGeometry(N, K, mmaCols)
		for m0 := 0; m0 < M; m0 += linearMaxRows {
			d.launch("linear_mma_bf16", grid, block,
				uint64(out.Ptr)+uint64(m0*N*4), uint64(x.Ptr)+uint64(m0*K*4), ptr(w), b, i32(min(linearMaxRows, M-m0)), i32(N), i32(K), i32(split), accumulate)
		}
		return
	}
	warps := blockThreads / d.warp
	for m0 := 0; m0 < M; m0 += linearMaxRows {
		rows := min(linearMaxRows, M-m0)
		bucket := linearBucket(rows)
		xp := uint64(x.Ptr) + uint64(m0*K*4)
		name, cols, maxSplit := linearNames[w.DType][bucket], linearCols(bucket), warps
		if bucket == 16 && !d.linearRegister && K%8 == 0 && xp%16 == 0 && w.Ptr%16 == 0 {
			// Each of the split warps needs a step (warp·8 weights) of every tile.
			name, cols, maxSplit = linearTiledNames[w.DType][bucket], linearTiledCols, max(1, linearTile/(8*d.warp))
		}
		split := linearSplit(N, K, cols, min(warps, maxSplit), d.warp)
		grid := Dim3{uint32(ceilDiv(N, cols*warps/split)), 1, 1}
		d.launch(name, grid, Dim3{blockThreads, 1, 1},
			uint64(out.Ptr)+uint64(m0*N*4), xp, ptr(w), b, i32(rows), i32(N), i32(K), i32(split), accumulate)
	}
}

// linearOperands checks the operands of out = x·wᵀ + bias and returns
// the product's shape (x (M, K), w (N, K)) and the bias's address (0 when
// nil).
func (d *Device) linearOperands(op string, out, x, w, bias *tensor.Tensor) (M, K, N int, b uint64) {
	d.operand(op, out, tensor.F32)
	d.operand(op, x, tensor.F32)
	d.operand(op, w, tensor.F32, tensor.BF16, tensor.F16)
	M, K, N = x.Rows(), x.Cols(), w.Rows()
	if !(w.Cols() == K && out.Len() == M*N) {
		d.badShape(op, "x %v, w %v, out %v", x.Shape, w.Shape, out.Shape)
	}
	if bias != nil {
		d.operand(op, bias, tensor.F32)
		if bias.Len() != N {
			d.badShape(op, "bias %v for %d outputs", bias.Shape, N)
		}
		b = ptr(bias)
	}
	return M, K, N, b
}

// The tensor-core kernels' geometry (linear_mma.cu): a warp computes
// mmaCols columns (MMA_TILES tiles of 8; linear_swiglu_mma half as many
// of each matrix), blocks hold mmaWarps warps of 32 (MMA_MAX_WARPS).
const (
	mmaCols  = 32
	mmaWarps = 8
)

// mmaGeometry is the launch of a tensor-core kernel over N columns of K
// inputs, cols a warp: warps of 32 split K as linearSplit says, blocks of
// mmaWarps of them.
func mmaGeometry(N, K, cols int) (grid, block Dim3, split int) {
	split = linearSplit(N, K, cols, mmaWarps, 32)
	return Dim3{uint32(ceilDiv(N, cols*mmaWarps/split)), 1, 1}, Dim3{mmaWarps * 32, 1, 1}, split
}

// mma reports whether a product of x with the weights w takes the
// tensor-core kernels: bf16 activations on, bf16 weights, K a multiple of
// 32 and 16-byte aligned operands. None of it depends on the row count.
func (d *Device) mma(x, w *tensor.Tensor) bool {
	return d.bf16Act && w.DType == tensor.BF16 && w.Cols()%32 == 0 && w.Ptr%16 == 0 && x.Ptr%16 == 0
}

// linearTiledNames[dtype][bucket] names the kernels that stage x in shared
// memory (the bucket of 16 rows only; see linear_tiled in linear.cu).
var linearTiledNames = kernelNames("linear_tiled", 16)

// linearTiledCols is NR of the tiled kernel.
const linearTiledCols = 4

// linearWarps is the number of warps a linear launch aims for: enough to
// keep every multiprocessor of a large GPU streaming (an H100 holds 132 ×
// 64 resident warps).
const linearWarps = 8192

// linearSplit returns how many warps share each column group's K (see
// linear.cu): the smallest power of two that brings the launch to
// linearWarps, at most the warps of a block, and leaving each warp at
// least one step (warp·8 weights) of every row.
func linearSplit(N, K, cols, warpsPerBlock, warp int) int {
	split := 1
	for split*2 <= warpsPerBlock && ceilDiv(N, cols)*split < linearWarps && K/(split*2) >= warp*8 {
		split *= 2
	}
	return split
}

// LinearSwiGLU implements nn.Fused: out = silu(x·gateᵀ) · (x·upᵀ), x (M, K),
// gate and up (N, K) of one dtype, out (M, N), in one launch per 16 rows
// (linear_swiglu in linear.cu).
func (d *Device) LinearSwiGLU(out, x, gate, up *tensor.Tensor) {
	d.linearSwiGLU("LinearSwiGLU", out, x, nil, 0, gate, up)
}

// NormLinearSwiGLU implements nn.NormFuser: LinearSwiGLU of RMSNorm(x)·norm,
// the norm computed by the kernel as it loads x (linear_swiglu_norm in
// linear.cu) for up to normMaxRows rows, bit for bit as the rmsnorm kernel
// would have written it; more rows, or the tensor-core kernels, take the
// rmsnorm kernel into a scratch tensor first.
func (d *Device) NormLinearSwiGLU(out, x, norm *tensor.Tensor, eps float32, gate, up *tensor.Tensor) {
	d.linearSwiGLU("NormLinearSwiGLU", out, x, norm, eps, gate, up)
}

// linearSwiGLU is LinearSwiGLU, of x normalized by norm unless it is nil.
func (d *Device) linearSwiGLU(op string, out, x, norm *tensor.Tensor, eps float32, gate, up *tensor.Tensor) {
	d.operand(op, out, tensor.F32)
	d.operand(op, x, tensor.F32)
	d.operand(op, gate, tensor.F32, tensor.BF16, tensor.F16)
	d.operand(op, up, gate.DType)
	M, K, N := x.Rows(), x.Cols(), gate.Rows()
	if !(gate.Cols() == K && up.Rows() == N && up.Cols() == K && out.Len() == M*N) {
		d.badShape(op, "x %v, gate %v, up %v, out %v", x.Shape, gate.Shape, up.Shape, out.Shape)
	}
	if M == 0 || N == 0 {
		return
	}
	mma := d.mma(x, gate) && up.Ptr%16 == 0
	if norm != nil && (!d.normOnLoad(op, x, norm) || mma) {
		x, norm = d.normed(x, norm, eps), nil
	}
	if mma {
		grid, block, split := mmaGeometry(N, K, mmaCols/2)
		for m0 := 0; m0 < M; m0 += linearMaxRows {
			d.launch("linear_swiglu_mma_bf16", grid, block,
				uint64(out.Ptr)+uint64(m0*N*4), uint64(x.Ptr)+uint64(m0*K*4), ptr(gate), ptr(up), i32(min(linearMaxRows, M-m0)), i32(N), i32(K), i32(split))
		}
		return
	}
	warps := blockThreads / d.warp
	for m0 := 0; m0 < M; m0 += linearMaxRows {
		rows := min(linearMaxRows, M-m0)
		bucket := linearBucket(rows)
		cols := swigluCols(bucket)
		split := linearSplit(N, K, cols, warps, d.warp)
		grid := Dim3{uint32(ceilDiv(N, cols*warps/split)), 1, 1}
		outp, xp := uint64(out.Ptr)+uint64(m0*N*4), uint64(x.Ptr)+uint64(m0*K*4)
		if norm != nil {
			d.launch(swigluNormNames[gate.DType][bucket], grid, Dim3{blockThreads, 1, 1},
				outp, xp, ptr(gate), ptr(up), i32(rows), i32(N), i32(K), i32(split), ptr(norm), f32(eps))
			continue
		}
		d.launch(swigluNames[gate.DType][bucket], grid, Dim3{blockThreads, 1, 1},
			outp, xp, ptr(gate), ptr(up), i32(rows), i32(N), i32(K), i32(split))
	}
}

// swigluCols is NC, the columns (gate and up rows each) of a warp of the
// bucket's linear_swiglu kernel: as linearCols, with the two matrices
// counting as its NR.
func swigluCols(bucket int) int { return max(1, linearCols(bucket)/2) }

// LinearQKV implements nn.Fused: the three attention projections of x, as
// three Linear calls, in one launch per 16 rows (linear_qkv in linear.cu)
// when the weights share a dtype and the column groups fit the matrices;
// otherwise as three launches.
func (d *Device) LinearQKV(q, k, v, x, wq, wk, wv, bq, bk, bv *tensor.Tensor) {
	d.linearQKV("LinearQKV", q, k, v, x, nil, 0, wq, wk, wv, bq, bk, bv, nil)
}

// NormLinearQKV implements nn.NormFuser: LinearQKV of RMSNorm(x)·norm, the
// norm computed by the kernel as it loads x (linear_qkv_norm in
// linear.cu) for up to normMaxRows rows, bit for bit as the rmsnorm kernel
// would have written it; otherwise (more rows, the tensor-core kernels,
// projections in separate launches) the rmsnorm kernel writes a scratch
// tensor first. With rot, that kernel also rotates q and k as it stores
// them (linear_qkv_norm_rope), bit for bit as RoPEQK after it, which
// serves the other cases.
func (d *Device) NormLinearQKV(q, k, v, x, norm *tensor.Tensor, eps float32, wq, wk, wv, bq, bk, bv *tensor.Tensor, rot *nn.Rotation) {
	if rot != nil {
		d.ropeQKOperands("NormLinearQKV", q, k, rot.Heads, rot.KVHeads, rot.HeadDim, rot.Start, rot.Cos, rot.Sin)
	}
	if !d.linearQKV("NormLinearQKV", q, k, v, x, norm, eps, wq, wk, wv, bq, bk, bv, rot) && rot != nil {
		d.RoPEQK(q, k, rot.Heads, rot.KVHeads, rot.HeadDim, rot.Start, rot.Cos, rot.Sin)
	}
}

// linearQKV is LinearQKV, of x normalized by norm unless it is nil, and
// with q and k rotated by rot, if it is set and the rows are few enough
// for the _norm kernels; it reports whether it rotated them.
func (d *Device) linearQKV(op string, q, k, v, x, norm *tensor.Tensor, eps float32, wq, wk, wv, bq, bk, bv *tensor.Tensor,
	rot *nn.Rotation) (rotated bool) {
	M, K, Nq, Nkv := x.Rows(), x.Cols(), wq.Rows(), wk.Rows()
	separate := wk.DType != wq.DType || wv.DType != wq.DType || wv.Rows() != Nkv || (bq == nil) != (bk == nil) || (bq == nil) != (bv == nil)
	mma := !separate && d.mma(x, wq) && wk.Ptr%16 == 0 && wv.Ptr%16 == 0
	if mma {
		separate = Nq%mmaCols != 0 || Nkv%mmaCols != 0
	} else if !separate {
		for m0 := 0; m0 < M; m0 += linearMaxRows {
			if c := linearCols(linearBucket(min(linearMaxRows, M-m0))); Nq%c != 0 || Nkv%c != 0 {
				separate = true
			}
		}
	}
	if norm != nil && (!d.normOnLoad(op, x, norm) || separate || mma) {
		x, norm = d.normed(x, norm, eps), nil
	}
	if separate {
		d.Linear(q, x, wq, bq)
		d.Linear(k, x, wk, bk)
		d.Linear(v, x, wv, bv)
		return false
	}
	for _, t := range []*tensor.Tensor{q, k, v, x} {
		d.operand(op, t, tensor.F32)
	}
	for _, w := range []*tensor.Tensor{wq, wk, wv} {
		d.operand(op, w, tensor.F32, tensor.BF16, tensor.F16)
	}
	if !(wq.Cols() == K && wk.Cols() == K && wv.Cols() == K && q.Len() == M*Nq && k.Len() == M*Nkv && v.Len() == M*Nkv) {
		d.badShape(op, "x %v, w %v %v %v, out %v %v %v", x.Shape, wq.Shape, wk.Shape, wv.Shape, q.Shape, k.Shape, v.Shape)
	}
	var biases [3]uint64
	if bq != nil {
		for i, b := range []*tensor.Tensor{bq, bk, bv} {
			d.operand(op, b, tensor.F32)
			if b.Len() != []int{Nq, Nkv, Nkv}[i] {
				d.badShape(op, "bias %v", b.Shape)
			}
			biases[i] = ptr(b)
		}
	}
	if M == 0 {
		return false
	}
	if mma {
		N := Nq + 2*Nkv
		grid, block, split := mmaGeometry(N, K, mmaCols)
		for m0 := 0; m0 < M; m0 += linearMaxRows {
			d.launch("linear_qkv_mma_bf16", grid, block,
				uint64(q.Ptr)+uint64(m0*Nq*4), uint64(k.Ptr)+uint64(m0*Nkv*4), uint64(v.Ptr)+uint64(m0*Nkv*4),
				uint64(x.Ptr)+uint64(m0*K*4), ptr(wq), ptr(wk), ptr(wv), biases[0], biases[1], biases[2],
				i32(min(linearMaxRows, M-m0)), i32(Nq), i32(Nkv), i32(K), i32(split))
		}
		return false
	}
	warps, N := blockThreads/d.warp, Nq+2*Nkv
	for m0 := 0; m0 < M; m0 += linearMaxRows {
		rows := min(linearMaxRows, M-m0)
		bucket := linearBucket(rows)
		cols := linearCols(bucket)
		split := linearSplit(N, K, cols, warps, d.warp)
		grid := Dim3{uint32(ceilDiv(N, cols*warps/split)), 1, 1}
		outs := [...]uint64{uint64(q.Ptr) + uint64(m0*Nq*4), uint64(k.Ptr) + uint64(m0*Nkv*4), uint64(v.Ptr) + uint64(m0*Nkv*4)}
		xp := uint64(x.Ptr) + uint64(m0*K*4)
		if norm != nil && rot != nil && Nq == rot.Heads*rot.HeadDim && Nkv == rot.KVHeads*rot.HeadDim {
			// A warp takes a pair of columns, with the split above.
			d.launch(qkvNormRopeNames[wq.DType][bucket], Dim3{uint32(ceilDiv(N/2, warps/split)), 1, 1}, Dim3{blockThreads, 1, 1},
				outs[0], outs[1], outs[2], xp, ptr(wq), ptr(wk), ptr(wv), biases[0], biases[1], biases[2],
				i32(rows), i32(Nq), i32(Nkv), i32(K), i32(split), ptr(norm), f32(eps),
				ptr(rot.Cos), ptr(rot.Sin), i32(rot.HeadDim), i32(rot.Start+m0))
			rotated = true
			continue
		}
		if norm != nil {
			d.launch(qkvNormNames[wq.DType][bucket], grid, Dim3{blockThreads, 1, 1},
				outs[0], outs[1], outs[2], xp, ptr(wq), ptr(wk), ptr(wv), biases[0], biases[1], biases[2],
				i32(rows), i32(Nq), i32(Nkv), i32(K), i32(split), ptr(norm), f32(eps))
			continue
		}
		d.launch(qkvNames[wq.DType][bucket], grid, Dim3{blockThreads, 1, 1},
			outs[0], outs[1], outs[2], xp, ptr(wq), ptr(wk), ptr(wv), biases[0], biases[1], biases[2],
			i32(rows), i32(Nq), i32(Nkv), i32(K), i32(split))
	}
	return rotated
}

// qkvNames[dtype][bucket] names the linear_qkv kernels, qkvNormNames
// those that normalize x as they load it (buckets up to normMaxRows), and
// qkvNormRopeNames those that also rotate q and k as they store them.
var qkvNames, qkvNormNames, qkvNormRopeNames = kernelNames("linear_qkv", linearBuckets[:]...),
	kernelNames("linear_qkv_norm", normBuckets...), kernelNames("linear_qkv_norm_rope", normBuckets...)

// swigluNames[dtype][bucket] names the linear_swiglu kernels, and
// swigluNormNames those that normalize x as they load it.
var swigluNames, swigluNormNames = kernelNames("linear_swiglu", linearBuckets[:]...), kernelNames("linear_swiglu_norm", normBuckets...)

// kernelNames builds the names family_<dtype>_m<bucket> of a family of
// kernels with an entry point per row bucket, once: formatting them on
// every launch would cost a decode step hundreds of allocations.
func kernelNames(family string, buckets ...int) map[tensor.DType]*[linearMaxRows + 1]string {
	names := map[tensor.DType]*[linearMaxRows + 1]string{}
	for _, dt := range []tensor.DType{tensor.F32, tensor.BF16, tensor.F16} {
		names[dt] = new([linearMaxRows + 1]string)
		for _, b := range buckets {
			names[dt][b] = fmt.Sprintf("%s_%s_m%d", family, suffix(dt), b)
		}
	}
	return names
}

// linearBuckets are the row counts MT of the linear kernels.
var linearBuckets = [...]int{1, 2, 4, 8, 12, 16}

// linearNames[dtype][bucket] is the linear kernel's name.
var linearNames = kernelNames("linear", linearBuckets[:]...)

// linearBucket returns the smallest bucket that holds rows (≤ linearMaxRows).
func linearBucket(rows int) int {
	for _, b := range linearBuckets {
		if rows <= b {
			return b
		}
	}
	return linearMaxRows
}

// linearCols is the number of output columns (NR) one warp of the
// bucket's kernel computes (see the entry points of linear.cu).
func linearCols(bucket int) int {
	switch bucket {
	case 8, 12:
		return 4
	case 4, 16:
		return 2
	}
	return 1
}

// RMSNorm implements nn.Backend: each row of x (rows, len(w)) normalized
// and scaled by w, into out (which may be x).
func (d *Device) RMSNorm(out, x, w *tensor.Tensor, eps float32) {
	d.operand("RMSNorm", out, tensor.F32)
	d.operand("RMSNorm", x, tensor.F32)
	d.operand("RMSNorm", w, tensor.F32)
	dim := w.Len()
	if !(dim > 0 && x.Len()%dim == 0 && out.Len() == x.Len()) {
		d.badShape("RMSNorm", "x %v, w %v, out %v", x.Shape, w.Shape, out.Shape)
	}
	if rows := x.Len() / dim; rows > 0 {
		d.launch("rmsnorm", Dim3{uint32(rows), 1, 1}, Dim3{threadsFor(dim), 1, 1}, ptr(out), ptr(x), ptr(w), i32(dim), f32(eps))
	}
}

// AddRMSNorm implements nn.Fused: x += delta, then out = RMSNorm(x)·w,
// each row of x (rows, len(w)) in one block of add_rmsnorm.
func (d *Device) AddRMSNorm(out, x, delta, w *tensor.Tensor, eps float32) {
	for _, t := range []*tensor.Tensor{out, x, delta, w} {
		d.operand("AddRMSNorm", t, tensor.F32)
	}
	dim := w.Len()
	if !(dim > 0 && x.Len()%dim == 0 && out.Len() == x.Len() && delta.Len() == x.Len() && out.Ptr != x.Ptr) {
		d.badShape("AddRMSNorm", "x %v, delta %v, w %v, out %v (not x)", x.Shape, delta.Shape, w.Shape, out.Shape)
	}
	if rows := x.Len() / dim; rows > 0 {
		d.launch("add_rmsnorm", Dim3{uint32(rows), 1, 1}, Dim3{threadsFor(dim), 1, 1}, ptr(out), ptr(x), ptr(delta), ptr(w), i32(dim), f32(eps))
	}
}

// RoPEQK implements nn.Fused: RoPE of q (rows, heads·headDim) and of k
// (rows, kvHeads·headDim) in one launch.
func (d *Device) RoPEQK(q, k *tensor.Tensor, heads, kvHeads, headDim, start int, cos, sin *tensor.Tensor) {
	if rows := d.ropeQKOperands("RoPEQK", q, k, heads, kvHeads, headDim, start, cos, sin); rows > 0 {
		d.launch("rope_qk", Dim3{uint32(rows * (heads + kvHeads)), 1, 1}, Dim3{64, 1, 1},
			ptr(q), ptr(k), ptr(cos), ptr(sin), i32(rows), i32(heads), i32(kvHeads), i32(headDim), i32(start))
	}
}

// ropeQKOperands checks op's rotation of q (rows, heads·headDim) and k
// (rows, kvHeads·headDim) at positions start.. by the (positions,
// headDim/2) tables cos and sin, and returns rows.
func (d *Device) ropeQKOperands(op string, q, k *tensor.Tensor, heads, kvHeads, headDim, start int, cos, sin *tensor.Tensor) int {
	for _, t := range []*tensor.Tensor{q, k, cos, sin} {
		d.operand(op, t, tensor.F32)
	}
	if !(heads > 0 && kvHeads > 0 && headDim > 0 && headDim%2 == 0 && q.Len()%(heads*headDim) == 0) {
		d.badShape(op, "q %v for %d heads of %d", q.Shape, heads, headDim)
	}
	rows := q.Len() / (heads * headDim)
	if k.Len() != rows*kvHeads*headDim {
		d.badShape(op, "k %v for %d rows of %d kv heads of %d", k.Shape, rows, kvHeads, headDim)
	}
	d.ropeTables(op, cos, sin, headDim, start, rows)
	return rows
}

// ropeTables checks op's (positions, headDim/2) tables cos and sin for
// rows positions from start.
func (d *Device) ropeTables(op string, cos, sin *tensor.Tensor, headDim, start, rows int) {
	if !(cos.Cols() == headDim/2 && sin.Cols() == headDim/2 && cos.Rows() >= start+rows && sin.Rows() >= start+rows && start >= 0) {
		d.badShape(op, "tables %v, %v for positions %d..%d of head_dim %d", cos.Shape, sin.Shape, start, start+rows-1, headDim)
	}
}

// RoPE implements nn.Backend: x (rows, heads·headDim) rotated in place for
// positions start.., with the (positions, headDim/2) cos and sin tables
// loaded on the device.
func (d *Device) RoPE(x *tensor.Tensor, heads, headDim, start int, cos, sin *tensor.Tensor) {
	d.operand("RoPE", x, tensor.F32)
	d.operand("RoPE", cos, tensor.F32)
	d.operand("RoPE", sin, tensor.F32)
	width := heads * headDim
	if !(width > 0 && headDim%2 == 0 && x.Len()%width == 0) {
		d.badShape("RoPE", "x %v for %d heads of %d", x.Shape, heads, headDim)
	}
	rows := x.Len() / width
	d.ropeTables("RoPE", cos, sin, headDim, start, rows)
	if rows > 0 {
		d.launch("rope", Dim3{uint32(rows * heads), 1, 1}, Dim3{64, 1, 1}, ptr(x), ptr(cos), ptr(sin), i32(heads), i32(headDim), i32(start))
	}
}

// Attention implements nn.Backend: causal GQA of q (M, heads·headDim) at
// positions start.. over the cache k, v (≥ start+M, kvHeads·headDim), into
// out. Every (row, head) is split into chunks of attnChunk positions
// (flash-decoding), scored by attention_chunk and merged by
// attention_combine.
func (d *Device) Attention(out, q, k, v *tensor.Tensor, start, heads, kvHeads, headDim int) {
	M := d.attentionOperands("Attention", out, q, k, v, start, heads, kvHeads, headDim)
	if M == 0 {
		return
	}
	d.attentionChunks("Attention", out, q, k, v, start, heads, kvHeads, headDim)
}

// attentionOperands checks the operands of Attention (and AttentionBulk,
// op) and returns q's row count.
func (d *Device) attentionOperands(op string, out, q, k, v *tensor.Tensor, start, heads, kvHeads, headDim int) int {
	d.operand(op, out, tensor.F32)
	d.operand(op, q, tensor.F32)
	d.operand(op, k, tensor.F32, tensor.F16)
	d.operand(op, v, k.DType)
	M := q.Rows()
	if !(heads > 0 && kvHeads > 0 && heads%kvHeads == 0 && headDim > 0 && headDim <= attnMaxHeadDim) {
		d.badShape(op, "%d heads, %d kv heads of %d (head_dim ≤ %d)", heads, kvHeads, headDim, attnMaxHeadDim)
	}
	if !(q.Len() == M*heads*headDim && out.Len() == q.Len()) {
		d.badShape(op, "q %v, out %v for %d heads of %d", q.Shape, out.Shape, heads, headDim)
	}
	if !(start >= 0 && k.Cols() == kvHeads*headDim && v.Cols() == k.Cols() && k.Rows() >= start+M && v.Rows() >= start+M) {
		d.badShape(op, "cache k %v, v %v for positions %d..%d of %d kv heads", k.Shape, v.Shape, start, start+M-1, kvHeads)
	}
	if !(M*heads < math.MaxInt32) {
		d.badShape(op, "%d rows of %d heads", M, heads)
	}
	return M
}

// attentionChunks queues attention.cu's kernels for op's checked operands
// of at least one row.
func (d *Device) attentionChunks(op string, out, q, k, v *tensor.Tensor, start, heads, kvHeads, headDim int) {
	M := q.Rows()
	chunks := ceilDiv(start+M, attnChunk)
	if chunks >= maxGrid {
		d.badShape(op, "%d positions, %d rows", start+M, M)
	}
	n := M * heads * chunks
	partO := d.grow(&d.part, n*(headDim+2)*4)
	partML := partO + uintptr(n*headDim*4)
	scale := float32(1 / math.Sqrt(float64(headDim)))
	chunk := "attention_chunk"
	if k.DType == tensor.F16 {
		chunk = "attention_chunk_f16"
	}
	d.launch(chunk, Dim3{uint32(M * heads), uint32(chunks), 1}, Dim3{blockThreads, 1, 1},
		uint64(partO), uint64(partML), ptr(q), ptr(k), ptr(v), i32(start), i32(heads), i32(kvHeads), i32(headDim), f32(scale))
	d.launch("attention_combine", Dim3{uint32(M * heads), 1, 1}, Dim3{threadsFor(headDim), 1, 1},
		ptr(out), uint64(partO), uint64(partML), i32(chunks), i32(headDim))
}

// SiLUMul implements nn.Backend: out = silu(gate)·up over gate's elements.
func (d *Device) SiLUMul(out, gate, up *tensor.Tensor) {
	for _, t := range []*tensor.Tensor{out, gate, up} {
		d.operand("SiLUMul", t, tensor.F32)
	}
	n := gate.Len()
	if !(out.Len() >= n && up.Len() >= n) {
		d.badShape("SiLUMul", "out %v, gate %v, up %v", out.Shape, gate.Shape, up.Shape)
	}
	if n > 0 {
		d.launch("silu_mul", elementwiseGrid(n), Dim3{blockThreads, 1, 1}, ptr(out), ptr(gate), ptr(up), i32(n))
	}
}

// Add implements nn.Backend: dst += src over src's elements.
func (d *Device) Add(dst, src *tensor.Tensor) {
	d.operand("Add", dst, tensor.F32)
	d.operand("Add", src, tensor.F32)
	n := src.Len()
	if dst.Len() < n {
		d.badShape("Add", "dst %v, src %v", dst.Shape, src.Shape)
	}
	if n > 0 {
		d.launch("add", elementwiseGrid(n), Dim3{blockThreads, 1, 1}, ptr(dst), ptr(src), i32(n))
	}
}

// Argmax returns, for each of the rows of t (rows, n), the index of its
// largest value (the first on ties, as ops.Argmax), computed on the device
// so that greedy decoding copies rows ints instead of rows·n logits.
func (d *Device) Argmax(t *tensor.Tensor, rows int) []int32 {
	ids, _ := d.argmax("Argmax", t, rows, false)
	return ids
}

// ArgmaxProb is Argmax that also returns each row's softmax probability of
// its argmax, 1 / Σ_j exp(x_j - max) (-inf and NaN adding nothing; 0 for a
// row without a finite value), still copying back two numbers a row.
func (d *Device) ArgmaxProb(t *tensor.Tensor, rows int) ([]int32, []float32) {
	return d.argmax("ArgmaxProb", t, rows, true)
}

func (d *Device) argmax(op string, t *tensor.Tensor, rows int, probs bool) ([]int32, []float32) {
	// The results first (ids, then probabilities: one copy back), then
	// the parts' scratch.
	buf := d.queueArgmax(op, t, rows, probs, 0)
	words := rows
	if probs {
		words = 2 * rows
	}
	res := make([]int32, words)
	if err := d.download(unsafePointer(res), buf, words*4); err != nil {
		d.fail(op, err)
	}
	if !probs {
		return res, nil
	}
	p := make([]float32, rows)
	for r := range p {
		p[r] = math.Float32frombits(uint32(res[rows+r]))
	}
	return res[:rows:rows], p
}

// logitRows checks that t is rows non-empty F32 rows of the device's, one
// block of the grid each, and returns their length.
func (d *Device) logitRows(op string, t *tensor.Tensor, rows int) int {
	d.operand(op, t, tensor.F32)
	if !(rows > 0 && t.Len()%rows == 0) {
		d.badShape(op, "%d rows of %v", rows, t.Shape)
	}
	if t.Len() == 0 {
		d.badShape(op, "empty rows of %v", t.Shape)
	}
	if rows >= maxGrid {
		d.badShape(op, "%d rows", rows)
	}
	return t.Len() / rows
}

// queueArgmax queues the argmax kernels over the rows of t. The ids go to
// out, or when out is 0 to the start of the result buffer, followed there
// (with probs) by the probabilities; it returns where the ids go.
func (d *Device) queueArgmax(op string, t *tensor.Tensor, rows int, probs bool, out uintptr) uintptr {
	n := d.logitRows(op, t, rows)
	// About 2048 elements a block (two loads of four per thread), in spans
	// of a multiple of four so that every block's loads stay aligned.
	parts := min(max(ceilDiv(n, 2048), 1), 1024)
	span := ceilDiv(ceilDiv(n, parts), 4) * 4
	parts = ceilDiv(n, span)
	buf := d.grow(&d.result, rows*8+rows*parts*12)
	if out == 0 {
		out = buf
	}
	prob := buf + uintptr(rows*4)
	partV := buf + uintptr(rows*8)
	partI := partV + uintptr(rows*parts*4)
	var partS uintptr // null: argmax_part and argmax_final skip the sums
	if probs {
		partS = partI + uintptr(rows*parts*4)
	}
	d.launch("argmax_part", Dim3{uint32(parts), uint32(rows), 1}, Dim3{blockThreads, 1, 1},
		uint64(partV), uint64(partI), uint64(partS), ptr(t), i32(n), i32(span))
	d.launch("argmax_final", Dim3{uint32(rows), 1, 1}, Dim3{threadsFor(parts), 1, 1}, uint64(out), uint64(prob),
		uint64(partV), uint64(partI), uint64(partS), i32(parts), i32(n))
	return out
}
