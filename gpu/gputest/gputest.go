// Package gputest holds the tests every GPU backend must pass, so that
// gpu/cuda, gpu/hip and the CPU emulator of gpu/internal/emu run the same
// ones: each operation against ops.CPU on random data (f32, bf16 and f16
// weights; M = 1, 4, 9, 16 query rows and more), and whole conformance
// models, the device's logits against the CPU's.
package gputest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/internal/shareddata"
	"github.com/gopard/gopard/models"
	"github.com/gopard/gopard/models/llama"
	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// Backend is what the tests need of a GPU backend: nn.Backend, a device
// argmax, the bandwidth probe's copy and the event timer.
type Backend interface {
	nn.Backend
	Argmax(t *tensor.Tensor, rows int) []int32
	ArgmaxProb(t *tensor.Tensor, rows int) ([]int32, []float32)
	Copy(dst, src uintptr, bytes int)
	CopyBandwidth(bytes, runs int) (float64, error)
	Time(f func()) (time.Duration, error)
	nn.Fused
}

// Tol is the tolerance of the kernel comparisons: the largest difference
// from the CPU over a tensor, relative to its largest magnitude. Both sides
// compute in f32, only in different orders.
const Tol = 1e-4

// hostCPU returns a CPU backend for the references, one thread; each
// test takes its own, since a CPU runs one operation at a time and the
// tests of several devices may run in parallel.
func hostCPU() *ops.CPU { return ops.NewCPU(1) }

// rng returns a seeded generator, so that failures repeat.
func rng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

// random returns a host tensor of normal values (std 1) in dtype dt
// (rounded there: the CPU and the device see the same values).
func random(r *rand.Rand, dt tensor.DType, shape ...int) *tensor.Tensor {
	v := make([]float32, tensor.NumElements(shape))
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	t := tensor.FromF32(v, shape...)
	if dt != tensor.F32 {
		t = tensor.Convert(t, dt)
	}
	return t
}

// upload puts a host tensor on b (Load), and returns it with its CPU twin
// (which the CPU backend may have widened).
func upload(t *testing.T, b nn.Backend, h *tensor.Tensor) (dev, host *tensor.Tensor) {
	t.Helper()
	dev, err := b.Load(h)
	require.NoError(t, err)
	host, err = hostCPU().Load(h)
	require.NoError(t, err)
	return dev, host
}

// read copies a device tensor to the host.
func read(b nn.Backend, t *tensor.Tensor) []float32 {
	out := make([]float32, t.Len())
	b.Read(out, t)
	return out
}

// clone returns a host F32 tensor with a copy of t's values.
func clone(t *tensor.Tensor) *tensor.Tensor {
	return tensor.FromF32(append([]float32(nil), t.ToF32()...), t.Shape...)
}

// Close compares got with want: max |got − want| ≤ tol · max(1, max |want|).
func Close(t *testing.T, name string, got, want []float32, tol float64) {
	t.Helper()
	require.Len(t, got, len(want), name)
	scale, worst, at := 1.0, 0.0, 0
	for i := range want {
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
		if math.IsNaN(d) {
			break
		}
	}
	if !(worst <= tol*scale) {
		t.Fatalf("%s: element %d is %v, want %v (max |Δ| %.3g > %.3g)", name, at, got[at], want[at], worst, tol*scale)
	}
}

var dtypes = []tensor.DType{tensor.F32, tensor.BF16, tensor.F16}

// Kernels tests every operation of b against ops.CPU.
func Kernels(t *testing.T, b Backend) {
	t.Run("Alloc", func(t *testing.T) { testAlloc(t, b) })
	t.Run("Embedding", func(t *testing.T) { testEmbedding(t, b) })
	t.Run("Linear", func(t *testing.T) { testLinear(t, b) })
	t.Run("RMSNorm", func(t *testing.T) { testRMSNorm(t, b) })
	t.Run("RoPE", func(t *testing.T) { testRoPE(t, b) })
	t.Run("Attention", func(t *testing.T) { testAttention(t, b) })
	t.Run("SiLUMul", func(t *testing.T) { testSiLUMul(t, b) })
	t.Run("Add", func(t *testing.T) { testAdd(t, b) })
	t.Run("Argmax", func(t *testing.T) { testArgmax(t, b) })
	t.Run("Copy", func(t *testing.T) { testCopy(t, b) })
	t.Run("AddRMSNorm", func(t *testing.T) { testAddRMSNorm(t, b) })
	t.Run("RoPEQK", func(t *testing.T) { testRoPEQK(t, b) })
	t.Run("LinearSwiGLU", func(t *testing.T) { testLinearSwiGLU(t, b) })
	t.Run("LinearQKV", func(t *testing.T) { testLinearQKV(t, b) })
	t.Run("Kept", func(t *testing.T) { testKept(t, b) })
	t.Run("Sample", func(t *testing.T) { testSample(t, b) })
	t.Run("BF16Activations", func(t *testing.T) { testBF16Activations(t, b) })
	t.Run("DecoderChunks", func(t *testing.T) { testDecoderChunks(t, b) })
	t.Run("LinearBulk", func(t *testing.T) { testLinearBulk(t, b) })
	t.Run("AttentionBulk", func(t *testing.T) { testAttentionBulk(t, b) })
}

// Smoke runs one small case of each operation: for a driver whose kernels
// Kernels already checked elsewhere (the emulator behind a fake driver).
func Smoke(t *testing.T, b Backend) {
	cpu := hostCPU()
	testAlloc(t, b)
	r := rng(11)
	table, hostTable := upload(t, b, random(r, tensor.BF16, 20, 64))
	x := b.Alloc(3, 64)
	b.Embedding(x, table, []int32{4, 19, 0})
	want := tensor.New(tensor.F32, 3, 64)
	cpu.Embedding(want, hostTable, []int32{4, 19, 0})
	require.Equal(t, want.F32(), read(b, x))
	w, hw := upload(t, b, random(r, tensor.F16, 48, 64))
	out, wantOut := b.Alloc(3, 48), tensor.New(tensor.F32, 3, 48)
	b.Linear(out, x, w, nil)
	cpu.Linear(wantOut, want, hw, nil)
	Close(t, "Linear", read(b, out), wantOut.F32(), Tol)
	require.Equal(t, []int32{int32(ops.Argmax(wantOut.F32()[48:96]))}, b.Argmax(out.RowSlice(1, 2), 1))
}

func testAlloc(t *testing.T, b Backend) {
	x := b.Alloc(3, 5)
	require.Equal(t, tensor.F32, x.DType)
	require.Equal(t, tensor.Device, x.Place)
	require.Equal(t, []int{3, 5}, x.Shape)
	require.Equal(t, make([]float32, 15), read(b, x))
	// Load and Read round-trip, and Read of a row view.
	h := random(rng(1), tensor.F32, 4, 6)
	d, _ := upload(t, b, h)
	require.Equal(t, h.F32(), read(b, d))
	require.Equal(t, h.F32()[12:18], read(b, d.RowSlice(2, 3)))
	// Vectors are widened to F32, as on the CPU.
	v, _ := upload(t, b, random(rng(2), tensor.BF16, 7))
	require.Equal(t, tensor.F32, v.DType)
}

func testEmbedding(t *testing.T, b Backend) {
	cpu := hostCPU()
	r := rng(3)
	for _, dt := range dtypes {
		for _, dim := range []int{36, 301} {
			table, hostTable := upload(t, b, random(r, dt, 50, dim))
			// Up to 16 ids travel in one launch's arguments, up to 64 in
			// four; more are uploaded.
			for _, n := range []int{1, 9, 16, 17, 40, 64, 65} {
				ids := make([]int32, n)
				for i := range ids {
					ids[i] = int32(r.IntN(50))
				}
				ids[0] = 49
				want := tensor.New(tensor.F32, len(ids), dim)
				cpu.Embedding(want, hostTable, ids)
				out := b.Alloc(len(ids), dim)
				b.Embedding(out.RowSlice(0, 1), table, ids[:1]) // work queued before
				w := waits(b)
				b.Embedding(out, table, ids)
				if w >= 0 {
					// An upload waits for the queued work.
					require.Equal(t, w+int64(max(0, min(1, n-64))), waits(b), "%v dim %d, %d ids: waits", dt, dim, n)
				}
				require.Equal(t, want.F32(), read(b, out), "%v dim %d, %d ids", dt, dim, n) // exact: a copy
			}
		}
	}
}

func testLinear(t *testing.T, b Backend) {
	// Both families of multi-row kernels, where the backend has two.
	if tb, ok := b.(interface{ SetTiledLinear(bool) }); ok {
		defer tb.SetTiledLinear(true)
		for _, tiled := range []bool{true, false} {
			tb.SetTiledLinear(tiled)
			t.Run(fmt.Sprintf("tiled=%v", tiled), func(t *testing.T) { testLinearShapes(t, b, false) })
		}
		return
	}
	testLinearShapes(t, b, false)
}

// bf16Setter is a backend that can round activations to bf16 (gpu.Device
// with tensor cores).
type bf16Setter interface{ SetBF16Activations(bool) bool }

// testBF16Activations runs the linear tests with the device's bf16
// activations on, against the CPU multiplying the same rounded
// activations (where the tensor-core kernels take them: bf16 weights, K a
// multiple of 32), and checks that a row's result does not depend on the
// rows beside it, which keeps greedy speculative decoding exact.
func testBF16Activations(t *testing.T, b Backend) {
	s, ok := b.(bf16Setter)
	if !ok || !s.SetBF16Activations(true) {
		t.Skipf("%s has no bf16 activations", b.Name())
	}
	defer s.SetBF16Activations(false)
	t.Run("Linear", func(t *testing.T) { testLinearShapes(t, b, true) })
	t.Run("LinearSwiGLU", func(t *testing.T) { testLinearSwiGLUShapes(t, b, true) })
	t.Run("LinearQKV", func(t *testing.T) { testLinearQKVShapes(t, b, true) })

	r := rng(17)
	w, _ := upload(t, b, random(r, tensor.BF16, 40, 256))
	x, _ := upload(t, b, random(r, tensor.F32, 16, 256))
	var parts [][2]int
	for _, m := range []int{0, 4, 8, 15} {
		for _, M := range []int{1, 2, 9} {
			if m+M <= 16 {
				parts = append(parts, [2]int{m, M})
			}
		}
	}
	rowsAlone(t, b, b.Linear, x, w, parts)
}

// rowsAlone multiplies all rows of x by w with mul, then each part {m, M}
// (rows m..m+M-1) alone, and requires part's first row to have the bits
// row m had among all: a row's result must not depend on the rows beside
// it, which keeps greedy speculative decoding exact.
func rowsAlone(t *testing.T, b Backend, mul func(out, x, w, bias *tensor.Tensor), x, w *tensor.Tensor, parts [][2]int) {
	N, rowsX := w.Rows(), x.Rows()
	all := b.Alloc(rowsX, N)
	mul(all, x, w, nil)
	rows := read(b, all)
	for _, p := range parts {
		m, M := p[0], p[1]
		part := b.Alloc(M, N)
		mul(part, x.RowSlice(m, m+M), w, nil)
		require.Equal(t, rows[m*N:(m+1)*N], read(b, part)[:N], "row %d alone vs among %d: M = %d", m, rowsX, M)
	}
}

// refX is the activations the CPU reference multiplies with weights of
// dtype dt over K: hx, or, when the device rounds its activations to bf16
// (rounded) and its tensor-core kernels take these weights, hx rounded so.
func refX(hx *tensor.Tensor, dt tensor.DType, K int, rounded bool) *tensor.Tensor {
	if !rounded || dt != tensor.BF16 || K%32 != 0 {
		return hx
	}
	return tensor.Convert(tensor.Convert(hx, tensor.BF16), tensor.F32)
}

func testLinearShapes(t *testing.T, b Backend, rounded bool) {
	r := rng(4)
	for _, dt := range dtypes {
		// K = 96, 256: the vector path with its tail steps only; K = 1288: its
		// unrolled steps and a tail (warp 32: 1288 = 5·256 + 8); K = 70: the
		// scalar path (K % 8 ≠ 0). N = 67, 130: the last warp of the
		// kernels that take 2 or 4 columns has fewer.
		// N = 20, K = 2056 splits K over all 8 warps of a block (warp 32).
		// K = 2048: a split of the tensor-core kernels (the others' K is
		// not a multiple of 32 but for 96 and 256).
		for _, nk := range [][2]int{{67, 96}, {40, 70}, {130, 256}, {67, 1288}, {20, 2056}, {20, 2048}} {
			N, K := nk[0], nk[1]
			w, hw := upload(t, b, random(r, dt, N, K))
			bias, hbias := upload(t, b, random(r, tensor.F32, N))
			// Every row bucket (1, 2, 4, 8, 12, 16), partly filled, and M > 16.
			for _, M := range []int{1, 2, 3, 6, 9, 16, 37} { // 9: bucket 12; 37 = 16 + 16 + 5
				for _, withBias := range []bool{false, true} {
					checkProduct(t, b, r, b.Linear, w, hw, bias, hbias, M, rounded, withBias)
				}
			}
		}
	}
}

// checkProduct multiplies M rows of random activations by the weights on
// b with mul (w) and on the CPU with Linear (hw, the activations rounded
// as refX says), with or without the bias, and compares. The device's x is
// a view two rows into a larger tensor, as the decoder's chunks are.
func checkProduct(t *testing.T, b Backend, r *rand.Rand, mul func(out, x, w, bias *tensor.Tensor),
	w, hw, bias, hbias *tensor.Tensor, M int, rounded, withBias bool) {
	cpu := hostCPU()
	N, K := hw.Rows(), hw.Cols()
	name := fmt.Sprintf("%v N=%d K=%d M=%d bias=%v", hw.DType, N, K, M, withBias)
	hx := random(r, tensor.F32, M+3, K)
	x, _ := upload(t, b, hx)
	xv, hxv := x.RowSlice(2, 2+M), refX(hx.RowSlice(2, 2+M), hw.DType, K, rounded)
	if !withBias {
		bias, hbias = nil, nil
	}
	want, out := tensor.New(tensor.F32, M, N), b.Alloc(M, N)
	cpu.Linear(want, hxv, hw, hbias)
	mul(out, xv, w, bias)
	Close(t, name, read(b, out), want.F32(), Tol)
}

func testRMSNorm(t *testing.T, b Backend) {
	cpu := hostCPU()
	r := rng(5)
	for _, shape := range [][2]int{{5, 96}, {9 * 4, 16}, {3, 1000}, {2, 7}} {
		rows, d := shape[0], shape[1]
		hx := random(r, tensor.F32, rows, d)
		w, hw := upload(t, b, random(r, tensor.BF16, d))
		x, _ := upload(t, b, hx)
		want := tensor.New(tensor.F32, rows, d)
		cpu.RMSNorm(want, hx, hw, 1e-6)
		out := b.Alloc(rows, d)
		b.RMSNorm(out, x, w, 1e-6)
		Close(t, fmt.Sprintf("rows %d d %d", rows, d), read(b, out), want.F32(), Tol)
		b.RMSNorm(x, x, w, 1e-6) // in place
		Close(t, fmt.Sprintf("in place, rows %d d %d", rows, d), read(b, x), want.F32(), Tol)
	}
}

func testAddRMSNorm(t *testing.T, b Backend) {
	cpu := hostCPU()
	r := rng(13)
	// d = 7: one value per load; 96 and 4096: four.
	for _, shape := range [][2]int{{5, 96}, {1, 4096}, {3, 7}} {
		rows, d := shape[0], shape[1]
		hx, hdelta := random(r, tensor.F32, rows, d), random(r, tensor.F32, rows, d)
		w, hw := upload(t, b, random(r, tensor.BF16, d))
		x, _ := upload(t, b, hx)
		delta, _ := upload(t, b, hdelta)
		wantX, want := clone(hx), tensor.New(tensor.F32, rows, d)
		cpu.Add(wantX, hdelta)
		cpu.RMSNorm(want, wantX, hw, 1e-5)
		out := b.Alloc(rows, d)
		b.AddRMSNorm(out, x, delta, w, 1e-5)
		require.Equal(t, wantX.F32(), read(b, x), "rows %d d %d: x += delta", rows, d) // exact: one rounding
		Close(t, fmt.Sprintf("rows %d d %d", rows, d), read(b, out), want.F32(), Tol)
	}
}

func testLinearSwiGLU(t *testing.T, b Backend) { testLinearSwiGLUShapes(t, b, false) }

func testLinearSwiGLUShapes(t *testing.T, b Backend, rounded bool) {
	cpu := hostCPU()
	r := rng(15)
	for _, dt := range dtypes {
		// The vector path with and without split warps, and the scalar one.
		for _, nk := range [][2]int{{67, 96}, {40, 70}, {20, 2056}, {20, 2048}} {
			N, K := nk[0], nk[1]
			gate, hgate := upload(t, b, random(r, dt, N, K))
			up, hup := upload(t, b, random(r, dt, N, K))
			for _, M := range []int{1, 3, 9, 16, 37} {
				hx := random(r, tensor.F32, M, K)
				x, _ := upload(t, b, hx)
				hx = refX(hx, dt, K, rounded)
				want, u := tensor.New(tensor.F32, M, N), tensor.New(tensor.F32, M, N)
				cpu.Linear(want, hx, hgate, nil)
				cpu.Linear(u, hx, hup, nil)
				cpu.SiLUMul(want, want, u)
				out := b.Alloc(M, N)
				b.LinearSwiGLU(out, x, gate, up)
				Close(t, fmt.Sprintf("%v N=%d K=%d M=%d", dt, N, K, M), read(b, out), want.F32(), Tol)
			}
		}
	}
}

func testLinearQKV(t *testing.T, b Backend) { testLinearQKVShapes(t, b, false) }

func testLinearQKVShapes(t *testing.T, b Backend, rounded bool) {
	cpu := hostCPU()
	r := rng(16)
	for _, dt := range dtypes {
		// Nq, Nkv, K: column groups of 1, 2 and 4 fit 64 and 32; 66 and 34
		// do not fit groups of 4 (M in 5..12), which fall back to three
		// launches; K = 70 takes the scalar path, K = 2056 splits K.
		// With bf16 activations, 64 and 32 fit the tensor-core kernel's
		// groups of 32 columns and 66, 34 do not (three launches).
		for _, c := range [][3]int{{64, 32, 96}, {66, 34, 96}, {64, 32, 70}, {32, 16, 2056}} {
			Nq, Nkv, K := c[0], c[1], c[2]
			for _, withBias := range []bool{false, true} {
				wq, hwq := upload(t, b, random(r, dt, Nq, K))
				wk, hwk := upload(t, b, random(r, dt, Nkv, K))
				wv, hwv := upload(t, b, random(r, dt, Nkv, K))
				var bq, bk, bv, hbq, hbk, hbv *tensor.Tensor
				if withBias {
					bq, hbq = upload(t, b, random(r, tensor.F32, Nq))
					bk, hbk = upload(t, b, random(r, tensor.F32, Nkv))
					bv, hbv = upload(t, b, random(r, tensor.F32, Nkv))
				}
				for _, M := range []int{1, 3, 9, 16, 37} {
					hx := random(r, tensor.F32, M, K)
					x, _ := upload(t, b, hx)
					hx = refX(hx, dt, K, rounded)
					wq2, wk2, wv2 := tensor.New(tensor.F32, M, Nq), tensor.New(tensor.F32, M, Nkv), tensor.New(tensor.F32, M, Nkv)
					cpu.Linear(wq2, hx, hwq, hbq)
					cpu.Linear(wk2, hx, hwk, hbk)
					cpu.Linear(wv2, hx, hwv, hbv)
					q, k, v := b.Alloc(M, Nq), b.Alloc(M, Nkv), b.Alloc(M, Nkv)
					b.LinearQKV(q, k, v, x, wq, wk, wv, bq, bk, bv)
					name := fmt.Sprintf("%v Nq=%d Nkv=%d K=%d M=%d bias=%v", dt, Nq, Nkv, K, M, withBias)
					Close(t, name+" q", read(b, q), wq2.F32(), Tol)
					Close(t, name+" k", read(b, k), wk2.F32(), Tol)
					Close(t, name+" v", read(b, v), wv2.F32(), Tol)
				}
			}
		}
	}
}

func testRoPEQK(t *testing.T, b Backend) {
	cpu := hostCPU()
	r := rng(14)
	for _, hd := range []int{16, 128} {
		heads, kvHeads, rows, start, positions := 4, 2, 9, 5, 40
		cosT, sinT := nn.RoPEConfig{Theta: 10000}.Tables(hd, positions)
		hcos, hsin := tensor.FromF32(cosT, positions, hd/2), tensor.FromF32(sinT, positions, hd/2)
		cos, _ := upload(t, b, hcos)
		sin, _ := upload(t, b, hsin)
		hq, hk := random(r, tensor.F32, rows, heads*hd), random(r, tensor.F32, rows, kvHeads*hd)
		q, _ := upload(t, b, hq)
		k, _ := upload(t, b, hk)
		wantQ, wantK := clone(hq), clone(hk)
		cpu.RoPE(wantQ, heads, hd, start, hcos, hsin)
		cpu.RoPE(wantK, kvHeads, hd, start, hcos, hsin)
		b.RoPEQK(q, k, heads, kvHeads, hd, start, cos, sin)
		Close(t, fmt.Sprintf("q, head_dim %d", hd), read(b, q), wantQ.F32(), Tol)
		Close(t, fmt.Sprintf("k, head_dim %d", hd), read(b, k), wantK.F32(), Tol)
	}
}

func testRoPE(t *testing.T, b Backend) {
	cpu := hostCPU()
	r := rng(6)
	scaling := &nn.Llama3Scaling{Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 64}
	for _, cfg := range []nn.RoPEConfig{{Theta: 10000}, {Theta: 500000, Scaling: scaling}} {
		for _, hd := range []int{16, 128} {
			heads, rows, start, positions := 3, 9, 5, 40
			c, s := cfg.Tables(hd, positions)
			cos, hcos := upload(t, b, tensor.FromF32(c, positions, hd/2))
			sin, hsin := upload(t, b, tensor.FromF32(s, positions, hd/2))
			hx := random(r, tensor.F32, rows, heads*hd)
			x, _ := upload(t, b, hx)
			want := clone(hx)
			cpu.RoPE(want, heads, hd, start, hcos, hsin)
			b.RoPE(x, heads, hd, start, cos, sin)
			Close(t, fmt.Sprintf("head_dim %d scaling %v", hd, cfg.Scaling != nil), read(b, x), want.F32(), Tol)
		}
	}
}

func testAttention(t *testing.T, b Backend) {
	cpu := hostCPU()
	r := rng(7)
	type shape struct{ heads, kvHeads, headDim int }
	// head_dim 6 and 258 (not multiples of 4) take the one-dimension-per-thread
	// path; at 258 a row needs more threads than a block of 256 has.
	for _, sh := range []shape{{4, 2, 16}, {8, 1, 64}, {2, 2, 128}, {3, 1, 6}, {1, 1, 258}} {
		for _, M := range []int{1, 4, 9, 16} {
			for _, start := range []int{0, 7, 300} { // 300+M spans five or six chunks of 64
				kw := sh.kvHeads * sh.headDim
				capacity := start + M + 3
				hq := random(r, tensor.F32, M, sh.heads*sh.headDim)
				hk, hv := random(r, tensor.F32, capacity, kw), random(r, tensor.F32, capacity, kw)
				q, _ := upload(t, b, hq)
				k, _ := upload(t, b, hk)
				v, _ := upload(t, b, hv)
				want := tensor.New(tensor.F32, M, sh.heads*sh.headDim)
				cpu.Attention(want, hq, hk, hv, start, sh.heads, sh.kvHeads, sh.headDim)
				out := b.Alloc(M, sh.heads*sh.headDim)
				b.Attention(out, q, k, v, start, sh.heads, sh.kvHeads, sh.headDim)
				Close(t, fmt.Sprintf("%+v M=%d start=%d", sh, M, start), read(b, out), want.F32(), Tol)
			}
		}
	}
}

func testSiLUMul(t *testing.T, b Backend) {
	cpu := hostCPU()
	r := rng(8)
	for _, n := range []int{1, 1000, 70001} {
		hg, hu := random(r, tensor.F32, n), random(r, tensor.F32, n)
		g, _ := upload(t, b, hg)
		u, _ := upload(t, b, hu)
		want := tensor.New(tensor.F32, n)
		cpu.SiLUMul(want, hg, hu)
		out := b.Alloc(n)
		b.SiLUMul(out, g, u)
		Close(t, fmt.Sprintf("n %d", n), read(b, out), want.F32(), Tol)
		b.SiLUMul(g, g, u) // in place, as the decoder does
		Close(t, fmt.Sprintf("in place, n %d", n), read(b, g), want.F32(), Tol)
	}
}

func testAdd(t *testing.T, b Backend) {
	cpu := hostCPU()
	r := rng(9)
	for _, n := range []int{1, 1000, 70001} {
		hd, hs := random(r, tensor.F32, n), random(r, tensor.F32, n)
		d, _ := upload(t, b, hd)
		s, _ := upload(t, b, hs)
		want := clone(hd)
		cpu.Add(want, hs)
		b.Add(d, s)
		require.Equal(t, want.F32(), read(b, d), "n %d", n) // exact: one rounding
	}
}

func testArgmax(t *testing.T, b Backend) {
	r := rng(10)
	// n = 3001: one value per load; n = 5000: four (and a tie within a
	// load); n = 20000: ten blocks a row, with the tie across blocks.
	for _, n := range []int{3001, 5000, 20000} {
		rows := 7
		h := random(r, tensor.F32, rows, n)
		v := h.F32()
		v[1*n+7], v[1*n+2900] = 50, 50 // a tie: the first wins
		for i := range n {
			v[2*n+i] = float32(math.Inf(-1)) // all -inf: index 0
		}
		v[3*n+n-1] = 99                                             // the last element
		v[4*n+0], v[4*n+9], v[4*n+10] = float32(math.NaN()), 60, 60 // NaNs never win; a tie inside one load
		for i := range n {
			v[5*n+i] *= 8 // a wide spread: the running sums rescale often
		}
		v[6*n+n/2] = float32(math.Inf(-1)) // one -inf adds nothing
		x, _ := upload(t, b, h)
		got := b.Argmax(x, rows)
		for row := range rows {
			require.Equal(t, int32(ops.Argmax(v[row*n:(row+1)*n])), got[row], "n %d row %d", n, row)
		}
		require.Equal(t, []int32{7, 0, int32(n - 1), 9}, got[1:5], "n %d", n)

		// The same ids with probabilities: 1 / Σ exp(x - max), in float64
		// here, NaNs and -inf left out; 0 for the row of -inf.
		ids, probs := b.ArgmaxProb(x, rows)
		require.Equal(t, got, ids, "n %d", n)
		require.Len(t, probs, rows)
		for row := range rows {
			vr := v[row*n : (row+1)*n]
			mx := float64(vr[got[row]])
			var sum float64
			for _, e := range vr {
				if e > float32(math.Inf(-1)) { // not NaN or -inf
					sum += math.Exp(float64(e) - mx)
				}
			}
			want := 0.0
			if sum > 0 {
				want = 1 / sum
			}
			require.InDelta(t, want, float64(probs[row]), 1e-5*want, "n %d row %d", n, row)
		}
		require.Zero(t, probs[2], "n %d: the row without a finite value", n)
		require.Greater(t, probs[3], float32(0.99), "n %d: one value far above the rest", n)
	}
}

// reference is the part of a conformance case's reference.json used here.
type reference struct {
	PromptIDs []int32 `json:"prompt_ids"`
	GreedyIDs []int32 `json:"greedy_ids"`
}

// Decoder runs the conformance models of ../shared/data (those with at
// most maxVocab tokens: 0, all) on b and on the CPU: the log-probabilities
// of the whole prompt must agree within 2e-3 (the conformance tolerance;
// with SetBulkAll, so that a device with bulk on scores the prompt through
// its tiled product, as cmd/score does), then the prompt again as a
// prefill keeping its last row, from which the first greedy tokens
// (decoded one at a time) must be the
// reference continuation, and forwarding them again as one block of rows
// after a truncation (the PARD verify shape) must predict the same tokens.
// Only those named in only run, when any are.
func Decoder(t *testing.T, b Backend, maxVocab, greedy int, only ...string) {
	cpu := hostCPU()
	root := shareddata.Dir(t, "conformance", "models")
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	for _, e := range entries {
		if !e.IsDir() || len(only) > 0 && !slices.Contains(only, e.Name()) {
			continue
		}
		dir := filepath.Join(root, e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "reference.json"))
			require.NoError(t, err)
			var ref reference
			require.NoError(t, json.Unmarshal(data, &ref))
			onCPU, err := models.Load(dir, llama.Options{Backend: cpu, Context: 128})
			require.NoError(t, err)
			defer onCPU.Close()
			if maxVocab > 0 && onCPU.Config().Vocab > maxVocab {
				t.Skipf("vocab %d > %d", onCPU.Config().Vocab, maxVocab)
			}
			onGPU, err := models.Load(dir, llama.Options{Backend: b, Context: 128})
			require.NoError(t, err)
			defer onGPU.Close()
			// The device copied the weights, so the files are unmapped
			// already (and the forwards below read none of them).
			require.True(t, onGPU.Copied)
			require.False(t, onCPU.Copied)

			want, err := onCPU.Forward(ref.PromptIDs, 0, len(ref.PromptIDs))
			require.NoError(t, err)
			// Every row through the tiled product when the device has it
			// on, as cmd/score takes it (SetBulkAll), then back.
			onGPU.SetBulkAll(true)
			got, err := onGPU.Forward(ref.PromptIDs, 0, len(ref.PromptIDs))
			onGPU.SetBulkAll(false)
			require.NoError(t, err)
			worst := 0.0
			for pos := range want {
				lw, lg := make([]float32, len(want[pos])), make([]float32, len(got[pos]))
				ops.LogSoftmax(lw, want[pos])
				ops.LogSoftmax(lg, got[pos])
				for i := range lw {
					worst = math.Max(worst, math.Abs(float64(lg[i]-lw[i])))
				}
			}
			t.Logf("max |Δ logprob| GPU vs CPU over the prompt = %.2e", worst)
			require.LessOrEqual(t, worst, 2e-3)

			// The prompt again as the engines prefill it, keeping the last
			// row only (the rows before it go to a Bulker's tiled product,
			// when on): that row, up to rounding.
			lastRow := slices.Clone(got[len(got)-1])
			onGPU.Truncate(0)
			last, err := onGPU.Forward(ref.PromptIDs, 0, 1)
			require.NoError(t, err)
			Close(t, "prefill keeping the last row", last[0], lastRow, Tol)

			// Greedy decoding on the device, one row at a time.
			n := min(greedy, len(ref.GreedyIDs))
			next := int32(ops.Argmax(last[0]))
			var ids []int32
			for len(ids) < n {
				ids = append(ids, next)
				out, err := onGPU.Forward([]int32{next}, onGPU.Len(), 1)
				require.NoError(t, err)
				next = int32(ops.Argmax(out[0]))
			}
			require.Equal(t, ref.GreedyIDs[:n], ids, "greedy continuation")

			// Verify: forget the continuation, then forward it as one block
			// and check every row's prediction.
			p := len(ref.PromptIDs)
			onGPU.Truncate(p)
			rows, err := onGPU.Forward(ids, p, len(ids))
			require.NoError(t, err)
			for i := range ids {
				want := next
				if i+1 < len(ids) {
					want = ids[i+1]
				}
				require.Equal(t, want, int32(ops.Argmax(rows[i])), "verify row %d", i)
			}
		})
	}
}

// TooLarge loads a conformance model on b, whose memory must report too
// little free for it (a fake driver told so): the load fails before any
// weight is uploaded, saying what the model needs and what b has.
func TooLarge(t *testing.T, b Backend) {
	root := shareddata.Dir(t, "conformance", "models")
	held := b.(interface{ Allocated() int64 }).Allocated()
	_, err := models.Load(filepath.Join(root, "qwen3-tiny"), llama.Options{Backend: b, Context: 128})
	require.ErrorContains(t, err, "qwen3-tiny does not fit "+b.Name()+": it needs about ")
	require.ErrorContains(t, err, "the device has 0.0 MB free of 17.2 GB")
	require.Equal(t, held, b.(interface{ Allocated() int64 }).Allocated(), "nothing uploaded")
}

func testCopy(t *testing.T, b Backend) {
	h := random(rng(12), tensor.F32, 3, 1000)
	src, _ := upload(t, b, h)
	dst := b.Alloc(3, 1000)
	// Two rows only: the third must stay zero.
	b.Copy(dst.Ptr, src.Ptr, 2*1000*4)
	got := read(b, dst)
	require.Equal(t, h.F32()[:2000], got[:2000])
	require.Equal(t, make([]float32, 1000), got[2000:])
	// The probe itself, where the driver can time work.
	if _, err := b.Time(func() {}); err != nil {
		t.Logf("no device timer (%v): CopyBandwidth not measured", err)
		return
	}
	bw, err := b.CopyBandwidth(64<<20, 2)
	require.NoError(t, err)
	require.Greater(t, bw, 1e9, "bytes/s")
	t.Logf("copy bandwidth of 64 MiB buffers: %.0f GB/s (read + written)", bw/1e9)
}
