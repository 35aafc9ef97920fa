//go:build amd64 && !noasm

package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestVecAVX512 compares every vector kernel with its Go twin at every
// tail length and start offset, with guard values around outputs.
func TestVecAVX512(t *testing.T) {
	requireAVX512(t)
	r := rand.New(rand.NewPCG(2, 2))
	for _, n := range testLengths {
		for _, off := range testOffsets {
			what := func(k string) string { return fmt.Sprintf("%s n=%d off=%d", k, n, off) }
			a, b := randF32(r, off+n), randF32(r, off+n)
			a, b = a[off:], b[off:]
			tol := 1e-5 * float32(1+n/64)
			// Reductions.
			for _, c := range []struct {
				name     string
				asm, go_ func([]float32) float32
			}{{"sumSq", sumSqAVX512, sumSqGo}, {"max", maxAVX512, maxGo}, {"sum", sumAVX512, sumGo}} {
				if x, y := c.asm(a), c.go_(a); !near(x, y, tol) {
					t.Fatalf("%s: %v, twin %v", what(c.name), x, y)
				}
			}
			if x, y := dotAVX512(a, b), dotGo(a, b); !near(x, y, tol) {
				t.Fatalf("%s: %v, twin %v", what("dot"), x, y)
			}
			// In-place and out-of-place maps.
			type mapCase struct {
				name     string
				asm, go_ func(out []float32)
			}
			w := randF32(r, n)
			h := make([]uint16, n)
			for i := range h {
				h[i] = uint16(r.Uint32())
			}
			for _, c := range []mapCase{
				{"axpy", func(o []float32) { axpyAVX512(0.7, a, o) }, func(o []float32) { axpyGo(0.7, a, o) }},
				{"add", func(o []float32) { addAVX512(o, a) }, func(o []float32) { addGo(o, a) }},
				{"scale", func(o []float32) { scaleAVX512(o, 1.3) }, func(o []float32) { scaleGo(o, 1.3) }},
				{"scaleMul", func(o []float32) { scaleMulAVX512(o, a, 0.9, w) }, func(o []float32) { scaleMulGo(o, a, 0.9, w) }},
				{"bf16ToF32", func(o []float32) { bf16ToF32AVX512(o, h) }, func(o []float32) { bf16ToF32Go(o, h) }},
				{"siluMul", func(o []float32) { siluMulAVX512(o, a, w) }, func(o []float32) { siluMulGo(o, a, w) }},
				{"expSub", func(o []float32) { expSubAVX512(o, 0.5) }, func(o []float32) { expSubGo(o, 0.5) }},
			} {
				checkMap(t, what(c.name), off, b, c.asm, c.go_, func(x, y float32) bool { return near(x, y, 2e-6) })
			}
		}
	}
	// The strided attention kernels.
	checkRowsTwins(t, r, "", randF32, dotRowsAVX512, dotRowsGo, axpyRowsAVX512, axpyRowsGo)
	// Exp's edges and the sum ExpSub returns.
	edges := []float32{-1000, -87.4, -87.3, -20, -1, 0, 1e-30, 1, 20, 87.9, 88.1, 1000, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for _, off := range []int{0, 1} {
		xa, xg := append([]float32(nil), edges[off:]...), append([]float32(nil), edges[off:]...)
		sa, sg := expSubAVX512(xa[:len(xa)-1], 0), expSubGo(xg[:len(xg)-1], 0) // the sum without the NaN
		if !near(sa, sg, 1e-6) {
			t.Fatalf("expSub sum: %v, twin %v", sa, sg)
		}
		expSubAVX512(xa, 0)
		expSubGo(xg, 0)
		for i := range xa {
			if !near(xa[i], xg[i], 1e-6) {
				t.Fatalf("exp(%v): %v, twin %v", edges[off+i], xa[i], xg[i])
			}
		}
	}
	if x, y := fmaLoopAVX512(1000), fmaLoopGo(1000); !near(x, y, 1e-4) {
		t.Fatalf("fmaLoop: %v, twin %v", x, y)
	}
}

// TestArgmaxAVX512 compares Argmax through the lane kernel with the twin
// on random rows seeded with ties, signed zeros, infinities and NaNs.
func TestArgmaxAVX512(t *testing.T) {
	requireAVX512(t)
	r := rand.New(rand.NewPCG(4, 4))
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	specials := []float32{nan, nan, inf, -inf, 0, float32(math.Copysign(0, -1)), 3, 3}
	for _, n := range append(testLengths, 4096, 4099) {
		for _, off := range testOffsets {
			for trial := range 40 {
				x := randF32(r, off+n)[off:]
				switch trial % 5 {
				case 1: // sprinkle specials
					for range 1 + n/8 {
						if n > 0 {
							x[r.IntN(n)] = specials[r.IntN(len(specials))]
						}
					}
				case 2: // a few distinct values: many ties
					for i := range x {
						x[i] = float32(r.IntN(3))
					}
				case 3: // all NaN but one spot, or all
					for i := range x {
						x[i] = nan
					}
					if n > 0 && trial%2 == 1 {
						x[r.IntN(n)] = -inf
					}
				case 4: // zeros of both signs
					for i := range x {
						x[i] = float32(math.Copysign(0, float64(r.IntN(2)*2-1)))
					}
				}
				got, want := Argmax(x), argmaxGo(x)
				if got != want {
					t.Fatalf("n=%d off=%d trial %d: Argmax = %d (%v), twin %d (%v)", n, off, trial, got, x[got], want, x[want])
				}
			}
		}
	}
}

// TestRoPERowAVX512 compares the rotation kernel with its twin bit for bit,
// with guards after the row.
func TestRoPERowAVX512(t *testing.T) {
	requireAVX512(t)
	r := rand.New(rand.NewPCG(5, 5))
	for _, half := range []int{16, 32, 64} {
		for _, heads := range []int{0, 1, 2, 7} {
			for _, off := range testOffsets {
				c, s := randF32(r, half), randF32(r, half)
				x := randF32(r, 2*half*heads)
				bufA, a := guarded(off, len(x))
				_, g := guarded(off, len(x))
				copy(a, x)
				copy(g, x)
				ropeRowAVX512(a, c, s, heads)
				ropeRowGo(g, c, s, heads)
				checkGuards(t, bufA, off, len(x), fmt.Sprintf("rope half=%d heads=%d", half, heads))
				for i := range a {
					if math.Float32bits(a[i]) != math.Float32bits(g[i]) {
						t.Fatalf("rope half=%d heads=%d off=%d: [%d] = %v, twin %v", half, heads, off, i, a[i], g[i])
					}
				}
			}
		}
	}
}

// TestF16AVX512 compares the binary16 kernels with their twins: widening
// every binary16 value and rounding special and random floats bit for
// bit (NaN payloads included), each tail and offset behind guards; the
// attention kernels over binary16 rows as TestVecAVX512 does the float32
// ones.
func TestF16AVX512(t *testing.T) {
	requireAVX512(t)
	all := make([]uint16, 1<<16)
	for i := range all {
		all[i] = uint16(i)
	}
	wa, wg := make([]float32, len(all)), make([]float32, len(all))
	f16ToF32AVX512(wa, all)
	f16ToF32Go(wg, all)
	for i := range all {
		if math.Float32bits(wa[i]) != math.Float32bits(wg[i]) {
			t.Fatalf("f16ToF32(%#04x) = %#08x, twin %#08x", i, math.Float32bits(wa[i]), math.Float32bits(wg[i]))
		}
	}
	r := rand.New(rand.NewPCG(18, 18))
	fs := []float32{0, 65504, 65519.996, 65520, 0x1p-24, 0x1p-25, 0x1.000002p-25, 0x1.8p-24, 0x1p-149,
		float32(math.Inf(1)), math.Float32frombits(0x7fa00001), math.Float32frombits(0xffc12345), float32(math.NaN())}
	fs = append(fs, wg...) // every binary16 value, exactly representable
	for range 1 << 20 {
		fs = append(fs, math.Float32frombits(r.Uint32()))
	}
	na, ng := make([]uint16, len(fs)), make([]uint16, len(fs))
	f32ToF16AVX512(na, fs)
	f32ToF16Go(ng, fs)
	for i, f := range fs {
		if na[i] != ng[i] {
			t.Fatalf("f32ToF16(%v, bits %#08x) = %#04x, twin %#04x", f, math.Float32bits(f), na[i], ng[i])
		}
	}
	for _, n := range testLengths {
		for _, off := range testOffsets {
			src := randF32(r, off+n)[off:]
			buf := make([]uint16, off+n+8)
			for i := range buf {
				buf[i] = 0xbeef
			}
			f32ToF16AVX512(buf[off:off+n], src)
			for i, h := range buf {
				if in := i >= off && i < off+n; in && h != f32ToF16(src[i-off]) || !in && h != 0xbeef {
					t.Fatalf("f32ToF16 n=%d off=%d: [%d] = %#04x", n, off, i, h)
				}
			}
			bufW, win := guarded(off, n)
			f16ToF32AVX512(win, buf[off:off+n])
			checkGuards(t, bufW, off, n, fmt.Sprintf("f16ToF32 n=%d off=%d", n, off))
			for i := range win {
				if win[i] != f16ToF32(buf[off+i]) {
					t.Fatalf("f16ToF32 n=%d off=%d: [%d] = %v", n, off, i, win[i])
				}
			}
		}
	}
	checkRowsTwins(t, r, "F16", randF16, dotRowsF16AVX512, dotRowsF16Go, axpyRowsF16AVX512, axpyRowsF16Go)
}

// checkRowsTwins compares the one-query attention kernels over cache rows
// of T (float32, or binary16) with their twins: rows of length n, 0, 1 or
// 5 of them, stride n+off, at every tail length and start offset, with
// guards around the outputs.
func checkRowsTwins[T float32 | uint16](t *testing.T, r *rand.Rand, suffix string, randRows func(*rand.Rand, int) []T,
	dotA, dotG func(out, q []float32, k []T, stride, n int), axpyA, axpyG func(o, p []float32, v []T, stride int)) {
	t.Helper()
	for _, n := range testLengths {
		for _, off := range testOffsets {
			for _, rows := range []int{0, 1, 5} {
				stride := n + off
				q, kv := randF32(r, n), randRows(r, off+rows*stride+n)
				kv = kv[off:]
				what := fmt.Sprintf("n=%d off=%d rows=%d", n, off, rows)
				bufA, outA := guarded(off, rows)
				_, outG := guarded(off, rows)
				dotA(outA, q, kv, stride, rows)
				dotG(outG, q, kv, stride, rows)
				checkGuards(t, bufA, off, rows, "dotRows"+suffix+" "+what)
				for i := range outA {
					if !near(outA[i], outG[i], 1e-5*float32(1+n/64)) {
						t.Fatalf("dotRows%s %s: [%d] = %v, twin %v", suffix, what, i, outA[i], outG[i])
					}
				}
				p := randF32(r, rows)
				bufA, oA := guarded(off, n)
				_, oG := guarded(off, n)
				copy(oA, q)
				copy(oG, q)
				axpyA(oA, p, kv, stride)
				axpyG(oG, p, kv, stride)
				checkGuards(t, bufA, off, n, "axpyRows"+suffix+" "+what)
				for i := range oA {
					if !near(oA[i], oG[i], 1e-5) {
						t.Fatalf("axpyRows%s %s: [%d] = %v, twin %v", suffix, what, i, oA[i], oG[i])
					}
				}
			}
		}
	}
}
