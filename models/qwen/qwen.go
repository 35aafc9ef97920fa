// Package qwen describes the Qwen decoder families, which are Llama blocks
// with a twist: Qwen2ForCausalLM (Qwen2, Qwen2.5, DeepSeek-R1-Distill-Qwen)
// adds biases to the q/k/v projections, and Qwen3ForCausalLM normalizes
// each query and key head (q_norm, k_norm) before RoPE and may set a
// head_dim with heads·head_dim ≠ hidden_size.
package qwen

import (
	"fmt"

	"github.com/gopard/gopard/models/llama"
)

// Arch returns the family switches for a Qwen architecture name.
func Arch(name string) (llama.Arch, error) {
	switch name {
	case "Qwen2ForCausalLM":
		return llama.Arch{Name: name, QKVBias: true}, nil
	case "Qwen3ForCausalLM":
		return llama.Arch{Name: name, QKNorm: true}, nil
	}
	return llama.Arch{}, fmt.Errorf("qwen: unknown architecture %q", name)
}
