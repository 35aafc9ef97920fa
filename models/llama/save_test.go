package llama

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// Save then Load must give back a model computing the same logits as the
// in-memory weights, for each family's optional tensors.
func TestSaveLoadRoundTrip(t *testing.T) {
	cpu := ops.NewCPU(1)
	for _, arch := range []Arch{{Name: "llama"}, {Name: "qwen2", QKVBias: true}, {Name: "qwen3", QKNorm: true}} {
		cfg := nn.Config{Hidden: 16, Intermediate: 24, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 8, Vocab: 30,
			NormEps: 1e-6, RoPE: nn.RoPEConfig{Theta: 10000}, MaxPositions: 64, Tied: arch.QKNorm}
		r := rand.New(rand.NewPCG(5, 6))
		w := nn.Weights{Layers: make([]nn.Layer, cfg.Layers)}
		refs := tensorRefs(cfg, arch, &w)
		for _, ref := range refs {
			v := make([]float32, tensor.NumElements(ref.shape))
			for i := range v {
				v[i] = float32(r.NormFloat64() * 0.3)
			}
			*ref.field = tensor.Convert(tensor.FromF32(v, ref.shape...), tensor.BF16)
		}
		if cfg.Tied {
			w.LMHead = w.Embed
		}
		dir := t.TempDir()
		if err := Save(dir, NewHFConfig(cfg, arch), arch, w); err != nil {
			t.Fatal(err)
		}
		c, err := ReadConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		var done, totals []int64
		m, err := Open(dir, c, arch, Options{Backend: cpu, Context: 16, Progress: func(d, total int64) {
			done, totals = append(done, d), append(totals, total)
		}})
		if err != nil {
			t.Fatalf("%s: %v", arch.Name, err)
		}
		// One call a stored tensor, rising to every byte of them.
		all := m.WeightBytes()
		if len(done) != len(refs) || !slices.IsSorted(done) || done[0] <= 0 || done[len(done)-1] != all ||
			slices.ContainsFunc(totals, func(n int64) bool { return n != all }) {
			t.Errorf("%s: progress %v of %v for %d tensors of %d bytes", arch.Name, done, totals, len(refs), all)
		}
		loaded := make([]*tensor.Tensor, len(refs))
		for i, ref := range refs {
			if loaded[i], err = cpu.Load(*ref.field); err != nil {
				t.Fatal(err)
			}
		}
		for i, ref := range refs {
			*ref.field = loaded[i]
		}
		if cfg.Tied {
			w.LMHead = w.Embed
		}
		want, err := nn.NewDecoder(cpu, cfg, w, 16, 8)
		if err != nil {
			t.Fatal(err)
		}
		ids := []int32{1, 7, 29, 3}
		a, err := m.Forward(ids, 0, 2)
		if err != nil {
			t.Fatal(err)
		}
		b, err := want.Forward(ids, 0, 2)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a {
			if !slices.Equal(a[i], b[i]) {
				t.Fatalf("%s: row %d differs after save/load", arch.Name, i)
			}
		}
		m.Close()
	}
}
