// Package models opens a Hugging Face model directory with the family its
// config.json names (architectures, or model_type when that is absent).
package models

import (
	"fmt"
	"strings"

	"github.com/gopard/gopard/models/llama"
	"github.com/gopard/gopard/models/qwen"
)

// Supported lists the architectures Load accepts.
var Supported = []string{"LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"}

// Load opens the model in dir with the family its config.json names.
func Load(dir string, opt llama.Options) (*llama.Model, error) {
	c, err := llama.ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	arch := c.Architecture()
	if arch == "" {
		arch = map[string]string{"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}[c.ModelType]
	}
	switch arch {
	case "LlamaForCausalLM":
		return llama.Open(dir, c, llama.Arch{Name: arch}, opt)
	case "Qwen2ForCausalLM", "Qwen3ForCausalLM":
		a, _ := qwen.Arch(arch)
		return llama.Open(dir, c, a, opt)
	}
	return nil, fmt.Errorf("%s: architecture %q (model_type %q) is not supported; supported: %s",
		c.Path(), c.Architecture(), c.ModelType, strings.Join(Supported, ", "))
}
