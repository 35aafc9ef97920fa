// Package llama loads Llama-style decoders from Hugging Face checkpoints
// (config.json + safetensors) and runs them on an nn.Backend: Llama 3.x
// (LlamaForCausalLM) directly, and the Qwen families through package qwen,
// which differ only by q/k/v biases (Qwen2) or per-head q/k norms (Qwen3).
// models.Load is the entry point that picks the family from config.json.
package llama

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/safetensors"
	"github.com/gopard/gopard/tensor"
)

// Arch names what a family adds to the plain Llama block.
type Arch struct {
	Name    string // the architectures entry, for messages
	QKVBias bool   // q_proj/k_proj/v_proj have biases (Qwen2)
	QKNorm  bool   // per-head RMSNorm of q and k before RoPE (Qwen3)
}

// Options control loading.
type Options struct {
	Backend nn.Backend // where the model runs (required)
	// Context is the KV-cache capacity in positions; 0 means
	// min(max_position_embeddings, DefaultContext).
	Context int
	// ChunkSize bounds the positions processed per internal step of a long
	// forward (0: DefaultChunk); it sizes the activation buffers.
	ChunkSize int
	// Progress, if set, is called after each weight is loaded with the
	// bytes loaded so far and the checkpoint's total (a GPU reads and
	// uploads them all, tens of seconds for a large model).
	Progress func(done, total int64)
}

// Defaults for Options.
const (
	DefaultContext = 4096
	DefaultChunk   = 256
)

// Model is a loaded decoder with its KV cache. It satisfies pard.Forwarder
// and, through the embedded decoder's ForwardArgmax, pard.ArgmaxForwarder,
// so greedy decoding on a GPU copies back token ids instead of logits rows.
type Model struct {
	*nn.Decoder
	Dir       string
	Arch      Arch
	HF        *HFConfig
	EOS       []int32 // config.json and generation_config.json eos_token_id
	PardToken int32   // config.json pard_token; -1 when absent
	LoadTime  time.Duration
	// Copied: the backend copied every weight (a GPU), so the files were
	// unmapped once the model was loaded and the host holds none of them.
	Copied bool

	ckpt *safetensors.Model
}

// Open builds a model of the given architecture from a parsed config and
// the directory's safetensors. Weights stay memory-mapped, unless the
// backend copied them all (Copied).
func Open(dir string, c *HFConfig, arch Arch, opt Options) (*Model, error) {
	t0 := time.Now()
	if opt.Backend == nil {
		return nil, fmt.Errorf("model %s: no backend given", dir)
	}
	cfg, err := c.Decoder()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.path, err)
	}
	eos, err := ReadEOS(dir, c)
	if err != nil {
		return nil, err
	}
	pard := int32(-1)
	if c.PardToken != nil {
		if *c.PardToken < 0 || *c.PardToken >= int64(cfg.Vocab) {
			return nil, fmt.Errorf("%s: pard_token %d is outside the vocabulary [0, %d)", c.path, *c.PardToken, cfg.Vocab)
		}
		pard = int32(*c.PardToken)
	}
	capacity := opt.Context
	if capacity <= 0 {
		capacity = DefaultContext
		if cfg.MaxPositions > 0 {
			capacity = min(capacity, cfg.MaxPositions)
		}
	}
	if capacity > math.MaxInt32/max(1, cfg.KVHeads*cfg.HeadDim) {
		return nil, fmt.Errorf("model %s: context %d is too large", dir, capacity)
	}
	chunk := opt.ChunkSize
	if chunk <= 0 {
		chunk = DefaultChunk
	}

	ckpt, err := safetensors.OpenModel(dir)
	if err != nil {
		return nil, err
	}
	if err := checkDeviceMemory(dir, opt.Backend, cfg, ckpt.Bytes(), capacity); err != nil {
		ckpt.Close()
		return nil, err
	}
	b := &binder{ckpt: ckpt, backend: opt.Backend, dir: dir, progress: opt.Progress, total: ckpt.Bytes()}
	w := b.weights(cfg, arch)
	if b.err != nil {
		ckpt.Close()
		return nil, b.err
	}
	dec, err := nn.NewDecoder(opt.Backend, cfg, w, capacity, chunk)
	if err != nil {
		ckpt.Close()
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	m := &Model{Decoder: dec, Dir: dir, Arch: arch, HF: c, EOS: eos, PardToken: pard, ckpt: ckpt}
	if m.Copied = b.onHost == 0; m.Copied {
		// A GPU holds its own copy: the mapped pages would only weigh on
		// the host's memory (the page cache may keep the file).
		if err := ckpt.Close(); err != nil {
			return nil, err
		}
	}
	m.LoadTime = time.Since(t0)
	return m, nil
}

// WeightBytes is the size of the checkpoint's tensors (mapped, or copied).
func (m *Model) WeightBytes() int64 { return m.ckpt.Bytes() }

// Close unmaps the weights (if Copied, they already are). The model must not
// be used afterwards.
func (m *Model) Close() error { return m.ckpt.Close() }

// binder looks tensors up by their Hugging Face names, checks their shapes
// and loads them on the backend, remembering the first error.
type binder struct {
	ckpt    *safetensors.Model
	backend nn.Backend
	dir     string
	err     error

	progress    func(done, total int64) // Options.Progress
	done, total int64
	onHost      int // weights the backend left in host memory (the CPU: all)
}

func (b *binder) get(name string, shape ...int) *tensor.Tensor {
	if b.err != nil {
		return nil
	}
	t, err := b.ckpt.Tensor(name)
	if err != nil {
		b.err = err
		return nil
	}
	if !slices.Equal(t.Shape, shape) {
		b.err = fmt.Errorf("model %s: tensor %q has shape %v, config.json implies %v", b.dir, name, t.Shape, shape)
		return nil
	}
	bytes := int64(len(t.Data))
	if t, err = b.backend.Load(t); err != nil {
		b.err = fmt.Errorf("model %s: tensor %q: %w", b.dir, name, err)
		return nil
	}
	if t.Place != tensor.Device {
		b.onHost++
	}
	if b.done += bytes; b.progress != nil {
		b.progress(b.done, b.total)
	}
	return t
}

// tensorRef is one weight of a checkpoint: its Hugging Face name, the
// shape config.json implies, and the field of nn.Weights it binds to.
type tensorRef struct {
	name  string
	shape []int
	field **tensor.Tensor
}

// tensorRefs lists every weight a model of this shape stores, pointing into
// w (whose Layers must have cfg.Layers entries). Loading and saving both
// walk this one list, so the names exist in one place. A tied model's head
// is the embedding and is not listed.
func tensorRefs(cfg nn.Config, arch Arch, w *nn.Weights) []tensorRef {
	D, I, hd := cfg.Hidden, cfg.Intermediate, cfg.HeadDim
	qDim, kvDim := cfg.Heads*hd, cfg.KVHeads*hd
	refs := []tensorRef{
		{"model.embed_tokens.weight", []int{cfg.Vocab, D}, &w.Embed},
		{"model.norm.weight", []int{D}, &w.Norm},
	}
	for l := range w.Layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		L := &w.Layers[l]
		refs = append(refs,
			tensorRef{p + "input_layernorm.weight", []int{D}, &L.AttnNorm},
			tensorRef{p + "self_attn.q_proj.weight", []int{qDim, D}, &L.Q},
			tensorRef{p + "self_attn.k_proj.weight", []int{kvDim, D}, &L.K},
			tensorRef{p + "self_attn.v_proj.weight", []int{kvDim, D}, &L.V},
			tensorRef{p + "self_attn.o_proj.weight", []int{D, qDim}, &L.O})
		if arch.QKVBias {
			refs = append(refs,
				tensorRef{p + "self_attn.q_proj.bias", []int{qDim}, &L.QBias},
				tensorRef{p + "self_attn.k_proj.bias", []int{kvDim}, &L.KBias},
				tensorRef{p + "self_attn.v_proj.bias", []int{kvDim}, &L.VBias})
		}
		if arch.QKNorm {
			refs = append(refs,
				tensorRef{p + "self_attn.q_norm.weight", []int{hd}, &L.QNorm},
				tensorRef{p + "self_attn.k_norm.weight", []int{hd}, &L.KNorm})
		}
		refs = append(refs,
			tensorRef{p + "post_attention_layernorm.weight", []int{D}, &L.MLPNorm},
			tensorRef{p + "mlp.gate_proj.weight", []int{I, D}, &L.Gate},
			tensorRef{p + "mlp.up_proj.weight", []int{I, D}, &L.Up},
			tensorRef{p + "mlp.down_proj.weight", []int{D, I}, &L.Down})
	}
	if !cfg.Tied {
		refs = append(refs, tensorRef{"lm_head.weight", []int{cfg.Vocab, D}, &w.LMHead})
	}
	return refs
}

func (b *binder) weights(cfg nn.Config, arch Arch) nn.Weights {
	w := nn.Weights{Layers: make([]nn.Layer, cfg.Layers)}
	for _, r := range tensorRefs(cfg, arch, &w) {
		*r.field = b.get(r.name, r.shape...)
	}
	if cfg.Tied {
		w.LMHead = w.Embed
		// Some tied checkpoints still store the head; it must have the embedding's shape.
		if b.ckpt.Has("lm_head.weight") {
			w.LMHead = b.get("lm_head.weight", cfg.Vocab, cfg.Hidden)
		}
	}
	return w
}

// checkDeviceMemory fails, before any weight is uploaded, when a backend
// that reports its memory (a GPU: MemInfo) has too little free for the
// model's weights (weightBytes as stored) and its KV cache of capacity
// positions: uploading gigabytes only to fail on the last tensor costs
// the time of the upload and says less. The buffers of a forward come on
// top; a model that passes may still fail there, with its own error.
func checkDeviceMemory(dir string, b nn.Backend, cfg nn.Config, weightBytes int64, capacity int) error {
	r, ok := b.(interface {
		MemInfo() (free, total int64, err error)
	})
	if !ok {
		return nil
	}
	free, total, err := r.MemInfo()
	if err != nil {
		return nil // nothing known: the uploads will tell
	}
	kvDType := tensor.F32
	if f, ok := b.(interface{ F16KVCache() bool }); ok && f.F16KVCache() {
		kvDType = tensor.F16
	}
	kvBytes := nn.KVCacheBytes(cfg.Layers, capacity, cfg.KVHeads*cfg.HeadDim, kvDType)
	if need := weightBytes + kvBytes; need > free {
		return nn.OutOfMemory(fmt.Errorf("model %s does not fit %s: it needs about %s (%s of weights, a %s KV cache of %d positions in %v), "+
			"the device has %s free of %s; a shorter context or a binary16 KV cache (--kv-cache f16) needs less, and --device cpu runs it from host memory",
			dir, b.Name(), size(need), size(weightBytes), size(kvBytes), capacity, kvDType, size(free), size(total)))
	}
	return nil
}

// size prints bytes in decimal MB, or GB from 1 GB on, to one decimal.
func size(bytes int64) string {
	if bytes >= 1e9 {
		return fmt.Sprintf("%.1f GB", float64(bytes)/1e9)
	}
	return fmt.Sprintf("%.1f MB", float64(bytes)/1e6)
}
