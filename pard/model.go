package pard

import "github.com/gopard/gopard/nn"

// Model is what the engines need from a decoder: a forward pass over a
// chunk of tokens at a start position with a KV cache whose logical length
// can move back. models/llama's *Model satisfies it; tests use small fakes.
type Model interface {
	// Forward appends tokens at positions start.. to the KV cache (start must
	// be ≤ Len(); slots from start on are overwritten) and returns the logits
	// of the last want positions: want rows of Info().VocabSize values. The
	// rows alias the model's buffers and stay valid until the next Forward.
	Forward(tokens []int32, start, want int) ([][]float32, error)
	// Truncate moves the cache's logical length back to n (n ≤ Len()).
	Truncate(n int)
	// Len is the cache's logical length: the number of positions whose keys
	// and values are valid.
	Len() int
	// Info describes the model.
	Info() ModelInfo
}

// ModelInfo is what the engines need to know about a model.
type ModelInfo struct {
	Name       string  // the model directory or a label, for messages
	VocabSize  int     // width of a logits row (embedding rows; may exceed the tokenizer's vocabulary)
	EOS        []int32 // end-of-sequence ids (config.json and generation_config.json; may be several)
	PardToken  int32   // config.json "pard_token"; -1 when absent
	SpdType    string  // config.json "spd_type" ("pard" for PARD drafts), "" when absent
	MaxContext int     // KV-cache capacity in positions
}

// Forwarder is the part of Model that a decoder provides by itself;
// models/llama's *Model is one. WithInfo completes it into a Model, so
// that model packages need not import this one.
type Forwarder interface {
	Forward(tokens []int32, start, want int) ([][]float32, error)
	Truncate(n int)
	Len() int
}

// ArgmaxForwarder is a Model that can return, instead of logits rows, the
// argmax of each: a greedy engine uses it for each model that has it and
// whose rows are exactly the vocabulary it generates from, so that a GPU
// copies back ids only (and, for a draft under Options.MinConfidence, the
// probabilities of those ids). models/llama's *Model is one (through nn.Decoder).
type ArgmaxForwarder interface {
	// ForwardArgmax is Forward returning the index of the largest value of
	// each of the want rows (the first on ties; NaNs never win, 0 when all
	// are), over the whole row of Info().VocabSize values. The ids alias the
	// model's buffers and stay valid until the next forward.
	ForwardArgmax(tokens []int32, start, want int) ([]int32, error)
	// ForwardArgmaxProb is ForwardArgmax that also returns each row's
	// softmax probability of its argmax (a greedy draft's confidence, see
	// Options.MinConfidence), aliasing the model's buffers as the ids do.
	ForwardArgmaxProb(tokens []int32, start, want int) ([]int32, []float32, error)
}

// ChainForwarder is an ArgmaxForwarder whose greedy forwards can leave
// their ids where they computed them and take such ids as input: a greedy
// PARD or VSD iteration whose draft and target are both ChainForwarders
// (on one GPU: nn.IDChainer) hands the drafts from the draft's forwards
// to the target's verify on the device, and waits for the device once,
// when the drafts and the target's ids come back together. models/llama's
// *Model is one (through nn.Decoder); elsewhere the ids simply pass
// through the host.
type ChainForwarder interface {
	ArgmaxForwarder
	// ForwardArgmaxPending is ForwardArgmax whose ids may stay where they
	// were computed until the handle's IDs, or another model's
	// ForwardArgmaxAfter, reads them; the handle is valid until this
	// model's next forward.
	ForwardArgmaxPending(tokens []int32, start, want int) (nn.Pending, error)
	// ForwardArgmaxPendingAfter is ForwardArgmaxPending over tokens
	// followed by the last feed ids of prev, whose handle it returns holds
	// prev's ids followed by its own (VSD: each draft fed back, one handle
	// on all of them).
	ForwardArgmaxPendingAfter(tokens []int32, prev nn.Pending, feed, start, want int) (nn.Pending, error)
	// ForwardArgmaxAfter is ForwardArgmax over tokens followed by prev's
	// ids, at positions start..; it returns prev's ids and its own, both
	// aliasing this model's buffers until its next forward.
	ForwardArgmaxAfter(tokens []int32, prev nn.Pending, start, want int) (prevIDs, ids []int32, err error)
}

// SampleChainForwarder is a ChainForwarder that can also draw tokens where
// its logits are (nn.Decoder on a GPU: an nn.SampleChainer). A sampling
// engine whose target is one draws the target's tokens there; a PARD or
// VSD iteration without a minimum confidence whose draft is one too draws
// the drafts there, verifies them there by speculative rejection sampling,
// and waits for the device once, for a few ids: the drafts, how many were
// accepted and the token after them.
type SampleChainForwarder interface {
	ChainForwarder
	// SamplesOnDevice reports whether the methods below work: the draws
	// happen where the logits are.
	SamplesOnDevice() bool
	// ForwardSamplePending is ForwardArgmaxPending drawing each id from
	// its row's distribution (ops.DraftDist with s) by its uniform number
	// in u, instead of taking the argmax.
	ForwardSamplePending(tokens []int32, start, want int, s nn.Sampling, u []float32) (nn.Pending, error)
	// ForwardSamplePendingAfter is ForwardSamplePending over tokens
	// followed by the last feed ids of prev, this model's latest handle;
	// the handle it returns holds prev's draws and its own (VSD).
	ForwardSamplePendingAfter(tokens []int32, prev nn.Pending, feed, start, want int, s nn.Sampling, u []float32) (nn.Pending, error)
	// ForwardVerifySampled forwards tokens followed by the k drafts prev
	// drew, at positions start.., and returns the drafts, how many of them
	// speculative rejection sampling accepts and the token that follows
	// them, drawing with u[0..k] as engine.verify would (the acceptance
	// test of depth a by u[a], the token after a rejection at a by u[a+1],
	// the bonus token by u[k]), with the target's distributions made as
	// the drafts' were (ops.DraftDist with s).
	ForwardVerifySampled(tokens []int32, prev nn.Pending, start, k int, s nn.Sampling, u []float32) (drafts []int32, accepted int, next int32, err error)
}

// WithInfo returns f as a Model that reports info. The Model is an
// ArgmaxForwarder exactly when f is one, and a ChainForwarder (a
// SampleChainForwarder) exactly when f is one.
func WithInfo(f Forwarder, info ModelInfo) Model {
	if c, ok := f.(SampleChainForwarder); ok {
		return withInfoSampleChain{withInfoChain{withInfoArgmax{withInfo{f, info}, c}, c}, c}
	}
	if c, ok := f.(ChainForwarder); ok {
		return withInfoChain{withInfoArgmax{withInfo{f, info}, c}, c}
	}
	if a, ok := f.(ArgmaxForwarder); ok {
		return withInfoArgmax{withInfo{f, info}, a}
	}
	return withInfo{f, info}
}

type withInfo struct {
	Forwarder
	info ModelInfo
}

func (w withInfo) Info() ModelInfo { return w.info }

// withInfoArgmax is withInfo for a Forwarder that has ForwardArgmax; a
// separate type so that a type assertion on the Model finds the method
// only when it is really there.
type withInfoArgmax struct {
	withInfo
	a ArgmaxForwarder
}

func (w withInfoArgmax) ForwardArgmax(tokens []int32, start, want int) ([]int32, error) {
	return w.a.ForwardArgmax(tokens, start, want)
}

func (w withInfoArgmax) ForwardArgmaxProb(tokens []int32, start, want int) ([]int32, []float32, error) {
	return w.a.ForwardArgmaxProb(tokens, start, want)
}

// withInfoChain is withInfoArgmax for a Forwarder that is a ChainForwarder.
type withInfoChain struct {
	withInfoArgmax
	c ChainForwarder
}

func (w withInfoChain) ForwardArgmaxPending(tokens []int32, start, want int) (nn.Pending, error) {
	return w.c.ForwardArgmaxPending(tokens, start, want)
}

func (w withInfoChain) ForwardArgmaxPendingAfter(tokens []int32, prev nn.Pending, feed, start, want int) (nn.Pending, error) {
	return w.c.ForwardArgmaxPendingAfter(tokens, prev, feed, start, want)
}

func (w withInfoChain) ForwardArgmaxAfter(tokens []int32, prev nn.Pending, start, want int) ([]int32, []int32, error) {
	return w.c.ForwardArgmaxAfter(tokens, prev, start, want)
}

// withInfoSampleChain is withInfoChain for a SampleChainForwarder.
type withInfoSampleChain struct {
	withInfoChain
	s SampleChainForwarder
}

func (w withInfoSampleChain) SamplesOnDevice() bool { return w.s.SamplesOnDevice() }

func (w withInfoSampleChain) ForwardSamplePending(tokens []int32, start, want int, s nn.Sampling, u []float32) (nn.Pending, error) {
	return w.s.ForwardSamplePending(tokens, start, want, s, u)
}

func (w withInfoSampleChain) ForwardSamplePendingAfter(tokens []int32, prev nn.Pending, feed, start, want int, s nn.Sampling, u []float32) (nn.Pending, error) {
	return w.s.ForwardSamplePendingAfter(tokens, prev, feed, start, want, s, u)
}

func (w withInfoSampleChain) ForwardVerifySampled(tokens []int32, prev nn.Pending, start, k int, s nn.Sampling, u []float32) ([]int32, int, int32, error) {
	return w.s.ForwardVerifySampled(tokens, prev, start, k, s, u)
}
