package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gopard/gopard/models/llama"
	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/tensor"
)

// Model is a decoder's parameters in float32, all in one flat slice so that
// the optimizer and the gradient norm are single loops. The named fields are
// views into it. A Model of the same shape holds the gradients.
type Model struct {
	Cfg  nn.Config
	Arch llama.Arch

	Flat   []float32
	Embed  []float32 // (vocab, hidden)
	LMHead []float32 // (vocab, hidden); aliases Embed when tied
	Norm   []float32 // (hidden)
	Layers []LayerParams
	Params []Param // every tensor, in Hugging Face naming order
}

// LayerParams are one decoder layer's parameters (views into Model.Flat).
// The biases are set for Qwen2, the q/k norms for Qwen3.
type LayerParams struct {
	AttnNorm, Q, K, V, O, MLPNorm, Gate, Up, Down []float32
	QBias, KBias, VBias, QNorm, KNorm             []float32
}

// Param is one named tensor of a Model.
type Param struct {
	Name  string // Hugging Face name, e.g. model.layers.0.self_attn.q_proj.weight
	Shape []int
	Data  []float32
	Decay bool // matrices get weight decay; norms and biases do not
}

// NewModel allocates a zeroed model of the given shape.
func NewModel(cfg nn.Config, arch llama.Arch) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	m := &Model{Cfg: cfg, Arch: arch}
	D, F, V := cfg.Hidden, cfg.Intermediate, cfg.Vocab
	qd, kd := cfg.Heads*cfg.HeadDim, cfg.KVHeads*cfg.HeadDim
	type spec struct {
		name  string
		shape []int
		dst   *[]float32
	}
	var specs []spec
	add := func(name string, dst *[]float32, shape ...int) { specs = append(specs, spec{name, shape, dst}) }
	add("model.embed_tokens.weight", &m.Embed, V, D)
	m.Layers = make([]LayerParams, cfg.Layers)
	for i := range m.Layers {
		l := &m.Layers[i]
		p := fmt.Sprintf("model.layers.%d.", i)
		add(p+"input_layernorm.weight", &l.AttnNorm, D)
		add(p+"self_attn.q_proj.weight", &l.Q, qd, D)
		add(p+"self_attn.k_proj.weight", &l.K, kd, D)
		add(p+"self_attn.v_proj.weight", &l.V, kd, D)
		if arch.QKVBias {
			add(p+"self_attn.q_proj.bias", &l.QBias, qd)
			add(p+"self_attn.k_proj.bias", &l.KBias, kd)
			add(p+"self_attn.v_proj.bias", &l.VBias, kd)
		}
		if arch.QKNorm {
			add(p+"self_attn.q_norm.weight", &l.QNorm, cfg.HeadDim)
			add(p+"self_attn.k_norm.weight", &l.KNorm, cfg.HeadDim)
		}
		add(p+"self_attn.o_proj.weight", &l.O, D, qd)
		add(p+"post_attention_layernorm.weight", &l.MLPNorm, D)
		add(p+"mlp.gate_proj.weight", &l.Gate, F, D)
		add(p+"mlp.up_proj.weight", &l.Up, F, D)
		add(p+"mlp.down_proj.weight", &l.Down, D, F)
	}
	add("model.norm.weight", &m.Norm, D)
	if !cfg.Tied {
		add("lm_head.weight", &m.LMHead, V, D)
	}
	n := 0
	for _, s := range specs {
		n += tensor.NumElements(s.shape)
	}
	m.Flat = make([]float32, n)
	off := 0
	for _, s := range specs {
		k := tensor.NumElements(s.shape)
		*s.dst = m.Flat[off : off+k : off+k]
		m.Params = append(m.Params, Param{Name: s.name, Shape: s.shape, Data: *s.dst, Decay: len(s.shape) == 2})
		off += k
	}
	if cfg.Tied {
		m.LMHead = m.Embed
	}
	return m, nil
}

// Zeros returns a zeroed model of m's shape: the gradient buffer.
func (m *Model) Zeros() *Model {
	z, err := NewModel(m.Cfg, m.Arch)
	if err != nil {
		panic(err) // m's config was validated already
	}
	return z
}

// Init fills m as a freshly initialised model: matrices ~ N(0, std²) with
// std = 0.02 (GPT-2's), output projections (o_proj, down_proj) scaled by
// 1/√(2·layers) so the residual stream does not grow with depth; norms 1,
// biases 0.
func (m *Model) Init(rng *rand.Rand) {
	const std = 0.02
	outStd := std / math.Sqrt(2*float64(m.Cfg.Layers))
	for _, p := range m.Params {
		switch {
		case len(p.Shape) == 1 && isNorm(p.Name):
			for i := range p.Data {
				p.Data[i] = 1
			}
		case len(p.Shape) == 1:
			clear(p.Data)
		default:
			s := std
			if hasSuffix(p.Name, "o_proj.weight") || hasSuffix(p.Name, "down_proj.weight") {
				s = outStd
			}
			for i := range p.Data {
				p.Data[i] = float32(rng.NormFloat64() * s)
			}
		}
	}
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

func isNorm(name string) bool {
	return hasSuffix(name, "layernorm.weight") || hasSuffix(name, "norm.weight")
}

// NumParams counts the parameters (the tied LM head once).
func (m *Model) NumParams() int { return len(m.Flat) }

// FromWeights converts loaded weights (any dtype, e.g. a memory-mapped
// bf16 checkpoint) into a float32 training model.
func FromWeights(cfg nn.Config, arch llama.Arch, w nn.Weights) (*Model, error) {
	m, err := NewModel(cfg, arch)
	if err != nil {
		return nil, err
	}
	src := map[string]*tensor.Tensor{"model.embed_tokens.weight": w.Embed, "model.norm.weight": w.Norm}
	if !cfg.Tied {
		src["lm_head.weight"] = w.LMHead
	}
	if len(w.Layers) != cfg.Layers {
		return nil, fmt.Errorf("train: %d layers of weights for a %d-layer config", len(w.Layers), cfg.Layers)
	}
	for i, l := range w.Layers {
		p := fmt.Sprintf("model.layers.%d.", i)
		for name, t := range map[string]*tensor.Tensor{
			"input_layernorm.weight": l.AttnNorm, "self_attn.q_proj.weight": l.Q, "self_attn.k_proj.weight": l.K,
			"self_attn.v_proj.weight": l.V, "self_attn.o_proj.weight": l.O, "post_attention_layernorm.weight": l.MLPNorm,
			"mlp.gate_proj.weight": l.Gate, "mlp.up_proj.weight": l.Up, "mlp.down_proj.weight": l.Down,
			"self_attn.q_proj.bias": l.QBias, "self_attn.k_proj.bias": l.KBias, "self_attn.v_proj.bias": l.VBias,
			"self_attn.q_norm.weight": l.QNorm, "self_attn.k_norm.weight": l.KNorm,
		} {
			if t != nil {
				src[p+name] = t
			}
		}
	}
	for _, p := range m.Params {
		t := src[p.Name]
		if t == nil {
			return nil, fmt.Errorf("train: weight %s is missing", p.Name)
		}
		if t.Len() != len(p.Data) {
			return nil, fmt.Errorf("train: weight %s has %d values, want %d (shape %v)", p.Name, t.Len(), len(p.Data), p.Shape)
		}
		copy(p.Data, t.ToF32())
	}
	return m, nil
}

// Weights returns m's parameters as nn.Weights of dtype dt (F32 shares m's
// storage; BF16 and F16 are rounded copies), for llama.Save or a Decoder.
func (m *Model) Weights(dt tensor.DType) nn.Weights {
	conv := func(p []float32, shape ...int) *tensor.Tensor {
		if p == nil {
			return nil
		}
		t := tensor.FromF32(p, shape...)
		if dt != tensor.F32 {
			t = tensor.Convert(t, dt)
		}
		return t
	}
	c := m.Cfg
	D, F, V := c.Hidden, c.Intermediate, c.Vocab
	qd, kd := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	w := nn.Weights{Embed: conv(m.Embed, V, D), Norm: conv(m.Norm, D), Layers: make([]nn.Layer, c.Layers)}
	if c.Tied {
		w.LMHead = w.Embed
	} else {
		w.LMHead = conv(m.LMHead, V, D)
	}
	for i, l := range m.Layers {
		w.Layers[i] = nn.Layer{
			AttnNorm: conv(l.AttnNorm, D), Q: conv(l.Q, qd, D), K: conv(l.K, kd, D), V: conv(l.V, kd, D),
			QBias: conv(l.QBias, qd), KBias: conv(l.KBias, kd), VBias: conv(l.VBias, kd),
			QNorm: conv(l.QNorm, c.HeadDim), KNorm: conv(l.KNorm, c.HeadDim),
			O: conv(l.O, D, qd), MLPNorm: conv(l.MLPNorm, D),
			Gate: conv(l.Gate, F, D), Up: conv(l.Up, F, D), Down: conv(l.Down, D, F),
		}
	}
	return w
}

// MatmulParams counts the parameters that take part in a matrix product
// for every row: all projections and the LM head, not the embedding
// lookup (unless tied, when the table is also the LM head) or the norms.
func (m *Model) MatmulParams() int {
	n := 0
	for _, p := range m.Params {
		if len(p.Shape) == 2 && p.Name != "model.embed_tokens.weight" {
			n += len(p.Data)
		}
	}
	if m.Cfg.Tied {
		n += len(m.Embed)
	}
	return n
}

// StepFLOPs estimates the floating-point operations of a forward and
// backward pass over rows kept rows that see visible (row, column) pairs in
// all: 6 per matmul parameter per row (2 forward, 4 backward) and, per
// head and visible pair, 4·headDim forward (q·k and p·v) and 8·headDim backward.
func (m *Model) StepFLOPs(rows, visible int) float64 {
	c := m.Cfg
	return 6*float64(m.MatmulParams())*float64(rows) +
		12*float64(c.Layers*c.Heads*c.HeadDim)*float64(visible)
}
