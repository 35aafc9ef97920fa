package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/models/llama"
	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

func TestValidate(t *testing.T) {
	ok := options{shape: "tiny", runs: 1, context: 16, k: 4, pardTokens: 8, device: "cpu"}
	require.NoError(t, ok.validate())
	for _, c := range []struct {
		name string
		edit func(*options)
		msg  string
	}{
		{"shape", func(o *options) { o.shape = "gpt5" }, `--shape "gpt5": unknown`},
		{"runs", func(o *options) { o.runs = 0 }, "--runs 0"},
		{"context", func(o *options) { o.context = 0 }, "--context 0"},
		{"m", func(o *options) { o.only = -1 }, "--m -1"},
		{"m", func(o *options) { o.only = 2000 }, "--m 2000"},
		{"k", func(o *options) { o.k = 0 }, "--k 0"},
		{"pard-tokens", func(o *options) { o.pardTokens = 1 }, "--pard-tokens 1"},
		{"pard-draft", func(o *options) { o.pardDraft = "nope" }, `--pard-draft "nope": unknown`},
		{"pard-temperature", func(o *options) { o.pardTemp = -1 }, "--pard-temperature -1"},
		{"draft-activations", func(o *options) { o.draftAct = "fp8" }, `--draft-activations "fp8"`},
		{"threads", func(o *options) { o.threads = -1 }, "--threads -1"},
		{"layers", func(o *options) { o.layers = -2 }, "--layers -2"},
		{"layers", func(o *options) { o.layers = 3; o.model = "/some/dir" }, "only for a random --shape"},
	} {
		o := ok
		c.edit(&o)
		err := o.validate()
		require.Error(t, err, c.name)
		require.Contains(t, err.Error(), c.msg, c.name)
	}
}

// loadCounter is the CPU backend counting Load calls, standing in for a GPU
// that must be handed every weight.
type loadCounter struct {
	*ops.CPU
	loaded map[*tensor.Tensor]bool
}

func (l *loadCounter) Load(w *tensor.Tensor) (*tensor.Tensor, error) {
	l.loaded[w] = true
	return l.CPU.Load(w)
}

func TestLoadWeights(t *testing.T) {
	for _, name := range []string{"tiny", "qwen2.5-0.5b"} {
		s := shapes[name]
		if name != "tiny" { // a small copy of the shape with every optional weight
			s.cfg.Layers, s.cfg.Vocab, s.cfg.Intermediate, s.cfg.Tied = 1, 64, 32, false
			s.qkNorm = true
		}
		w, _ := randomWeights(s)
		b := &loadCounter{CPU: ops.NewCPU(1), loaded: map[*tensor.Tensor]bool{}}
		got, err := loadWeights(b, w)
		require.NoError(t, err)
		require.Equal(t, s.cfg.Tied, got.LMHead == got.Embed, name)
		all := []*tensor.Tensor{w.Embed, w.Norm, w.LMHead}
		for _, L := range w.Layers {
			all = append(all, L.AttnNorm, L.MLPNorm, L.Q, L.K, L.V, L.O, L.QBias, L.KBias, L.VBias, L.QNorm, L.KNorm, L.Gate, L.Up, L.Down)
		}
		for i, x := range all {
			if x != nil {
				require.True(t, b.loaded[x], "%s: weight %d %v not loaded", name, i, x.Shape)
			}
		}
		_, err = nn.NewDecoder(b, s.cfg, got, 32, 8)
		require.NoError(t, err, name)
	}
}

// TestRunTiny runs the whole benchmark on a tiny random model, with the
// PARD iteration measurement, as --json, timing forwards of 100 rows (--m
// beyond the default sizes needs a longer prompt and cache).
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("streams a 1 GiB buffer")
	}
	o := options{shape: "tiny", runs: 1, context: 16, k: 3, pardTokens: 8, pardDraft: "tiny", skipKernels: true, asJSON: true, device: "cpu", threads: 1, only: 100, profile: true}
	require.NoError(t, run(o))
}

// TestProfileOps profiles forwards on the CPU (cpuTimer: the wall clock),
// as --profile does on either kind of backend.
func TestProfileOps(t *testing.T) {
	b := cpuTimer{ops.NewCPU(1)}
	s := shapes["tiny"]
	w, bytes := randomWeights(s)
	dec, err := nn.NewDecoder(b, s.cfg, w, 64, 16)
	require.NoError(t, err)
	m := &forwardRunner{name: "tiny", cfg: s.cfg, dec: dec, weightBytes: bytes}
	var out strings.Builder
	say := func(format string, a ...any) { fmt.Fprintf(&out, format, a...) }
	require.NoError(t, profileOps(b, m, []int{1, 3}, 8, 2, say))
	text := out.String()
	for _, want := range []string{"forward of 1 token(s)", "forward of 3 token(s)", "linear+swiglu 2×128×64", "linear 64×128", "linear q,k,v 64+32+32×64", "attention", "rmsnorm", "add+rmsnorm", "rope q+k", "embedding"} {
		require.Contains(t, text, want)
	}
	// Two layers: q, k, v, o, gate, up, down each once per layer, plus the tied LM head (1000×64).
	require.Regexp(t, `linear 1000×64\s+1 `, text)
	require.Regexp(t, `attention\s+2 `, text)
}

// TestProfileKVCache: the profile's and the ablation's decoders keep the
// cache the backend's own keep (the CPU's heads apart; binary16 with
// --kv-cache f16), not float32 rows, and the profile times the stores.
func TestProfileKVCache(t *testing.T) {
	s := shapes["tiny"]
	w, bytes := randomWeights(s)
	for _, f16 := range []bool{false, true} {
		cpu := ops.NewCPU(1)
		cpu.SetF16KVCache(f16)
		b := cpuTimer{cpu}
		own, err := nn.NewDecoder(b, s.cfg, w, 64, 16)
		require.NoError(t, err)
		for _, wrapped := range []nn.Backend{newOpProfiler(b), &ablation{timedBackend: b}} {
			dec, err := nn.NewDecoder(wrapped, s.cfg, w, 64, 16)
			require.NoError(t, err)
			require.True(t, dec.Cache().Stored, "%T", wrapped)
			require.Equal(t, own.Cache().DType(), dec.Cache().DType(), "%T", wrapped)
			require.Equal(t, own.Cache().K[0].Shape, dec.Cache().K[0].Shape, "%T", wrapped)
		}
		var out strings.Builder
		say := func(format string, a ...any) { fmt.Fprintf(&out, format, a...) }
		m := &forwardRunner{name: "tiny", cfg: s.cfg, dec: own, weightBytes: bytes}
		require.NoError(t, profileOps(b, m, []int{1}, 8, 1, say))
		require.Contains(t, out.String(), fmt.Sprintf("store kv %v", own.Cache().DType()))
	}
}

// bulkTimer is the CPU as an nn.Bulker (its LinearBulk is Linear, its
// AttentionBulk Attention), counting the rows it multiplies and attends.
type bulkTimer struct {
	cpuTimer
	rows, att int
}

func (b *bulkTimer) BulkRows() int { return 4 }

func (b *bulkTimer) LinearBulk(out, x, w, bias *tensor.Tensor) {
	b.rows += x.Rows()
	b.Linear(out, x, w, bias)
}

func (b *bulkTimer) AttentionBulk(out, q, k, v *tensor.Tensor, start, heads, kvHeads, headDim int) {
	b.att += q.Rows()
	b.Attention(out, q, k, v, start, heads, kvHeads, headDim)
}

// TestProfileBulk: the profile's and the ablation's decoders send a
// prefill's rows to the backend's bulk product and attention, as its own
// decoders do, and the profile times them.
func TestProfileBulk(t *testing.T) {
	s := shapes["tiny"]
	w, bytes := randomWeights(s)
	b := &bulkTimer{cpuTimer: cpuTimer{ops.NewCPU(1)}}
	prompt := syntheticPrompt(12, s.cfg.Vocab)
	for _, wrapped := range []nn.Backend{b, newOpProfiler(b), &ablation{timedBackend: b}} {
		dec, err := nn.NewDecoder(wrapped, s.cfg, w, 64, 16)
		require.NoError(t, err)
		b.rows, b.att = 0, 0
		_, err = dec.Forward(prompt, 0, 1)
		require.NoError(t, err)
		require.Equal(t, 11*(7*s.cfg.Layers-4), b.rows, "%T: the prompt's rows but the last, through every product", wrapped)
		require.Equal(t, 11*(s.cfg.Layers-1), b.att, "%T: and through attention but in the last layer", wrapped)
	}
	var out strings.Builder
	say := func(format string, a ...any) { fmt.Fprintf(&out, format, a...) }
	own, err := nn.NewDecoder(b, s.cfg, w, 64, 16)
	require.NoError(t, err)
	m := &forwardRunner{name: "tiny", cfg: s.cfg, dec: own, weightBytes: bytes}
	require.NoError(t, profileOps(b, m, []int{20}, 8, 1, say))
	require.Contains(t, out.String(), "linear bulk")
	require.Contains(t, out.String(), "attention bulk")
}

// The gopard-go shape is the embedded target's: the sizes --layers scales
// from are the shipped model's.
func TestGopardGoShapeIsTheEmbeddedTarget(t *testing.T) {
	c, err := llama.ReadConfig("../../internal/defaultmodel/assets/target")
	require.NoError(t, err)
	want, err := c.Decoder()
	require.NoError(t, err)
	got := shapes["gopard-go"].cfg
	require.Equal(t, want.Hidden, got.Hidden)
	require.Equal(t, want.Intermediate, got.Intermediate)
	require.Equal(t, want.Layers, got.Layers)
	require.Equal(t, want.Heads, got.Heads)
	require.Equal(t, want.KVHeads, got.KVHeads)
	require.Equal(t, want.HeadDim, got.HeadDim)
	require.Equal(t, want.Vocab, got.Vocab)
	require.Equal(t, want.Tied, got.Tied)
	require.Equal(t, want.RoPE.Theta, got.RoPE.Theta)

	o := options{shape: "gopard-go", layers: 10}
	require.Equal(t, 10, o.randomShape().cfg.Layers)
	require.Equal(t, 9, shapes["gopard-go"].cfg.Layers, "randomShape must not edit the table")
	_, bytes := randomWeights(o.randomShape())
	require.Equal(t, int64(10*(2*512*512+2*512*256+3*512*1408)+4096*512), bytes/2)
}

// countingCPU counts the operations that reach the CPU, by kind.
type countingCPU struct {
	cpuTimer
	calls map[opKind]int
}

func (c *countingCPU) Attention(out, q, k, v *tensor.Tensor, start, heads, kvHeads, headDim int) {
	c.calls[kindAttention]++
	c.cpuTimer.Attention(out, q, k, v, start, heads, kvHeads, headDim)
}

// StoreKV counts as attention: the ablation's attention row leaves the
// KV store's stores out with it.
func (c *countingCPU) StoreKV(kCache, vCache *tensor.Tensor, start int, k, v *tensor.Tensor) {
	c.calls[kindAttention]++
	c.cpuTimer.StoreKV(kCache, vCache, start, k, v)
}

func (c *countingCPU) RMSNorm(out, x, w *tensor.Tensor, eps float32) {
	c.calls[kindNorm]++
	c.cpuTimer.RMSNorm(out, x, w, eps)
}

func (c *countingCPU) AddRMSNorm(out, x, delta, w *tensor.Tensor, eps float32) {
	c.calls[kindNorm]++
	c.cpuTimer.AddRMSNorm(out, x, delta, w, eps)
}

func (c *countingCPU) RoPEQK(q, k *tensor.Tensor, heads, kvHeads, headDim, start int, cos, sin *tensor.Tensor) {
	c.calls[kindRotation]++
	c.cpuTimer.RoPEQK(q, k, heads, kvHeads, headDim, start, cos, sin)
}

func (c *countingCPU) Linear(out, x, w, bias *tensor.Tensor) {
	c.calls[kindLinear]++
	c.cpuTimer.Linear(out, x, w, bias)
}

func (c *countingCPU) LinearQKV(q, k, v, x, wq, wk, wv, bq, bk, bv *tensor.Tensor) {
	c.calls[kindLinear]++
	c.cpuTimer.LinearQKV(q, k, v, x, wq, wk, wv, bq, bk, bv)
}

func (c *countingCPU) LinearSwiGLU(out, x, gate, up *tensor.Tensor) {
	c.calls[kindLinear]++
	c.cpuTimer.LinearSwiGLU(out, x, gate, up)
}

func (c *countingCPU) PrefetchWeights(ws []*tensor.Tensor) { c.calls[kindPrefetch]++ }

// foldingCPU is a countingCPU that folds norms into its linear layers (as
// gpu.Device with GOPARD_GPU_FUSE_NORM), computing the folded forms from
// the separate operations; each counts as a linear layer and a norm.
type foldingCPU struct {
	*countingCPU
	fold bool
}

func (c *foldingCPU) FusesNorm(rows int) bool  { return c.fold }
func (c *foldingCPU) SetFuseNorm(on bool) bool { c.fold = on; return on }
func (c *foldingCPU) FuseNormSetting() bool    { return c.fold }

func (c *foldingCPU) folded() { c.calls[kindLinear]++; c.calls[kindNorm]++ }

func (c *foldingCPU) normed(x, norm *tensor.Tensor, eps float32) *tensor.Tensor {
	xb := tensor.New(tensor.F32, x.Shape...)
	c.cpuTimer.RMSNorm(xb, x, norm, eps)
	return xb
}

func (c *foldingCPU) LinearAdd(x, in, w *tensor.Tensor) {
	c.folded()
	out := tensor.New(tensor.F32, x.Shape...)
	c.cpuTimer.Linear(out, in, w, nil)
	c.cpuTimer.Add(x, out)
}

func (c *foldingCPU) NormLinearQKV(q, k, v, x, norm *tensor.Tensor, eps float32, wq, wk, wv, bq, bk, bv *tensor.Tensor, rot *nn.Rotation) {
	c.folded()
	c.cpuTimer.LinearQKV(q, k, v, c.normed(x, norm, eps), wq, wk, wv, bq, bk, bv)
	if rot != nil {
		c.calls[kindRotation]++
		c.cpuTimer.RoPEQK(q, k, rot.Heads, rot.KVHeads, rot.HeadDim, rot.Start, rot.Cos, rot.Sin)
	}
}

func (c *foldingCPU) NormLinearSwiGLU(out, x, norm *tensor.Tensor, eps float32, gate, up *tensor.Tensor) {
	c.folded()
	c.cpuTimer.LinearSwiGLU(out, c.normed(x, norm, eps), gate, up)
}

// TestAblation: each row of the ablation table keeps from the backend
// exactly the kinds of operations it leaves out, with the norms folded
// into the linear layers or not, and ablateOps prints a row for each (the
// prefetch row only where prefetching is on, which the CPU never is; the
// folding row only on a backend that folds, turning folding the other way
// and back).
func TestAblation(t *testing.T) {
	c := &countingCPU{cpuTimer: cpuTimer{ops.NewCPU(1)}, calls: map[opKind]int{}}
	s := shapes["tiny"]
	w, bytes := randomWeights(s)
	every := []opKind{kindAttention, kindNorm, kindRotation, kindLinear, kindPrefetch}
	for _, b := range []timedBackend{c, &foldingCPU{countingCPU: c, fold: true}} {
		a := &ablation{timedBackend: b}
		dec, err := nn.NewDecoder(a, s.cfg, w, 64, 16)
		require.NoError(t, err)
		for _, row := range ablations {
			a.skip = row.skip
			clear(c.calls)
			_, err := dec.Forward([]int32{1, 2, 3}, 0, 1)
			require.NoError(t, err)
			for _, k := range every {
				if row.skip&k != 0 {
					require.Zero(t, c.calls[k], "%s: kind %d reached the backend (folding %T)", row.name, k, b)
				} else {
					require.Positive(t, c.calls[k], "%s: kind %d left out (folding %T)", row.name, k, b)
				}
			}
		}
	}

	dec, err := nn.NewDecoder(c, s.cfg, w, 64, 16)
	require.NoError(t, err)
	m := &forwardRunner{name: "tiny", cfg: s.cfg, dec: dec, weightBytes: bytes}
	table := func(b timedBackend, sizes ...int) string {
		var out strings.Builder
		say := func(format string, a ...any) { fmt.Fprintf(&out, format, a...) }
		require.NoError(t, ablateOps(b, m, sizes, 8, 2, 10, false, say))
		return out.String()
	}
	text := table(cpuTimer{ops.NewCPU(1)}, 1, 3)
	for _, row := range ablations {
		switch {
		case row.flipFold:
			require.NotContains(t, text, foldRowName(false))
			require.NotContains(t, text, foldRowName(true))
		case row.skip == kindPrefetch:
			require.NotContains(t, text, row.name)
		default:
			require.Equal(t, 2, strings.Count(text, row.name+" "), row.name)
		}
	}
	require.Contains(t, text, "forwards of 3 token(s)")

	for _, on := range []bool{false, true} {
		f := &foldingCPU{countingCPU: c, fold: on}
		require.Equal(t, 1, strings.Count(table(f, 1), foldRowName(on)+" "), "folding %v", on)
		require.Equal(t, on, f.fold, "folding restored")
	}
}
