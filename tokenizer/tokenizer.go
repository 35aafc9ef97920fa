// Package tokenizer implements the byte-level BPE tokenizers used by Llama 3,
// Llama 3.1, Qwen2/2.5/3 and DeepSeek-R1-Distill-Qwen, reading the Hugging
// Face tokenizer.json (and tokenizer_config.json) files directly and producing
// ids byte-for-byte identical to the Hugging Face `tokenizers` library.
//
// The encoding pipeline mirrors Hugging Face's:
//
//  1. added tokens (special or not) are matched literally in the raw text,
//     leftmost-longest, honouring their lstrip/rstrip/single_word flags;
//  2. the text between them is normalized (NFC for Qwen, nothing for Llama 3);
//  3. the pre-tokenizer splits it into pieces. Go's regexp has no look-ahead,
//     so the two Split regexes in use (Llama 3 and Qwen2) and the GPT-2
//     ByteLevel regex are implemented as hand-written scanners that reproduce
//     the regexes exactly; any other pattern is rejected at load time rather
//     than silently tokenizing differently;
//  4. each piece is BPE-merged over its bytes (byte-level alphabet), with a
//     heap keyed by merge rank so long pieces are not quadratic, and the
//     result is memoized in a bounded word cache.
//
// A *Tokenizer is immutable after Load and safe for concurrent use; the word
// cache is guarded by a mutex. A StreamDecoder is not safe for concurrent use.
package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// maxTokenID bounds ids accepted from files: far above any real vocabulary
// (~262k), low enough that a corrupt id cannot make the dense id tables huge.
const maxTokenID = 1 << 22

// Tokenizer is a loaded byte-level BPE tokenizer. Create it with Load.
type Tokenizer struct {
	// Model (BPE) state.
	vocab        map[string]int32 // byte-level token string -> id (model vocab only)
	rawVocab     map[string]int32 // raw bytes of a model token -> id; only for ignore_merges
	merges       map[uint64]uint64
	byteID       [256]int32 // id of the single-byte token for each byte, -1 if absent
	ignoreMerges bool
	unkID        int32 // -1 when the model has no unk token

	// Id -> token text and id -> decoded bytes (one buffer, offsets per id),
	// precomputed so Decode is a table walk.
	tokens    []string
	decBuf    []byte
	decOff    []uint32 // len(tokens)+1 offsets into decBuf
	defined   []bool   // whether an id exists at all (vocabularies may have holes)
	vocabSize int

	added          []addedToken
	addedByID      map[int32]int // id -> index in added
	addedByContent map[string]int32
	rawAdded       *addedMatcher // added tokens with normalized=false, matched on raw text
	normAdded      *addedMatcher // added tokens with normalized=true, matched after normalization

	normalizer normalizer
	preSteps   []preStep

	// Post-processing for addSpecial=true.
	prefix, suffix []int32

	cache *wordCache

	bosToken, eosToken string
	chatTemplate       string
}

type addedToken struct {
	content    string
	id         int32
	special    bool
	lstrip     bool
	rstrip     bool
	singleWord bool
	normalized bool
}

// Load reads a tokenizer from path, which is either a directory holding
// tokenizer.json (and optionally tokenizer_config.json) or the path of a
// tokenizer.json file itself, in which case tokenizer_config.json is looked
// for beside it.
func Load(path string) (*Tokenizer, error) {
	tokPath := path
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	if st.IsDir() {
		tokPath = filepath.Join(path, "tokenizer.json")
	}
	data, err := os.ReadFile(tokPath)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	cfgPath := filepath.Join(filepath.Dir(tokPath), "tokenizer_config.json")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("tokenizer %s: %w", path, err)
		}
		cfg = nil
	}
	t, err := parse(data, cfg)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", tokPath, err)
	}
	return t, nil
}

// fileJSON is the subset of tokenizer.json that matters for encoding and
// decoding. Sub-objects are kept raw because their shape depends on "type".
type fileJSON struct {
	AddedTokens   []addedTokenJSON `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	PostProcessor json.RawMessage  `json:"post_processor"`
	Decoder       json.RawMessage  `json:"decoder"`
	Model         *modelJSON       `json:"model"`
}

type addedTokenJSON struct {
	ID         *int32  `json:"id"`
	Content    *string `json:"content"`
	SingleWord bool    `json:"single_word"`
	LStrip     bool    `json:"lstrip"`
	RStrip     bool    `json:"rstrip"`
	Normalized bool    `json:"normalized"`
	Special    bool    `json:"special"`
}

type modelJSON struct {
	Type                    string           `json:"type"`
	Vocab                   map[string]int32 `json:"vocab"`
	Merges                  json.RawMessage  `json:"merges"`
	IgnoreMerges            bool             `json:"ignore_merges"`
	UnkToken                *string          `json:"unk_token"`
	ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
	ByteFallback            bool             `json:"byte_fallback"`
}

// configJSON is the subset of tokenizer_config.json we use.
type configJSON struct {
	BOSToken     json.RawMessage `json:"bos_token"`
	EOSToken     json.RawMessage `json:"eos_token"`
	ChatTemplate json.RawMessage `json:"chat_template"`
}

// parse builds a Tokenizer from the contents of tokenizer.json and
// (optionally, nil when absent) tokenizer_config.json.
func parse(data, cfgData []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parsing tokenizer.json: %w", err)
	}
	if f.Model == nil {
		return nil, errors.New(`tokenizer.json has no "model"`)
	}
	t := &Tokenizer{unkID: -1, cache: newWordCache(defaultCacheSize)}
	if err := t.loadModel(f.Model); err != nil {
		return nil, err
	}
	if err := t.loadAdded(f.AddedTokens); err != nil {
		return nil, err
	}
	var err error
	if t.normalizer, err = parseNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	if t.preSteps, err = parsePreTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if err := checkDecoder(f.Decoder); err != nil {
		return nil, err
	}
	if err := t.parsePostProcessor(f.PostProcessor); err != nil {
		return nil, err
	}
	t.buildDecodeTable()
	if cfgData != nil {
		if err := t.loadConfig(cfgData); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *Tokenizer) loadModel(m *modelJSON) error {
	switch m.Type {
	case "BPE":
	case "":
		// Old files omit the type; HF then guesses from the fields present.
		if m.Merges == nil {
			return errors.New(`model has no "type" and no "merges": only BPE is supported`)
		}
	default:
		return fmt.Errorf("unsupported model type %q: only byte-level BPE is supported", m.Type)
	}
	if m.Vocab == nil {
		return errors.New(`BPE model has no "vocab"`)
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return fmt.Errorf("unsupported BPE continuing_subword_prefix %q", *m.ContinuingSubwordPrefix)
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return fmt.Errorf("unsupported BPE end_of_word_suffix %q", *m.EndOfWordSuffix)
	}
	if m.ByteFallback {
		return errors.New("unsupported BPE byte_fallback (not a byte-level BPE)")
	}
	t.vocab = m.Vocab
	maxID := int32(-1)
	for tok, id := range m.Vocab {
		if id < 0 {
			return fmt.Errorf("vocab token %q has negative id %d", tok, id)
		}
		maxID = max(maxID, id)
	}
	if maxID >= maxTokenID {
		// Guards the dense id tables below against absurd ids in bad files.
		return fmt.Errorf("vocab id %d is too large", maxID)
	}
	t.tokens = make([]string, maxID+1)
	t.defined = make([]bool, maxID+1)
	for tok, id := range m.Vocab {
		if t.defined[id] {
			return fmt.Errorf("vocab id %d is used by both %q and %q", id, t.tokens[id], tok)
		}
		t.tokens[id] = tok
		t.defined[id] = true
	}
	for b := range 256 {
		t.byteID[b] = -1
		if id, ok := m.Vocab[string(byteToRune[b])]; ok {
			t.byteID[b] = id
		}
	}
	if m.UnkToken != nil {
		id, ok := m.Vocab[*m.UnkToken]
		if !ok {
			return fmt.Errorf("unk_token %q is not in the vocab", *m.UnkToken)
		}
		t.unkID = id
	}
	t.ignoreMerges = m.IgnoreMerges
	if t.ignoreMerges {
		// Pieces arrive as raw bytes; keying the whole-piece lookup by raw
		// bytes avoids converting every piece to the byte-level alphabet.
		t.rawVocab = make(map[string]int32, len(m.Vocab))
		for tok, id := range m.Vocab {
			if b, ok := byteLevelDecode(tok); ok {
				t.rawVocab[string(b)] = id
			}
		}
	}
	return t.loadMerges(m.Merges)
}

// loadMerges accepts both serializations: ["a b", ...] (older files, Llama 3)
// and [["a","b"], ...] (newer files, Qwen3).
func (t *Tokenizer) loadMerges(raw json.RawMessage) error {
	var pairs [][2]string
	if len(raw) == 0 || string(raw) == "null" {
		pairs = nil
	} else if first := firstElemByte(raw); first == '"' {
		var ss []string
		if err := json.Unmarshal(raw, &ss); err != nil {
			return fmt.Errorf("parsing merges: %w", err)
		}
		pairs = make([][2]string, len(ss))
		for i, s := range ss {
			a, b, ok := splitMerge(s)
			if !ok {
				return fmt.Errorf("merge %d %q is not two space-separated tokens", i, s)
			}
			pairs[i] = [2]string{a, b}
		}
	} else {
		var ps [][]string
		if err := json.Unmarshal(raw, &ps); err != nil {
			return fmt.Errorf("parsing merges: %w", err)
		}
		pairs = make([][2]string, len(ps))
		for i, p := range ps {
			if len(p) != 2 {
				return fmt.Errorf("merge %d has %d elements, want 2", i, len(p))
			}
			pairs[i] = [2]string{p[0], p[1]}
		}
	}
	t.merges = make(map[uint64]uint64, len(pairs))
	for rank, p := range pairs {
		a, ok := t.vocab[p[0]]
		if !ok {
			return fmt.Errorf("merge %d (%q %q) references unknown token %q", rank, p[0], p[1], p[0])
		}
		b, ok := t.vocab[p[1]]
		if !ok {
			return fmt.Errorf("merge %d (%q %q) references unknown token %q", rank, p[0], p[1], p[1])
		}
		n, ok := t.vocab[p[0]+p[1]]
		if !ok {
			return fmt.Errorf("merge %d (%q %q) produces %q, which is not in the vocab", rank, p[0], p[1], p[0]+p[1])
		}
		// Later duplicates overwrite earlier ones, as in HF.
		t.merges[pairKey(a, b)] = uint64(rank)<<32 | uint64(uint32(n))
	}
	return nil
}

func firstElemByte(raw []byte) byte {
	for i, c := range raw {
		if c == '[' {
			for _, d := range raw[i+1:] {
				switch d {
				case ' ', '\t', '\n', '\r':
					continue
				}
				return d
			}
			return 0
		}
	}
	return 0
}

func splitMerge(s string) (string, string, bool) {
	i := -1
	for j := 0; j < len(s); j++ {
		if s[j] == ' ' {
			if i >= 0 {
				return "", "", false
			}
			i = j
		}
	}
	if i <= 0 || i == len(s)-1 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func (t *Tokenizer) loadAdded(list []addedTokenJSON) error {
	t.addedByID = make(map[int32]int, len(list))
	t.addedByContent = make(map[string]int32, len(list))
	var raw, norm []addedToken
	for i, a := range list {
		if a.ID == nil || a.Content == nil {
			return fmt.Errorf(`added_tokens[%d] lacks "id" or "content"`, i)
		}
		if *a.ID < 0 || *a.ID >= maxTokenID {
			return fmt.Errorf("added token %q has invalid id %d", *a.Content, *a.ID)
		}
		if *a.Content == "" {
			return fmt.Errorf("added_tokens[%d] (id %d) has empty content", i, *a.ID)
		}
		tok := addedToken{
			content: *a.Content, id: *a.ID, special: a.Special,
			lstrip: a.LStrip, rstrip: a.RStrip, singleWord: a.SingleWord, normalized: a.Normalized,
		}
		if j, dup := t.addedByID[tok.id]; dup {
			t.added[j] = tok // a later entry for the same id wins
		} else {
			t.addedByID[tok.id] = len(t.added)
			t.added = append(t.added, tok)
		}
	}
	for _, a := range t.added {
		t.addedByContent[a.content] = a.id
		if a.normalized {
			norm = append(norm, a)
		} else {
			raw = append(raw, a)
		}
		for int(a.id) >= len(t.tokens) {
			t.tokens = append(t.tokens, "")
			t.defined = append(t.defined, false)
		}
		t.tokens[a.id] = a.content
		t.defined[a.id] = true
	}
	t.vocabSize = len(t.tokens)
	t.rawAdded = newAddedMatcher(raw)
	t.normAdded = newAddedMatcher(norm)
	return nil
}

// parsePostProcessor understands the processors that only add special
// tokens (TemplateProcessing) or touch offsets (ByteLevel), possibly nested in
// a Sequence. Only the "single" template is used since Encode takes one text.
func (t *Tokenizer) parsePostProcessor(raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	var pp struct {
		Type          string            `json:"type"`
		Processors    []json.RawMessage `json:"processors"`
		Single        []json.RawMessage `json:"single"`
		SpecialTokens map[string]struct {
			IDs []int32 `json:"ids"`
		} `json:"special_tokens"`
	}
	if err := json.Unmarshal(raw, &pp); err != nil {
		return fmt.Errorf("parsing post_processor: %w", err)
	}
	switch pp.Type {
	case "ByteLevel":
		return nil
	case "Sequence":
		for _, p := range pp.Processors {
			if err := t.parsePostProcessor(p); err != nil {
				return err
			}
		}
		return nil
	case "TemplateProcessing":
		if len(t.prefix) > 0 || len(t.suffix) > 0 {
			return errors.New("post_processor has more than one TemplateProcessing")
		}
		seenSeq := false
		for _, item := range pp.Single {
			var it struct {
				SpecialToken *struct {
					ID string `json:"id"`
				} `json:"SpecialToken"`
				Sequence *struct {
					ID string `json:"id"`
				} `json:"Sequence"`
			}
			if err := json.Unmarshal(item, &it); err != nil {
				return fmt.Errorf("parsing TemplateProcessing item %s: %w", item, err)
			}
			switch {
			case it.Sequence != nil:
				if it.Sequence.ID != "A" || seenSeq {
					return fmt.Errorf("TemplateProcessing single template: unexpected sequence %q", it.Sequence.ID)
				}
				seenSeq = true
			case it.SpecialToken != nil:
				st, ok := pp.SpecialTokens[it.SpecialToken.ID]
				if !ok {
					return fmt.Errorf("TemplateProcessing uses special token %q not listed in special_tokens", it.SpecialToken.ID)
				}
				for _, id := range st.IDs {
					if id < 0 || int(id) >= t.vocabSize {
						return fmt.Errorf("TemplateProcessing special token %q has unknown id %d", it.SpecialToken.ID, id)
					}
				}
				if seenSeq {
					t.suffix = append(t.suffix, st.IDs...)
				} else {
					t.prefix = append(t.prefix, st.IDs...)
				}
			default:
				return fmt.Errorf("TemplateProcessing: unsupported item %s", item)
			}
		}
		if !seenSeq {
			return errors.New(`TemplateProcessing single template has no "A" sequence`)
		}
		return nil
	default:
		return fmt.Errorf("unsupported post_processor type %q", pp.Type)
	}
}

// checkDecoder accepts only decoders equivalent to ByteLevel: Decode always
// maps the byte-level alphabet back to bytes.
func checkDecoder(raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	var d struct {
		Type     string            `json:"type"`
		Decoders []json.RawMessage `json:"decoders"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("parsing decoder: %w", err)
	}
	switch d.Type {
	case "ByteLevel":
		return nil
	case "Sequence":
		for _, s := range d.Decoders {
			if err := checkDecoder(s); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("unsupported decoder type %q: only ByteLevel is supported", d.Type)
	}
}

func (t *Tokenizer) loadConfig(data []byte) error {
	var c configJSON
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("parsing tokenizer_config.json: %w", err)
	}
	var err error
	if t.bosToken, err = tokenField(c.BOSToken); err != nil {
		return fmt.Errorf("tokenizer_config.json bos_token: %w", err)
	}
	if t.eosToken, err = tokenField(c.EOSToken); err != nil {
		return fmt.Errorf("tokenizer_config.json eos_token: %w", err)
	}
	if !isNull(c.ChatTemplate) {
		var s string
		if json.Unmarshal(c.ChatTemplate, &s) == nil {
			t.chatTemplate = s
		} else {
			var list []struct {
				Name     string `json:"name"`
				Template string `json:"template"`
			}
			if err := json.Unmarshal(c.ChatTemplate, &list); err != nil {
				return fmt.Errorf("tokenizer_config.json chat_template is neither a string nor a list of {name, template}: %w", err)
			}
			for _, e := range list {
				if e.Name == "default" {
					t.chatTemplate = e.Template
				}
			}
		}
	}
	return nil
}

// tokenField decodes bos_token/eos_token, which is null, a string, or an
// AddedToken-like object with "content".
func tokenField(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var o struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &o); err != nil || o.Content == nil {
		return "", fmt.Errorf("want a string or an object with \"content\", got %s", raw)
	}
	return *o.Content, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// VocabSize is the number of ids the tokenizer defines, added tokens
// included: the largest id + 1.
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// TokenID returns the id of a token given in its vocabulary form: the
// byte-level string for model tokens (e.g. "Ġthe" for " the") or the literal
// content of an added token (e.g. "<|im_end|>").
func (t *Tokenizer) TokenID(s string) (int32, bool) {
	if id, ok := t.addedByContent[s]; ok {
		return id, true
	}
	id, ok := t.vocab[s]
	return id, ok
}

// Token returns the vocabulary form of id (see TokenID).
func (t *Tokenizer) Token(id int32) (string, bool) {
	if id < 0 || int(id) >= len(t.tokens) || !t.defined[id] {
		return "", false
	}
	return t.tokens[id], true
}

// BOS returns the id of tokenizer_config.json's bos_token, if any.
func (t *Tokenizer) BOS() (int32, bool) { return t.lookup(t.bosToken) }

// EOS returns the id of tokenizer_config.json's eos_token, if any.
func (t *Tokenizer) EOS() (int32, bool) { return t.lookup(t.eosToken) }

func (t *Tokenizer) lookup(s string) (int32, bool) {
	if s == "" {
		return 0, false
	}
	return t.TokenID(s)
}

// BOSToken is tokenizer_config.json's bos_token text ("" when absent).
func (t *Tokenizer) BOSToken() string { return t.bosToken }

// EOSToken is tokenizer_config.json's eos_token text ("" when absent).
func (t *Tokenizer) EOSToken() string { return t.eosToken }

// SpecialIDs maps the content of every added token marked special to its id.
// The map is a fresh copy.
func (t *Tokenizer) SpecialIDs() map[string]int32 {
	m := make(map[string]int32)
	for _, a := range t.added {
		if a.special {
			m[a.content] = a.id
		}
	}
	return m
}

// ChatTemplate returns tokenizer_config.json's chat_template (the one named
// "default" when it is a list), or "" when absent.
func (t *Tokenizer) ChatTemplate() string { return t.chatTemplate }
