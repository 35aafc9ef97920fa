package nn

import (
	"fmt"

	"github.com/gopard/gopard/tensor"
)

// allocation makes a decoder's tensors on b and keeps them, so that when
// one cannot be had (an Allocator's TryAlloc failed) everything made
// before it can be given back.
type allocation struct {
	b    Backend
	made []*tensor.Tensor
	err  error // the first failure; alloc returns nil from then on
}

// alloc returns a zeroed F32 tensor of shape, or nil after a failure.
func (a *allocation) alloc(shape ...int) *tensor.Tensor {
	if ta, ok := a.b.(Allocator); ok {
		return a.try(func() (*tensor.Tensor, error) { return ta.TryAlloc(shape...) })
	}
	return a.try(func() (*tensor.Tensor, error) { return a.b.Alloc(shape...), nil })
}

// allocKV is s.AllocKV (TryAllocKV where s is a KVAllocator), kept like
// alloc's tensors; nil after a failure or where s asks for the default
// cache.
func (a *allocation) allocKV(s KVStore, rows, kvHeads, headDim int) *tensor.Tensor {
	if ka, ok := s.(KVAllocator); ok {
		return a.try(func() (*tensor.Tensor, error) { return ka.TryAllocKV(rows, kvHeads, headDim) })
	}
	return a.try(func() (*tensor.Tensor, error) { return s.AllocKV(rows, kvHeads, headDim), nil })
}

// load is Backend.Load, kept like alloc's tensors.
func (a *allocation) load(w *tensor.Tensor) *tensor.Tensor {
	return a.try(func() (*tensor.Tensor, error) { return a.b.Load(w) })
}

// try runs mk unless an earlier one failed, and keeps what it made or
// the first failure (nil from then on).
func (a *allocation) try(mk func() (*tensor.Tensor, error)) *tensor.Tensor {
	if a.err != nil {
		return nil
	}
	t, err := mk()
	if err != nil {
		a.err = err
		return nil
	}
	return a.keep(t)
}

// keep remembers t (nil: nothing was made) and returns it.
func (a *allocation) keep(t *tensor.Tensor) *tensor.Tensor {
	if t != nil {
		a.made = append(a.made, t)
	}
	return t
}

// release frees what alloc and load made, where the backend can.
func (a *allocation) release() {
	if f, ok := a.b.(Allocator); ok {
		for _, t := range a.made {
			f.Free(t)
		}
	}
	a.made = nil
}

// failed returns the first failure, wrapped as what failed.
func (a *allocation) failed(what string) error {
	if a.err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, a.err)
}
