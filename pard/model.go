package pard

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

// WithInfo returns f as a Model that reports info.
func WithInfo(f Forwarder, info ModelInfo) Model { return withInfo{f, info} }

type withInfo struct {
	Forwarder
	info ModelInfo
}

func (w withInfo) Info() ModelInfo { return w.info }
