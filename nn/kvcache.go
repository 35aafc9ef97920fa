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
	n        int
}

// NewKVCache allocates a cache on backend b: with b's AllocKV when it is a
// KVStore, else F32 (capacity, kvHeads·headDim) tensors from a (an
// Allocator's TryAlloc where b is one). The error names the cache's size.
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
	s, isStore := a.b.(KVStore)
	for l := range c.K {
		for _, t := range []**tensor.Tensor{&c.K[l], &c.V[l]} {
			if isStore {
				*t = s.AllocKV(capacity, kvHeads, headDim)
			} else if *t = a.alloc(capacity, kvHeads*headDim); *t == nil {
				bytes := int64(layers) * 2 * int64(capacity) * int64(kvHeads*headDim) * 4
				return nil, fmt.Errorf("kv cache of %d positions (%d layers, %.1f MB in float32): %w", capacity, layers, float64(bytes)/1e6, a.err)
			}
		}
	}
	return c, nil
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
