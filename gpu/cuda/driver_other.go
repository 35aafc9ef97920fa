//go:build cgo && !linux

package cuda

import (
	"runtime"

	"github.com/gopard/gopard/gpu"
)

func openDriver(int) (gpu.Driver, error) {
	return nil, gpu.NoDevice("cuda: not available on " + runtime.GOOS + " (the driver is loaded on Linux only)")
}
