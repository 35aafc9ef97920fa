package llama

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// smallDevice is the CPU as a backend that reports free device memory,
// counting the weights it is asked to load.
type smallDevice struct {
	*ops.CPU
	free  int64
	f16   bool
	err   error
	loads int
}

func (d *smallDevice) MemInfo() (free, total int64, err error) { return d.free, 2 * d.free, d.err }
func (d *smallDevice) F16KVCache() bool                        { return d.f16 }
func (d *smallDevice) Load(w *tensor.Tensor) (*tensor.Tensor, error) {
	d.loads++
	return d.CPU.Load(w)
}

// A backend without the memory for the weights and the KV cache fails
// before it is asked to load anything, saying what the model needs and
// what it has; with enough, or when it cannot tell, the model loads.
func TestDeviceMemoryCheck(t *testing.T) {
	cfg := nn.Config{Hidden: 16, Intermediate: 24, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 8, Vocab: 30,
		NormEps: 1e-6, RoPE: nn.RoPEConfig{Theta: 10000}, MaxPositions: 64}
	arch := Arch{Name: "llama"}
	w := nn.Weights{Layers: make([]nn.Layer, cfg.Layers)}
	var weights int64 // every tensor in bf16
	for _, ref := range tensorRefs(cfg, arch, &w) {
		*ref.field = tensor.New(tensor.BF16, ref.shape...)
		weights += 2 * int64(tensor.NumElements(ref.shape))
	}
	dir := t.TempDir()
	require.NoError(t, Save(dir, NewHFConfig(cfg, arch), arch, w))
	c, err := ReadConfig(dir)
	require.NoError(t, err)
	const kv32 = 2 * 2 * 1000 * 16 * 4 // two layers of keys and values, 1000 positions
	for _, tc := range []struct {
		free int64
		f16  bool
		err  error
		msg  string
	}{
		{free: weights + kv32 - 1, msg: "does not fit cpu (1 threads): it needs about 0.3 MB (0.0 MB of weights, a 0.3 MB KV cache of 1000 positions in F32), the device has 0.3 MB free of 0.5 MB; "},
		{free: weights + kv32},
		{free: weights + kv32/2 - 1, f16: true, msg: "a 0.1 MB KV cache of 1000 positions in F16"},
		{free: weights + kv32/2, f16: true},
		{free: 1, err: errors.ErrUnsupported}, // cannot tell
	} {
		d := &smallDevice{CPU: ops.NewCPU(1), free: tc.free, f16: tc.f16, err: tc.err}
		m, err := Open(dir, c, arch, Options{Backend: d, Context: 1000})
		if tc.msg == "" {
			require.NoError(t, err, "free %d", tc.free)
			require.NoError(t, m.Close())
			continue
		}
		require.ErrorContains(t, err, tc.msg, "free %d", tc.free)
		require.ErrorContains(t, err, "model "+dir+" does not fit ")
		require.ErrorIs(t, err, nn.ErrOutOfMemory, "--device auto tries the CPU on it")
		require.Zero(t, d.loads, "nothing loaded before the check")
	}
}
