package cli

import "golang.org/x/sys/unix"

// PeakRSS is the process's peak resident memory in bytes (0 when unknown).
// Memory-mapped weights count once they are touched, so after a forward it
// shows what a model really needs.
func PeakRSS() int64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Maxrss * 1024 // kilobytes on Linux
}
