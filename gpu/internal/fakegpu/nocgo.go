//go:build !cgo || !linux

package fakegpu

const driversLoad = false
