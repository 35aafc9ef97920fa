package gpu

import "errors"

// ErrNoDevice is matched (errors.Is) by the errors of cuda.New and hip.New
// that mean "no such GPU here" — no cgo, no driver library, no device —
// as opposed to a GPU that is present but failed.
var ErrNoDevice = errors.New("no GPU device")

// NoDevice returns an error with message msg that matches ErrNoDevice.
func NoDevice(msg string) error { return noDevice(msg) }

type noDevice string

func (e noDevice) Error() string        { return string(e) }
func (e noDevice) Is(target error) bool { return target == ErrNoDevice }
