//go:build !cgo

package cuda

import "github.com/gopard/gopard/gpu"

func openDriver(int) (gpu.Driver, error) {
	return nil, gpu.NoDevice("cuda: not available (built without cgo)")
}
