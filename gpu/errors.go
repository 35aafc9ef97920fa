package gpu

import (
	"errors"

	"github.com/gopard/gopard/nn"
)

// ErrNoDevice is matched (errors.Is) by the errors of cuda.New and hip.New
// that mean "no such GPU here" — no cgo, no driver library, no device —
// as opposed to a GPU that is present but failed.
var ErrNoDevice = errors.New("no GPU device")

// NoDevice returns an error with message msg that matches ErrNoDevice.
func NoDevice(msg string) error { return noDevice(msg) }

type noDevice string

func (e noDevice) Error() string        { return string(e) }
func (e noDevice) Is(target error) bool { return target == ErrNoDevice }

// Failure is what a Device operation panics with when the device fails it
// (the driver refused a launch or a copy, or could not give memory): the
// nn.Backend methods have no error results. It wraps nn.ErrDevice, so that
// an nn.Decoder returns it as an error rather than dying with a stack
// trace. A misuse (an operand of the wrong shape, dtype or place) panics
// with a string instead: that is a bug to fix, not a state to report.
type Failure struct{ Err error }

func (f *Failure) Error() string   { return f.Err.Error() }
func (f *Failure) Unwrap() []error { return []error{f.Err, nn.ErrDevice} }
