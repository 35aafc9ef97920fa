package ops

import "github.com/gopard/gopard/ops/asm"

// Impl names the kernels in use: "avx512" for the assembly, "go" for the
// pure-Go twins (other CPUs, the noasm tag, or GOPARD_NOASM=1).
func Impl() string { return asm.Impl() }

// DotPrefetch reports where the bf16-activation tiles prefetch the weights
// ahead: "l1", "l2" or "" (see asm.DotPrefetch).
func DotPrefetch() string { return asm.DotPrefetch() }

// ReadSum sums buf with every thread of the pool, each streaming its own
// contiguous part: timed over a buffer much larger than the last-level
// cache, it measures the machine's read bandwidth.
func ReadSum(p *Pool, buf []float32) float32 {
	parts := make([]float32, p.Threads())
	p.Run(len(buf), 1<<16, func(worker, lo, hi int) { parts[worker] = asm.Sum(buf[lo:hi]) })
	return asm.Sum(parts)
}

// FMAPeakFlops runs rounds of the FMA loop on every thread of the pool
// and returns the floating-point operations done: timed, the FMA peak.
func FMAPeakFlops(p *Pool, rounds int) float64 {
	p.Run(p.Threads(), 1, func(_, lo, hi int) {
		for range hi - lo {
			asm.FMALoop(rounds)
		}
	})
	return float64(p.Threads()) * float64(rounds) * asm.FMALoopFlops
}
