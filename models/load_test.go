package models_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/models"
	"github.com/gopard/gopard/models/llama"
	"github.com/gopard/gopard/safetensors"
	"github.com/gopard/gopard/tensor"
)

const tinyConfig = `{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 16,
 "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
 "vocab_size": 20, "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000,
 "tie_word_embeddings": true, "eos_token_id": 7, "pard_token": 19, "spd_type": "pard"}`

// tinyTensors returns the tensors of tinyConfig's model.
func tinyTensors() []safetensors.NamedTensor {
	r := rand.New(rand.NewPCG(1, 1))
	mk := func(name string, shape ...int) safetensors.NamedTensor {
		v := make([]float32, tensor.NumElements(shape))
		for i := range v {
			v[i] = float32(r.NormFloat64() * 0.3)
		}
		return safetensors.NamedTensor{Name: name, T: tensor.Convert(tensor.FromF32(v, shape...), tensor.BF16)}
	}
	p := "model.layers.0."
	return []safetensors.NamedTensor{
		mk("model.embed_tokens.weight", 20, 16), mk("model.norm.weight", 16),
		mk(p+"input_layernorm.weight", 16), mk(p+"post_attention_layernorm.weight", 16),
		mk(p+"self_attn.q_proj.weight", 16, 16), mk(p+"self_attn.k_proj.weight", 8, 16), mk(p+"self_attn.v_proj.weight", 8, 16),
		mk(p+"self_attn.q_proj.bias", 16), mk(p+"self_attn.k_proj.bias", 8), mk(p+"self_attn.v_proj.bias", 8),
		mk(p+"self_attn.o_proj.weight", 16, 16),
		mk(p+"mlp.gate_proj.weight", 24, 16), mk(p+"mlp.up_proj.weight", 24, 16), mk(p+"mlp.down_proj.weight", 16, 24),
	}
}

func writeModel(t *testing.T, config string, tensors []safetensors.NamedTensor, extra map[string]string) string {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644))
	require.NoError(t, safetensors.Write(filepath.Join(dir, "model.safetensors"), tensors, nil))
	for name, content := range extra {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	return dir
}

func TestLoadTinyAndConfigKeys(t *testing.T) {
	dir := writeModel(t, tinyConfig, tinyTensors(), map[string]string{"generation_config.json": `{"eos_token_id": [7, 3]}`})
	m, err := models.Load(dir, llama.Options{Backend: cpu})
	require.NoError(t, err)
	defer m.Close()
	require.Equal(t, []int32{7, 3}, m.EOS)
	require.Equal(t, int32(19), m.PardToken)
	require.Equal(t, "pard", m.HF.SpdType)
	require.Equal(t, 64, m.Cache().Capacity, "context defaults to max_position_embeddings when smaller")
	out, err := m.Forward([]int32{1, 2, 3}, 0, 1)
	require.NoError(t, err)
	require.Len(t, out[0], 20)
}

func without(ts []safetensors.NamedTensor, name string) []safetensors.NamedTensor {
	var out []safetensors.NamedTensor
	for _, t := range ts {
		if t.Name != name {
			out = append(out, t)
		}
	}
	return out
}

func TestLoadBadInput(t *testing.T) {
	good := tinyTensors()
	reshaped := append(without(good, "model.layers.0.self_attn.k_proj.weight"),
		safetensors.NamedTensor{Name: "model.layers.0.self_attn.k_proj.weight", T: tensor.New(tensor.BF16, 16, 16)})
	for _, tc := range []struct {
		name, config string
		tensors      []safetensors.NamedTensor
		extra        map[string]string
		want         []string
	}{
		{"invalid JSON", `{"architectures": [`, good, nil, []string{"config.json", "invalid JSON"}},
		{"wrong type", strings.Replace(tinyConfig, `"hidden_size": 16`, `"hidden_size": "big"`, 1), good, nil, []string{"config.json", "hidden_size"}},
		{"unknown architecture", strings.Replace(tinyConfig, "Qwen2ForCausalLM", "MambaForCausalLM", 1), good, nil, []string{"MambaForCausalLM", "not supported"}},
		{"missing tensor", tinyConfig, without(good, "model.layers.0.self_attn.q_proj.bias"), nil, []string{"model.layers.0.self_attn.q_proj.bias", "not found"}},
		{"wrong shape", tinyConfig, reshaped, nil, []string{"k_proj.weight", "[16 16]", "[8 16]"}},
		{"heads not dividing", strings.Replace(tinyConfig, `"num_key_value_heads": 1`, `"num_key_value_heads": 3`, 1), good, nil, []string{"not a multiple"}},
		{"negative size", strings.Replace(tinyConfig, `"intermediate_size": 24`, `"intermediate_size": -24`, 1), good, nil, []string{"must be positive"}},
		{"bad rope scaling", strings.Replace(tinyConfig, `"rope_theta": 10000`, `"rope_theta": 10000, "rope_scaling": {"rope_type": "yarn", "factor": 4}`, 1), good, nil, []string{"yarn", "not supported"}},
		{"pard token outside vocab", strings.Replace(tinyConfig, `"pard_token": 19`, `"pard_token": 20`, 1), good, nil, []string{"pard_token 20"}},
		{"bad eos list", tinyConfig, good, map[string]string{"generation_config.json": `{"eos_token_id": ["x"]}`}, []string{"generation_config.json", "eos_token_id"}},
		{"no weights", tinyConfig, nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeModel(t, tc.config, tc.tensors, tc.extra)
			if tc.tensors == nil {
				os.Remove(filepath.Join(dir, "model.safetensors"))
				tc.want = []string{dir}
			}
			_, err := models.Load(dir, llama.Options{Backend: cpu})
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
	_, err := models.Load(filepath.Join(t.TempDir(), "nope"), llama.Options{Backend: cpu})
	require.ErrorContains(t, err, "config.json")
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(tinyConfig))
	f.Add([]byte(`{"rope_scaling": {"rope_type": "llama3", "factor": 32, "low_freq_factor": 1, "high_freq_factor": 4, "original_max_position_embeddings": 8192}}`))
	f.Add([]byte(`{"eos_token_id": [1, 2, 3], "head_dim": 0, "num_attention_heads": 0}`))
	f.Add([]byte(`{"hidden_size": 1e400}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := llama.ParseConfig(data)
		if err != nil {
			return
		}
		if cfg, err := c.Decoder(); err == nil {
			// A config that validates must describe sane dimensions.
			if cfg.Heads%cfg.KVHeads != 0 || cfg.HeadDim <= 0 {
				t.Fatalf("validated config %+v", cfg)
			}
		}
		_, _ = llama.TokenIDs(c.EOSTokenID, "eos_token_id")
		_ = fmt.Sprint(c.Architecture())
	})
}
