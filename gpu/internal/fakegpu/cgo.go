//go:build cgo && linux

package fakegpu

// The driver layers load libraries only when built with cgo on Linux.
const driversLoad = true
