//go:build amd64 && !noasm

package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/cpu"

	"github.com/gopard/gopard/tensor"
)

func requireAVX512(tb testing.TB) {
	if !hasAVX512 {
		tb.Skip("CPU lacks AVX-512 F/BW/VL")
	}
}

// TestMatAVX512 compares every Mat kernel with its Go twin at every tail
// length, start offset, tile height and a few row counts, with guard
// values between and around the output rows.
func TestMatAVX512(t *testing.T) {
	requireAVX512(t)
	r := rand.New(rand.NewPCG(1, 1))
	asmU16 := map[string][8]matU16{
		"bf16": {matBF16M1AVX512, matBF16M2AVX512, matBF16M4AVX512, matBF16M1x4AVX512, matBF16M2x4AVX512, matBF16M5AVX512, matBF16M6AVX512, matBF16M3AVX512},
		"f16":  {matF16M1AVX512, matF16M2AVX512, matF16M4AVX512, matF16M1x4AVX512, matF16M2x4AVX512, matF16M5AVX512, matF16M6AVX512, matF16M3AVX512},
	}
	goU16 := map[string]func(int, []float32, int, []float32, []uint16, int, int){"bf16": matBF16Go, "f16": matF16Go}
	asmF32 := [8]matF32{matF32M1AVX512, matF32M2AVX512, matF32M4AVX512, matF32M1x4AVX512, matF32M2x4AVX512, matF32M5AVX512, matF32M6AVX512, matF32M3AVX512}
	for _, k := range testLengths {
		for _, off := range testOffsets {
			for ti, mt := range []int{1, 2, 4, 1, 2, 5, 6, 3} {
				n := []int{1, 3, 4, 5, 7, 8, 9}[(k+off)%7]
				if k > 1000 && mt > 2 {
					n = 5
				}
				x := randF32(r, mt*k)
				xp := make([]float32, PackedLen(mt, k))
				Pack(xp, x, mt, k, k)
				wf := randF32(r, off+n*k)
				ldo := n + 3
				for _, dt := range []string{"bf16", "f16", "f32"} {
					outLen := (mt-1)*ldo + n
					bufA, outA := guarded(off, outLen)
					bufG, outG := guarded(off, outLen)
					switch dt {
					case "f32":
						asmF32[ti](outA, ldo, xp, wf[off:], n, k)
						matF32Go(mt, outG, ldo, xp, wf[off:], n, k)
					default:
						w := make([]uint16, len(wf))
						if dt == "bf16" {
							tensor.F32ToBF16(w, wf)
						} else {
							tensor.F32ToF16(w, wf)
						}
						asmU16[dt][ti](outA, ldo, xp, w[off:], n, k)
						goU16[dt](mt, outG, ldo, xp, w[off:], n, k)
					}
					what := fmt.Sprintf("%s k=%d off=%d mt=%d n=%d", dt, k, off, mt, n)
					checkGuards(t, bufA, off, outLen, what)
					for m := 0; m < mt; m++ {
						for i := 0; i < n; i++ {
							a, g := outA[m*ldo+i], outG[m*ldo+i]
							if !near(a, g, 2e-5*float32(1+k/64)) {
								t.Fatalf("%s: out[%d][%d] = %v, twin %v", what, m, i, a, g)
							}
						}
						for i := n; i < ldo && m < mt-1; i++ {
							if outA[m*ldo+i] != guard {
								t.Fatalf("%s: guard between rows overwritten", what)
							}
						}
					}
					_ = bufG
				}
			}
		}
	}
}

// TestMatDotAVX512BF16 compares the MatDot kernels with their twin.
func TestMatDotAVX512BF16(t *testing.T) {
	if !hasAVX512BF16 {
		t.Skip("CPU lacks AVX512-BF16")
	}
	r := rand.New(rand.NewPCG(4, 4))
	// Called directly, not through matDotDualImpl: GOPARD_NOASM leaves that empty.
	kernels := []matDotFunc{matDotM1x4AVX512BF16, matDotM2x4AVX512BF16, matDotM4AVX512BF16,
		matDotM1AVX512BF16, matDotM2AVX512BF16, matDotM3DualAVX512BF16, matDotM4DualAVX512BF16,
		matDotM5DualAVX512BF16, matDotM6DualAVX512BF16, matDotM7DualAVX512BF16, matDotM8DualAVX512BF16,
		matDotM9DualAVX512BF16, matDotM10DualAVX512BF16, matDotM11DualAVX512BF16, matDotM12DualAVX512BF16,
		matDotM13DualAVX512BF16}
	heights := []int{1, 2, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}
	for mt := 2; mt <= MaxDotTile; mt++ { // the same tiles prefetching into L2
		kernels, heights = append(kernels, matDotDualL2[mt]), append(heights, mt)
	}
	for _, k := range testLengths {
		for _, off := range testOffsets {
			for ti, mt := range heights {
				n := []int{1, 3, 4, 5, 7, 8, 9}[(k+off)%7]
				x := randF32(r, mt*k)
				xp := make([]uint16, PackedBF16Len(mt, k))
				PackBF16(xp, x, mt, k, k)
				w := make([]uint16, off+n*k)
				tensor.F32ToBF16(w, randF32(r, len(w)))
				ldo := n + 3
				outLen := (mt-1)*ldo + n
				bufA, outA := guarded(off, outLen)
				_, outG := guarded(off, outLen)
				kernels[ti](outA, ldo, xp, w[off:], n, k)
				matDotGo(mt, outG, ldo, xp, w[off:], n, k)
				what := fmt.Sprintf("k=%d off=%d mt=%d n=%d", k, off, mt, n)
				checkGuards(t, bufA, off, outLen, what)
				for m := 0; m < mt; m++ {
					for i := 0; i < n; i++ {
						if a, g := outA[m*ldo+i], outG[m*ldo+i]; !near(a, g, 2e-5*float32(1+k/64)) {
							t.Fatalf("%s: out[%d][%d] = %v, twin %v", what, m, i, a, g)
						}
					}
				}
			}
		}
	}
}

// TestMatKernelsAgreeBitwise checks that the in-order and four-row kernels
// of every tile height give identical bits, which keeps a forward's result
// independent of how its rows were tiled.
func TestMatKernelsAgreeBitwise(t *testing.T) {
	requireAVX512(t)
	r := rand.New(rand.NewPCG(6, 6))
	for _, k := range []int{1, 17, 64, 896, 4864} {
		n := 9
		w := make([]uint16, n*k)
		tensor.F32ToBF16(w, randF32(r, n*k))
		x := randF32(r, 6*k)
		var ref [6][]float32
		for _, mt := range []int{6, 5, 4, 3, 2, 1} {
			if !verifySplitUses(mt) { // GOPARD_ASM=avx2: six rows run the twin
				continue
			}
			xp := make([]float32, PackedLen(mt, k))
			Pack(xp, x, mt, k, k)
			for _, inOrder := range []bool{true, false} {
				out := make([]float32, mt*n)
				MatBF16(mt, inOrder, out, n, xp, w, n, k)
				sameRows(t, ref[:], out, n, fmt.Sprintf("k=%d mt=%d inOrder=%v", k, mt, inOrder))
			}
		}
	}
}

// sameRows checks the rows of out (n wide) against ref, bit for bit; a
// row ref does not hold yet becomes the reference.
func sameRows(t *testing.T, ref [][]float32, out []float32, n int, what string) {
	t.Helper()
	for m := 0; m < len(out)/n; m++ {
		if ref[m] == nil {
			ref[m] = out[m*n : (m+1)*n]
			continue
		}
		for i, v := range out[m*n : (m+1)*n] {
			if v != ref[m][i] {
				t.Fatalf("%s: row %d col %d = %v, other kernel %v", what, m, i, v, ref[m][i])
			}
		}
	}
}

// TestRowsAVX2 compares the AVX2 attention kernels with their Go twins,
// over float32 and binary16 rows, at every length and offset
// checkRowsTwins tries (tails of 1 to 7 elements, and none).
func TestRowsAVX2(t *testing.T) {
	if !hasAVX2 || !cpu.X86.HasF16C {
		t.Skip("CPU lacks AVX2/FMA/F16C")
	}
	r := rand.New(rand.NewPCG(9, 9))
	checkRowsTwins(t, r, "", randF32, dotRowsAVX2, dotRowsGo, axpyRowsAVX2, axpyRowsGo)
	checkRowsTwins(t, r, "F16", randF16, dotRowsF16AVX2, dotRowsF16Go, axpyRowsF16AVX2, axpyRowsF16Go)
}

// TestExpAVX2 compares the AVX2 SiLU·mul and ExpSub (with their twin on
// the tail) with the twins at every length and offset, and Exp's edges:
// the range limits, ±Inf and NaN in every lane position.
func TestExpAVX2(t *testing.T) {
	if !hasAVX2 {
		t.Skip("CPU lacks AVX2/FMA")
	}
	r := rand.New(rand.NewPCG(12, 12))
	for _, n := range testLengths {
		for _, off := range testOffsets {
			a, w := randF32(r, off+n), randF32(r, n)
			a = a[off:]
			for i := range a {
				a[i] *= 30 // exponents across most of the range
			}
			checkMap(t, fmt.Sprintf("siluMul n=%d off=%d", n, off), off, w,
				func(o []float32) { siluMulAVX2Any(o, a, w) }, func(o []float32) { siluMulGo(o, a, w) },
				func(x, y float32) bool { return near(x, y, 2e-6) })
			xa, xg := append([]float32(nil), a...), append([]float32(nil), a...)
			sa, sg := expSubAVX2Any(xa, 0.5), expSubGo(xg, 0.5)
			if !near(sa, sg, 1e-5*float32(1+n/64)) {
				t.Fatalf("expSub n=%d off=%d: sum %v, twin %v", n, off, sa, sg)
			}
			for i := range xa {
				if !near(xa[i], xg[i], 2e-6) {
					t.Fatalf("expSub n=%d off=%d: [%d] = %v, twin %v", n, off, i, xa[i], xg[i])
				}
			}
		}
	}
	edges := []float32{-1000, -87.4, -87.3, -20, -1, 0, 1e-30, 1, 20, 87.9, 88.1, 1000, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 2}
	for shift := range 8 {
		e := append(append([]float32(nil), edges[shift:]...), edges[:shift]...)
		xa, xg := append([]float32(nil), e...), append([]float32(nil), e...)
		expSubAVX2Any(xa, 0)
		expSubGo(xg, 0)
		for i := range xa {
			if !(near(xa[i], xg[i], 1e-6) || xa[i] != xa[i] && xg[i] != xg[i]) {
				t.Fatalf("exp(%v): %v, twin %v", e[i], xa[i], xg[i])
			}
		}
	}
}

// TestMatAVX2 compares the AVX2 Mat kernels with their Go twins.
func TestMatAVX2(t *testing.T) {
	if !hasAVX2 || !cpu.X86.HasF16C {
		t.Skip("CPU lacks AVX2/FMA/F16C")
	}
	r := rand.New(rand.NewPCG(7, 7))
	u16 := map[string][5]matU16{
		"bf16": {matBF16M1DualAVX2, matBF16M2DualAVX2, matBF16M3DualAVX2, matBF16M4DualAVX2, matBF16M5DualAVX2},
		"f16":  {matF16M1DualAVX2, matF16M2DualAVX2, matF16M3DualAVX2, matF16M4DualAVX2, matF16M5DualAVX2},
	}
	twin := map[string]func(int, []float32, int, []float32, []uint16, int, int){"bf16": matBF16Go, "f16": matF16Go}
	f32 := [5]matF32{matF32M1DualAVX2, matF32M2DualAVX2, matF32M3DualAVX2, matF32M4DualAVX2, matF32M5DualAVX2}
	for _, k := range testLengths {
		for _, off := range testOffsets {
			for ti, mt := range []int{1, 2, 3, 4, 5} {
				n := []int{1, 3, 4, 5}[(k+off)%4]
				x := randF32(r, mt*k)
				xp := make([]float32, PackedLen(mt, k))
				Pack(xp, x, mt, k, k)
				wf := randF32(r, off+n*k)
				ldo := n + 2
				outLen := (mt-1)*ldo + n
				for _, dt := range []string{"bf16", "f16", "f32"} {
					bufA, outA := guarded(off, outLen)
					_, outG := guarded(off, outLen)
					if dt == "f32" {
						f32[ti](outA, ldo, xp, wf[off:], n, k)
						matF32Go(mt, outG, ldo, xp, wf[off:], n, k)
					} else {
						w := make([]uint16, len(wf))
						if dt == "bf16" {
							tensor.F32ToBF16(w, wf)
						} else {
							tensor.F32ToF16(w, wf)
						}
						u16[dt][ti](outA, ldo, xp, w[off:], n, k)
						twin[dt](mt, outG, ldo, xp, w[off:], n, k)
					}
					what := fmt.Sprintf("avx2 %s k=%d off=%d mt=%d n=%d", dt, k, off, mt, n)
					checkGuards(t, bufA, off, outLen, what)
					for m := 0; m < mt; m++ {
						for i := 0; i < n; i++ {
							if a, g := outA[m*ldo+i], outG[m*ldo+i]; !near(a, g, 2e-5*float32(1+k/64)) {
								t.Fatalf("%s: out[%d][%d] = %v, twin %v", what, m, i, a, g)
							}
						}
					}
				}
			}
		}
	}
}

// TestMatAVX2RowBits checks that every row of an AVX2 tile (one to five
// activation rows, two weight rows at a time where k has no tail) has the
// bits of that activation row with each weight row alone, where the
// kernels take one weight row at a time (MAT2ROWS): a verify's rows are
// the bits of decode steps whatever the tiles. Every k of testLengths
// (with and without tails), even and odd row counts, outputs ldo apart
// with guards around them.
func TestMatAVX2RowBits(t *testing.T) {
	if !hasAVX2 || !cpu.X86.HasF16C {
		t.Skip("CPU lacks AVX2/FMA/F16C")
	}
	r := rand.New(rand.NewPCG(10, 10))
	type u16 func([]float32, int, []float32, []uint16, int, int)
	type f32 func([]float32, int, []float32, []float32, int, int)
	bfK := [6]u16{1: matBF16M1DualAVX2, 2: matBF16M2DualAVX2, 3: matBF16M3DualAVX2, 4: matBF16M4DualAVX2, 5: matBF16M5DualAVX2}
	hK := [6]u16{1: matF16M1DualAVX2, 2: matF16M2DualAVX2, 3: matF16M3DualAVX2, 4: matF16M4DualAVX2, 5: matF16M5DualAVX2}
	fK := [6]f32{1: matF32M1DualAVX2, 2: matF32M2DualAVX2, 3: matF32M3DualAVX2, 4: matF32M4DualAVX2, 5: matF32M5DualAVX2}
	for mt := 1; mt <= 5; mt++ {
		for _, k := range testLengths {
			for _, n := range []int{0, 1, 2, 3, 5, 8, 9} {
				x := randF32(r, mt*k)
				xp := make([]float32, PackedLen(mt, k))
				Pack(xp, x, mt, k, k)
				wf := randF32(r, n*k)
				bf, h := make([]uint16, len(wf)), make([]uint16, len(wf))
				tensor.F32ToBF16(bf, wf)
				tensor.F32ToF16(h, wf)
				// run multiplies rows [j0, j1) of the weights with the
				// packed rows p of m activation rows.
				run := func(dt string, m int, p []float32, out []float32, ldo, j0, j1 int) {
					switch dt {
					case "bf16":
						bfK[m](out, ldo, p, bf[j0*k:j1*k], j1-j0, k)
					case "f16":
						hK[m](out, ldo, p, h[j0*k:j1*k], j1-j0, k)
					default:
						fK[m](out, ldo, p, wf[j0*k:j1*k], j1-j0, k)
					}
				}
				ldo := n + 3
				outLen := (mt-1)*ldo + n
				for _, dt := range []string{"bf16", "f16", "f32"} {
					what := fmt.Sprintf("%s mt=%d k=%d n=%d", dt, mt, k, n)
					buf, out := guarded(1, outLen)
					run(dt, mt, xp, out, ldo, 0, n)
					checkGuards(t, buf, 1, outLen, what)
					for m := range mt {
						x1 := make([]float32, PackedLen(1, k))
						Pack(x1, x[m*k:(m+1)*k], 1, k, k)
						for j := range n {
							var one [1]float32
							run(dt, 1, x1, one[:], 1, j, j+1)
							if got := out[m*ldo+j]; math.Float32bits(got) != math.Float32bits(one[0]) {
								t.Fatalf("%s: row %d, weight row %d = %v, alone %v", what, m, j, got, one[0])
							}
						}
					}
				}
			}
		}
	}
}

// TestMatBF16NextAVX512 checks that the four- and five-row kernels that
// prefetch the next block compute the same bits as those that do not,
// wherever the prefetch pointer points (a prefetch never faults or
// changes data).
func TestMatBF16NextAVX512(t *testing.T) {
	requireAVX512(t)
	r := rand.New(rand.NewPCG(8, 8))
	plain := map[int]matU16{3: matBF16M3AVX512, 4: matBF16M4AVX512, 5: matBF16M5AVX512, 6: matBF16M6AVX512}
	next := map[int]func([]float32, int, []float32, []uint16, int, int, unsafe.Pointer, int){3: matBF16M3NextAVX512, 4: matBF16M4NextAVX512, 5: matBF16M5NextAVX512, 6: matBF16M6NextAVX512}
	for _, mt := range []int{3, 4, 5, 6} {
		for _, k := range []int{1, 17, 64, 896, 1000} {
			for _, n := range []int{1, 4, 7, 9} {
				w := make([]uint16, 2*n*k)
				tensor.F32ToBF16(w, randF32(r, len(w)))
				x := randF32(r, mt*k)
				xp := make([]float32, PackedLen(mt, k))
				Pack(xp, x, mt, k, k)
				want, got := make([]float32, mt*n), make([]float32, mt*n)
				plain[mt](want, n, xp, w[:n*k], n, k)
				nb := unsafe.Slice((*byte)(unsafe.Pointer(&w[n*k])), 2*n*k)
				for _, pf := range []unsafe.Pointer{unsafe.Pointer(&nb[0]), nil} {
					for _, step := range []int{64, 128} {
						clear(got)
						next[mt](got, n, xp, w[:n*k], n, k, pf, step)
						if !slices.Equal(want, got) {
							t.Fatalf("mt=%d k=%d n=%d pf=%v step=%d: %v, without prefetch %v", mt, k, n, pf, step, got, want)
						}
					}
				}
				if matBF16NextImpl == nil { // GOPARD_NOASM: the exported function runs the twin
					continue
				}
				clear(got)
				MatBF16Next(mt, got, n, xp, w[:n*k], n, k, nb)
				if !slices.Equal(want, got) {
					t.Fatalf("MatBF16Next mt=%d k=%d n=%d: %v, want %v", mt, k, n, got, want)
				}
			}
		}
	}
}

// TestMatDotKernelsAgreeBitwise is TestMatKernelsAgreeBitwise for the
// MatDot kernels: every tile height, in order or four rows at a time,
// gives each row the same bits.
func TestMatDotKernelsAgreeBitwise(t *testing.T) {
	if !HasMatDot() {
		t.Skip("no MatDot kernels (CPU lacks AVX512-BF16, or GOPARD_NOASM)")
	}
	r := rand.New(rand.NewPCG(11, 11))
	for _, k := range []int{1, 17, 31, 33, 64, 896, 4864} {
		n := 9
		w := make([]uint16, n*k)
		tensor.F32ToBF16(w, randF32(r, len(w)))
		x := randF32(r, MaxDotTile*k)
		var ref [MaxDotTile][]float32
		for mt := MaxDotTile; mt >= 1; mt-- {
			xp := make([]uint16, PackedBF16Len(mt, k))
			PackBF16(xp, x, mt, k, k)
			kernels := map[string]func([]float32){
				"in order": func(out []float32) { MatDot(mt, true, out, n, xp, w, n, k) },
			}
			if mt == 1 || mt == 2 || mt == 4 {
				kernels["four"] = func(out []float32) { MatDot(mt, false, out, n, xp, w, n, k) }
			}
			for name, f := range kernels {
				out := make([]float32, mt*n)
				f(out)
				sameRows(t, ref[:], out, n, fmt.Sprintf("k=%d mt=%d %s", k, mt, name))
			}
		}
	}
}

// TestPackBF16AVX512 compares the assembly packing of one row with its
// twin, bit for bit, on every tail length and stride, including the
// values where rounding is delicate: ties, the largest finite values
// (which round to infinity), infinities, NaNs and denormals.
func TestPackBF16AVX512(t *testing.T) {
	requireAVX512(t)
	r := rand.New(rand.NewPCG(12, 12))
	special := []uint32{
		0x3f808000, 0x3f818000, 0x3f80ffff, 0x3f807fff, // ties to even (down, up) and either side
		0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, // largest finite, infinities
		0x7fc00001, 0xffbfffff, 0x7f800001, // NaNs, quiet and signalling
		0x00000001, 0x807fffff, 0x00008000, 0x00018000, // denormals
		0x00000000, 0x80000000,
	}
	for _, k := range append(testLengths, 33, 63, 64, 65, 100) {
		for _, stride := range []int{32, 64, 96} {
			x := randF32(r, k)
			for i := range x {
				if r.IntN(3) == 0 {
					x[i] = math.Float32frombits(special[r.IntN(len(special))])
				}
			}
			blocks := (k + DotBlock - 1) / DotBlock
			size := max(0, (blocks-1)*stride+DotBlock) + stride
			got, want := make([]uint16, size), make([]uint16, size)
			for i := range got {
				got[i], want[i] = 0xdead, 0xdead // untouched between blocks
			}
			packBF16RowAVX512(got, stride, x)
			packBF16RowGo(want, stride, x)
			if !slices.Equal(got, want) {
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("k=%d stride=%d: xp[%d] = %#04x, twin %#04x", k, stride, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestMatDotL2IsL1 checks that the in-order MatDot tiles that prefetch
// into L2 (8 KB ahead, or the next block: MatDotNext's) give the bits of
// those that prefetch into L1 (only the prefetch instructions differ), so
// that GOPARD_DOT_PREFETCH never changes a result.
func TestMatDotL2IsL1(t *testing.T) {
	if !hasAVX512BF16 {
		t.Skip("CPU lacks AVX512-BF16")
	}
	r := rand.New(rand.NewPCG(6, 2))
	l1 := []matDotFunc{2: matDotM2AVX512BF16, 3: matDotM3DualAVX512BF16, 4: matDotM4DualAVX512BF16, 5: matDotM5DualAVX512BF16, 6: matDotM6DualAVX512BF16,
		7: matDotM7DualAVX512BF16, 8: matDotM8DualAVX512BF16, 9: matDotM9DualAVX512BF16,
		10: matDotM10DualAVX512BF16, 11: matDotM11DualAVX512BF16, 12: matDotM12DualAVX512BF16, 13: matDotM13DualAVX512BF16}
	for mt := 2; mt <= MaxDotTile; mt++ {
		for _, k := range []int{31, 896, 4864} {
			n := 37
			xp := make([]uint16, PackedBF16Len(mt, k))
			PackBF16(xp, randF32(r, mt*k), mt, k, k)
			w := make([]uint16, n*k)
			tensor.F32ToBF16(w, randF32(r, len(w)))
			a, b := make([]float32, mt*n), make([]float32, mt*n)
			l1[mt](a, n, xp, w, n, k)
			matDotDualL2[mt](b, n, xp, w, n, k)
			if !slices.Equal(a, b) {
				t.Fatalf("mt=%d k=%d: L2 tile differs from L1 tile", mt, k)
			}
			if next := map[int]matDotFunc{7: matDotM7DualNextAVX512BF16, 8: matDotM8DualNextAVX512BF16}[mt]; next != nil {
				clear(b)
				next(b, n, xp, w, n, k)
				if !slices.Equal(a, b) {
					t.Fatalf("mt=%d k=%d: the tile prefetching the next block differs", mt, k)
				}
			}
		}
	}
}

// TestDotPrefetch checks the start-up choice: the in-order tiles installed
// are those DotPrefetch names (GOPARD_DOT_PREFETCH, else the CPU's family).
func TestDotPrefetch(t *testing.T) {
	_, b, c, d := cpuid(0, 0)
	var vendor []byte
	for _, r := range []uint32{b, d, c} {
		vendor = append(vendor, byte(r), byte(r>>8), byte(r>>16), byte(r>>24))
	}
	t.Logf("CPU vendor %q, Zen 4: %v, MatDot tiles prefetch into %q", vendor, isZen4(), DotPrefetch())
	if !HasMatDot() {
		if DotPrefetch() != "" {
			t.Fatalf("no MatDot kernels, DotPrefetch %q", DotPrefetch())
		}
		return
	}
	want := map[string]matDotFunc{"l1": matDotM9DualAVX512BF16, "l2": matDotM9DualL2AVX512BF16}[DotPrefetch()]
	if want == nil || reflect.ValueOf(matDotDualImpl[9]).Pointer() != reflect.ValueOf(want).Pointer() {
		t.Fatalf("DotPrefetch %q does not name the installed 9-row tile", DotPrefetch())
	}
	if env := os.Getenv("GOPARD_DOT_PREFETCH"); (env == "l1" || env == "l2") && env != DotPrefetch() {
		t.Fatalf("GOPARD_DOT_PREFETCH=%s, DotPrefetch %q", env, DotPrefetch())
	}
}

// TestMatDotPanelIsMatDot checks that running MatDotPanel over a row
// block's panels in order gives MatDot's bits (in order, the same tile),
// for rows with and without a tail, odd and even row counts, a row stride
// wider than the block's rows, and every panel width down to one block.
func TestMatDotPanelIsMatDot(t *testing.T) {
	if !hasDotPanel(MaxDotTile) {
		t.Skip("no MatDotPanel kernels (CPU lacks AVX512-BF16, or GOPARD_NOASM)")
	}
	r := rand.New(rand.NewPCG(7, 3))
	for mt := 3; mt <= MaxDotTile; mt++ {
		for _, k := range []int{4864, 1000, 97} {
			for _, n := range []int{1, 6, 7} {
				xp := make([]uint16, PackedBF16Len(mt, k))
				PackBF16(xp, randF32(r, mt*k), mt, k, k)
				w := make([]uint16, (n+2)*k)
				tensor.F32ToBF16(w, randF32(r, len(w)))
				ldo := n + 2
				want := make([]float32, mt*ldo)
				MatDot(mt, true, want, ldo, xp, w[k:], n, k)
				for _, p := range []int{DotPanel(mt), DotBlock, 3 * DotBlock} {
					got := make([]float32, mt*ldo)
					acc := make([]float32, n*mt*16)
					for k0 := 0; k0 < k; k0 += p {
						MatDotPanel(mt, got, ldo, xp[k0*mt:], w[k+k0:], n, k, k0, min(p, k-k0), acc)
					}
					if !slices.Equal(got, want) {
						t.Fatalf("mt=%d k=%d n=%d panels of %d: differs from MatDot", mt, k, n, p)
					}
				}
			}
		}
	}
}

// TestMapAVX2 holds the AVX2 Max, Scale and Add (through their wrappers,
// whole blocks in assembly and the rest in Go) to their twins at every
// length and offset: the same bits for Scale and Add, the same value for
// Max, nothing written outside the output.
func TestMapAVX2(t *testing.T) {
	if !hasAVX2 {
		t.Skip("CPU lacks AVX2/FMA")
	}
	r := rand.New(rand.NewPCG(13, 13))
	for _, n := range testLengths {
		for _, off := range testOffsets {
			what := func(k string) string { return fmt.Sprintf("%s n=%d off=%d", k, n, off) }
			a, b := randF32(r, off+n), randF32(r, n)
			a = a[off:]
			if n > 0 {
				// the largest in every position in turn, and below -1e30
				a[r.IntN(n)] = 1e30
				b[r.IntN(n)] = float32(math.Inf(-1))
			}
			if x, y := maxAVX2Any(a), maxGo(a); x != y {
				t.Fatalf("%s: %v, twin %v", what("max"), x, y)
			}
			if x, y := maxAVX2Any(b), maxGo(b); x != y {
				t.Fatalf("%s: %v, twin %v", what("max -Inf"), x, y)
			}
			for _, c := range []struct {
				name     string
				asm, go_ func(out []float32)
			}{
				{"scale", func(o []float32) { scaleAVX2Any(o, 1.3) }, func(o []float32) { scaleGo(o, 1.3) }},
				{"add", func(o []float32) { addAVX2Any(o, a) }, func(o []float32) { addGo(o, a) }},
			} {
				checkMap(t, what(c.name), off, b, c.asm, c.go_, sameBits)
			}
		}
	}
	if got := maxAVX2Any(nil); !math.IsInf(float64(got), -1) {
		t.Fatalf("max of nothing: %v, want -Inf", got)
	}
}
