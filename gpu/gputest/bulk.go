package gputest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/tensor"
)

// bulkSetter is a backend whose prefills may take a tiled product for the
// rows only the cache needs (gpu.Device: nn.Bulker, SetBulk).
type bulkSetter interface {
	nn.Bulker
	SetBulk(bool) bool
}

// testLinearBulk checks the Bulker's product against the CPU's Linear for
// every weight dtype, partial and whole tiles of rows, columns and k, the
// 16-byte loads and the one-element ones, and that a row's bits do not
// depend on the rows beside it.
func testLinearBulk(t *testing.T, b Backend) {
	bk, ok := b.(nn.Bulker)
	if !ok {
		t.Skipf("%s has no bulk product", b.Name())
	}
	r := rng(41)
	// K = 96: whole tiles of 16; 1288: a half tile last (16-byte loads);
	// 70: one element at a time (K % 8 ≠ 0); 8: half a tile. N = 67, 130,
	// 20: partial tiles of 128 columns, 130 two of them.
	checkBulkShapes(t, b, r, bk, [][2]int{{67, 96}, {130, 1288}, {40, 70}, {20, 8}}, false)
	// Each output sums k in one order whatever M: a row alone has the bits
	// it has among 130 (as the decoder needs, a prefill's rows being cut
	// into chunks).
	const K = 264
	w, _ := upload(t, b, random(r, tensor.BF16, 67, K))
	x, _ := upload(t, b, random(r, tensor.F32, 130, K))
	rowsAlone(t, b, bk.LinearBulk, x, w, [][2]int{{0, 1}, {63, 1}, {64, 1}, {100, 1}, {129, 1}})
	// With bf16 activations on tensor cores, bf16 weights over K % 32 == 0
	// take linear_bulk_mma_bf16 (the activations rounded as the CPU's);
	// other weights and K keep the float32 tiles.
	if s, ok := b.(bf16Setter); ok && s.SetBF16Activations(true) {
		t.Run("BF16Activations", func(t *testing.T) {
			defer s.SetBF16Activations(false)
			// K = 32: one staged tile; 1280: forty; 96 with N = 130:
			// partial tiles of columns; 70: not a multiple of 32.
			checkBulkShapes(t, b, r, bk, [][2]int{{67, 32}, {130, 96}, {20, 1280}, {40, 70}}, true)
			w, _ := upload(t, b, random(r, tensor.BF16, 67, 256))
			x, _ := upload(t, b, random(r, tensor.F32, 130, 256))
			rowsAlone(t, b, bk.LinearBulk, x, w, [][2]int{{0, 1}, {15, 1}, {16, 1}, {63, 1}, {64, 1}, {129, 1}})
		})
	}
	all := b.Alloc(130, 67)
	// Operands checked as Linear's, the message naming LinearBulk.
	require.PanicsWithValue(t, b.Name()+": LinearBulk: x [130 264], w [67 264], out [130 66]",
		func() { bk.LinearBulk(b.Alloc(130, 66), x, w, nil) })
	require.Panics(t, func() { bk.LinearBulk(all, tensor.New(tensor.F32, 130, K), w, nil) }, "x on the host")
}

// checkBulkShapes checks bk's LinearBulk against the CPU's Linear for
// weights of every dtype and each (N, K) of shapes, with partial and
// whole tiles of 64 rows, the activations rounded to bf16 where rounded
// says the device rounds them (refX).
func checkBulkShapes(t *testing.T, b Backend, r *rand.Rand, bk nn.Bulker, shapes [][2]int, rounded bool) {
	for _, dt := range dtypes {
		for _, nk := range shapes {
			N, K := nk[0], nk[1]
			w, hw := upload(t, b, random(r, dt, N, K))
			bias, hbias := upload(t, b, random(r, tensor.F32, N))
			for _, M := range []int{1, 37, 64, 65, 130} {
				checkProduct(t, b, r, bk.LinearBulk, w, hw, bias, hbias, M, rounded, M%2 == 1)
			}
		}
	}
}

// testAttentionBulk checks the Bulker's attention against the CPU's for
// groups of query heads that do and do not divide a block's 32 query
// vectors, heads of 6 to 128 dimensions (and one wider, which takes
// Attention's kernels), blocks and tiles whole and partial, with and
// without earlier positions in the cache; a binary16 cache against the
// float32 one of the same rounded values (exact: the same arithmetic once
// widened); and that a row's bits do not depend on the rows beside it.
func testAttentionBulk(t *testing.T, b Backend) {
	cpu := hostCPU()
	bk, ok := b.(nn.Bulker)
	if !ok {
		t.Skipf("%s has no bulk attention", b.Name())
	}
	kv, f16 := b.(KVCaching)
	if f16 {
		kv.SetF16KVCache(true) // AllocKV's caches binary16
		defer kv.SetF16KVCache(false)
	}
	r := rng(42)
	type shape struct{ heads, kvHeads, headDim int }
	for _, sh := range []shape{{4, 2, 16}, {8, 1, 64}, {7, 1, 24}, {2, 2, 128}, {3, 1, 6}, {1, 1, 160}} {
		for _, M := range []int{1, 33, 70} {
			for _, start := range []int{0, 45} {
				name := fmt.Sprintf("%+v M=%d start=%d", sh, M, start)
				kw, qw := sh.kvHeads*sh.headDim, sh.heads*sh.headDim
				capacity := start + M + 3
				hq := random(r, tensor.F32, M, qw)
				hk, hv := random(r, tensor.F32, capacity, kw), random(r, tensor.F32, capacity, kw)
				q, _ := upload(t, b, hq)
				k, _ := upload(t, b, hk)
				v, _ := upload(t, b, hv)
				want := tensor.New(tensor.F32, M, qw)
				cpu.Attention(want, hq, hk, hv, start, sh.heads, sh.kvHeads, sh.headDim)
				out := b.Alloc(M, qw)
				bk.AttentionBulk(out, q, k, v, start, sh.heads, sh.kvHeads, sh.headDim)
				got := read(b, out)
				Close(t, name, got, want.F32(), Tol)
				if M == 70 && start == 45 {
					// Rows alone at their positions: the bits they have
					// among 70 (first and last of a block, a block's only).
					for _, m := range []int{0, 31, 32, 69} {
						one := b.Alloc(1, qw)
						bk.AttentionBulk(one, q.RowSlice(m, m+1), k, v, start+m, sh.heads, sh.kvHeads, sh.headDim)
						require.Equal(t, got[m*qw:(m+1)*qw], read(b, one), "%s: row %d alone", name, m)
					}
				}
				if !f16 || start == 0 {
					continue
				}
				k16, v16 := kv.AllocKV(capacity, sh.kvHeads, sh.headDim), kv.AllocKV(capacity, sh.kvHeads, sh.headDim)
				kv.StoreKV(k16, v16, 0, k, v)
				k32, _ := upload(t, b, tensor.Convert(tensor.Convert(hk, tensor.F16), tensor.F32))
				v32, _ := upload(t, b, tensor.Convert(tensor.Convert(hv, tensor.F16), tensor.F32))
				bk.AttentionBulk(out, q, k32, v32, start, sh.heads, sh.kvHeads, sh.headDim)
				got16 := b.Alloc(M, qw)
				bk.AttentionBulk(got16, q, k16, v16, start, sh.heads, sh.kvHeads, sh.headDim)
				require.Equal(t, read(b, out), read(b, got16), "%s: binary16 cache", name)
			}
		}
	}
	// Operands checked as Attention's, the message naming AttentionBulk.
	q, k := b.Alloc(3, 64), b.Alloc(10, 32)
	require.PanicsWithValue(t, b.Name()+": AttentionBulk: cache k [10 32], v [10 32] for positions 8..10 of 1 kv heads",
		func() { bk.AttentionBulk(b.Alloc(3, 64), q, k, k, 8, 2, 1, 32) })
}
