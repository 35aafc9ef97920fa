package gpu

import (
	"unsafe"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/tensor"
)

// The nn.IDChainer operations: argmax ids kept in device memory, in a list
// that grows until ReadKept copies it back, so that a draft's greedy
// choices feed the target's embedding directly and a PARD iteration waits
// for the device once.

// keptMinBytes is the kept list's first size: 256 ids, more than a PARD
// iteration keeps at the largest K (pard.MaxK drafts and MaxK+1 verify ids).
const keptMinBytes = 1024

// KeepArgmax implements nn.IDChainer: it queues the argmax of each of the
// rows of t (rows, n) into the open list, after its ids, and returns
// where they start and the list's generation.
func (d *Device) KeepArgmax(t *tensor.Tensor, rows int) (off int, gen uint64) {
	off = d.openKept(rows, distRow{})
	d.queueArgmax("KeepArgmax", t, rows, false, d.kept.ptr+uintptr(off*4))
	return off, d.keptGen
}

// openKept makes room for rows more ids in the open list (opening a new
// one after a read) and returns where they go, counting them in, each
// with distribution row dist (see distRow).
func (d *Device) openKept(rows int, dist distRow) int {
	if d.keptClosed {
		d.nKept, d.keptClosed, d.dists, d.distEnd = 0, false, d.dists[:0], 0
		d.keptGen++
	}
	// The ids so far stay: whole 16-byte words of them (growKeeping's
	// copy), within the old buffer, whose sizes are too.
	d.growKeeping(&d.kept, max(keptMinBytes, (d.nKept+rows)*4), ceilDiv(d.nKept*4, 16)*16)
	off := d.nKept
	d.nKept += rows
	for r := range rows {
		if dist.width > 0 {
			dist.at = d.distEnd + r*dist.width
		}
		d.dists = append(d.dists, dist)
	}
	return off
}

// distRow is where a kept id's distribution is in keptDist: width values
// from float at (width 0: an argmax id, none).
type distRow struct{ at, width int }

// sampleRows is SAMPLE_ROWS in sample.cu: the rows of a draft_sample
// launch, whose uniform numbers are its arguments (a copy of them to the
// device would be a wait).
const sampleRows = 8

// uniformArgs returns how many of u (at most sampleRows) a launch takes,
// and them as its arguments, the rest 0.
func uniformArgs(u []float32) (int, [sampleRows]uint64) {
	var us [sampleRows]uint64
	m := min(sampleRows, len(u))
	for i := range m {
		us[i] = f32(u[i])
	}
	return m, us
}

// KeepSample implements nn.SampleChainer: the draft_sample kernel (see
// gpu/kernels/sample.cu) over each row of t, the ids into the open list
// and the distributions beside them.
func (d *Device) KeepSample(t *tensor.Tensor, rows int, s nn.Sampling, u []float32) (off int, gen uint64) {
	const op = "KeepSample"
	stride := d.logitRows(op, t, rows)
	n := stride
	if s.Vocab > 0 {
		n = s.Vocab
	}
	switch {
	case len(u) != rows:
		d.badShape(op, "%d uniform numbers for %d rows", len(u), rows)
	case !(s.Temperature > 0) || s.TopK < 0 || s.TopP < 0 || s.TopP > 1 || s.Vocab < 0 || n > stride:
		d.badShape(op, "sampling %+v from rows of %d", s, stride)
	}
	off = d.openKept(rows, distRow{width: n})
	at := d.dists[off].at
	// Earlier rows of the list stay, as its ids do.
	d.growKeeping(&d.keptDist, (at+rows*n)*4, min(ceilDiv(at*4, 16)*16, d.keptDist.bytes))
	d.distEnd = at + rows*n
	for r0 := 0; r0 < rows; r0 += sampleRows {
		m, us := uniformArgs(u[r0:])
		d.launch("draft_sample", Dim3{uint32(m), 1, 1}, Dim3{blockThreads, 1, 1},
			uint64(d.keptDist.ptr+uintptr((at+r0*n)*4)), uint64(d.kept.ptr+uintptr((off+r0)*4)), ptr(t)+uint64(r0*stride*4), i32(n), i32(stride),
			f32(1/s.Temperature), i32(s.TopK), f32(s.TopP), us[0], us[1], us[2], us[3], us[4], us[5], us[6], us[7])
	}
	return off, d.keptGen
}

// distRows returns where the distributions of ids [off, off+n) of the
// open list start and their width, checking that they are draws' whose
// rows lie one after another.
func (d *Device) distRows(op string, off, n int) (at, width int) {
	if !(off >= 0 && n > 0 && off+n <= len(d.dists)) {
		d.badShape(op, "ids %d..%d of a list of %d", off, off+n-1, len(d.dists))
	}
	first := d.dists[off]
	for i, r := range d.dists[off : off+n] {
		if r.width == 0 || r.width != first.width || r.at != first.at+i*first.width {
			d.badShape(op, "id %d of the list: not a draw in a row after id %d's", off+i, off)
		}
	}
	return first.at, first.width
}

// ReadKeptDists copies the distributions kept beside ids [off, off+n) of
// list gen into dst (n rows of the width they were kept at), after waiting
// for the queued work, and reports true; false, copying nothing, when gen
// is no longer the newest list. For tests and inspection: the verify reads
// them on the device.
func (d *Device) ReadKeptDists(dst []float32, gen uint64, off, n int) bool {
	const op = "ReadKeptDists"
	if gen != d.keptGen {
		return false
	}
	if n == 0 {
		return true
	}
	at, width := d.distRows(op, off, n)
	if len(dst) != n*width {
		d.badShape(op, "%d values for %d rows of %d", len(dst), n, width)
	}
	if err := d.download(unsafe.Pointer(&dst[0]), d.keptDist.ptr+uintptr(at*4), len(dst)*4); err != nil {
		d.fail(op, err)
	}
	return true
}

// KeepVerdict implements nn.SampleChainer: the spec_accept kernel, after
// put_f32 has put u in device memory.
func (d *Device) KeepVerdict(drafts, target, k int, u []float32) (off int) {
	const op = "KeepVerdict"
	if len(u) != k+1 {
		d.badShape(op, "%d uniform numbers for %d drafts", len(u), k)
	}
	var qAt, pAt, width int
	if k > 0 {
		qAt, width = d.distRows(op, drafts, k)
	}
	pAt, pWidth := d.distRows(op, target, k+1)
	if k > 0 && pWidth != width {
		d.badShape(op, "drafts drawn from %d values, the target's from %d", width, pWidth)
	}
	uPtr := d.grow(&d.uniforms, (k+1)*4)
	for i0 := 0; i0 <= k; i0 += sampleRows {
		m, us := uniformArgs(u[i0:])
		d.launch("put_f32", Dim3{1, 1, 1}, Dim3{64, 1, 1}, uint64(uPtr+uintptr(i0*4)), i32(m),
			us[0], us[1], us[2], us[3], us[4], us[5], us[6], us[7])
	}
	off = d.openKept(2, distRow{})
	at := func(i int) uint64 { return uint64(d.keptDist.ptr + uintptr(i*4)) }
	d.launch("spec_accept", Dim3{1, 1, 1}, Dim3{blockThreads, 1, 1}, uint64(d.kept.ptr+uintptr(off*4)),
		uint64(d.kept.ptr+uintptr(drafts*4)), at(qAt), at(pAt), uint64(d.kept.ptr+uintptr((target+k)*4)), uint64(uPtr), i32(k), i32(pWidth))
	return off
}

// EmbeddingKept implements nn.IDChainer: out (n, dim) gets the rows of
// table (vocab, dim) named by ids [off, off+n) of the newest kept list.
// The ids come from argmax kernels over rows no wider than the table (the
// caller's promise: the device cannot check them without a wait).
func (d *Device) EmbeddingKept(out, table *tensor.Tensor, off, n int) {
	d.embeddingOperands("EmbeddingKept", out, table, n)
	if !(off >= 0 && n >= 0 && off+n <= d.nKept) {
		d.badShape("EmbeddingKept", "ids %d..%d of a list of %d", off, off+n-1, d.nKept)
	}
	if n > 0 {
		d.gather(out, table, d.kept.ptr+uintptr(off*4), n)
	}
}

// ReadKept implements nn.IDChainer: it waits for the queued work and
// copies the newest list back in one copy, closing it (a second call
// returns the same copy without waiting).
func (d *Device) ReadKept() ([]int32, uint64) {
	if !d.keptClosed {
		d.keptClosed = true
		if cap(d.keptHost) < d.nKept {
			d.keptHost = make([]int32, d.nKept, 2*d.nKept)
		}
		d.keptHost = d.keptHost[:d.nKept]
		if d.nKept > 0 {
			if err := d.download(unsafe.Pointer(&d.keptHost[0]), d.kept.ptr, d.nKept*4); err != nil {
				d.fail("ReadKept", err)
			}
		}
	}
	return d.keptHost, d.keptGen
}

// KeptGeneration implements nn.IDChainer: the generation of the list the
// next KeepArgmax appends to.
func (d *Device) KeptGeneration() uint64 {
	if d.keptClosed {
		return d.keptGen + 1
	}
	return d.keptGen
}
