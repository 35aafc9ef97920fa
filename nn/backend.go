// Package nn holds the pieces a decoder-only transformer is built from —
// the Backend interface its layers run on, RoPE frequency tables (with
// Llama 3 scaling), the KV cache with a movable logical length (float32
// rows, or the layout and dtype of a backend that is a KVStore), and the
// Decoder that chains them — without knowing which model family it serves.
// Families (models/llama, models/qwen) differ only in config switches and
// nil-able weights.
package nn

import (
	"errors"

	"github.com/gopard/gopard/tensor"
)

// ErrDevice is wrapped by what a backend panics with when its device
// fails an operation (a GPU's launch or copy refused, its memory gone mid
// forward): Backend's methods have no error results. The Decoder's
// methods recover such a panic and return it as their error; any other
// panic (a misuse: operands of the wrong shape) goes on. After one the
// device's state is unknown: close the backend.
var ErrDevice = errors.New("device failure")

// ErrOutOfMemory is matched (errors.Is) by the errors that mean a device
// has too little memory for what was asked: a model refused before its
// upload because it does not fit, or an allocation the driver refused for
// want of memory. Unlike other load errors, the same work may still run
// elsewhere (on the CPU, from host memory), which is what --device auto
// does on it.
var ErrOutOfMemory = errors.New("out of device memory")

// OutOfMemory returns err, with its message unchanged, matching
// ErrOutOfMemory as well as what err matches.
func OutOfMemory(err error) error { return outOfMemory{err} }

type outOfMemory struct{ err error }

func (e outOfMemory) Error() string        { return e.err.Error() }
func (e outOfMemory) Unwrap() error        { return e.err }
func (e outOfMemory) Is(target error) bool { return target == ErrOutOfMemory }

// Backend runs the dozen operations a decoder needs. Activations are F32
// tensors the backend allocated; weights are tensors the backend prepared
// with Load. Shapes are (rows, cols) with rows = positions. Methods do not
// return errors: callers validate shapes once, at load, from config.json.
// ops.CPU is the first implementation; gpu/cuda and gpu/hip follow.
type Backend interface {
	// Name identifies the backend in messages ("cpu", "cuda:0").
	Name() string
	// Alloc returns a zeroed F32 activation tensor.
	Alloc(shape ...int) *tensor.Tensor
	// Load makes a host weight (often a memory-mapped span) usable by the
	// kernels: the CPU uses it in place; a GPU uploads it.
	Load(w *tensor.Tensor) (*tensor.Tensor, error)

	// Embedding gathers rows ids of table (vocab, dim) into out (len(ids), dim).
	Embedding(out, table *tensor.Tensor, ids []int32)
	// Linear computes out = x·wᵀ + bias: x (M, K), w (N, K), out (M, N); bias (N) may be nil.
	Linear(out, x, w, bias *tensor.Tensor)
	// RMSNorm normalizes each row of x (rows, len(w)) and scales by w; out may be x.
	RMSNorm(out, x, w *tensor.Tensor, eps float32)
	// RoPE rotates x (rows, heads·headDim) in place for positions start..;
	// cos and sin are (positions, headDim/2) tables from NewRoPE.
	RoPE(x *tensor.Tensor, heads, headDim, start int, cos, sin *tensor.Tensor)
	// Attention is causal GQA of q (M, heads·headDim) at positions start..
	// over the cache k, v, into out: (≥ start+M, kvHeads·headDim) rows of
	// positions, or, from a KVStore's AllocKV, that backend's layout.
	Attention(out, q, k, v *tensor.Tensor, start, heads, kvHeads, headDim int)
	// SiLUMul computes out = silu(gate) · up elementwise.
	SiLUMul(out, gate, up *tensor.Tensor)
	// Add does dst += src elementwise.
	Add(dst, src *tensor.Tensor)
	// Read copies an F32 tensor into host memory.
	Read(dst []float32, src *tensor.Tensor)
}

// Allocator is implemented by backends whose memory can run out in the
// normal course of things (a GPU's: a model and a long context's KV cache
// can outgrow it). TryAlloc is Alloc with a failed allocation returned as
// an error instead of a panic, and Free gives a tensor's memory back
// before the backend closes. NewDecoder makes its KV cache and buffers
// with them, so that a context too large for the device is an error that
// says so, with nothing of the decoder left allocated (a caller may try
// again with a shorter one).
type Allocator interface {
	TryAlloc(shape ...int) (*tensor.Tensor, error)
	Free(t *tensor.Tensor)
}

// KVAllocator is implemented by a KVStore whose caches can outgrow its
// memory (a GPU's): TryAllocKV is AllocKV with a failed allocation
// returned as an error, as Allocator's TryAlloc is Alloc.
type KVAllocator interface {
	TryAllocKV(rows, kvHeads, headDim int) (*tensor.Tensor, error)
}

// Argmaxer is implemented by backends that can find each row's largest
// logit where the logits live (a GPU), so greedy decoding copies back ids
// instead of rows (vocab up to ~152k floats each).
type Argmaxer interface {
	// Argmax returns the index of the largest value of each of the rows of
	// t, a (rows, n) F32 tensor the backend allocated: the first index on
	// ties, NaNs never winning, as ops.Argmax.
	Argmax(t *tensor.Tensor, rows int) []int32
	// ArgmaxProb is Argmax that also returns each row's softmax
	// probability of its argmax, 1 / Σ_j exp(t_j - max) (-inf and NaN
	// adding nothing; 0 for a row without a finite value).
	ArgmaxProb(t *tensor.Tensor, rows int) ([]int32, []float32)
}

// Fused is implemented by backends that can run several steps of a layer
// as one: a GPU, where each launch has a fixed cost of microseconds, more
// than a decode step's normalization or rotation takes; and ops.CPU, where
// each pool dispatch has one (it runs q, k, v and gate, up as one each).
// The Decoder uses it when the backend has it; the results are those of
// the separate operations, bit for bit.
type Fused interface {
	// AddRMSNorm does x += delta, then out = RMSNorm(x)·w, as Add and
	// RMSNorm; out must not be x.
	AddRMSNorm(out, x, delta, w *tensor.Tensor, eps float32)
	// RoPEQK rotates q (rows, heads·headDim) and k (rows, kvHeads·headDim)
	// in place, as RoPE on each.
	RoPEQK(q, k *tensor.Tensor, heads, kvHeads, headDim, start int, cos, sin *tensor.Tensor)
	// LinearSwiGLU computes out = silu(x·gateᵀ) · (x·upᵀ), as two Linear
	// and a SiLUMul: x (M, K), gate and up (N, K), out (M, N).
	LinearSwiGLU(out, x, gate, up *tensor.Tensor)
	// LinearQKV computes the attention's three projections of x, as
	// Linear(q, x, wq, bq), Linear(k, x, wk, bk) and Linear(v, x, wv, bv);
	// the biases are all nil or all set.
	LinearQKV(q, k, v, x, wq, wk, wv, bq, bk, bv *tensor.Tensor)
}

// NormFuser is implemented by backends that can fold a decoder layer's
// residual adds and RMSNorms into the linear layers around them (a GPU:
// two launches a layer fewer): the output and down projections add to the
// residual stream as they store their sums, and the q/k/v and gate/up
// projections normalize the residual stream as they load it (and q/k/v
// may rotate q and k as they store them). The results
// are those of the separate operations (Linear, Add, RMSNorm and the
// Fused forms), bit for bit, so a forward may take either way.
type NormFuser interface {
	// FusesNorm reports whether a forward of rows rows should take the
	// forms below (they serve any row count; this says where they pay).
	FusesNorm(rows int) bool
	// LinearAdd does x += in·wᵀ, as Linear into a scratch tensor and Add:
	// in (M, K), w (N, K), x (M, N).
	LinearAdd(x, in, w *tensor.Tensor)
	// NormLinearQKV is RMSNorm(xb, x, norm, eps) and then LinearQKV(q, k,
	// v, xb, ...), without xb; with rot, RoPEQK of q and k follows.
	NormLinearQKV(q, k, v, x, norm *tensor.Tensor, eps float32, wq, wk, wv, bq, bk, bv *tensor.Tensor, rot *Rotation)
	// NormLinearSwiGLU is RMSNorm(xb, x, norm, eps) and then
	// LinearSwiGLU(out, xb, gate, up), without xb.
	NormLinearSwiGLU(out, x, norm *tensor.Tensor, eps float32, gate, up *tensor.Tensor)
}

// Rotation holds RoPEQK's arguments, for NormFuser.NormLinearQKV to rotate
// q and k as it writes them.
type Rotation struct {
	Heads, KVHeads, HeadDim, Start int
	Cos, Sin                       *tensor.Tensor
}

// Bulker is implemented by backends with a faster product and attention
// for many rows whose sums run in another order than Linear's and
// Attention's (a GPU: a tiled matrix product, and attention by tiles of
// the cache shared across rows and heads, where Linear's kernels give a
// row the same bits whatever the forward's row count, so that decoding
// and verifying agree). The Decoder sends it only the rows of a forward
// whose logits are not wanted, BulkRows or more of them at the front of a
// chunk: the prompt's rows but its last in a first forward, which AR, VSD
// and PARD decoding all compute alike, so that their outputs stay
// identical; every row whose logits are read still goes through Linear
// and Attention (unless the decoder's SetBulkAll says no other forward
// must match them: scoring a text).
type Bulker interface {
	// BulkRows is the fewest rows worth a LinearBulk; 0 turns it off.
	BulkRows() int
	// LinearBulk computes out = x·wᵀ + bias as Linear does, up to the
	// rounding of each sum's order.
	LinearBulk(out, x, w, bias *tensor.Tensor)
	// AttentionBulk computes Attention, up to the rounding of each sum's
	// order; a row's result must not depend on the other rows.
	AttentionBulk(out, q, k, v *tensor.Tensor, start, heads, kvHeads, headDim int)
}

// Prefetcher is implemented by backends with a cache in front of the
// weights' memory that can be filled ahead of use (a GPU's L2). A decoding
// step's linear layers are bound by reading their weights, and between
// them run operations that read little (rotations, attention, norms): the
// Decoder names the weights of the next linear layers before those
// operations, so that the memory streams them meanwhile.
type Prefetcher interface {
	// PrefetchWeights asks for (the first bytes of) up to four weight
	// tensors the backend loaded, and returns without waiting; it changes
	// no result.
	PrefetchWeights(ws []*tensor.Tensor)
}

// KVStore is implemented by backends that keep the KV cache in a layout
// or dtype of their own: ops.CPU keeps each key/value head's positions
// together, so that attention streams them from memory instead of picking
// a head's slice out of every position's row, and after
// SetF16KVCache(true) keeps binary16, half the bytes. The Decoder then
// projects keys and values into F32 rows, rotates (and norms) them there,
// and stores them into the cache with StoreKV; the backend's Attention
// reads the caches AllocKV returns.
type KVStore interface {
	// AllocKV returns a zeroed cache for rows positions of kvHeads heads of
	// headDim values (rows·kvHeads·headDim elements), in the backend's
	// layout and dtype; or nil, for the default float32 rows (Alloc)
	// into which the Decoder writes keys and values directly (a GPU
	// without SetF16KVCache).
	AllocKV(rows, kvHeads, headDim int) *tensor.Tensor
	// StoreKV rounds the F32 rows of k and v (M, kvHeads·headDim), the
	// keys and values of positions start..start+M−1, into kCache and
	// vCache, tensors from AllocKV: one operation for both (on a GPU, one
	// launch a layer).
	StoreKV(kCache, vCache *tensor.Tensor, start int, k, v *tensor.Tensor)
}

// IDChainer is implemented by backends that can keep argmax ids where they
// computed them (a GPU) and gather embedding rows by them, so that one
// model's greedy choices feed another model's forward on the same device
// without a trip through the host: a PARD iteration (the draft's forward,
// then the target's verify over its drafts) then waits for the device
// once, when both models' ids come back in one copy (see
// Decoder.ForwardArgmaxPending and Decoder.ForwardArgmaxAfter).
//
// The kept ids form a list with a generation number: KeepArgmax appends
// to the open list, ReadKept closes it, and the next KeepArgmax opens a
// new one under the next generation.
type IDChainer interface {
	// KeepArgmax queues the argmax of each of the rows of t, a (rows, n)
	// F32 tensor the backend allocated (as Argmaxer.Argmax), appends the
	// ids to the open list and returns the index of the first of them
	// and the list's generation.
	KeepArgmax(t *tensor.Tensor, rows int) (off int, gen uint64)
	// EmbeddingKept gathers into out (n, dim) the rows of table (vocab,
	// dim) named by ids [off, off+n) of the newest list, which must all be
	// below vocab.
	EmbeddingKept(out, table *tensor.Tensor, off, n int)
	// ReadKept waits for the queued work and copies the newest list to
	// the host in one copy, closing it; another call before the next
	// KeepArgmax returns the same copy without waiting. The ids alias the
	// backend's buffer until the next ReadKept.
	ReadKept() (ids []int32, gen uint64)
	// KeptGeneration is the generation of the open list: the one the next
	// KeepArgmax appends to.
	KeptGeneration() uint64
}

// Sampling is the transform of a model's logits before its tokens are
// drawn on a device (SampleChainer; ops.DraftDist): temperature, then
// top-k (0: off), then top-p (0 or 1: off), over each row's first Vocab
// values.
type Sampling struct {
	Temperature float32 // > 0
	TopK        int
	TopP        float32
	Vocab       int // draw among each row's first Vocab values (0: all)
}

// SampleChainer is an IDChainer that can also draw the kept ids from the
// rows' distributions instead of taking their argmax, and run speculative
// sampling's acceptance test over such draws, so that a sampling PARD or
// VSD iteration runs on the device as a greedy one does: the host waits
// once an iteration, and copies back ids.
type SampleChainer interface {
	IDChainer
	// KeepSample queues, for each of the rows of t (a (rows, n) F32
	// tensor the backend allocated), the distribution ops.DraftDist makes
	// of its first s.Vocab values (all n when 0) with s and a draw from it
	// with the uniform number u[r] (in [0, 1); ops.Draw's rule); it
	// appends the ids to the open list, as KeepArgmax, and keeps each
	// row's distribution beside its id.
	KeepSample(t *tensor.Tensor, rows int, s Sampling, u []float32) (off int, gen uint64)
	// KeepVerdict queues speculative sampling's acceptance test (pard's
	// verify) of the k drafts at drafts in the open list, drawn from their
	// kept distributions q, against the target's k+1 draws at target and
	// their distributions p (of the same width), with the uniform numbers
	// u[0..k]: a = the first depth a with u[a]·q_a(x_a) ≥ p_a(x_a) (k when
	// none), next = a draw by u[a+1] from (p_a − q_a)⁺ (from p_a when that
	// has no mass), or the target's last draw when a = k. It appends a and
	// next to the list and returns where they are.
	KeepVerdict(drafts, target, k int, u []float32) (off int)
}
