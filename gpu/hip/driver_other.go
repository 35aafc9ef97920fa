//go:build cgo && !linux

package hip

import (
	"runtime"

	"github.com/gopard/gopard/gpu"
)

func openDriver(int) (gpu.Driver, error) {
	return nil, gpu.NoDevice("hip: not available on " + runtime.GOOS + " (the runtime is loaded on Linux only)")
}
