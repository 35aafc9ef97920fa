package nn

import (
	"fmt"

	"github.com/gopard/gopard/tensor"
)

// KVCache holds the keys and values of every layer for up to Capacity
// positions, and a logical length. Moving the length back (Truncate) is
// how speculative decoding forgets rejected drafts: slots past the length
// are never read, and the next Forward overwrites them.
type KVCache struct {
	// K and V hold a tensor per layer: (capacity, kvHeads·headDim) F32, or
	// what the backend's KVStore.AllocKV returns (its layout and dtype).
	K, V     []*tensor.Tensor
	Capacity int
	// Stored: K and V came from a KVStore's AllocKV, and keys and values
	// go in through its StoreKV; else they are float32 rows written in
	// place.
	Stored bool
	n      int
}

// NewKVCache allocates a cache on backend b: with b's AllocKV when it is a
// KVStore that gives one, else F32 (capacity, kvHeads·headDim) tensors
// from Alloc (an Allocator's TryAlloc where b is one). The error names the
// cache's size.
func NewKVCache(b Backend, layers, capacity, kvHeads, headDim int) (*KVCache, error) {
	a := &allocation{b: b}
	c, err := newKVCache(a, layers, capacity, kvHeads, headDim)
	if err != nil {
		a.release()
	}
	return c, err
}

func newKVCache(a *allocation, layers, capacity, kvHeads, headDim int) (*KVCache, error) {
	c := &KVCache{K: make([]*tensor.Tensor, layers), V: make([]*tensor.Tensor, layers), Capacity: capacity}
	width := kvHeads * headDim
	s, _ := a.b.(KVStore)
	if s != nil && layers > 0 {
		// The store's first cache says whether it keeps them at all.
		if c.K[0] = a.allocKV(s, capacity, kvHeads, headDim); a.err != nil {
			return nil, c.failed(a, layers, width, tensor.Invalid)
		}
		c.Stored = c.K[0] != nil
	}
	for l := range c.K {
		for _, t := range []**tensor.Tensor{&c.K[l], &c.V[l]} {
			if *t != nil {
				continue
			}
			if c.Stored {
				*t = a.allocKV(s, capacity, kvHeads, headDim)
			} else {
				*t = a.alloc(capacity, width)
			}
			if *t == nil {
				dt := tensor.F32
				if c.Stored {
					dt = c.K[0].DType
				}
				return nil, c.failed(a, layers, width, dt)
			}
		}
	}
	return c, nil
}

// failed describes the allocation that failed: the cache's size (in bytes
// when its dtype dt is known, not tensor.Invalid) and the backend's error.
func (c *KVCache) failed(a *allocation, layers, width int, dt tensor.DType) error {
	what := fmt.Sprintf("kv cache of %d positions (%d layers", c.Capacity, layers)
	if dt != tensor.Invalid {
		what += fmt.Sprintf(", %.1f MB in %v", float64(KVCacheBytes(layers, c.Capacity, width, dt))/1e6, dt)
	}
	if a.err == nil { // a KVStore that gave a cache for some layers only
		return fmt.Errorf("%s): the backend's AllocKV gave none", what)
	}
	return fmt.Errorf("%s): %w", what, a.err)
}

// KVCacheBytes is what a cache of keys and values for capacity positions
// of layers layers, width (kvHeads·headDim) values each, takes in dtype
// dt: what NewKVCache allocates, before it does.
func KVCacheBytes(layers, capacity, width int, dt tensor.DType) int64 {
	return int64(layers) * 2 * int64(capacity) * int64(width) * int64(dt.Size())
}

// DType is the element type of the cached keys and values.
func (c *KVCache) DType() tensor.DType {
	if len(c.K) == 0 {
		return tensor.F32
	}
	return c.K[0].DType
}

// Len is the number of positions whose keys and values are valid.
func (c *KVCache) Len() int { return c.n }

// Truncate moves the logical length back to n; a larger n is ignored
// (the cache cannot grow without a forward).
func (c *KVCache) Truncate(n int) {
	if n >= 0 && n < c.n {
		c.n = n
	}
}

// reserve checks that positions start..start+count-1 may be written and
// sets the length to their end.
func (c *KVCache) reserve(start, count int) error {
	if start < 0 || start > c.n {
		return fmt.Errorf("kv cache: start position %d is beyond the cached length %d", start, c.n)
	}
	if start+count > c.Capacity {
		return fmt.Errorf("kv cache: positions %d..%d exceed the context capacity of %d", start, start+count-1, c.Capacity)
	}
	c.n = start + count
	return nil
}

// Bytes is the memory the cache occupies.
func (c *KVCache) Bytes() int64 {
	var n int64
	for l := range c.K {
		n += int64(c.K[l].Len()*c.K[l].DType.Size() + c.V[l].Len()*c.V[l].DType.Size())
	}
	return n
}
