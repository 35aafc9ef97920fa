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
