package gpu

import (
	"slices"
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
	off = d.openKept(rows, false)
	d.queueArgmax("KeepArgmax", t, rows, false, d.kept.ptr+uintptr(off*4))
	return off, d.keptGen
}

// openKept makes room for rows more ids in the open list (opening a new
// one after a read) and returns where they go, counting them in; sampled
// says whether KeepSample draws them (and keeps their distributions).
func (d *Device) openKept(rows int, sampled bool) int {
	if d.keptClosed {
		d.nKept, d.keptClosed, d.sampled = 0, false, d.sampled[:0]
		d.keptGen++
	}
	// The ids so far stay: whole 16-byte words of them (growKeeping's
	// copy), within the old buffer, whose sizes are too.
	d.growKeeping(&d.kept, max(keptMinBytes, (d.nKept+rows)*4), ceilDiv(d.nKept*4, 16)*16)
	off := d.nKept
	d.nKept += rows
	for range rows {
		d.sampled = append(d.sampled, sampled)
	}
	return off
}

// sampleRows is SAMPLE_ROWS in sample.cu: the rows of a draft_sample
// launch, whose uniform numbers are its arguments (a copy of them to the
// device would be a wait).
const sampleRows = 8

// KeepSample implements nn.SampleChainer: the draft_sample kernel (see
// gpu/kernels/sample.cu) over each row of t, the ids into the open list
// and the distributions beside them.
func (d *Device) KeepSample(t *tensor.Tensor, rows int, s nn.Sampling, u []float32) (off int, gen uint64) {
	const op = "KeepSample"
	d.operand(op, t, tensor.F32)
	if !(rows > 0 && t.Len()%rows == 0 && t.Len() > 0) || rows >= maxGrid {
		d.badShape(op, "%d rows of %v", rows, t.Shape)
	}
	n := t.Len() / rows
	if len(u) != rows {
		d.badShape(op, "%d uniform numbers for %d rows", len(u), rows)
	}
	if !(s.Temperature > 0) || s.TopK < 0 || s.TopP < 0 || s.TopP > 1 {
		d.badShape(op, "sampling %+v", s)
	}
	off = d.openKept(rows, true)
	if slices.Contains(d.sampled[:off], true) && d.keptWidth != n {
		d.badShape(op, "rows of %d values in a list drawn from rows of %d", n, d.keptWidth)
	}
	d.keptWidth = n
	// Earlier rows of the list stay, as its ids do.
	d.growKeeping(&d.keptDist, (off+rows)*n*4, min(ceilDiv(off*n*4, 16)*16, d.keptDist.bytes))
	for r0 := 0; r0 < rows; r0 += sampleRows {
		var us [sampleRows]uint64
		for i := range min(sampleRows, rows-r0) {
			us[i] = f32(u[r0+i])
		}
		d.launch("draft_sample", Dim3{uint32(min(sampleRows, rows-r0)), 1, 1}, Dim3{blockThreads, 1, 1},
			uint64(d.keptDist.ptr+uintptr((off+r0)*n*4)), uint64(d.kept.ptr+uintptr((off+r0)*4)), ptr(t)+uint64(r0*n*4), i32(n),
			f32(1/s.Temperature), i32(s.TopK), f32(s.TopP), us[0], us[1], us[2], us[3], us[4], us[5], us[6], us[7])
	}
	return off, d.keptGen
}

// ReadKeptDists implements nn.SampleChainer.
func (d *Device) ReadKeptDists(dst []float32, gen uint64, off, n int) bool {
	const op = "ReadKeptDists"
	if gen != d.keptGen {
		return false
	}
	if !(off >= 0 && n >= 0 && off+n <= len(d.sampled)) {
		d.badShape(op, "ids %d..%d of a list of %d", off, off+n-1, len(d.sampled))
	}
	for i := off; i < off+n; i++ {
		if !d.sampled[i] {
			d.badShape(op, "id %d of the list is an argmax, not a draw", i)
		}
	}
	if len(dst) != n*d.keptWidth {
		d.badShape(op, "%d values for %d rows of %d", len(dst), n, d.keptWidth)
	}
	if n > 0 {
		if err := d.download(unsafe.Pointer(&dst[0]), d.keptDist.ptr+uintptr(off*d.keptWidth*4), len(dst)*4); err != nil {
			d.fail(op, err)
		}
	}
	return true
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
