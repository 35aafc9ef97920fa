package gputest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/tensor"
)

// NormFusing is what FuseNorm needs of a backend beyond Backend: the
// folding of norms and residual adds into the linear layers of
// gpu.Device.
type NormFusing interface {
	Backend
	nn.NormFuser
	SetFuseNorm(on bool) bool
}

// FuseNorm checks nn.NormFuser on b: each folded form against the
// separate operations it replaces, bit for bit (M = 1 and 2, which the
// _norm kernels take, and 3, which goes through a scratch norm; the q/k/v
// projections with and without the rotation; every row bucket and the
// tensor-core kernels for LinearAdd), the decoder's chain of them
// (LinearAdd, then the projections normalizing the result) against
// AddRMSNorm and the fused projections, a small decoder's logits with
// folding on and off, and that a norm of the wrong width is refused.
func FuseNorm(t *testing.T, b NormFusing) {
	t.Run("LinearAdd", func(t *testing.T) { testLinearAdd(t, b) })
	t.Run("NormLinear", func(t *testing.T) { testNormLinear(t, b) })
	t.Run("Decoder", func(t *testing.T) { testFuseNormDecoder(t, b) })
	t.Run("BadNorm", func(t *testing.T) { testBadNorm(t, b) })
}

// FuseNormEngines is FuseNorm, then Engines with the folding on: AR, VSD
// and PARD still agree token for token, AR's decode steps folding and
// PARD's verify (more rows) not. For a GPU: on the emulator the embedded
// models' engines take minutes.
func FuseNormEngines(t *testing.T, b NormFusing) {
	FuseNorm(t, b)
	b.SetFuseNorm(true)
	defer b.SetFuseNorm(false)
	Engines(t, b)
}

// testBadNorm: a norm of the wrong width is refused, naming the operation,
// whether or not the rows would be normalized on the way in.
func testBadNorm(t *testing.T, b NormFusing) {
	w := b.Alloc(8, 64)
	norm := b.Alloc(32)
	for _, M := range []int{1, 5} {
		x, out := b.Alloc(M, 64), b.Alloc(M, 8)
		require.Contains(t, panicText(func() { b.NormLinearSwiGLU(out, x, norm, 1e-5, w, w) }), "NormLinearSwiGLU: norm [32] for x", "M=%d", M)
		require.Contains(t, panicText(func() { b.NormLinearQKV(out, out, out, x, norm, 1e-5, w, w, w, nil, nil, nil, nil) }), "NormLinearQKV: norm [32] for x", "M=%d", M)
	}
}

// panicText runs f and returns what it panicked with, as text ("" if it
// did not).
func panicText(f func()) (text string) {
	defer func() {
		if r := recover(); r != nil {
			text = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

// twice uploads h as two device tensors (one for each way of computing).
func twice(t *testing.T, b nn.Backend, h *tensor.Tensor) (*tensor.Tensor, *tensor.Tensor) {
	x1, _ := upload(t, b, h)
	x2, _ := upload(t, b, h)
	return x1, x2
}

func testLinearAdd(t *testing.T, b NormFusing) {
	linearAdd(t, b)
	// The tensor-core kernels (bf16 weights, K a multiple of 32) add as
	// they store too.
	if tc, ok := b.(interface{ SetBF16Activations(bool) bool }); ok && tc.SetBF16Activations(true) {
		defer tc.SetBF16Activations(false)
		t.Run("bf16-activations", func(t *testing.T) { linearAdd(t, b) })
	}
}

func linearAdd(t *testing.T, b NormFusing) {
	r := rng(21)
	for _, dt := range dtypes {
		for _, nk := range [][2]int{{67, 96}, {40, 70}, {20, 2056}, {64, 2048}} {
			N, K := nk[0], nk[1]
			w, _ := upload(t, b, random(r, dt, N, K))
			for _, M := range []int{1, 2, 3, 9, 16, 37} {
				in, _ := upload(t, b, random(r, tensor.F32, M, K))
				x1, x2 := twice(t, b, random(r, tensor.F32, M, N))
				proj := b.Alloc(M, N)
				b.Linear(proj, in, w, nil)
				b.Add(x1, proj)
				b.LinearAdd(x2, in, w)
				require.Equal(t, read(b, x1), read(b, x2), "%v N=%d K=%d M=%d: LinearAdd ≠ Linear, Add", dt, N, K, M)
			}
		}
	}
}

func testNormLinear(t *testing.T, b NormFusing) {
	r := rng(22)
	const eps, ropeHeadDim, positions = 1e-5, 16, 8
	cosT, sinT := nn.RoPEConfig{Theta: 10000}.Tables(ropeHeadDim, positions)
	cos, _ := upload(t, b, tensor.FromF32(cosT, positions, ropeHeadDim/2))
	sin, _ := upload(t, b, tensor.FromF32(sinT, positions, ropeHeadDim/2))
	for _, dt := range dtypes {
		// K = 96 and 2056: four values per load (blocks of 128 and 256
		// threads for the norm, 2056 splitting K); 64: the norm's block
		// is 64 threads, smaller than the linear kernels' 256; 70: one
		// value per load, for the norm and the products.
		for _, c := range [][3]int{{64, 32, 96}, {32, 16, 64}, {64, 32, 70}, {32, 16, 2056}} {
			Nq, Nkv, K := c[0], c[1], c[2]
			wq, _ := upload(t, b, random(r, dt, Nq, K))
			wk, _ := upload(t, b, random(r, dt, Nkv, K))
			wv, _ := upload(t, b, random(r, dt, Nkv, K))
			gate, _ := upload(t, b, random(r, dt, 40, K))
			up, _ := upload(t, b, random(r, dt, 40, K))
			wo, _ := upload(t, b, random(r, dt, K, Nq))
			norm, _ := upload(t, b, random(r, tensor.F32, K))
			for _, withBias := range []bool{false, true} {
				var bq, bk, bv *tensor.Tensor
				if withBias {
					bq, _ = upload(t, b, random(r, tensor.F32, Nq))
					bk, _ = upload(t, b, random(r, tensor.F32, Nkv))
					bv, _ = upload(t, b, random(r, tensor.F32, Nkv))
				}
				for _, M := range []int{1, 2, 3} {
					name := fmt.Sprintf("%v Nq=%d Nkv=%d K=%d M=%d bias=%v", dt, Nq, Nkv, K, M, withBias)
					x1, x2 := twice(t, b, random(r, tensor.F32, M, K))
					xb := b.Alloc(M, K)

					// The first layer's way: RMSNorm, then the projections.
					b.RMSNorm(xb, x1, norm, eps)
					q1, k1, v1 := b.Alloc(M, Nq), b.Alloc(M, Nkv), b.Alloc(M, Nkv)
					b.LinearQKV(q1, k1, v1, xb, wq, wk, wv, bq, bk, bv)
					q2, k2, v2 := b.Alloc(M, Nq), b.Alloc(M, Nkv), b.Alloc(M, Nkv)
					b.NormLinearQKV(q2, k2, v2, x2, norm, eps, wq, wk, wv, bq, bk, bv, nil)
					for i, pair := range [][2]*tensor.Tensor{{q1, q2}, {k1, k2}, {v1, v2}} {
						require.Equal(t, read(b, pair[0]), read(b, pair[1]), "%s: NormLinearQKV's %c ≠ RMSNorm, LinearQKV", name, "qkv"[i])
					}
					// With the rotation too, against RoPEQK after them.
					rot := &nn.Rotation{Heads: Nq / ropeHeadDim, KVHeads: Nkv / ropeHeadDim, HeadDim: ropeHeadDim, Start: 5, Cos: cos, Sin: sin}
					b.RoPEQK(q1, k1, rot.Heads, rot.KVHeads, rot.HeadDim, rot.Start, cos, sin)
					b.NormLinearQKV(q2, k2, v2, x2, norm, eps, wq, wk, wv, bq, bk, bv, rot)
					for i, pair := range [][2]*tensor.Tensor{{q1, q2}, {k1, k2}, {v1, v2}} {
						require.Equal(t, read(b, pair[0]), read(b, pair[1]), "%s: NormLinearQKV's rotated %c ≠ RMSNorm, LinearQKV, RoPEQK", name, "qkv"[i])
					}
					s1, s2 := b.Alloc(M, 40), b.Alloc(M, 40)
					b.LinearSwiGLU(s1, xb, gate, up)
					b.NormLinearSwiGLU(s2, x2, norm, eps, gate, up)
					require.Equal(t, read(b, s1), read(b, s2), "%s: NormLinearSwiGLU ≠ RMSNorm, LinearSwiGLU", name)

					// A later layer's way: the output projection and the
					// residual add with the norm after it (AddRMSNorm), or
					// the projection adding as it stores and the next
					// projections normalizing as they load.
					att, _ := upload(t, b, random(r, tensor.F32, M, Nq))
					proj := b.Alloc(M, K)
					b.Linear(proj, att, wo, nil)
					b.AddRMSNorm(xb, x1, proj, norm, eps)
					b.LinearSwiGLU(s1, xb, gate, up)
					b.LinearAdd(x2, att, wo)
					b.NormLinearSwiGLU(s2, x2, norm, eps, gate, up)
					require.Equal(t, read(b, x1), read(b, x2), "%s: the residual stream after LinearAdd ≠ AddRMSNorm's", name)
					require.Equal(t, read(b, s1), read(b, s2), "%s: NormLinearSwiGLU after LinearAdd ≠ after AddRMSNorm", name)
				}
			}
		}
	}
}

// testFuseNormDecoder runs a small decoder on b with folding off and on:
// a 9-token prompt (too many rows to fold), then forwards of 1, 2 and 1
// tokens, whose logits must be the same bits either way.
func testFuseNormDecoder(t *testing.T, b NormFusing) {
	cfg := smallConfig(3)
	w := randomModel(t, b, rng(23), cfg)
	steps := []step{{[]int32{5, 17, 250, 3, 99, 42, 7, 7, 120}, 9}, {[]int32{11}, 1}, {[]int32{260, 4}, 2}, {[]int32{30}, 1}}
	run := func() [][]float32 { return decodeLogits(t, b, cfg, w, 16, steps) }
	b.SetFuseNorm(false)
	require.False(t, b.FusesNorm(1))
	want := run()
	b.SetFuseNorm(true)
	defer b.SetFuseNorm(false)
	require.True(t, b.FusesNorm(1), "folding on: a decode step folds")
	require.True(t, b.FusesNorm(2))
	require.False(t, b.FusesNorm(9), "a 9-row forward does not fold")
	require.Equal(t, want, run(), "logits with norms folded into the linear layers ≠ separate")
}
