package asm

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/x448/float16"
)

// TestF16TwinsDefinition checks the binary16 conversions' Go twins against
// hand-worked values and against x448/float16, an independent
// implementation: widening every one of the 65536 values, and rounding
// every binary16 value, every midpoint between neighbours (ties go to the
// even one), the floats either side of each midpoint, and random bits.
func TestF16TwinsDefinition(t *testing.T) {
	for _, c := range []struct {
		f float32
		h uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {0.5, 0x3800}, {65504, 0x7bff},
		{65519.996, 0x7bff}, {65520, 0x7c00}, {1e10, 0x7c00}, {float32(math.Inf(-1)), 0xfc00},
		{0x1p-14, 0x0400}, {0x1p-24, 0x0001}, {0x1p-25, 0x0000}, {0x1.000002p-25, 0x0001},
		{0x1.8p-24, 0x0002}, {0x1.8p-23, 0x0003}, {0x1.ff8p-15, 0x03ff}, {0x1.ffcp-15, 0x0400},
		{1 + 0x1p-11, 0x3c00}, {1 + 0x1p-11 + 0x1p-23, 0x3c01}, {1 + 3*0x1p-11, 0x3c02},
		{0x1p-130, 0x0000}, {-0x1p-149, 0x8000}, {float32(math.Copysign(0, -1)), 0x8000},
	} {
		if got := f32ToF16(c.f); got != c.h {
			t.Errorf("f32ToF16(%v) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	if got := f32ToF16(math.Float32frombits(0x7fa00001)); got != 0x7f00 { // a signalling NaN, made quiet
		t.Errorf("f32ToF16(sNaN 0x7fa00001) = %#04x, want 0x7f00", got)
	}
	for i := range 1 << 16 {
		h := uint16(i)
		got, want := f16ToF32(h), float16.Frombits(h).Float32()
		if float16.Frombits(h).IsNaN() {
			if b := math.Float32bits(got); !math.IsNaN(float64(got)) || b&0x400000 == 0 || b>>31 != uint32(h>>15) {
				t.Fatalf("f16ToF32(%#04x) = %#08x, want a quiet NaN of the same sign", h, b)
			}
			continue
		}
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("f16ToF32(%#04x) = %v, x448 %v", h, got, want)
		}
		if back := f32ToF16(got); back != h {
			t.Fatalf("f32ToF16(f16ToF32(%#04x)) = %#04x", h, back)
		}
		// The midpoint to the next value up in magnitude, and its neighbours.
		if h&0x7fff >= 0x7c00 {
			continue
		}
		next := float16.Frombits(h + 1).Float32()
		mid := float32((float64(got) + float64(next)) / 2)
		for _, f := range []float32{mid, math.Nextafter32(mid, 0), math.Nextafter32(mid, float32(math.Inf(int(1-2*(h>>15)))))} {
			if g, w := f32ToF16(f), float16.Fromfloat32(f).Bits(); g != w {
				t.Fatalf("f32ToF16(%v) = %#04x, x448 %#04x (near the midpoint of %#04x and the next)", f, g, w, h)
			}
		}
	}
	r := rand.New(rand.NewPCG(16, 16))
	for range 1 << 20 {
		f := math.Float32frombits(r.Uint32())
		if math.IsNaN(float64(f)) {
			continue
		}
		if g, w := f32ToF16(f), float16.Fromfloat32(f).Bits(); g != w {
			t.Fatalf("f32ToF16(%v) = %#04x, x448 %#04x", f, g, w)
		}
	}
}

// TestRowsF16AreRowsWidened checks that the binary16 attention kernels
// (whatever this build runs) give the bits of the float32 ones over the
// widened rows, at head sizes with and without the fast paths, every row
// count remainder mod 4, and guards after each output.
func TestRowsF16AreRowsWidened(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 17))
	for _, hd := range []int{1, 16, 48, 64, 80, 128, 256} {
		for _, n := range []int{1, 3, 4, 5, 8, 13, 64, 259} {
			stride := 4*hd + 3
			k16, v16 := randF16(r, n*stride), randF16(r, n*stride)
			k, v := make([]float32, len(k16)), make([]float32, len(v16))
			F16ToF32(k, k16)
			F16ToF32(v, v16)
			var q, out, o, p [4][]float32
			for j := range 4 {
				q[j] = randF32(r, hd)
				out[j] = append(make([]float32, n), guard)
				o[j] = append(randF32(r, hd), guard)
				p[j] = randF32(r, n)
			}
			o1 := slices.Clone(o[0])
			var out4, o4 [4][]float32
			for j := range 4 {
				out4[j], o4[j] = out[j][:n], o[j][:hd]
			}
			oWant := make([][]float32, 4)
			for j := range 4 {
				oWant[j] = slices.Clone(o[j])
				AxpyRows(oWant[j][:hd], p[j], v, stride)
			}
			DotRows4(&out4, &q, k16, stride, n)
			AxpyRows4(&o4, &p, v16, stride)
			one := append(make([]float32, n), guard)
			DotRows(one[:n], q[0], k16, stride, n)
			AxpyRows(o1[:hd], p[0], v16, stride)
			for j := range 4 {
				want := make([]float32, n)
				DotRows(want, q[j], k, stride, n)
				for i := range n {
					if math.Float32bits(out[j][i]) != math.Float32bits(want[i]) || j == 0 && math.Float32bits(one[i]) != math.Float32bits(want[i]) {
						t.Fatalf("hd %d n %d query %d: score %d = %v (one query: %v), DotRows %v", hd, n, j, i, out[j][i], one[i], want[i])
					}
				}
				for i := range hd {
					if math.Float32bits(o[j][i]) != math.Float32bits(oWant[j][i]) || j == 0 && math.Float32bits(o1[i]) != math.Float32bits(oWant[j][i]) {
						t.Fatalf("hd %d n %d query %d: out %d = %v (one query: %v), AxpyRows %v", hd, n, j, i, o[j][i], o1[i], oWant[j][i])
					}
				}
				if out[j][n] != guard || o[j][hd] != guard || one[n] != guard || o1[hd] != guard {
					t.Fatalf("hd %d n %d query %d: guard overwritten", hd, n, j)
				}
			}
		}
	}
}

// randF16 returns n binary16 values of normally distributed floats.
func randF16(r *rand.Rand, n int) []uint16 {
	h := make([]uint16, n)
	for i := range h {
		h[i] = f32ToF16(float32(r.NormFloat64()))
	}
	return h
}

// TestRows2AreRows checks that the two-query attention kernels (whatever
// this build runs) give, for each query, the bits of DotRows and AxpyRows
// over the same rows, float32 or binary16, at head sizes with and without
// the fast paths, every row count remainder mod 8, and guards after each
// output.
func TestRows2AreRows(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 19))
	for _, hd := range []int{1, 16, 48, 64, 80, 128, 192} {
		for _, n := range []int{1, 7, 8, 9, 13, 16, 64, 259} {
			stride := 2*hd + 5
			k, v := randF32(r, n*stride), randF32(r, n*stride)
			k16, v16 := randF16(r, n*stride), randF16(r, n*stride)
			var q, p [2][]float32
			for j := range 2 {
				q[j], p[j] = randF32(r, hd), randF32(r, n)
			}
			for _, half := range []bool{false, true} {
				var out, o, out2, o2 [2][]float32
				for j := range 2 {
					out[j] = append(make([]float32, n), guard)
					o[j] = append(randF32(r, hd), guard)
					out2[j], o2[j] = out[j][:n], o[j][:hd]
				}
				oWant := [2][]float32{slices.Clone(o[0]), slices.Clone(o[1])}
				if half {
					DotRows2(&out2, &q, k16, stride, n)
					AxpyRows2(&o2, &p, v16, stride)
				} else {
					DotRows2(&out2, &q, k, stride, n)
					AxpyRows2(&o2, &p, v, stride)
				}
				for j := range 2 {
					want := make([]float32, n)
					if half {
						DotRows(want, q[j], k16, stride, n)
						AxpyRows(oWant[j][:hd], p[j], v16, stride)
					} else {
						DotRows(want, q[j], k, stride, n)
						AxpyRows(oWant[j][:hd], p[j], v, stride)
					}
					for i := range n {
						if math.Float32bits(out[j][i]) != math.Float32bits(want[i]) {
							t.Fatalf("f16 %v hd %d n %d query %d: score %d = %v, one query %v", half, hd, n, j, i, out[j][i], want[i])
						}
					}
					for i := range hd {
						if math.Float32bits(o[j][i]) != math.Float32bits(oWant[j][i]) {
							t.Fatalf("f16 %v hd %d n %d query %d: out %d = %v, one query %v", half, hd, n, j, i, o[j][i], oWant[j][i])
						}
					}
					if out[j][n] != guard || o[j][hd] != guard {
						t.Fatalf("f16 %v hd %d n %d query %d: guard overwritten", half, hd, n, j)
					}
				}
			}
		}
	}
}
