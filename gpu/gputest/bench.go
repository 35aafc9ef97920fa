package gputest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gopard/gopard/tensor"
)

// LinearShape is a matrix a benchmark multiplies: N outputs of K inputs.
type LinearShape struct {
	Name string
	N, K int
}

// LlamaShapes are the bf16 matrices of a Llama-3.2-1B and a Llama-3.1-8B
// layer: the q, k/v, gate/up and down projections (o is q's shape).
var LlamaShapes = []LinearShape{
	{"1b-q", 2048, 2048}, {"1b-kv", 512, 2048}, {"1b-up", 8192, 2048}, {"1b-down", 2048, 8192},
	{"8b-q", 4096, 4096}, {"8b-kv", 1024, 4096}, {"8b-up", 14336, 4096}, {"8b-down", 4096, 14336},
}

// Bench times Linear on dev for each shape with M = 1 (a decode step), 9
// and 16 rows (verifies), with float32 activations and, where dev has
// tensor cores (SetBF16Activations), bf16 ones: device time by events,
// reported as µs a product and as the weights' GB/s, the roofline's
// measure (a product reads them once for all rows). A device without
// events (the emulator) is timed by the wall clock.
func Bench(b *testing.B, dev Backend, shapes []LinearShape) {
	acts := []bool{false}
	if s, ok := dev.(bf16Setter); ok && s.SetBF16Activations(false) {
		acts = append(acts, true)
		defer s.SetBF16Activations(false)
	}
	r := rng(20)
	for _, sh := range shapes {
		w, err := dev.Load(random(r, tensor.BF16, sh.N, sh.K))
		if err != nil {
			b.Fatal(err)
		}
		x, err := dev.Load(random(r, tensor.F32, 16, sh.K))
		if err != nil {
			b.Fatal(err)
		}
		out := dev.Alloc(16, sh.N)
		for _, bf16 := range acts {
			if s, ok := dev.(bf16Setter); ok {
				s.SetBF16Activations(bf16)
			}
			act := "f32"
			if bf16 {
				act = "bf16"
			}
			for _, M := range []int{1, 9, 16} {
				b.Run(fmt.Sprintf("%s/M=%d/act=%s", sh.Name, M, act), func(b *testing.B) {
					xm, om := x.RowSlice(0, M), out.RowSlice(0, M)
					dev.Linear(om, xm, w, nil) // warm-up: kernels loaded, weights in place
					run := func() {
						for range b.N {
							dev.Linear(om, xm, w, nil)
						}
					}
					d, err := dev.Time(run)
					if err != nil { // no events (the emulator): wall time, ended by a copy back
						start := time.Now()
						run()
						dev.Read(make([]float32, 1), om)
						d = time.Since(start)
					}
					per := d.Seconds() / float64(b.N)
					b.ReportMetric(per*1e6, "µs/op")
					b.ReportMetric(float64(sh.N*sh.K*2)/per/1e9, "GB/s")
				})
			}
		}
	}
}
