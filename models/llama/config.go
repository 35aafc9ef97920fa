package llama

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/gopard/gopard/nn"
)

// HFConfig is the part of a Hugging Face config.json that Llama-style
// decoders (Llama 3.x, Qwen2/2.5, Qwen3, DeepSeek-R1-Distill-Qwen) use,
// plus the keys a PARD draft adds.
type HFConfig struct {
	Architectures     []string        `json:"architectures"`
	ModelType         string          `json:"model_type"`
	HiddenSize        int             `json:"hidden_size"`
	IntermediateSize  int             `json:"intermediate_size"`
	NumLayers         int             `json:"num_hidden_layers"`
	NumHeads          int             `json:"num_attention_heads"`
	NumKVHeads        int             `json:"num_key_value_heads"` // 0: same as num_attention_heads
	HeadDim           int             `json:"head_dim"`            // 0: hidden_size / num_attention_heads
	VocabSize         int             `json:"vocab_size"`
	MaxPositions      int             `json:"max_position_embeddings"`
	RMSNormEps        float64         `json:"rms_norm_eps"`
	RopeTheta         float64         `json:"rope_theta"` // 0: 10000, HF's default
	RopeScaling       json.RawMessage `json:"rope_scaling"`
	TieWordEmbeddings bool            `json:"tie_word_embeddings"`
	HiddenAct         string          `json:"hidden_act"`
	AttentionBias     bool            `json:"attention_bias"`
	MLPBias           bool            `json:"mlp_bias"`
	UseSlidingWindow  bool            `json:"use_sliding_window"`
	TorchDType        string          `json:"torch_dtype"`
	BOSTokenID        json.RawMessage `json:"bos_token_id,omitempty"`
	EOSTokenID        json.RawMessage `json:"eos_token_id,omitempty"` // an int or a list of ints
	PardToken         *int64          `json:"pard_token,omitempty"`   // PARD drafts: the mask token id
	SpdType           string          `json:"spd_type,omitempty"`     // PARD drafts: "pard"

	path string
}

// ReadConfig reads and decodes dir/config.json.
func ReadConfig(dir string) (*HFConfig, error) {
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.path = path
	return c, nil
}

// ParseConfig decodes config.json bytes; it checks syntax and types only
// (Decoder checks the values).
func ParseConfig(data []byte) (*HFConfig, error) {
	var c HFConfig
	if err := json.Unmarshal(data, &c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("key %q: JSON %s where a %v is expected", te.Field, te.Value, te.Type)
		}
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return &c, nil
}

// Path is the file the config came from ("" when parsed from bytes).
func (c *HFConfig) Path() string { return c.path }

// Architecture returns architectures[0] ("" when absent).
func (c *HFConfig) Architecture() string {
	if len(c.Architectures) == 0 {
		return ""
	}
	return c.Architectures[0]
}

// Decoder converts the config into the decoder's shape, validating it.
func (c *HFConfig) Decoder() (nn.Config, error) {
	cfg := nn.Config{
		Hidden:       c.HiddenSize,
		Intermediate: c.IntermediateSize,
		Layers:       c.NumLayers,
		Heads:        c.NumHeads,
		KVHeads:      c.NumKVHeads,
		HeadDim:      c.HeadDim,
		Vocab:        c.VocabSize,
		NormEps:      float32(c.RMSNormEps),
		MaxPositions: c.MaxPositions,
		Tied:         c.TieWordEmbeddings,
		RoPE:         nn.RoPEConfig{Theta: c.RopeTheta},
	}
	if cfg.KVHeads == 0 {
		cfg.KVHeads = cfg.Heads
	}
	if cfg.HeadDim == 0 && cfg.Heads > 0 {
		if c.HiddenSize%c.NumHeads != 0 {
			return cfg, fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d and head_dim is not set", c.HiddenSize, c.NumHeads)
		}
		cfg.HeadDim = c.HiddenSize / c.NumHeads
	}
	if cfg.RoPE.Theta == 0 {
		cfg.RoPE.Theta = 10000
	}
	if c.RMSNormEps == 0 {
		cfg.NormEps = 1e-6
	}
	if c.HiddenAct != "" && c.HiddenAct != "silu" {
		return cfg, fmt.Errorf("hidden_act %q is not supported (only silu)", c.HiddenAct)
	}
	if c.MLPBias {
		return cfg, fmt.Errorf("mlp_bias true is not supported")
	}
	if c.UseSlidingWindow {
		return cfg, fmt.Errorf("use_sliding_window true is not supported")
	}
	if math.IsNaN(c.RMSNormEps) || c.RMSNormEps < 0 {
		return cfg, fmt.Errorf("rms_norm_eps %v must be positive", c.RMSNormEps)
	}
	scaling, err := parseRopeScaling(c.RopeScaling)
	if err != nil {
		return cfg, err
	}
	cfg.RoPE.Scaling = scaling
	return cfg, cfg.Validate()
}

// parseRopeScaling accepts null, {"rope_type": "default"} and llama3 scaling.
func parseRopeScaling(raw json.RawMessage) (*nn.Llama3Scaling, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s struct {
		RopeType string  `json:"rope_type"`
		Type     string  `json:"type"` // older spelling
		Factor   float64 `json:"factor"`
		Low      float64 `json:"low_freq_factor"`
		High     float64 `json:"high_freq_factor"`
		Orig     int     `json:"original_max_position_embeddings"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("rope_scaling: %w", err)
	}
	kind := s.RopeType
	if kind == "" {
		kind = s.Type
	}
	switch kind {
	case "default":
		return nil, nil
	case "llama3":
		return &nn.Llama3Scaling{Factor: s.Factor, LowFreqFactor: s.Low, HighFreqFactor: s.High, OriginalMaxPositions: s.Orig}, nil
	}
	return nil, fmt.Errorf("rope_scaling type %q is not supported (supported: llama3, default)", kind)
}

// TokenIDs decodes a token-id field that may be absent, null, an int or a
// list of ints (eos_token_id is a list in Llama 3.1's generation config).
func TokenIDs(raw json.RawMessage, key string) ([]int32, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one int64
	if err := json.Unmarshal(raw, &one); err == nil {
		return checkIDs(key, one)
	}
	var many []int64
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, fmt.Errorf("%s: want an integer or a list of integers, got %s", key, raw)
	}
	return checkIDs(key, many...)
}

func checkIDs(key string, ids ...int64) ([]int32, error) {
	out := make([]int32, len(ids))
	for i, id := range ids {
		if id < 0 || id > math.MaxInt32 {
			return nil, fmt.Errorf("%s: token id %d out of range", key, id)
		}
		out[i] = int32(id)
	}
	return out, nil
}

// GenerationConfig is the part of generation_config.json gopard reads.
type GenerationConfig struct {
	BOSTokenID json.RawMessage `json:"bos_token_id,omitempty"`
	EOSTokenID json.RawMessage `json:"eos_token_id"`
}

// ReadEOS returns the end-of-sequence ids of a model directory: the union
// of config.json's and generation_config.json's (when that file exists),
// config's first.
func ReadEOS(dir string, c *HFConfig) ([]int32, error) {
	eos, err := TokenIDs(c.EOSTokenID, "eos_token_id")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "config.json"), err)
	}
	path := filepath.Join(dir, "generation_config.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return eos, nil
	}
	if err != nil {
		return nil, err
	}
	var g GenerationConfig
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %w", path, err)
	}
	more, err := TokenIDs(g.EOSTokenID, "eos_token_id")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, id := range more {
		if !contains(eos, id) {
			eos = append(eos, id)
		}
	}
	return eos, nil
}

func contains(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
