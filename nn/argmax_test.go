package nn_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// deviceCPU is ops.CPU posing as a device backend: the activations it
// allocates (run state, KV cache, logits) are Device-placed tensors whose
// Ptr names host storage kept here, so that the decoder takes its device
// paths (Read, Argmaxer) on a machine without a GPU. Weights stay on the
// host, as ops.CPU loads them.
type deviceCPU struct {
	hostCPU
	mem   []devAlloc
	next  uintptr
	reads int // Read calls: copies of logits rows to the host
}

// hostCPU is what deviceCPU takes from ops.CPU: all but nn.KVStore, which
// no device backend is (the decoder writes a device's cache rows itself).
type hostCPU interface {
	nn.Backend
	nn.Fused
}

type devAlloc struct {
	base uintptr
	data []byte
}

func newDeviceCPU() *deviceCPU { return &deviceCPU{hostCPU: ops.NewCPU(2), next: 1 << 20} }

func (b *deviceCPU) Name() string { return "fake-device" }

func (b *deviceCPU) Alloc(shape ...int) *tensor.Tensor {
	h := b.hostCPU.Alloc(shape...)
	base := b.next
	b.next += uintptr(len(h.Data)) + 4096 // a gap: an address names one allocation
	b.mem = append(b.mem, devAlloc{base, h.Data})
	return &tensor.Tensor{DType: h.DType, Shape: h.Shape, Place: tensor.Device, Ptr: base}
}

// host returns the host view of a tensor (itself when it is on the host).
func (b *deviceCPU) host(t *tensor.Tensor) *tensor.Tensor {
	if t == nil || t.Place == tensor.Host {
		return t
	}
	n := uintptr(t.Len() * t.DType.Size())
	for _, m := range b.mem {
		if t.Ptr >= m.base && t.Ptr+n <= m.base+uintptr(len(m.data)) {
			off := t.Ptr - m.base
			return &tensor.Tensor{DType: t.DType, Shape: t.Shape, Data: m.data[off : off+n]}
		}
	}
	panic(fmt.Sprintf("fake device: no allocation holds %#x + %d bytes", t.Ptr, n))
}

func (b *deviceCPU) Embedding(out, table *tensor.Tensor, ids []int32) {
	b.hostCPU.Embedding(b.host(out), b.host(table), ids)
}
func (b *deviceCPU) Linear(out, x, w, bias *tensor.Tensor) {
	b.hostCPU.Linear(b.host(out), b.host(x), b.host(w), b.host(bias))
}
func (b *deviceCPU) RMSNorm(out, x, w *tensor.Tensor, eps float32) {
	b.hostCPU.RMSNorm(b.host(out), b.host(x), b.host(w), eps)
}
func (b *deviceCPU) RoPE(x *tensor.Tensor, heads, headDim, start int, cos, sin *tensor.Tensor) {
	b.hostCPU.RoPE(b.host(x), heads, headDim, start, b.host(cos), b.host(sin))
}
func (b *deviceCPU) Attention(out, q, k, v *tensor.Tensor, start, heads, kvHeads, headDim int) {
	b.hostCPU.Attention(b.host(out), b.host(q), b.host(k), b.host(v), start, heads, kvHeads, headDim)
}
func (b *deviceCPU) SiLUMul(out, gate, up *tensor.Tensor) {
	b.hostCPU.SiLUMul(b.host(out), b.host(gate), b.host(up))
}
func (b *deviceCPU) Add(dst, src *tensor.Tensor) { b.hostCPU.Add(b.host(dst), b.host(src)) }

// The nn.Fused operations ops.CPU has, on the fake device's tensors.
func (b *deviceCPU) AddRMSNorm(out, x, delta, w *tensor.Tensor, eps float32) {
	b.hostCPU.AddRMSNorm(b.host(out), b.host(x), b.host(delta), b.host(w), eps)
}
func (b *deviceCPU) RoPEQK(q, k *tensor.Tensor, heads, kvHeads, headDim, start int, cos, sin *tensor.Tensor) {
	b.hostCPU.RoPEQK(b.host(q), b.host(k), heads, kvHeads, headDim, start, b.host(cos), b.host(sin))
}
func (b *deviceCPU) LinearSwiGLU(out, x, gate, up *tensor.Tensor) {
	b.hostCPU.LinearSwiGLU(b.host(out), b.host(x), b.host(gate), b.host(up))
}
func (b *deviceCPU) LinearQKV(q, k, v, x, wq, wk, wv, bq, bk, bv *tensor.Tensor) {
	b.hostCPU.LinearQKV(b.host(q), b.host(k), b.host(v), b.host(x), b.host(wq), b.host(wk), b.host(wv), b.host(bq), b.host(bk), b.host(bv))
}
func (b *deviceCPU) Read(dst []float32, src *tensor.Tensor) {
	b.reads++
	b.hostCPU.Read(dst, b.host(src))
}

// argmaxDevice is deviceCPU with a device argmax that counts its calls.
type argmaxDevice struct {
	*deviceCPU
	calls, rows int
}

func (b *argmaxDevice) Argmax(t *tensor.Tensor, rows int) []int32 {
	b.calls++
	b.rows += rows
	v := b.host(t).F32()
	n := len(v) / rows
	ids := make([]int32, rows) // fresh, like gpu.Device's
	for r := range ids {
		ids[r] = int32(ops.Argmax(v[r*n : (r+1)*n]))
	}
	return ids
}

func (b *argmaxDevice) ArgmaxProb(t *tensor.Tensor, rows int) ([]int32, []float32) {
	ids := b.Argmax(t, rows)
	v := b.host(t).F32()
	n := len(v) / rows
	probs := make([]float32, rows)
	for r := range probs {
		row := append([]float32(nil), v[r*n:(r+1)*n]...)
		ops.Softmax(row)
		probs[r] = row[ids[r]]
	}
	return ids, probs
}

// cpuArgmaxer implements Argmaxer on a backend whose logits live on the
// host: the decoder must not use it there (the rows are already host memory).
type cpuArgmaxer struct {
	*ops.CPU
	calls int
}

func (b *cpuArgmaxer) Argmax(t *tensor.Tensor, rows int) []int32 {
	b.calls++
	ids := make([]int32, rows)
	for i := range ids {
		ids[i] = -1 // wrong ids: a use would show
	}
	return ids
}

func (b *cpuArgmaxer) ArgmaxProb(t *tensor.Tensor, rows int) ([]int32, []float32) {
	return b.Argmax(t, rows), make([]float32, rows)
}

// argmaxOf is the greedy id of each row (nil for no rows, as Forward's).
func argmaxOf(rows [][]float32) []int32 {
	if rows == nil {
		return nil
	}
	ids := make([]int32, len(rows))
	for i, r := range rows {
		ids[i] = int32(ops.Argmax(r))
	}
	return ids
}

// argmaxProbOf is each row's softmax probability of its argmax (nil for
// no rows).
func argmaxProbOf(rows [][]float32) []float32 {
	if rows == nil {
		return nil
	}
	probs := make([]float32, len(rows))
	for i, r := range rows {
		p := append([]float32(nil), r...)
		ops.Softmax(p)
		probs[i] = p[ops.Argmax(r)]
	}
	return probs
}

// TestForwardArgmax: ForwardArgmax returns the argmax of each row Forward
// returns, and ForwardArgmaxProb also its softmax probability, over the
// same sequence of calls (prefill, chunks, decode, a rewind), on the host
// and through a device backend with and without a device argmax; a device
// argmax replaces the copy of the rows.
func TestForwardArgmax(t *testing.T) {
	type call struct {
		tokens     []int32
		start      int
		want       int
		truncateTo int // before the call; -1: no Truncate
	}
	calls := []call{
		{[]int32{1, 5, 9, 2, 44, 17, 3, 3, 8, 31, 0, 49, 12}, 0, 13, -1}, // every row, across chunks
		{[]int32{7}, 13, 1, -1},                  // decode
		{[]int32{9, 2, 6, 5, 4}, 14, 5, -1},      // verify
		{[]int32{11, 12, 13}, 15, 2, 15},         // rewind, then the last rows of a forward
		{[]int32{20, 21, 22, 23, 24}, 18, 0, -1}, // no rows: cache only
		{[]int32{30, 31, 32, 33}, 23, 3, -1},
	}
	type backend struct {
		b         nn.Backend
		calls     func() int // device argmax calls
		reads     func() int // copies of logits to the host
		wantCalls bool
	}
	none := func() int { return 0 }
	backends := map[string]func() backend{
		"cpu": func() backend { return backend{ops.NewCPU(2), none, none, false} },
		"cpu-argmaxer": func() backend {
			b := &cpuArgmaxer{CPU: ops.NewCPU(2)}
			return backend{b, func() int { return b.calls }, none, false}
		},
		"device": func() backend {
			b := newDeviceCPU()
			return backend{b, none, func() int { return b.reads }, false}
		},
		"device-argmax": func() backend {
			b := &argmaxDevice{deviceCPU: newDeviceCPU()}
			return backend{b, func() int { return b.calls }, func() int { return b.reads }, true}
		},
	}
	for name, mk := range backends {
		for _, tc := range []struct {
			chunk int
			probs bool
		}{{256, false}, {3, false}, {256, true}, {3, true}} {
			chunk := tc.chunk
			t.Run(fmt.Sprintf("%s/chunk=%d/probs=%v", name, chunk, tc.probs), func(t *testing.T) {
				// The rows reference always runs on the host CPU.
				ref := randomDecoder(t, ops.NewCPU(2), tensor.BF16, chunk, true)
				be := mk()
				d := randomDecoder(t, be.b, tensor.BF16, chunk, true)
				wantCalls := 0
				for i, c := range calls {
					if c.truncateTo >= 0 {
						ref.Truncate(c.truncateTo)
						d.Truncate(c.truncateTo)
					}
					rows, err := ref.Forward(c.tokens, c.start, c.want)
					require.NoError(t, err)
					reads := be.reads()
					var ids []int32
					if tc.probs {
						var probs []float32
						ids, probs, err = d.ForwardArgmaxProb(c.tokens, c.start, c.want)
						require.NoError(t, err)
						require.Equal(t, argmaxProbOf(rows), probs, "call %d", i)
					} else {
						ids, err = d.ForwardArgmax(c.tokens, c.start, c.want)
						require.NoError(t, err)
					}
					require.Len(t, ids, c.want, "call %d", i)
					require.Equal(t, argmaxOf(rows), ids, "call %d", i)
					require.Equal(t, ref.Len(), d.Len(), "call %d: cache length", i)
					if be.wantCalls && c.want > 0 {
						wantCalls++
						require.Equal(t, reads, be.reads(), "call %d: logits copied to the host despite the device argmax", i)
					}
				}
				require.Equal(t, wantCalls, be.calls(), "device argmax calls")
				if name == "device" {
					require.Positive(t, be.reads(), "the device path without an argmax reads the rows")
				}

				// Forward through the same backend still returns the rows.
				d.Truncate(0)
				ref.Truncate(0)
				want, err := ref.Forward(calls[0].tokens, 0, 4)
				require.NoError(t, err)
				want = copyRows(want)
				got, err := d.Forward(calls[0].tokens, 0, 4)
				require.NoError(t, err)
				require.Equal(t, want, copyRows(got))
			})
		}
	}
}
