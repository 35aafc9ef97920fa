// Package tensor defines gopard's tensor: a dtype, a shape and contiguous
// row-major storage, which may be a slice of a memory-mapped checkpoint file
// or memory owned by a device backend.
//
// A Tensor does no math beyond dtype conversion; kernels live in package ops
// (CPU) and gpu/* (devices).
package tensor

import (
	"fmt"
	"slices"
	"unsafe"
)

// DType is the element type of a tensor.
type DType uint8

// The dtypes gopard reads and computes with.
const (
	Invalid DType = iota
	F32           // IEEE 754 binary32
	BF16          // bfloat16: the top 16 bits of a binary32
	F16           // IEEE 754 binary16
)

// Size is the number of bytes of one element.
func (d DType) Size() int {
	switch d {
	case F32:
		return 4
	case BF16, F16:
		return 2
	}
	return 0
}

// String returns the safetensors spelling of the dtype ("F32", "BF16", "F16").
func (d DType) String() string {
	switch d {
	case F32:
		return "F32"
	case BF16:
		return "BF16"
	case F16:
		return "F16"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// ParseDType maps a safetensors dtype string to a DType.
func ParseDType(s string) (DType, error) {
	switch s {
	case "F32":
		return F32, nil
	case "BF16":
		return BF16, nil
	case "F16":
		return F16, nil
	}
	return Invalid, fmt.Errorf("unsupported dtype %q (want F32, BF16 or F16)", s)
}

// Placement says where a tensor's storage lives.
type Placement uint8

const (
	Host   Placement = iota // Data holds the bytes (possibly a memory-mapped file)
	Device                  // Ptr is a device address owned by a backend; Data is nil
)

// Tensor is a dense row-major array. The zero value is not useful; build
// tensors with New, FromF32 or FromBytes.
type Tensor struct {
	DType DType
	Shape []int
	// Data holds the little-endian elements when the tensor lives on the host.
	// It may alias a read-only memory map: never write to a weight.
	Data []byte
	// Place and Ptr describe device storage; Ptr is an opaque address
	// meaningful only to the backend that made it.
	Place Placement
	Ptr   uintptr
}

// NumElements returns the product of the shape (1 for a scalar).
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// CheckedNumElements is NumElements that reports negative dimensions and
// overflow instead of wrapping; limit bounds the result (e.g. a file size).
func CheckedNumElements(shape []int, limit int64) (int64, error) {
	empty := false
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, shape)
		}
		empty = empty || d == 0
	}
	if empty {
		return 0, nil
	}
	n := int64(1)
	for _, d := range shape {
		if n > limit/int64(d) {
			return 0, fmt.Errorf("shape %v has more than %d elements", shape, limit)
		}
		n *= int64(d)
	}
	return n, nil
}

// Len returns the number of elements.
func (t *Tensor) Len() int { return NumElements(t.Shape) }

// Rows returns the leading dimension (1 for a scalar).
func (t *Tensor) Rows() int {
	if len(t.Shape) == 0 {
		return 1
	}
	return t.Shape[0]
}

// Cols returns the product of all dimensions but the first: the row length.
func (t *Tensor) Cols() int {
	if len(t.Shape) == 0 {
		return 1
	}
	return NumElements(t.Shape[1:])
}

// New allocates a zeroed host tensor.
func New(dt DType, shape ...int) *Tensor {
	s := append([]int(nil), shape...)
	return &Tensor{DType: dt, Shape: s, Data: make([]byte, NumElements(s)*dt.Size())}
}

// FromBytes wraps existing bytes (for instance a memory-mapped span) without
// copying. It checks that the byte length matches shape × dtype size.
func FromBytes(dt DType, shape []int, data []byte) (*Tensor, error) {
	if dt.Size() == 0 {
		return nil, fmt.Errorf("tensor: invalid dtype %v", dt)
	}
	n, err := CheckedNumElements(shape, int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("tensor: %w", err)
	}
	if n*int64(dt.Size()) != int64(len(data)) {
		return nil, fmt.Errorf("tensor: shape %v of %v needs %d bytes, have %d", shape, dt, n*int64(dt.Size()), len(data))
	}
	return &Tensor{DType: dt, Shape: append([]int(nil), shape...), Data: data}, nil
}

// FromF32 makes an F32 host tensor that shares v's storage.
func FromF32(v []float32, shape ...int) *Tensor {
	if NumElements(shape) != len(v) {
		panic(fmt.Sprintf("tensor.FromF32: shape %v does not hold %d values", shape, len(v)))
	}
	var b []byte
	if len(v) > 0 {
		b = unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*4)
	}
	return &Tensor{DType: F32, Shape: append([]int(nil), shape...), Data: b}
}

// F32 returns the elements of an F32 host tensor as a []float32 that shares
// its storage.
func (t *Tensor) F32() []float32 {
	if t.DType != F32 {
		panic("tensor: F32 view of a " + t.DType.String() + " tensor")
	}
	return bytesAs[float32](t.Data)
}

// U16 returns the raw 16-bit elements of a BF16 or F16 host tensor, sharing
// its storage.
func (t *Tensor) U16() []uint16 {
	if t.DType != BF16 && t.DType != F16 {
		panic("tensor: U16 view of a " + t.DType.String() + " tensor")
	}
	return bytesAs[uint16](t.Data)
}

func bytesAs[T float32 | uint16](b []byte) []T {
	var z T
	size := int(unsafe.Sizeof(z))
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), len(b)/size)
}

// RowSlice returns a view of rows [lo, hi) of t (its first dimension),
// sharing storage.
func (t *Tensor) RowSlice(lo, hi int) *Tensor { return t.RowSliceInto(new(Tensor), lo, hi) }

// RowSliceInto is RowSlice writing the view into v and returning it; it
// reuses v's shape storage, so a hot loop can take views without
// allocating. v must not be another live view's header.
func (t *Tensor) RowSliceInto(v *Tensor, lo, hi int) *Tensor {
	if lo < 0 || hi > t.Rows() || lo > hi {
		panic(fmt.Sprintf("tensor: rows [%d,%d) out of range for shape %v", lo, hi, t.Shape))
	}
	rowBytes := t.Cols() * t.DType.Size()
	v.DType, v.Place, v.Ptr, v.Data = t.DType, t.Place, 0, nil
	v.Shape = append(append(v.Shape[:0], hi-lo), t.Shape[1:]...)
	if t.Place == Device {
		v.Ptr = t.Ptr + uintptr(lo*rowBytes)
	} else {
		v.Data = t.Data[lo*rowBytes : hi*rowBytes]
	}
	return v
}

// Reshape returns a view with another shape of the same number of elements.
func (t *Tensor) Reshape(shape ...int) *Tensor { return t.ReshapeInto(new(Tensor), shape...) }

// ReshapeInto is Reshape writing the view into v (reusing its shape
// storage) and returning it.
func (t *Tensor) ReshapeInto(v *Tensor, shape ...int) *Tensor {
	if NumElements(shape) != t.Len() {
		badReshape(t.Shape, shape)
	}
	*v = Tensor{DType: t.DType, Shape: append(v.Shape[:0], shape...), Data: t.Data, Place: t.Place, Ptr: t.Ptr}
	return v
}

// badReshape panics with a copy of the shapes, so that ReshapeInto's
// variadic argument does not escape and the call stays allocation-free.
func badReshape(from, to []int) {
	panic(fmt.Sprintf("tensor: cannot reshape %v to %v", slices.Clone(from), slices.Clone(to)))
}

// ToF32 converts a host tensor of any dtype to a new F32 slice.
func (t *Tensor) ToF32() []float32 {
	out := make([]float32, t.Len())
	switch t.DType {
	case F32:
		copy(out, t.F32())
	case BF16:
		BF16ToF32(out, t.U16())
	case F16:
		F16ToF32(out, t.U16())
	}
	return out
}

// String describes the tensor without printing its elements.
func (t *Tensor) String() string {
	return fmt.Sprintf("%v%v", t.DType, t.Shape)
}
