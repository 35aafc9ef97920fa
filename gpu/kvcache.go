package gpu

import (
	"github.com/gopard/gopard/tensor"
)

// SetF16KVCache makes the KV caches allocated from now on binary16 (on) or
// float32, as ops.CPU's: half the device memory a position and half the
// bytes attention reads, keys and values rounded to nearest when stored
// (as the CPU rounds them), everything else unchanged. Caches already
// allocated keep their dtype.
func (d *Device) SetF16KVCache(on bool) { d.f16KV = on }

// F16KVCache is what SetF16KVCache last set.
func (d *Device) F16KVCache() bool { return d.f16KV }

// AllocKV implements nn.KVStore: with SetF16KVCache on, a zeroed binary16
// cache in rows of positions (rows, kvHeads·headDim), the layout of the
// float32 one; else nil, so that the cache is float32 rows from Alloc
// into which the projections write directly. It panics when the device
// cannot give the memory, as Alloc does.
func (d *Device) AllocKV(rows, kvHeads, headDim int) *tensor.Tensor {
	t, err := d.TryAllocKV(rows, kvHeads, headDim)
	if err != nil {
		panic(&Failure{err})
	}
	return t
}

// TryAllocKV is AllocKV with a failure returned as an error (the
// nn.KVStore's half of nn.Allocator).
func (d *Device) TryAllocKV(rows, kvHeads, headDim int) (*tensor.Tensor, error) {
	if !d.f16KV {
		return nil, nil
	}
	return d.tryAlloc(tensor.F16, rows, kvHeads*headDim)
}

// StoreKV implements nn.KVStore: it rounds the float32 rows of k and v,
// the keys and values of positions start.., into those rows of binary16
// caches from AllocKV, in one launch (a decode step's stores are a few
// KB: the launch is their cost).
func (d *Device) StoreKV(kCache, vCache *tensor.Tensor, start int, k, v *tensor.Tensor) {
	n := d.storeOperands(kCache, start, k)
	if d.storeOperands(vCache, start, v) != n {
		d.badShape("StoreKV", "keys %v, values %v", k.Shape, v.Shape)
	}
	if n == 0 {
		return
	}
	at := func(cache *tensor.Tensor) uint64 { return uint64(cache.Ptr + uintptr(start*cache.Cols()*2)) }
	grid := elementwiseGrid(n)
	grid.Y = 2 // keys, values
	d.launch("store_kv_f16", grid, Dim3{blockThreads, 1, 1}, at(kCache), ptr(k), at(vCache), ptr(v), i32(n))
}

// storeOperands checks a cache and the rows StoreKV puts into it from
// position start, and returns their element count.
func (d *Device) storeOperands(cache *tensor.Tensor, start int, src *tensor.Tensor) int {
	d.operand("StoreKV", cache, tensor.F16)
	d.operand("StoreKV", src, tensor.F32)
	M, cols := src.Rows(), src.Cols()
	if !(cache.Cols() == cols && start >= 0 && start+M <= cache.Rows()) {
		d.badShape("StoreKV", "%d rows of %d at position %d into a cache %v", M, cols, start, cache.Shape)
	}
	return M * cols
}
