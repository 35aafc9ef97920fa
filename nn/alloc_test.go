package nn_test

import (
	"testing"

	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// TestForwardAllocatesNothing checks the per-token promise of the design:
// once warm, a forward of one token (decode) or of a few (verify) on the
// CPU backend makes no heap allocation, returning rows or argmax ids, with
// float32 or (where the CPU has AVX512-BF16) bf16 activations, and with a
// binary16 KV cache.
func TestForwardAllocatesNothing(t *testing.T) {
	cpu := ops.NewCPU(2)
	for _, c := range []struct{ qwen3, bf16Act, f16KV bool }{{false, false, false}, {true, false, false}, {false, true, false}, {true, false, true}} {
		qwen3 := c.qwen3
		if c.bf16Act && !cpu.SetBF16Activations(true) {
			continue // no AVX512-BF16: the same path as above
		}
		cpu.SetF16KVCache(c.f16KV)
		d := randomDecoder(t, cpu, tensor.BF16, 16, qwen3)
		prompt := []int32{1, 5, 9, 2, 44, 17, 3, 3}
		if _, err := d.Forward(prompt, 0, 1); err != nil {
			t.Fatal(err)
		}
		n := len(prompt)
		for _, tokens := range [][]int32{{7}, {7, 8, 9, 10, 11, 12, 13, 14, 15}} {
			forward := func() {
				d.Truncate(n)
				if _, err := d.Forward(tokens, n, len(tokens)); err != nil {
					t.Fatal(err)
				}
			}
			forward() // grow the buffers for this shape
			if a := testing.AllocsPerRun(20, forward); a != 0 {
				t.Errorf("%+v: forward of %d tokens: %v allocations per call, want 0", c, len(tokens), a)
			}
			argmax := func() {
				d.Truncate(n)
				if _, err := d.ForwardArgmax(tokens, n, len(tokens)); err != nil {
					t.Fatal(err)
				}
			}
			if a := testing.AllocsPerRun(20, argmax); a != 0 {
				t.Errorf("%+v: ForwardArgmax of %d tokens: %v allocations per call, want 0", c, len(tokens), a)
			}
		}
	}
}

// BenchmarkForwardToken is one decode step of a small random model: it
// must report 0 allocs/op.
func BenchmarkForwardToken(b *testing.B) {
	cpu := ops.NewCPU(2)
	t := &testing.T{} // randomDecoder wants a *testing.T; it only fails on a broken config
	d := randomDecoder(t, cpu, tensor.BF16, 16, true)
	prompt := []int32{1, 5, 9, 2, 44, 17, 3, 3}
	if _, err := d.Forward(prompt, 0, 1); err != nil {
		b.Fatal(err)
	}
	tok := []int32{7}
	b.ReportAllocs()
	for b.Loop() {
		d.Truncate(len(prompt))
		if _, err := d.Forward(tok, len(prompt), 1); err != nil {
			b.Fatal(err)
		}
	}
}
