package tensor

import (
	"math"

	"github.com/x448/float16"
)

// BF16ToFloat32 widens one bfloat16 exactly: it is the top half of a binary32.
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToBF16 rounds to the nearest bfloat16, ties to even, as PyTorch
// does; NaN stays NaN (quiet).
func Float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN: keep it a NaN after truncation
		return uint16(b>>16) | 0x40
	}
	rounding := uint32(0x7fff) + (b>>16)&1
	return uint16((b + rounding) >> 16)
}

// F16ToFloat32 widens an IEEE binary16 exactly.
func F16ToFloat32(h uint16) float32 { return float16.Frombits(h).Float32() }

// Float32ToF16 rounds to the nearest binary16, ties to even.
func Float32ToF16(f float32) uint16 { return float16.Fromfloat32(f).Bits() }

// BF16ToF32 widens src into dst (len(dst) ≥ len(src)).
func BF16ToF32(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = math.Float32frombits(uint32(h) << 16)
	}
}

// F32ToBF16 rounds src into dst (len(dst) ≥ len(src)).
func F32ToBF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, f := range src {
		dst[i] = Float32ToBF16(f)
	}
}

// F16ToF32 widens src into dst (len(dst) ≥ len(src)).
func F16ToF32(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = float16.Frombits(h).Float32()
	}
}

// F32ToF16 rounds src into dst (len(dst) ≥ len(src)).
func F32ToF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, f := range src {
		dst[i] = float16.Fromfloat32(f).Bits()
	}
}

// Convert returns a new host tensor of dtype dt holding t's values rounded
// to dt.
func Convert(t *Tensor, dt DType) *Tensor {
	out := New(dt, t.Shape...)
	f := t.ToF32()
	switch dt {
	case F32:
		copy(out.F32(), f)
	case BF16:
		F32ToBF16(out.U16(), f)
	case F16:
		F32ToF16(out.U16(), f)
	}
	return out
}
