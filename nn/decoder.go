package nn

import (
	"errors"
	"fmt"
	"math"

	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// Config is the shape of a decoder-only transformer, read from config.json
// by the model families.
type Config struct {
	Hidden       int     // hidden_size
	Intermediate int     // intermediate_size
	Layers       int     // num_hidden_layers
	Heads        int     // num_attention_heads
	KVHeads      int     // num_key_value_heads (GQA: Heads is a multiple of it)
	HeadDim      int     // head_dim (Qwen3 sets it; otherwise hidden_size / num_attention_heads)
	Vocab        int     // vocab_size: rows of the embedding and of the logits
	NormEps      float32 // rms_norm_eps
	RoPE         RoPEConfig
	MaxPositions int  // max_position_embeddings
	Tied         bool // tie_word_embeddings: the LM head is the embedding
}

// Validate reports a config that cannot describe a working decoder.
func (c *Config) Validate() error {
	switch {
	case c.Hidden <= 0, c.Intermediate <= 0, c.Layers <= 0, c.Heads <= 0, c.KVHeads <= 0, c.HeadDim <= 0, c.Vocab <= 0:
		return fmt.Errorf("hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim and vocab_size must be positive; got %d, %d, %d, %d, %d, %d, %d",
			c.Hidden, c.Intermediate, c.Layers, c.Heads, c.KVHeads, c.HeadDim, c.Vocab)
	case c.Heads%c.KVHeads != 0:
		return fmt.Errorf("num_attention_heads %d is not a multiple of num_key_value_heads %d", c.Heads, c.KVHeads)
	case c.HeadDim%2 != 0:
		return fmt.Errorf("head_dim %d must be even for rotary embeddings", c.HeadDim)
	case !(c.NormEps > 0):
		return fmt.Errorf("rms_norm_eps %v must be positive", c.NormEps)
	case c.Hidden > 1<<20, c.Intermediate > 1<<22, c.Layers > 1<<12, c.Heads > 1<<12, c.HeadDim > 1<<12, c.Vocab > 1<<24:
		return fmt.Errorf("config dimensions are implausibly large (hidden %d, intermediate %d, layers %d, heads %d, head_dim %d, vocab %d)",
			c.Hidden, c.Intermediate, c.Layers, c.Heads, c.HeadDim, c.Vocab)
	}
	return c.RoPE.Validate()
}

// Layer holds one decoder block's weights, loaded on the backend.
// Optional weights are nil when the family does not have them.
type Layer struct {
	AttnNorm            *tensor.Tensor // (hidden) input_layernorm
	Q, K, V             *tensor.Tensor // (heads·headDim, hidden), (kvHeads·headDim, hidden) ×2
	QBias, KBias, VBias *tensor.Tensor // (heads·headDim), (kvHeads·headDim) ×2: Qwen2 only
	QNorm, KNorm        *tensor.Tensor // (headDim): per-head RMSNorm of q and k, Qwen3 only
	O                   *tensor.Tensor // (hidden, heads·headDim)
	MLPNorm             *tensor.Tensor // (hidden) post_attention_layernorm
	Gate, Up            *tensor.Tensor // (intermediate, hidden)
	Down                *tensor.Tensor // (hidden, intermediate)
}

// Weights is a whole decoder's parameters.
type Weights struct {
	Embed  *tensor.Tensor // (vocab, hidden) embed_tokens
	Layers []Layer
	Norm   *tensor.Tensor // (hidden) final norm
	LMHead *tensor.Tensor // (vocab, hidden); the embedding when tied
}

// Decoder runs a decoder-only transformer on a backend, with its run state
// (activation buffers sized once) and KV cache.
type Decoder struct {
	cfg     Config
	b       Backend
	w       Weights
	cache   *KVCache
	maxRows int // positions per internal chunk

	cos, sin *tensor.Tensor // (capacity, headDim/2) RoPE tables

	// Run state for up to maxRows positions.
	x        *tensor.Tensor // (maxRows, hidden) residual stream
	xb       *tensor.Tensor // (maxRows, hidden) normed input of a sublayer
	q        *tensor.Tensor // (maxRows, heads·headDim)
	att      *tensor.Tensor // (maxRows, heads·headDim) attention output
	proj     *tensor.Tensor // (maxRows, hidden) output of o_proj / down_proj
	gate, up *tensor.Tensor // (maxRows, intermediate)
	// Keys and values of a chunk before StoreKV puts them into the cache of
	// a KVStore (nil otherwise: they go straight into the cache's rows).
	kNew, vNew *tensor.Tensor // (maxRows, kvHeads·headDim)
	store      KVStore
	// The backend's optional forms (nil where it lacks them): fused steps,
	// norms folded into its linear layers.
	fused  Fused
	folder NormFuser
	bulk   Bulker
	// bulkAll: chunks go to bulk whole, wanted rows included (SetBulkAll).
	bulkAll bool
	// The backend as an IDChainer (nil when it is not one), and the
	// handle ForwardArgmaxPending returns, reused from call to call.
	chain      IDChainer
	sampler    SampleChainer // the backend as one, or nil
	pending    pendingIDs
	draws      []float32 // ForwardVerifySampled's for the target's draws
	prevIDs    []int32   // ForwardArgmaxAfter's copy of the earlier model's ids
	joined     []int32   // its tokens and those ids, when they meet on the host
	prefixBuf  []int32   // a pending handle's ids before its own
	pendingBuf []int32   // a pending handle's ids when computed on the host (not d.ids: they may be read after a forward)

	// The backend as a Prefetcher (nil when it is not one) and, per
	// layer, the weights named to it after the q/k/v projections (o, gate
	// and up, read after attention) and after the down projection (the
	// next layer's q, k and v, or the LM head).
	prefetch           Prefetcher
	afterQKV, afterMLP [][]*tensor.Tensor
	// rot is the rotation handed to a NormFuser's folded projections (a
	// field, so that passing it allocates nothing).
	rot Rotation

	logits     *tensor.Tensor // (rows, vocab), grown to the largest want seen
	logitsHost []float32      // host copy when the backend is a device
	rows       [][]float32    // returned row views
	ids        []int32        // returned argmax ids
	probs      []float32      // returned argmax probabilities

	// Reusable tensor headers for the row views of one chunk, so that a
	// forward allocates nothing (see tensor.RowSliceInto).
	vx, vxb, vq, vatt, vproj, vgate, vup tensor.Tensor
	vk, vv, vqh, vkh                     tensor.Tensor
	vnx, vnxb, vlogits, vemb             tensor.Tensor
}

// NewDecoder prepares a decoder whose KV cache holds capacity positions
// and which processes at most maxRows positions per internal step (longer
// inputs are split). Weights must already be loaded on b.
func NewDecoder(b Backend, cfg Config, w Weights, capacity, maxRows int) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if capacity <= 0 || maxRows <= 0 {
		return nil, fmt.Errorf("decoder: context capacity %d and chunk size %d must be positive", capacity, maxRows)
	}
	if len(w.Layers) != cfg.Layers {
		return nil, fmt.Errorf("decoder: %d layers of weights for num_hidden_layers %d", len(w.Layers), cfg.Layers)
	}
	d := &Decoder{cfg: cfg, b: b, w: w, maxRows: maxRows}
	// On a GPU the cache can outgrow the device: a failure is an error
	// naming what did not fit, and what was made before it is freed.
	a := &allocation{b: b}
	var err error
	if d.cache, err = newKVCache(a, cfg.Layers, capacity, cfg.KVHeads, cfg.HeadDim); err != nil {
		a.release()
		return nil, fmt.Errorf("decoder: %w", err)
	}
	cos, sin := cfg.RoPE.Tables(cfg.HeadDim, capacity)
	d.cos, d.sin = a.load(tensor.FromF32(cos, capacity, cfg.HeadDim/2)), a.load(tensor.FromF32(sin, capacity, cfg.HeadDim/2))
	qDim := cfg.Heads * cfg.HeadDim
	d.x, d.xb, d.proj = a.alloc(maxRows, cfg.Hidden), a.alloc(maxRows, cfg.Hidden), a.alloc(maxRows, cfg.Hidden)
	d.q, d.att = a.alloc(maxRows, qDim), a.alloc(maxRows, qDim)
	d.gate, d.up = a.alloc(maxRows, cfg.Intermediate), a.alloc(maxRows, cfg.Intermediate)
	if d.cache.Stored { // the cache came from the backend's AllocKV
		d.store = b.(KVStore)
		d.kNew, d.vNew = a.alloc(maxRows, cfg.KVHeads*cfg.HeadDim), a.alloc(maxRows, cfg.KVHeads*cfg.HeadDim)
	}
	if err := a.failed(fmt.Sprintf("decoder: RoPE tables and buffers for %d positions, %d rows a step", capacity, maxRows)); err != nil {
		a.release()
		return nil, err
	}
	d.fused, _ = b.(Fused)
	d.folder, _ = b.(NormFuser)
	d.bulk, _ = b.(Bulker)
	d.chain, _ = b.(IDChainer)
	d.sampler, _ = b.(SampleChainer)
	if p, ok := b.(Prefetcher); ok {
		d.prefetch = p
		for l := range w.Layers {
			lw := &w.Layers[l]
			d.afterQKV = append(d.afterQKV, []*tensor.Tensor{lw.O, lw.Gate, lw.Up})
			next := []*tensor.Tensor{w.LMHead}
			if l+1 < len(w.Layers) {
				nw := &w.Layers[l+1]
				next = []*tensor.Tensor{nw.Q, nw.K, nw.V}
			}
			d.afterMLP = append(d.afterMLP, next)
		}
	}
	return d, nil
}

// Config returns the decoder's shape.
func (d *Decoder) Config() Config { return d.cfg }

// Weights returns the decoder's parameters as loaded on its backend (for
// the CPU, host tensors in their stored dtype; norms widened to F32).
func (d *Decoder) Weights() Weights { return d.w }

// Cache returns the KV cache.
func (d *Decoder) Cache() *KVCache { return d.cache }

// Len is the KV cache's logical length.
func (d *Decoder) Len() int { return d.cache.Len() }

// Truncate moves the KV cache's logical length back to n.
func (d *Decoder) Truncate(n int) { d.cache.Truncate(n) }

// Forward appends tokens at positions start.. to the KV cache and returns
// the logits of the last want positions (want rows of Vocab values). The
// rows alias the decoder's buffers until the next call.
func (d *Decoder) Forward(tokens []int32, start, want int) (_ [][]float32, err error) {
	defer deviceFailure(&err)
	if err := d.forward(input{host: tokens}, start, want); err != nil || want == 0 {
		return nil, err
	}
	host := d.hostLogits(want)
	V := d.cfg.Vocab
	d.rows = d.rows[:0]
	for r := 0; r < want; r++ {
		d.rows = append(d.rows, host[r*V:(r+1)*V])
	}
	return d.rows, nil
}

// ForwardArgmax is Forward returning, instead of each of the last want
// logits rows, the index of its largest value (the first on ties, as
// ops.Argmax): what greedy decoding needs. On a backend that implements
// Argmaxer and keeps the logits on a device, the argmax runs there and only
// want ids are copied back. The ids alias the decoder's buffer until the
// next call.
func (d *Decoder) ForwardArgmax(tokens []int32, start, want int) (_ []int32, err error) {
	defer deviceFailure(&err)
	ids, _, err := d.forwardArgmax(tokens, start, want, false)
	return ids, err
}

// ForwardArgmaxProb is ForwardArgmax that also returns each row's softmax
// probability of its argmax (what a greedy draft's confidence needs, see
// pard.Options.MinConfidence), computed where the logits are: a device
// copies back an id and a probability a row. Both alias the decoder's
// buffers until the next call.
func (d *Decoder) ForwardArgmaxProb(tokens []int32, start, want int) (_ []int32, _ []float32, err error) {
	defer deviceFailure(&err)
	return d.forwardArgmax(tokens, start, want, true)
}

func (d *Decoder) forwardArgmax(tokens []int32, start, want int, probs bool) ([]int32, []float32, error) {
	if err := d.forward(input{host: tokens}, start, want); err != nil || want == 0 {
		return nil, nil, err
	}
	return d.argmaxRows(want, probs)
}

// argmaxRows returns the argmax id (and with probs its softmax
// probability) of each of the first want logits rows, computed where they
// are.
func (d *Decoder) argmaxRows(want int, probs bool) ([]int32, []float32, error) {
	d.ids, d.probs = d.ids[:0], d.probs[:0]
	if a, ok := d.b.(Argmaxer); ok && d.logits.Place != tensor.Host {
		rows := d.logits.RowSliceInto(&d.vlogits, 0, want)
		var ids []int32
		var p []float32
		if probs {
			ids, p = a.ArgmaxProb(rows, want)
		} else {
			ids = a.Argmax(rows, want)
		}
		if len(ids) != want || probs && len(p) != want {
			return nil, nil, fmt.Errorf("decoder: backend %s returned %d argmax ids and %d probabilities for %d rows", d.b.Name(), len(ids), len(p), want)
		}
		// Copied so that the aliasing rule is the same on every path.
		d.ids, d.probs = append(d.ids, ids...), append(d.probs, p...)
	} else {
		host, V := d.hostLogits(want), d.cfg.Vocab
		for r := 0; r < want; r++ {
			row := host[r*V : (r+1)*V]
			id := ops.Argmax(row)
			d.ids = append(d.ids, int32(id))
			if probs {
				// In place: the rows are the decoder's, and this call
				// returns none of them.
				ops.Softmax(row)
				d.probs = append(d.probs, row[id])
			}
		}
	}
	return d.ids, d.probs, nil // d.probs is empty unless probs
}

// Pending is a handle on the argmax ids of a forward, which may still be
// where they were computed (see Decoder.ForwardArgmaxPending).
type Pending interface {
	// IDs returns the ids, waiting for the device and copying them back
	// if they are still there. They alias the buffers of the decoder that
	// computed them until its next call.
	IDs() ([]int32, error)
}

// pendingIDs is the Decoder's Pending: the ids prefix (in host memory),
// then ids [off, off+n) of the backend's kept list of generation gen; or,
// once read (or when computed on the host), ids.
type pendingIDs struct {
	d      *Decoder
	prefix []int32
	gen    uint64
	off, n int
	read   bool
	ids    []int32
	width  int // drawn by KeepSample (> 0): the values they were drawn among
}

// IDs implements Pending.
func (p *pendingIDs) IDs() (_ []int32, err error) {
	defer deviceFailure(&err)
	if p.read {
		return p.ids, nil
	}
	all, gen := p.d.chain.ReadKept()
	if gen != p.gen || p.off+p.n > len(all) {
		return nil, fmt.Errorf("decoder: argmax ids %d..%d of kept list %d are gone (the backend %s now holds list %d of %d ids)",
			p.off, p.off+p.n-1, p.gen, p.d.b.Name(), gen, len(all))
	}
	p.take(all)
	return p.ids, nil
}

// take copies the handle's ids out of the kept list all, after its prefix.
func (p *pendingIDs) take(all []int32) {
	p.d.ids = append(append(p.d.ids[:0], p.prefix...), all[p.off:p.off+p.n]...)
	p.ids, p.read = p.d.ids, true
}

// onDevice reports whether p's kept ids can feed d's forward where they
// are: kept on d's backend, in its open list, and below d's vocabulary
// (argmax ids span their decoder's rows, draws the values they took).
func (d *Decoder) onDevice(p *pendingIDs) bool {
	bound := p.d.cfg.Vocab
	if p.width > 0 {
		bound = p.width
	}
	return !p.read && d.chain != nil && p.d.chain == d.chain && p.gen == d.chain.KeptGeneration() && bound <= d.cfg.Vocab
}

// pend makes d.pending the handle on prefix followed by the argmax ids of
// the first want logits rows: kept on the device where the backend
// chains, else computed now (into pendingBuf, which prefix must not be).
func (d *Decoder) pend(prefix []int32, want int) (Pending, error) {
	p := &d.pending
	*p = pendingIDs{d: d, prefix: prefix}
	if d.chain != nil && d.logits.Place != tensor.Host {
		p.off, p.gen = d.keep(want, nil)
		p.n = want
		return p, nil
	}
	ids, _, err := d.argmaxRows(want, false)
	if err != nil {
		return nil, err
	}
	d.pendingBuf = append(append(d.pendingBuf[:0], prefix...), ids...)
	p.ids, p.read = d.pendingBuf, true
	return p, nil
}

// ForwardArgmaxPending is ForwardArgmax whose ids may stay where they were
// computed: on a backend that is an IDChainer they are kept on the device
// until the handle's IDs, or another decoder's ForwardArgmaxAfter, reads
// them; elsewhere they are computed at once. The handle is valid until
// this decoder's next call.
func (d *Decoder) ForwardArgmaxPending(tokens []int32, start, want int) (_ Pending, err error) {
	defer deviceFailure(&err)
	if want < 1 {
		return nil, fmt.Errorf("decoder: want %d argmax ids: a pending forward gives at least one", want)
	}
	if err := d.forward(input{host: tokens}, start, want); err != nil {
		return nil, err
	}
	return d.pend(nil, want)
}

// ForwardArgmaxPendingAfter is ForwardArgmaxPending over tokens followed
// by the last feed ids of prev (typically this decoder's previous handle:
// an autoregressive draft feeding its newest draft back), at positions
// start..; the handle it returns holds prev's ids followed by its own, so
// that a draft's K sequential forwards leave one handle on all K drafts.
// Where prev's ids are kept on this backend's open list they are fed from
// there and the ids stay on the device.
func (d *Decoder) ForwardArgmaxPendingAfter(tokens []int32, prev Pending, feed, start, want int) (_ Pending, err error) {
	defer deviceFailure(&err)
	if want < 1 {
		return nil, fmt.Errorf("decoder: want %d argmax ids: a pending forward gives at least one", want)
	}
	p, ok := prev.(*pendingIDs)
	if ok && d.onDevice(p) && feed >= 0 && feed <= p.n {
		return d.feedKept(tokens, p, feed, start, want, nil)
	}
	ids, err := prev.IDs()
	if err != nil {
		return nil, err
	}
	if feed < 0 || feed > len(ids) {
		return nil, fmt.Errorf("decoder: feeding back %d of %d ids", feed, len(ids))
	}
	// Copied before the forward, which rewrites d.ids (prev's ids when it
	// is this decoder's handle).
	d.prefixBuf = append(d.prefixBuf[:0], ids...)
	d.joined = append(append(d.joined[:0], tokens...), d.prefixBuf[len(ids)-feed:]...)
	if err := d.forward(input{host: d.joined}, start, want); err != nil {
		return nil, err
	}
	return d.pend(d.prefixBuf, want)
}

// sampling is a draw's settings and its rows' uniform numbers (keep).
type sampling struct {
	s Sampling
	u []float32
}

// keep queues the first want logits rows' argmax ids (smp nil) or draws
// into the backend's open list, and returns where they start and its
// generation.
func (d *Decoder) keep(want int, smp *sampling) (off int, gen uint64) {
	rows := d.logits.RowSliceInto(&d.vlogits, 0, want)
	if smp != nil {
		return d.sampler.KeepSample(rows, want, smp.s, smp.u)
	}
	return d.chain.KeepArgmax(rows, want)
}

// feedKept forwards tokens followed by the last feed of p's ids, kept on
// this backend's open list, at positions start.., and keeps the last want
// positions' argmax ids (smp nil) or draws after p's: d.pending becomes
// the handle on p's ids and them.
func (d *Decoder) feedKept(tokens []int32, p *pendingIDs, feed, start, want int, smp *sampling) (Pending, error) {
	// A copy of the prefix: p may be d.pending, which this rewrites.
	d.prefixBuf = append(d.prefixBuf[:0], p.prefix...)
	gen, off, n := p.gen, p.off, p.n
	if err := d.forward(input{host: tokens, keptOff: off + n - feed, kept: feed}, start, want); err != nil {
		return nil, err
	}
	own, ownGen := d.keep(want, smp)
	if ownGen != gen || own != off+n {
		return nil, fmt.Errorf("decoder: backend %s kept ids at %d of list %d, not after the earlier ones (%d..%d of list %d)",
			d.b.Name(), own, ownGen, off, off+n-1, gen)
	}
	q := &d.pending
	*q = pendingIDs{d: d, prefix: d.prefixBuf, gen: gen, off: off, n: n + want}
	if smp != nil {
		q.width = d.drawWidth(smp.s)
	}
	return q, nil
}

// SamplesOnDevice reports whether ForwardSamplePending can draw where the
// logits are: the backend is a SampleChainer (whose buffers are on its
// device).
func (d *Decoder) SamplesOnDevice() bool { return d.sampler != nil }

// ForwardSamplePending is ForwardArgmaxPending drawing each of the last
// want positions' ids from its logits' distribution (ops.DraftDist with
// s) by the uniform number of u instead of taking their argmax, on the
// device, where the distributions stay: a sampling draft's forward whose
// drafts feed the target's verify there (ForwardVerifySampled), or a
// target's own draw. It needs SamplesOnDevice. The handle is valid until
// this decoder's next call.
func (d *Decoder) ForwardSamplePending(tokens []int32, start, want int, s Sampling, u []float32) (_ Pending, err error) {
	defer deviceFailure(&err)
	if err := d.checkSample(want, s, u); err != nil {
		return nil, err
	}
	if err := d.forward(input{host: tokens}, start, want); err != nil {
		return nil, err
	}
	p := &d.pending
	*p = pendingIDs{d: d, n: want, width: d.drawWidth(s)}
	p.off, p.gen = d.keep(want, &sampling{s, u})
	return p, nil
}

// drawWidth is the number of values of a row that draws with s take.
func (d *Decoder) drawWidth(s Sampling) int {
	if s.Vocab > 0 {
		return s.Vocab
	}
	return d.cfg.Vocab
}

// ForwardSamplePendingAfter is ForwardSamplePending over tokens followed
// by the last feed ids of prev, a handle drawn on this decoder's device
// (VSD: each draft fed back); the handle it returns holds prev's ids
// followed by its own.
func (d *Decoder) ForwardSamplePendingAfter(tokens []int32, prev Pending, feed, start, want int, s Sampling, u []float32) (_ Pending, err error) {
	defer deviceFailure(&err)
	if err := d.checkSample(want, s, u); err != nil {
		return nil, err
	}
	p, ok := prev.(*pendingIDs)
	if !ok || p.width == 0 || len(p.prefix) > 0 || !d.onDevice(p) || feed < 0 || feed > p.n {
		return nil, fmt.Errorf("decoder: feeding back %d ids of a handle not drawn on %s's open list", feed, d.b.Name())
	}
	if p.width != d.drawWidth(s) {
		return nil, fmt.Errorf("decoder: draws among %d tokens after draws among %d (Sampling.Vocab)", d.drawWidth(s), p.width)
	}
	return d.feedKept(tokens, p, feed, start, want, &sampling{s, u})
}

// checkSample checks a sampled forward's settings and uniform numbers.
func (d *Decoder) checkSample(want int, s Sampling, u []float32) error {
	switch {
	case !d.SamplesOnDevice():
		return fmt.Errorf("decoder: backend %s does not draw ids on a device", d.b.Name())
	case want < 1:
		return fmt.Errorf("decoder: want %d draws: a pending forward gives at least one", want)
	case len(u) != want:
		return fmt.Errorf("decoder: %d uniform numbers for %d draws", len(u), want)
	case !(s.Temperature > 0 && 1/s.Temperature < math.MaxFloat32) || s.TopK < 0 || !(s.TopP >= 0 && s.TopP <= 1) || s.Vocab < 0 || s.Vocab > d.cfg.Vocab:
		return fmt.Errorf("decoder: sampling with temperature %v, top-k %d, top-p %v among %d of %d tokens", s.Temperature, s.TopK, s.TopP, s.Vocab, d.cfg.Vocab)
	}
	for _, v := range u {
		if !(v >= 0 && v < 1) {
			return fmt.Errorf("decoder: uniform number %v outside [0, 1)", v)
		}
	}
	return nil
}

// ForwardVerifySampled is the target's verify of k drafts drawn on this
// decoder's device (prev: the draft's ForwardSamplePending or
// ForwardSamplePendingAfter, all k of them in its handle) by speculative
// rejection sampling, on the device: it forwards tokens followed by the
// drafts at positions start.., draws from the last k+1 positions'
// distributions (ops.DraftDist with s; the last by u[k], the bonus
// token), and runs the acceptance test (SampleChainer.KeepVerdict with
// u[0..k]). The host waits once, and copies back ids: the drafts, the
// number accepted and the token that follows them. drafts aliases this
// decoder's buffer until its next call.
func (d *Decoder) ForwardVerifySampled(tokens []int32, prev Pending, start, k int, s Sampling, u []float32) (drafts []int32, accepted int, next int32, err error) {
	defer deviceFailure(&err)
	p, ok := prev.(*pendingIDs)
	if !ok || p.width == 0 || len(p.prefix) > 0 || p.n != k || k < 1 || !d.onDevice(p) {
		return nil, 0, 0, fmt.Errorf("decoder: verifying %d drafts of a handle not drawn on %s's open list", k, d.b.Name())
	}
	if err := d.checkSample(k+1, s, u); err != nil {
		return nil, 0, 0, err
	}
	if p.width != d.drawWidth(s) {
		return nil, 0, 0, fmt.Errorf("decoder: drafts drawn among %d tokens, the target's draws among %d (Sampling.Vocab)", p.width, d.drawWidth(s))
	}
	if err := d.forward(input{host: tokens, keptOff: p.off, kept: p.n}, start, k+1); err != nil {
		return nil, 0, 0, err
	}
	// Only the last row's draw is the target's (the bonus token); the
	// others stand beside their distributions, which the test reads.
	d.draws = d.draws[:0]
	for range k {
		d.draws = append(d.draws, 0)
	}
	d.draws = append(d.draws, u[k])
	target, gen := d.keep(k+1, &sampling{s, d.draws})
	verdict := d.sampler.KeepVerdict(p.off, target, k, u)
	all, err := d.takeKept(p, gen, verdict, 2)
	if err != nil {
		return nil, 0, 0, err
	}
	vocab := d.drawWidth(s)
	accepted, next = int(all[verdict]), all[verdict+1]
	if accepted < 0 || accepted > k || next < 0 || int(next) >= vocab {
		return nil, 0, 0, fmt.Errorf("decoder: backend %s's verdict on %d drafts: %d accepted, then token %d of a vocabulary of %d", d.b.Name(), k, accepted, next, vocab)
	}
	return d.prevIDs, accepted, next, nil
}

// takeKept reads the backend's list back, which must be p's (and hold this
// decoder's own n ids at off of list gen, when n > 0), copies p's ids into
// d.prevIDs and returns the list.
func (d *Decoder) takeKept(p *pendingIDs, gen uint64, off, n int) ([]int32, error) {
	all, readGen := d.chain.ReadKept()
	if gen != p.gen || readGen != gen || p.off+p.n > len(all) || off+n > len(all) {
		return nil, fmt.Errorf("decoder: backend %s read back list %d of %d ids, not list %d (the earlier model's, and this one's kept in list %d at %d)",
			d.b.Name(), readGen, len(all), p.gen, gen, off)
	}
	p.take(all)
	d.prevIDs = append(d.prevIDs[:0], p.ids...)
	return all, nil
}

// ForwardArgmaxAfter is ForwardArgmax over tokens followed by the ids prev
// holds (another decoder's ForwardArgmaxPending, typically a draft's) at
// positions start..; it returns prev's ids and its own. When prev's ids
// are kept on this decoder's backend and still in its open list, they go
// straight from that list into the embedding, and both models' ids come
// back in one copy: the only wait for the device between the two
// forwards. Otherwise prev's ids are read first and the forward runs over
// both on the host's side. prevIDs and ids alias this decoder's buffers
// until its next call.
func (d *Decoder) ForwardArgmaxAfter(tokens []int32, prev Pending, start, want int) (prevIDs, ids []int32, err error) {
	defer deviceFailure(&err)
	p, ok := prev.(*pendingIDs)
	if !ok || want == 0 || !d.onDevice(p) {
		pids, err := prev.IDs()
		if err != nil {
			return nil, nil, err
		}
		d.prevIDs = append(d.prevIDs[:0], pids...)
		d.joined = append(append(d.joined[:0], tokens...), pids...)
		ids, err := d.ForwardArgmax(d.joined, start, want)
		return d.prevIDs, ids, err
	}
	d.joined = append(append(d.joined[:0], tokens...), p.prefix...)
	if err := d.forward(input{host: d.joined, keptOff: p.off, kept: p.n}, start, want); err != nil {
		return nil, nil, err
	}
	off, gen := d.chain.KeepArgmax(d.logits.RowSliceInto(&d.vlogits, 0, want), want)
	all, err := d.takeKept(p, gen, off, want)
	if err != nil {
		return nil, nil, err
	}
	d.ids = append(d.ids[:0], all[off:off+want]...)
	return d.prevIDs, d.ids, nil
}

// deviceFailure, deferred by the Decoder's methods, turns a backend's
// panic with an error wrapping ErrDevice into the method's error; any
// other panic goes on.
func deviceFailure(err *error) {
	r := recover()
	if r == nil {
		return
	}
	if e, ok := r.(error); ok && errors.Is(e, ErrDevice) {
		*err = fmt.Errorf("decoder: %w", e)
		return
	}
	panic(r)
}

// input is a forward's tokens: ids in host memory, then kept ids [keptOff,
// keptOff+kept) of the backend's IDChainer list.
type input struct {
	host          []int32
	keptOff, kept int
}

func (in input) len() int { return len(in.host) + in.kept }

// slice returns tokens [c0, c1) of in.
func (in input) slice(c0, c1 int) input {
	nh := len(in.host)
	k0, k1 := max(c0, nh)-nh, max(c1, nh)-nh
	return input{host: in.host[min(c0, nh):min(c1, nh)], keptOff: in.keptOff + k0, kept: k1 - k0}
}

// forward validates a Forward call, appends tokens at positions start.. to
// the KV cache and leaves the logits of the last want positions in rows
// [0, want) of d.logits.
func (d *Decoder) forward(in input, start, want int) error {
	n := in.len()
	if n == 0 {
		return fmt.Errorf("decoder: no tokens to forward")
	}
	if want < 0 || want > n {
		return fmt.Errorf("decoder: want %d logit rows from %d tokens", want, n)
	}
	for i, t := range in.host {
		if t < 0 || int(t) >= d.cfg.Vocab {
			return fmt.Errorf("decoder: token %d at input index %d is outside the vocabulary [0, %d)", t, i, d.cfg.Vocab)
		}
	}
	if err := d.growLogits(want); err != nil {
		return err
	}
	if err := d.cache.reserve(start, n); err != nil {
		return err
	}
	for c0 := 0; c0 < n; {
		c1 := min(n, c0+d.maxRows)
		// The chunk's rows from keep on are among the last want.
		keep := min(c1, max(c0, n-want)) - c0
		// Enough rows only for the cache go to a Bulker's product alone:
		// the rest of the chunk, wanted, follows as the next chunk. With
		// SetBulkAll, a chunk long enough goes whole.
		bulk := false
		if least := d.bulkRows(); least > 0 {
			switch {
			case d.bulkAll:
				bulk = c1-c0 >= least
			case keep >= least:
				bulk, c1 = true, c0+keep
			}
		}
		d.forwardChunk(in.slice(c0, c1), start+c0, keep, bulk)
		// Logits for the rows of this chunk among the last want of the input.
		if lo := max(c0, n-want); lo < c1 {
			d.logitRows(lo-c0, c1-c0, lo-(n-want), bulk)
		}
		c0 = c1
	}
	return nil
}

// hostLogits returns the first want logits rows (want·Vocab values) in host
// memory, reading them back from the device if they live there.
func (d *Decoder) hostLogits(want int) []float32 {
	if d.logits.Place == tensor.Host {
		return d.logits.F32()
	}
	host := d.logitsHost[:want*d.cfg.Vocab]
	d.b.Read(host, d.logits.RowSliceInto(&d.vlogits, 0, want))
	return host
}

func (d *Decoder) growLogits(want int) error {
	if d.logits != nil && d.logits.Rows() >= want || want == 0 {
		return nil
	}
	// The old buffer goes back first (a GPU's memory, where a score of a
	// long text wants a row for every position).
	a := &allocation{b: d.b}
	if f, ok := d.b.(Allocator); ok && d.logits != nil {
		f.Free(d.logits)
		d.logits = nil
	}
	logits := a.alloc(want, d.cfg.Vocab)
	if err := a.failed(fmt.Sprintf("decoder: logits of %d rows (%.1f MB)", want, float64(want)*float64(d.cfg.Vocab)*4/1e6)); err != nil {
		return err
	}
	d.logits = logits
	if d.logits.Place != tensor.Host {
		d.logitsHost = make([]float32, want*d.cfg.Vocab)
	}
	d.rows = make([][]float32, 0, want)
	d.ids = make([]int32, 0, want)
	return nil
}

// forwardChunk runs every layer over tokens at positions start.., leaving
// the final residual stream of rows keep.. in d.x. The rows before keep
// (a prompt's, or a PARD draft's accepted tokens) need only their keys and
// values from the last layer, so its attention and MLP skip them: a 1/L
// share of a prefill's arithmetic. Every row is computed independently of
// the others, so the kept rows' bits do not change. With bulk (a chunk of
// rows only for the cache, keep == M, or any chunk under SetBulkAll) the
// linear layers and attention are the Bulker's, and the fused, folded and
// prefetching forms sit out.
func (d *Decoder) forwardChunk(in input, start, keep int, bulk bool) {
	cfg, b := &d.cfg, d.b
	M := in.len()
	x, xb, q := d.x.RowSliceInto(&d.vx, 0, M), d.xb.RowSliceInto(&d.vxb, 0, M), d.q.RowSliceInto(&d.vq, 0, M)
	att, proj := d.att.RowSliceInto(&d.vatt, 0, M), d.proj.RowSliceInto(&d.vproj, 0, M)
	gate, up := d.gate.RowSliceInto(&d.vgate, 0, M), d.up.RowSliceInto(&d.vup, 0, M)

	// A backend with fused steps (a GPU) runs each residual add with the
	// norm after it, the three attention projections, both rotations, and
	// the MLP's gate, up and SiLU·mul, each as one operation. One that
	// folds norms (a GPU, for a decode step's few rows) adds to the
	// residual stream x in the output and down projections and normalizes
	// it in the q/k/v and gate/up projections, so that xb is not written.
	fused, folder := d.fused, d.folder
	fold := !bulk && folder != nil && folder.FusesNorm(M)
	d.embed(x, in)
	if len(d.w.Layers) > 0 && !fold {
		b.RMSNorm(xb, x, d.w.Layers[0].AttnNorm, cfg.NormEps)
	}
	for l := range d.w.Layers {
		w := &d.w.Layers[l]
		// Keys and values go straight into their cache rows, or, for a
		// KVStore's cache, into F32 rows stored there after RoPE.
		var k, v *tensor.Tensor
		if d.store != nil {
			k, v = d.kNew.RowSliceInto(&d.vk, 0, M), d.vNew.RowSliceInto(&d.vv, 0, M)
		} else {
			k, v = d.cache.K[l].RowSliceInto(&d.vk, start, start+M), d.cache.V[l].RowSliceInto(&d.vv, start, start+M)
		}

		// attention: q/k/v projections of the normed input (xb, or x
		// normed on the way when folding), (Qwen3) per-head q/k norm, RoPE
		sameBiases := (w.QBias == nil) == (w.KBias == nil) && (w.QBias == nil) == (w.VBias == nil)
		rotated := false
		if fold && sameBiases {
			// Without a per-head q/k norm between them, the rotation
			// rides along too.
			var rot *Rotation
			if w.QNorm == nil {
				d.rot = Rotation{Heads: cfg.Heads, KVHeads: cfg.KVHeads, HeadDim: cfg.HeadDim, Start: start, Cos: d.cos, Sin: d.sin}
				rot, rotated = &d.rot, true
			}
			folder.NormLinearQKV(q, k, v, x, w.AttnNorm, cfg.NormEps, w.Q, w.K, w.V, w.QBias, w.KBias, w.VBias, rot)
		} else {
			if fold { // a layer the folded projections do not take
				b.RMSNorm(xb, x, w.AttnNorm, cfg.NormEps)
			}
			if fused != nil && sameBiases && !bulk {
				fused.LinearQKV(q, k, v, xb, w.Q, w.K, w.V, w.QBias, w.KBias, w.VBias)
			} else {
				d.linear(bulk, q, xb, w.Q, w.QBias)
				d.linear(bulk, k, xb, w.K, w.KBias)
				d.linear(bulk, v, xb, w.V, w.VBias)
			}
		}
		if d.prefetch != nil && !bulk && !(l == len(d.w.Layers)-1 && keep == M) {
			d.prefetch.PrefetchWeights(d.afterQKV[l])
		}
		if w.QNorm != nil {
			qh, kh := q.ReshapeInto(&d.vqh, M*cfg.Heads, cfg.HeadDim), k.ReshapeInto(&d.vkh, M*cfg.KVHeads, cfg.HeadDim)
			b.RMSNorm(qh, qh, w.QNorm, cfg.NormEps)
			b.RMSNorm(kh, kh, w.KNorm, cfg.NormEps)
		}
		switch {
		case rotated:
		case fused != nil:
			fused.RoPEQK(q, k, cfg.Heads, cfg.KVHeads, cfg.HeadDim, start, d.cos, d.sin)
		default:
			b.RoPE(q, cfg.Heads, cfg.HeadDim, start, d.cos, d.sin)
			b.RoPE(k, cfg.KVHeads, cfg.HeadDim, start, d.cos, d.sin)
		}
		if d.store != nil {
			d.store.StoreKV(d.cache.K[l], d.cache.V[l], start, k, v)
		}
		if l == len(d.w.Layers)-1 && keep > 0 {
			if keep == M {
				return // the cache was all this chunk was for
			}
			q, att, proj = d.q.RowSliceInto(&d.vq, keep, M), d.att.RowSliceInto(&d.vatt, keep, M), d.proj.RowSliceInto(&d.vproj, keep, M)
			x, xb = d.x.RowSliceInto(&d.vx, keep, M), d.xb.RowSliceInto(&d.vxb, keep, M)
			gate, up = d.gate.RowSliceInto(&d.vgate, keep, M), d.up.RowSliceInto(&d.vup, keep, M)
			start, M = start+keep, M-keep
		}
		// causal grouped-query attention over the cache, output projection,
		// residual, and the MLP's norm
		if bulk {
			d.bulk.AttentionBulk(att, q, d.cache.K[l], d.cache.V[l], start, cfg.Heads, cfg.KVHeads, cfg.HeadDim)
		} else {
			b.Attention(att, q, d.cache.K[l], d.cache.V[l], start, cfg.Heads, cfg.KVHeads, cfg.HeadDim)
		}
		if fold {
			folder.LinearAdd(x, att, w.O)
		} else {
			d.linear(bulk, proj, att, w.O, nil)
			d.addNorm(fused, xb, x, proj, w.MLPNorm)
		}

		// SwiGLU MLP: down(silu(gate(x)) · up(x)), residual, and the next
		// layer's attention norm (after the last layer, logitRows norms
		// only the rows it needs; when folding, the next projections do)
		switch {
		case fold:
			folder.NormLinearSwiGLU(gate, x, w.MLPNorm, cfg.NormEps, w.Gate, w.Up)
			folder.LinearAdd(x, gate, w.Down)
		case fused != nil && !bulk:
			fused.LinearSwiGLU(gate, xb, w.Gate, w.Up)
			b.Linear(proj, gate, w.Down, nil)
		default:
			d.linear(bulk, gate, xb, w.Gate, nil)
			d.linear(bulk, up, xb, w.Up, nil)
			b.SiLUMul(gate, gate, up)
			d.linear(bulk, proj, gate, w.Down, nil)
		}
		if d.prefetch != nil && !bulk {
			d.prefetch.PrefetchWeights(d.afterMLP[l])
		}
		if !fold {
			if l+1 < len(d.w.Layers) {
				d.addNorm(fused, xb, x, proj, d.w.Layers[l+1].AttnNorm)
			} else {
				b.Add(x, proj)
			}
		}
	}
}

// linear is the backend's Linear, or with bulk the Bulker's LinearBulk.
func (d *Decoder) linear(bulk bool, out, x, w, bias *tensor.Tensor) {
	if bulk {
		d.bulk.LinearBulk(out, x, w, bias)
		return
	}
	d.b.Linear(out, x, w, bias)
}

// embed gathers the embedding rows of in's tokens into x: those named on
// the host through Embedding, the kept ones through the IDChainer.
func (d *Decoder) embed(x *tensor.Tensor, in input) {
	if in.kept == 0 {
		d.b.Embedding(x, d.w.Embed, in.host)
		return
	}
	nh := len(in.host)
	if nh > 0 {
		d.b.Embedding(x.RowSliceInto(&d.vemb, 0, nh), d.w.Embed, in.host)
	}
	d.chain.EmbeddingKept(x.RowSliceInto(&d.vemb, nh, nh+in.kept), d.w.Embed, in.keptOff, in.kept)
}

// addNorm does x += delta, then out = RMSNorm(x)·w: fused where the
// backend can.
func (d *Decoder) addNorm(f Fused, out, x, delta, w *tensor.Tensor) {
	if f != nil {
		f.AddRMSNorm(out, x, delta, w, d.cfg.NormEps)
		return
	}
	d.b.Add(x, delta)
	d.b.RMSNorm(out, x, w, d.cfg.NormEps)
}

// logitRows applies the final norm and LM head to chunk rows [lo, hi),
// writing logits rows from dst on; with bulk, the head is the Bulker's.
func (d *Decoder) logitRows(lo, hi, dst int, bulk bool) {
	xb := d.xb.RowSliceInto(&d.vnxb, lo, hi)
	d.b.RMSNorm(xb, d.x.RowSliceInto(&d.vnx, lo, hi), d.w.Norm, d.cfg.NormEps)
	d.linear(bulk, d.logits.RowSliceInto(&d.vlogits, dst, dst+hi-lo), xb, d.w.LMHead, nil)
}

// bulkRows is the Bulker's BulkRows, or 0 without one.
func (d *Decoder) bulkRows() int {
	if d.bulk == nil {
		return 0
	}
	return d.bulk.BulkRows()
}

// SetBulkAll lets a Bulker's product (a GPU's tiled one, see Bulker) take
// every row of a chunk of BulkRows rows or more, those whose logits are
// read and the LM head's included: for scoring a text (cmd/score), where
// no other forward must give a row the same bits. Off by default, and it
// must stay off for speculative decoding, whose verify must compute each
// row as a decoding step does, which only Linear guarantees. Without a
// Bulker it changes nothing.
func (d *Decoder) SetBulkAll(on bool) { d.bulkAll = on }
