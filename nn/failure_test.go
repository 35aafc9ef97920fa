package nn_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// failingCPU is ops.CPU whose Linear fails as a faulty device would after
// ok products (panicking with an error that wraps nn.ErrDevice), or with
// a plain string when misuse is set.
type failingCPU struct {
	*ops.CPU
	ok     int
	misuse bool
}

func (b *failingCPU) Linear(out, x, w, bias *tensor.Tensor) {
	if b.ok == 0 {
		if b.misuse {
			panic("Linear: operands of the wrong shape")
		}
		panic(fmt.Errorf("gpu0: launch linear: %w", nn.ErrDevice))
	}
	b.ok--
	b.CPU.Linear(out, x, w, bias)
}

// A device that fails mid-forward is an error of every Decoder method
// that forwards, matching nn.ErrDevice; a misuse still panics.
func TestDeviceFailure(t *testing.T) {
	b := &failingCPU{CPU: ops.NewCPU(1), ok: 1000}
	d := randomDecoder(t, separateCPU{b}, tensor.F32, 16, false)
	calls := map[string]func() error{
		"Forward":           func() error { _, err := d.Forward([]int32{1, 2}, 0, 1); return err },
		"ForwardArgmax":     func() error { _, err := d.ForwardArgmax([]int32{1, 2}, 0, 1); return err },
		"ForwardArgmaxProb": func() error { _, _, err := d.ForwardArgmaxProb([]int32{1, 2}, 0, 1); return err },
		"ForwardArgmaxPending": func() error {
			_, err := d.ForwardArgmaxPending([]int32{1, 2}, 0, 1)
			return err
		},
		"ForwardArgmaxPendingAfter": func() error {
			_, err := d.ForwardArgmaxPendingAfter([]int32{1}, pendingOf([]int32{2}), 1, 0, 1)
			return err
		},
		"ForwardArgmaxAfter": func() error {
			_, _, err := d.ForwardArgmaxAfter([]int32{1}, pendingOf([]int32{2}), 0, 1)
			return err
		},
	}
	for name, call := range calls {
		b.ok, b.misuse = 3, false
		err := call()
		require.ErrorIs(t, err, nn.ErrDevice, name)
		require.EqualError(t, err, "decoder: gpu0: launch linear: device failure", name)
		b.ok, b.misuse = 3, true
		require.PanicsWithValue(t, "Linear: operands of the wrong shape", func() { _ = call() }, name)
		b.ok = 1000
		require.NoError(t, call(), name)
	}
}

// pendingOf is a Pending whose ids are at hand.
type pendingOf []int32

func (p pendingOf) IDs() ([]int32, error) { return p, nil }
