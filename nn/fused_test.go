package nn_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// fusedCPU is ops.CPU with nn.Fused done by the separate operations, and
// counted, so that the decoder's fused path can be checked on the host.
type fusedCPU struct {
	*ops.CPU
	addNorms, ropes, swiglus, qkvs int
}

func (b *fusedCPU) LinearQKV(q, k, v, x, wq, wk, wv, bq, bk, bv *tensor.Tensor) {
	b.qkvs++
	b.Linear(q, x, wq, bq)
	b.Linear(k, x, wk, bk)
	b.Linear(v, x, wv, bv)
}

func (b *fusedCPU) LinearSwiGLU(out, x, gate, up *tensor.Tensor) {
	b.swiglus++
	u := b.Alloc(out.Shape...)
	b.Linear(out, x, gate, nil)
	b.Linear(u, x, up, nil)
	b.SiLUMul(out, out, u)
}

func (b *fusedCPU) AddRMSNorm(out, x, delta, w *tensor.Tensor, eps float32) {
	b.addNorms++
	b.Add(x, delta)
	b.RMSNorm(out, x, w, eps)
}

func (b *fusedCPU) RoPEQK(q, k *tensor.Tensor, heads, kvHeads, headDim, start int, cos, sin *tensor.Tensor) {
	b.ropes++
	b.RoPE(q, heads, headDim, start, cos, sin)
	b.RoPE(k, kvHeads, headDim, start, cos, sin)
}

var _ nn.Fused = (*fusedCPU)(nil)

// separateCPU is a backend with nn.Backend's operations only (ops.CPU has
// nn.Fused too): the decoder's unfused path.
type separateCPU struct{ nn.Backend }

// The fused path computes what the separate operations do, bit for bit,
// and fuses every residual add but the last layer's; ops.CPU's own fused
// operations (one pool dispatch for q, k, v and for gate, up) too.
func TestFusedForwardEqualsSeparate(t *testing.T) {
	tokens := []int32{1, 5, 9, 2, 44, 17, 3, 3, 8, 31, 0, 49, 12}
	for _, qwen3 := range []bool{false, true} {
		plain := randomDecoder(t, separateCPU{ops.NewCPU(2)}, tensor.BF16, 5, qwen3)
		want, err := plain.Forward(tokens, 0, len(tokens))
		require.NoError(t, err)
		want = copyRows(want)

		fb := &fusedCPU{CPU: ops.NewCPU(2)}
		fused := randomDecoder(t, fb, tensor.BF16, 5, qwen3)
		got, err := fused.Forward(tokens, 0, len(tokens))
		require.NoError(t, err)
		require.Equal(t, want, copyRows(got), "qwen3 %v", qwen3)
		layers, chunks := fused.Config().Layers, 3 // 13 tokens in chunks of 5
		require.Equal(t, chunks*(2*layers-1), fb.addNorms)
		require.Equal(t, chunks*layers, fb.ropes)
		require.Equal(t, chunks*layers, fb.swiglus)
		require.Equal(t, chunks*layers, fb.qkvs)

		own := randomDecoder(t, ops.NewCPU(2), tensor.BF16, 5, qwen3)
		got, err = own.Forward(tokens, 0, len(tokens))
		require.NoError(t, err)
		require.Equal(t, want, copyRows(got), "ops.CPU's fused operations, qwen3 %v", qwen3)
	}
}

// foldingCPU is fusedCPU with nn.NormFuser done by the separate
// operations, for forwards of up to two rows, and counted.
type foldingCPU struct {
	fusedCPU
	linearAdds, normQKVs, rotatedQKVs, normSwiGLUs int
}

func (b *foldingCPU) FusesNorm(rows int) bool { return rows <= 2 }

func (b *foldingCPU) LinearAdd(x, in, w *tensor.Tensor) {
	b.linearAdds++
	out := b.Alloc(x.Shape...)
	b.Linear(out, in, w, nil)
	b.Add(x, out)
}

func (b *foldingCPU) normed(x, norm *tensor.Tensor, eps float32) *tensor.Tensor {
	xb := b.Alloc(x.Shape...)
	b.RMSNorm(xb, x, norm, eps)
	return xb
}

func (b *foldingCPU) NormLinearQKV(q, k, v, x, norm *tensor.Tensor, eps float32, wq, wk, wv, bq, bk, bv *tensor.Tensor, rot *nn.Rotation) {
	b.normQKVs++
	xb := b.normed(x, norm, eps)
	b.Linear(q, xb, wq, bq)
	b.Linear(k, xb, wk, bk)
	b.Linear(v, xb, wv, bv)
	if rot != nil {
		b.rotatedQKVs++
		b.RoPE(q, rot.Heads, rot.HeadDim, rot.Start, rot.Cos, rot.Sin)
		b.RoPE(k, rot.KVHeads, rot.HeadDim, rot.Start, rot.Cos, rot.Sin)
	}
}

func (b *foldingCPU) NormLinearSwiGLU(out, x, norm *tensor.Tensor, eps float32, gate, up *tensor.Tensor) {
	b.normSwiGLUs++
	b.LinearSwiGLU(out, b.normed(x, norm, eps), gate, up)
}

var _ nn.NormFuser = (*foldingCPU)(nil)

// With a NormFuser, forwards of the rows it folds (decode steps, and one
// of two rows that keeps only its last row's logits) take the folded
// forms, every residual add and norm of them, and the rotation too
// without a q/k norm; the logits are the separate operations', bit for
// bit, and larger forwards take the fused path as before.
func TestFoldedForwardEqualsSeparate(t *testing.T) {
	prompt := []int32{1, 5, 9, 2, 44, 17, 3}
	steps := [][]int32{{8}, {31, 0}, {49}} // {31, 0}: its first row only for the cache
	for _, qwen3 := range []bool{false, true} {
		plain := randomDecoder(t, separateCPU{ops.NewCPU(2)}, tensor.BF16, 5, qwen3)
		fb := &foldingCPU{fusedCPU: fusedCPU{CPU: ops.NewCPU(2)}}
		folded := randomDecoder(t, fb, tensor.BF16, 5, qwen3)
		layers := folded.Config().Layers
		for _, d := range []*nn.Decoder{plain, folded} {
			_, err := d.Forward(prompt, 0, 0)
			require.NoError(t, err)
		}
		// The prompt's chunks are 5 rows (not folded) and 2 (folded), the
		// last layer of each stopping after the keys and values.
		require.Equal(t, [3]int{2 * (layers - 1), layers, layers - 1}, [3]int{fb.linearAdds, fb.normQKVs, fb.normSwiGLUs})
		pos := len(prompt)
		for _, toks := range steps {
			before := *fb
			want, err := plain.Forward(toks, pos, 1)
			require.NoError(t, err)
			want = copyRows(want)
			got, err := folded.Forward(toks, pos, 1)
			require.NoError(t, err)
			require.Equal(t, want, copyRows(got), "qwen3 %v, %d rows at %d", qwen3, len(toks), pos)
			require.Equal(t, 2*layers, fb.linearAdds-before.linearAdds)
			require.Equal(t, layers, fb.normQKVs-before.normQKVs)
			require.Equal(t, layers, fb.normSwiGLUs-before.normSwiGLUs)
			rotated := layers
			if qwen3 {
				rotated = 0 // the q/k norm sits between the projections and the rotation
			}
			require.Equal(t, rotated, fb.rotatedQKVs-before.rotatedQKVs)
			require.Equal(t, layers-rotated, fb.ropes-before.ropes)
			require.Equal(t, before.addNorms, fb.addNorms, "no separate add+norm in a folded forward")
			pos += len(toks)
		}
	}
}
