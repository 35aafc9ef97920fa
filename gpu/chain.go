package gpu

import (
	"unsafe"

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
	if d.keptClosed {
		d.nKept, d.keptClosed = 0, false
		d.keptGen++
	}
	// The ids so far stay: whole 16-byte words of them (growKeeping's
	// copy), within the old buffer, whose sizes are too.
	d.growKeeping(&d.kept, max(keptMinBytes, (d.nKept+rows)*4), ceilDiv(d.nKept*4, 16)*16)
	off = d.nKept
	d.queueArgmax("KeepArgmax", t, rows, false, d.kept.ptr+uintptr(off*4))
	d.nKept += rows
	return off, d.keptGen
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
