package train

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
)

// BenchmarkTrainStep measures training throughput on the shape of the
// embedded default target (AR) and of its PARD draft adaptation, reporting
// rows/s and GFLOP/s beside the machine's FMA peak.
func BenchmarkTrainStep(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  nn.Config
		P    int
	}{
		{"target-AR", nn.Config{Hidden: 512, Intermediate: 1408, Layers: 5, Heads: 8, KVHeads: 4, HeadDim: 64, Vocab: 4096}, 1},
		{"draft-PARD8", nn.Config{Hidden: 256, Intermediate: 704, Layers: 3, Heads: 4, KVHeads: 2, HeadDim: 64, Vocab: 4096}, 8},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg := c.cfg
			cfg.NormEps, cfg.RoPE, cfg.MaxPositions, cfg.Tied = 1e-5, nn.RoPEConfig{Theta: 10000}, 1024, true
			m, err := NewModel(cfg, llamaArch)
			if err != nil {
				b.Fatal(err)
			}
			m.Init(rand.New(rand.NewPCG(1, 2)))
			cpu := ops.NewCPU(0)
			tokens := make([]int32, 1<<16)
			for i := range tokens {
				tokens[i] = int32(i*7919) % int32(cfg.Vocab-1)
			}
			tr, err := NewTrainer(m, cpu, Options{SeqLen: 512, Batch: 1, P: c.P, R: 0.7, RMin: 0.2, MaskID: int32(cfg.Vocab - 1),
				Schedule: Schedule{Kind: "constant", LR: 1e-4, Steps: 1}}, &Windows{Tokens: tokens})
			if err != nil {
				b.Fatal(err)
			}
			rows := 0
			var flops float64
			b.ResetTimer()
			for range b.N {
				st, err := tr.Step()
				if err != nil {
					b.Fatal(err)
				}
				rows += st.Rows
				// COD layouts vary; the visible pairs of a fresh one are representative.
				l, _ := NewLayout(512, c.P, 0.7, 0.2, rand.New(rand.NewPCG(3, 3)))
				flops += m.StepFLOPs(st.Rows, l.VisiblePairs())
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(rows)/sec, "rows/s")
			b.ReportMetric(flops/sec/1e9, "GFLOP/s")
			b.StopTimer()
			start := time.Now()
			peak := ops.FMAPeakFlops(cpu.Pool(), 2_000_000) / time.Since(start).Seconds()
			b.ReportMetric(peak/1e9, "peak-GFLOP/s")
		})
	}
}
