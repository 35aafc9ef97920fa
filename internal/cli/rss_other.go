//go:build !linux

package cli

// PeakRSS is the process's peak resident memory in bytes; 0: not measured
// on this system.
func PeakRSS() int64 { return 0 }
