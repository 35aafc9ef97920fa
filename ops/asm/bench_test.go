package asm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Benchmarks run each kernel as dispatched (impl=avx512 where the CPU has
// it) beside its Go twin (impl=go), at Llama/Qwen sizes, with b.SetBytes
// so that benchstat reports the bytes streamed per second.

var benchMatSizes = []struct{ n, k int }{{128, 896}, {4864, 896}, {896, 4864}}

func BenchmarkMat(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, sz := range benchMatSizes {
		w := make([]uint16, sz.n*sz.k)
		for i := range w {
			w[i] = uint16(r.Uint32()>>20) | 0x3c00
		}
		wf := randF32(r, sz.n*sz.k)
		for _, mt := range []int{1, 2, 3, 4, 5, 6} {
			xp := make([]float32, PackedLen(mt, sz.k))
			copy(xp, randF32(r, len(xp)))
			xp16 := make([]uint16, PackedBF16Len(mt, sz.k))
			out := make([]float32, mt*sz.n)
			cases := []struct {
				name  string
				bytes int
				f     func()
			}{
				{"bf16/impl=" + Impl(), 2 * len(w), func() { MatBF16(mt, true, out, sz.n, xp, w, sz.n, sz.k) }},
				{"bf16/impl=go", 2 * len(w), func() { matBF16Go(mt, out, sz.n, xp, w, sz.n, sz.k) }},
				{"f16/impl=" + Impl(), 2 * len(w), func() { MatF16(mt, true, out, sz.n, xp, w, sz.n, sz.k) }},
				{"f16/impl=go", 2 * len(w), func() { matF16Go(mt, out, sz.n, xp, w, sz.n, sz.k) }},
				{"f32/impl=" + Impl(), 4 * len(wf), func() { MatF32(mt, true, out, sz.n, xp, wf, sz.n, sz.k) }},
				{"f32/impl=go", 4 * len(wf), func() { matF32Go(mt, out, sz.n, xp, wf, sz.n, sz.k) }},
				{"bf16dot/impl=go", 2 * len(w), func() { matDotGo(mt, out, sz.n, xp16, w, sz.n, sz.k) }},
			}
			if mt >= 3 {
				next := make([]byte, 2*len(w)) // a second matrix's worth, streamed in while this one is multiplied
				cases = append(cases, struct {
					name  string
					bytes int
					f     func()
				}{"bf16next/impl=" + Impl(), 2 * len(w), func() { MatBF16Next(mt, out, sz.n, xp, w, sz.n, sz.k, next) }})
			}
			if HasMatDot() {
				cases = append(cases, struct {
					name  string
					bytes int
					f     func()
				}{"bf16dot/impl=avx512bf16", 2 * len(w), func() { MatDot(mt, true, out, sz.n, xp16, w, sz.n, sz.k) }})
			}
			for _, c := range cases {
				b.Run(fmt.Sprintf("size=%dx%d/mt=%d/%s", sz.n, sz.k, mt, c.name), func(b *testing.B) {
					b.SetBytes(int64(c.bytes))
					for b.Loop() {
						c.f()
					}
				})
			}
		}
	}
}

func BenchmarkVec(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{64, 896, 4864, 151936} {
		x, y, w := randF32(r, n), randF32(r, n), randF32(r, n)
		h := make([]uint16, n)
		cases := []struct {
			name     string
			bytes    int
			asm, go_ func()
		}{
			{"dot", 8 * n, func() { Dot(x, y) }, func() { dotGo(x, y) }},
			{"axpy", 12 * n, func() { Axpy(0.5, x, y) }, func() { axpyGo(0.5, x, y) }},
			{"add", 12 * n, func() { Add(y, x) }, func() { addGo(y, x) }},
			{"bf16ToF32", 6 * n, func() { BF16ToF32(y, h) }, func() { bf16ToF32Go(y, h) }},
			{"sumSq", 4 * n, func() { SumSq(x) }, func() { sumSqGo(x) }},
			{"scaleMul", 12 * n, func() { ScaleMul(y, x, 0.5, w) }, func() { scaleMulGo(y, x, 0.5, w) }},
			{"scale", 8 * n, func() { Scale(y, 1) }, func() { scaleGo(y, 1) }},
			{"max", 4 * n, func() { Max(x) }, func() { maxGo(x) }},
			{"argmax", 4 * n, func() { Argmax(x) }, func() { argmaxGo(x) }},
			// n/64 rows of one head of dim 64 (half 32) at one position
			{"ropeRow/hd=64", 8 * n, func() { RoPERow(y, n/64, x[:32], w[:32]) }, func() { ropeRowGo(y, x[:32], w[:32], n/64) }},
			{"sum", 4 * n, func() { Sum(x) }, func() { sumGo(x) }},
			{"siluMul", 12 * n, func() { SiLUMul(y, x, w) }, func() { siluMulGo(y, x, w) }},
			{"expSub", 8 * n, func() { copy(y, x); ExpSub(y, 3) }, func() { copy(y, x); expSubGo(y, 3) }},
			// one attention head (dim 64) over n/64 positions
			{"dotRows/hd=64", 4 * n, func() { DotRows(y, x[:64], x, 64, n/64) }, func() { dotRowsGo(y, x[:64], x, 64, n/64) }},
			{"axpyRows/hd=64", 4 * n, func() { AxpyRows(y[:64], w[:n/64], x, 64) }, func() { axpyRowsGo(y[:64], w[:n/64], x, 64) }},
		}
		for _, c := range cases {
			for _, impl := range []struct {
				name string
				f    func()
			}{{Impl(), c.asm}, {"go", c.go_}} {
				b.Run(fmt.Sprintf("%s/size=%d/impl=%s", c.name, n, impl.name), func(b *testing.B) {
					b.SetBytes(int64(c.bytes))
					for b.Loop() {
						impl.f()
					}
				})
			}
		}
	}
}

func BenchmarkPack(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, k := range []int{896, 4864} {
		x := randF32(r, 4*k)
		xp := make([]float32, PackedLen(4, k))
		xp16 := make([]uint16, PackedBF16Len(4, k))
		b.Run(fmt.Sprintf("f32/size=4x%d", k), func(b *testing.B) {
			b.SetBytes(int64(16 * k))
			for b.Loop() {
				Pack(xp, x, 4, k, k)
			}
		})
		b.Run(fmt.Sprintf("bf16/size=4x%d", k), func(b *testing.B) {
			b.SetBytes(int64(16 * k))
			for b.Loop() {
				PackBF16(xp16, x, 4, k, k)
			}
		})
	}
}

// BenchmarkMatFromMemory streams 557 MB of bf16 weights (64 matrices of
// the Qwen2.5-0.5B MLP shape, far beyond any L3) through the one-row
// kernel on one thread, as a decode step does: the bytes/s it reports are
// read from memory, to compare with the read bandwidth cmd/bench measures.
func BenchmarkMatFromMemory(b *testing.B) {
	const n, k, mats = 4864, 896, 64
	w := make([]uint16, mats*n*k)
	for i := range w {
		w[i] = uint16(i>>3) | 0x3c00
	}
	xp := make([]float32, PackedLen(1, k))
	copy(xp, randF32(rand.New(rand.NewPCG(7, 7)), len(xp)))
	out := make([]float32, n)
	b.Run("bf16/mt=1/impl="+Impl(), func(b *testing.B) {
		b.SetBytes(int64(2 * n * k))
		i := 0
		for b.Loop() {
			MatBF16(1, true, out, n, xp, w[i*n*k:(i+1)*n*k], n, k)
			i = (i + 1) % mats
		}
	})
}

// BenchmarkRows4 times the attention of four queries (head size 64) over
// 256 cached positions: the four-query kernels against four calls of the
// one-query ones, over the same rows in binary16, and the two-query
// kernels.
func BenchmarkRows4(b *testing.B) {
	r := rand.New(rand.NewPCG(8, 8))
	const hd, n, stride = 64, 256, 256
	k, v := randF32(r, n*stride), randF32(r, n*stride)
	var q, s, o [4][]float32
	for j := range 4 {
		q[j], s[j], o[j] = randF32(r, hd), make([]float32, n), make([]float32, hd)
	}
	b.Run("dotRows4", func(b *testing.B) {
		for b.Loop() {
			DotRows4(&s, &q, k, stride, n)
		}
	})
	b.Run("dotRows×4", func(b *testing.B) {
		for b.Loop() {
			for j := range 4 {
				DotRows(s[j], q[j], k, stride, n)
			}
		}
	})
	b.Run("axpyRows4", func(b *testing.B) {
		for b.Loop() {
			AxpyRows4(&o, &s, v, stride)
		}
	})
	b.Run("axpyRows×4", func(b *testing.B) {
		for b.Loop() {
			for j := range 4 {
				AxpyRows(o[j], s[j], v, stride)
			}
		}
	})
	k16, v16 := make([]uint16, len(k)), make([]uint16, len(v))
	F32ToF16(k16, k)
	F32ToF16(v16, v)
	b.Run("dotRows4F16", func(b *testing.B) {
		for b.Loop() {
			DotRows4(&s, &q, k16, stride, n)
		}
	})
	b.Run("axpyRows4F16", func(b *testing.B) {
		for b.Loop() {
			AxpyRows4(&o, &s, v16, stride)
		}
	})
	// Two of the queries: a decode step's tile with two query heads per
	// key/value head, which the four-query kernels would pad.
	q2, s2, o2 := [2][]float32{q[0], q[1]}, [2][]float32{s[0], s[1]}, [2][]float32{o[0], o[1]}
	b.Run("dotRows2", func(b *testing.B) {
		for b.Loop() {
			DotRows2(&s2, &q2, k, stride, n)
		}
	})
	b.Run("axpyRows2", func(b *testing.B) {
		for b.Loop() {
			AxpyRows2(&o2, &s2, v, stride)
		}
	})
	b.Run("dotRows2F16", func(b *testing.B) {
		for b.Loop() {
			DotRows2(&s2, &q2, k16, stride, n)
		}
	})
	b.Run("axpyRows2F16", func(b *testing.B) {
		for b.Loop() {
			AxpyRows2(&o2, &s2, v16, stride)
		}
	})
}

// BenchmarkMatDotTiles times the in-order MatDot kernels (one weight pass
// per tile of up to MaxDotTile rows, as a bf16-activation verify runs
// them) with the arithmetic rate beside the bytes: from L2 (128 rows of
// 896, and the embedded target's row lengths 512 and 1408) and from L3 or
// memory (4864 rows). Short rows weigh the final sums of each output more.
func BenchmarkMatDotTiles(b *testing.B) {
	if !HasMatDot() {
		b.Skip("no MatDot kernels (CPU lacks AVX512-BF16, or GOPARD_NOASM)")
	}
	r := rand.New(rand.NewPCG(3, 3))
	sizes := append(benchMatSizes[:2:2], struct{ n, k int }{512, 512}, struct{ n, k int }{186, 1408})
	for _, sz := range sizes {
		w := make([]uint16, sz.n*sz.k)
		for i := range w {
			w[i] = uint16(r.Uint32()>>20) | 0x3c00
		}
		for _, mt := range []int{1, 3, 4, 5, 6, 8, 9, 12, 13} {
			xp16 := make([]uint16, PackedBF16Len(mt, sz.k))
			out := make([]float32, mt*sz.n)
			b.Run(fmt.Sprintf("size=%dx%d/mt=%d", sz.n, sz.k, mt), func(b *testing.B) {
				b.SetBytes(int64(2 * len(w)))
				for b.Loop() {
					MatDot(mt, true, out, sz.n, xp16, w, sz.n, sz.k)
				}
				b.ReportMetric(float64(2*mt*len(w))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkMatDotPanels times a tile over rows too long for its packed
// activations to stay in L1 (the down projection of the Qwen2.5-0.5B
// shape: rows of 4864), on one thread, the weights streamed from memory
// (64 matrices of 64 rows in turn, 40 MB): MatDot whole, MatDotPanel a
// panel at a time over 32 rows (as ops runs it), and the in-order tile
// that also prefetches the next block (MatDotNext).
func BenchmarkMatDotPanels(b *testing.B) {
	if !hasDotPanel(MaxDotTile) {
		b.Skip("no MatDot panel kernels (CPU lacks AVX512-BF16, or GOPARD_NOASM)")
	}
	r := rand.New(rand.NewPCG(5, 5))
	const n, k, rows, mats = 64, 4864, 32, 64
	ws := make([][]uint16, mats)
	for i := range ws {
		ws[i] = make([]uint16, n*k)
		for j := range ws[i] {
			ws[i][j] = uint16(r.Uint32()>>20) | 0x3c00
		}
	}
	for _, mt := range []int{5, 9, 13} {
		xp := make([]uint16, PackedBF16Len(mt, k))
		out := make([]float32, mt*n)
		acc := make([]float32, rows*mt*16)
		p := DotPanel(mt)
		for _, c := range []struct {
			name string
			f    func(w []uint16)
		}{
			{"whole", func(w []uint16) { MatDot(mt, true, out, n, xp, w, n, k) }},
			{"panels", func(w []uint16) {
				for r0 := 0; r0 < n; r0 += rows {
					for k0 := 0; k0 < k; k0 += p {
						MatDotPanel(mt, out[r0:], n, xp[k0*mt:], w[r0*k+k0:], rows, k, k0, min(p, k-k0), acc)
					}
				}
			}},
			{"next", func(w []uint16) { MatDotNext(mt, out, n, xp, w, n, k) }},
		} {
			b.Run(fmt.Sprintf("mt=%d/%s", mt, c.name), func(b *testing.B) {
				b.SetBytes(int64(2 * n * k))
				i := 0
				for b.Loop() {
					c.f(ws[i])
					i = (i + 1) % mats
				}
				b.ReportMetric(float64(2*mt*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
