//go:build !cgo

package hip

import "github.com/gopard/gopard/gpu"

func openDriver(int) (gpu.Driver, error) {
	return nil, gpu.NoDevice("hip: not available (built without cgo)")
}
