package llama

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/safetensors"
)

// NewHFConfig describes a decoder of shape cfg and family arch as a
// Hugging Face config.json would (Qwen2 for q/k/v biases, Qwen3 for q/k
// norms, Llama otherwise).
func NewHFConfig(cfg nn.Config, arch Arch) *HFConfig {
	c := &HFConfig{
		Architectures: []string{"LlamaForCausalLM"}, ModelType: "llama",
		HiddenSize: cfg.Hidden, IntermediateSize: cfg.Intermediate, NumLayers: cfg.Layers,
		NumHeads: cfg.Heads, NumKVHeads: cfg.KVHeads, HeadDim: cfg.HeadDim, VocabSize: cfg.Vocab,
		MaxPositions: cfg.MaxPositions, RMSNormEps: float64(cfg.NormEps), RopeTheta: cfg.RoPE.Theta,
		TieWordEmbeddings: cfg.Tied, HiddenAct: "silu", TorchDType: "bfloat16",
	}
	switch {
	case arch.QKVBias:
		c.Architectures, c.ModelType = []string{"Qwen2ForCausalLM"}, "qwen2"
	case arch.QKNorm:
		c.Architectures, c.ModelType = []string{"Qwen3ForCausalLM"}, "qwen3"
	}
	if s := cfg.RoPE.Scaling; s != nil {
		c.RopeScaling, _ = json.Marshal(map[string]any{"rope_type": "llama3", "factor": s.Factor,
			"low_freq_factor": s.LowFreqFactor, "high_freq_factor": s.HighFreqFactor,
			"original_max_position_embeddings": s.OriginalMaxPositions})
	}
	return c
}

// Save writes a Hugging Face model directory (config.json and
// model.safetensors with the standard tensor names) that Load reads back.
// The weights must be host tensors; they are written in their dtype.
func Save(dir string, hf *HFConfig, arch Arch, w nn.Weights) error {
	cfg, err := hf.Decoder()
	if err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	if len(w.Layers) != cfg.Layers {
		return fmt.Errorf("save %s: %d layers of weights for num_hidden_layers %d", dir, len(w.Layers), cfg.Layers)
	}
	var named []safetensors.NamedTensor
	for _, r := range tensorRefs(cfg, arch, &w) {
		if *r.field == nil {
			return fmt.Errorf("save %s: weight %s is missing", dir, r.name)
		}
		named = append(named, safetensors.NamedTensor{Name: r.name, T: *r.field})
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	js, err := json.MarshalIndent(hf, "", "  ")
	if err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	return safetensors.Write(filepath.Join(dir, safetensors.SingleFile), named, nil)
}
