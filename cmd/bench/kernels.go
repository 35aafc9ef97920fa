package main

import (
	"fmt"
	"time"

	"github.com/gopard/gopard/internal/cli"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// kernelResult is one row of the kernel table.
type kernelResult struct {
	Name   string  `json:"name"`
	Ms     float64 `json:"ms"`
	GBs    float64 `json:"gbs"`
	GFlops float64 `json:"gflops"`
}

// timeIt returns the median seconds of runs calls of f after a warm-up,
// each call repeated until it lasts at least a millisecond.
func timeIt(runs int, f func()) float64 {
	f()
	reps := 1
	for t0 := time.Now(); time.Since(t0) < time.Millisecond; reps++ {
		f()
	}
	times := make([]float64, runs)
	for i := range times {
		t0 := time.Now()
		for range reps {
			f()
		}
		times[i] = time.Since(t0).Seconds() / float64(reps)
	}
	return cli.Median(times)
}

// benchKernels times the kernels of a Qwen2.5-0.5B layer on the CPU
// backend: the matrix products at the decode and verify shapes, and the
// elementwise kernels at hidden and intermediate sizes.
func benchKernels(cpu *ops.CPU, runs int) []kernelResult {
	var out []kernelResult
	add := func(name string, bytes, flops float64, f func()) {
		s := timeIt(runs, f)
		out = append(out, kernelResult{Name: name, Ms: round3(s * 1e3), GBs: round3(bytes / s / 1e9), GFlops: round3(flops / s / 1e9)})
	}
	const D, I = 896, 4864
	wb := randomBF16(12345, 0.03, I, D)
	wf := tensor.FromF32(wb.ToF32(), I, D)
	wh := tensor.Convert(wf, tensor.F16)
	for _, c := range []struct {
		w *tensor.Tensor
		M int
	}{{wb, 1}, {wb, 8}, {wb, 16}, {wb, 64}, {wh, 1}, {wf, 1}} {
		x := cpu.Alloc(c.M, D)
		o := cpu.Alloc(c.M, I)
		for i, xs := 0, x.F32(); i < len(xs); i++ {
			xs[i] = float32(i%7) * 0.1
		}
		add(fmt.Sprintf("linear %v %dx%d M=%d", c.w.DType, I, D, c.M), float64(len(c.w.Data)),
			2*float64(c.M*I*D), func() { cpu.Linear(o, x, c.w, nil) })
	}
	for _, n := range []int{D, I} {
		a, b := cpu.Alloc(n), cpu.Alloc(n)
		for i, s := 0, a.F32(); i < n; i++ {
			s[i] = float32(i%13) * 0.05
		}
		nw := filled(n, 1)
		add(fmt.Sprintf("rmsnorm n=%d", n), float64(8*n), float64(3*n), func() { cpu.RMSNorm(b, a, nw, 1e-6) })
		add(fmt.Sprintf("silu·mul n=%d", n), float64(12*n), float64(8*n), func() { cpu.SiLUMul(b, a, b) })
		add(fmt.Sprintf("softmax n=%d", n), float64(8*n), float64(10*n), func() { ops.Softmax(b.F32()) })
		add(fmt.Sprintf("dot n=%d", n), float64(8*n), float64(2*n), func() { _ = ops.Dot(a.F32(), b.F32()) })
	}
	return out
}
