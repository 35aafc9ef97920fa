package nn_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// budgetCPU is the CPU behind an nn.Allocator whose TryAlloc hands out at
// most left bytes, as a GPU's memory would.
type budgetCPU struct {
	nn.Backend
	left int
	live map[*tensor.Tensor]int
}

func newBudgetCPU(bytes int) *budgetCPU {
	return &budgetCPU{Backend: ops.NewCPU(2), left: bytes, live: map[*tensor.Tensor]int{}}
}

func (b *budgetCPU) TryAlloc(shape ...int) (*tensor.Tensor, error) {
	n := tensor.NumElements(shape) * 4
	if n > b.left {
		return nil, fmt.Errorf("out of memory: %d bytes asked, %d left", n, b.left)
	}
	b.left -= n
	t := b.Backend.Alloc(shape...)
	b.live[t] = n
	return t, nil
}

func (b *budgetCPU) Free(t *tensor.Tensor) {
	if n, ok := b.live[t]; ok {
		b.left += n
		delete(b.live, t)
	}
}

// TestDecoderOutOfMemory: a KV cache or buffers the backend cannot hold
// are an error that says which, with nothing of the decoder left
// allocated, and a decoder that fits runs as on the CPU.
func TestDecoderOutOfMemory(t *testing.T) {
	ref := randomDecoder(t, ops.NewCPU(2), tensor.BF16, 5, false)
	cfg, w := ref.Config(), ref.Weights()
	// 2 layers × K and V × 2 heads × 8 values × 4 bytes: 256 bytes a
	// position; buffers: 3·32 + 2·32 + 2·48 floats, 1 KiB a row.
	const budget = 100_000
	for _, tc := range []struct {
		capacity, rows int
		want           string
	}{
		{1000, 5, "decoder: kv cache of 1000 positions (2 layers, 0.3 MB in F32): out of memory: 64000 bytes asked, 36000 left"},
		{300, 32, "decoder: RoPE tables and buffers for 300 positions, 32 rows a step: out of memory: 6144 bytes asked, 2720 left"},
	} {
		b := newBudgetCPU(budget)
		_, err := nn.NewDecoder(b, cfg, w, tc.capacity, tc.rows)
		require.EqualError(t, err, tc.want)
		require.Empty(t, b.live, "capacity %d: the decoder's tensors are freed", tc.capacity)
		require.Equal(t, budget, b.left)
	}

	_, err := nn.NewKVCache(newBudgetCPU(budget), cfg.Layers, 1000, cfg.KVHeads, cfg.HeadDim)
	require.ErrorContains(t, err, "kv cache of 1000 positions")

	b := newBudgetCPU(budget)
	d, err := nn.NewDecoder(b, cfg, w, 64, 5)
	require.NoError(t, err)
	require.Len(t, b.live, 2*cfg.Layers+7, "the cache and the buffers came from TryAlloc")
	tokens := []int32{1, 5, 9, 2, 44, 17, 3}
	want, err := ref.Forward(tokens, 0, len(tokens))
	require.NoError(t, err)
	want = copyRows(want)
	got, err := d.Forward(tokens, 0, len(tokens))
	require.NoError(t, err)
	require.Equal(t, want, got)

	// The logits buffer grows in place of the old one, and one that does
	// not fit is an error that leaves the cache as it was.
	held := len(b.live)
	d.Truncate(0)
	_, err = d.Forward(append(tokens, tokens...), 0, 2*len(tokens))
	require.NoError(t, err)
	require.Len(t, b.live, held, "the smaller logits buffer was freed")
	b.left = 1000
	d.Truncate(3)
	_, err = d.Forward(append(tokens, tokens...)[:2*len(tokens)-3], 3, 2*len(tokens)-3)
	require.NoError(t, err, "rows that fit the buffer need no memory")
	d.Truncate(3)
	_, err = d.Forward(make([]int32, 20), 3, 20)
	// (1000 left, and the 14 rows' buffer freed first: 2800 bytes)
	require.EqualError(t, err, "decoder: logits of 20 rows (0.0 MB): out of memory: 4000 bytes asked, 3800 left")
	require.Equal(t, 3, d.Len())
}

// storeCPU is budgetCPU as an nn.KVStore and nn.KVAllocator: binary16
// caches from TryAllocKV out of the same budget when f16, else none (the
// default float32 rows).
type storeCPU struct {
	*budgetCPU
	f16 bool
}

func (b *storeCPU) AllocKV(rows, kvHeads, headDim int) *tensor.Tensor {
	t, err := b.TryAllocKV(rows, kvHeads, headDim)
	if err != nil {
		panic(err)
	}
	return t
}

func (b *storeCPU) TryAllocKV(rows, kvHeads, headDim int) (*tensor.Tensor, error) {
	if !b.f16 {
		return nil, nil
	}
	n := rows * kvHeads * headDim * 2
	if n > b.left {
		return nil, fmt.Errorf("out of memory: %d bytes asked, %d left", n, b.left)
	}
	b.left -= n
	t := tensor.New(tensor.F16, rows, kvHeads*headDim)
	b.live[t] = n
	return t, nil
}

func (b *storeCPU) StoreKV(kCache, vCache *tensor.Tensor, start int, k, v *tensor.Tensor) {
	panic("not run")
}

// TestKVCacheStore: a KVStore's AllocKV decides the cache (nil: float32
// rows from TryAlloc), and a failure names the size once the dtype is
// known, with everything freed.
func TestKVCacheStore(t *testing.T) {
	for _, tc := range []struct {
		name   string
		f16    bool
		budget int
		stored bool
		dtype  tensor.DType
		err    string
	}{
		{"default rows", false, 1 << 20, false, tensor.F32, ""},
		{"binary16", true, 1 << 20, true, tensor.F16, ""},
		{"default rows fail", false, 100_000, false, 0, "kv cache of 1000 positions (2 layers, 0.3 MB in F32): out of memory: 64000 bytes asked, 36000 left"},
		{"binary16 fails later", true, 100_000, false, 0, "kv cache of 1000 positions (2 layers, 0.1 MB in F16): out of memory: 32000 bytes asked, 4000 left"},
		{"binary16 fails first", true, 10_000, false, 0, "kv cache of 1000 positions (2 layers): out of memory: 32000 bytes asked, 10000 left"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &storeCPU{budgetCPU: newBudgetCPU(tc.budget), f16: tc.f16}
			c, err := nn.NewKVCache(b, 2, 1000, 2, 8)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				require.Empty(t, b.live)
				require.Equal(t, tc.budget, b.left)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.stored, c.Stored)
			require.Equal(t, tc.dtype, c.DType())
			require.Len(t, b.live, 4)
		})
	}
}
