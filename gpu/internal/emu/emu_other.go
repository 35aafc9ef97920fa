//go:build !cgo || !linux

package emu

import "github.com/gopard/gopard/gpu"

// Open needs cgo on Linux (dlopen).
func Open(warp int) (gpu.Driver, error) { return nil, errUnavailable }
