package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// TrainOptions configures a Trainer.
type TrainOptions struct {
	// VocabSize is the total vocabulary wanted: the 256 byte tokens, the
	// merged tokens and the Special tokens. Training stops early, with a
	// smaller vocabulary, when no pair occurs at least MinFrequency times;
	// the specials then still take the last ids (right after the merges).
	VocabSize int
	// Special tokens get the last ids, in this order, and are matched
	// literally in the text both when training (where they are cut out and
	// not learned from) and when encoding.
	Special []string
	// MinFrequency is the least (count-weighted) number of occurrences a
	// pair needs to be merged. 0 means the default, 2.
	MinFrequency int
	// Progress, if set, is called about every 100 merges with the number of
	// merges done and the number wanted (VocabSize-256-len(Special)).
	Progress func(merges, target int)
}

// Trainer learns a byte-level BPE vocabulary from text and writes it as a
// Hugging Face tokenizer.json that Load (and HF's `tokenizers`) reads back.
//
// Text goes through the same pipeline the encoder uses: special tokens are
// cut out first (they never reach BPE when encoding either), then the Llama 3
// Split pattern cuts the rest into pieces (the very preStep/splitPieces code
// Encode runs, built from the pre_tokenizer JSON that is written out). Only
// the unique pieces and their counts are kept, so memory grows with the
// vocabulary of the corpus, not its size.
//
// Llama 3's pattern suits source code: it keeps runs of newlines (and the
// whitespace before them) together, glues a single leading space or tab to
// the following word, keeps punctuation runs plus trailing newlines together
// (" {\n", ")\n"), and groups digits by up to three, so numbers cannot blow
// up the vocabulary. For Go source, indentation splits like this:
//
//	"\n\t\tif err != nil {\n" -> "\n" "\t" "\tif" " err" " !=" " nil" " {\n"
//	"\t\t}\n"                -> "\t" "\t" "}\n"
//
// that is, before an identifier the last indentation tab is glued to it
// (like the space in " err"); the tabs before it form a piece of their own
// (a whitespace run minus its last character), and before punctuation the
// last tab is a piece alone (only a space may lead a punctuation piece). BPE
// soon learns the common runs ("\t\t", "\t\t\t", "\treturn") as single
// tokens.
//
// Train then runs standard BPE over the pieces, each weighted by its count:
// count every adjacent pair of symbols, repeatedly merge the most frequent
// pair into a new token, and update the counts incrementally. An index from
// each pair to the pieces that contain it means a merge only touches those
// pieces, and a lazily-updated max-heap of (count, pair) finds the next pair
// without rescanning. Ties are broken by the smaller (left id, right id), as
// HF's BpeTrainer does, so the output is byte-identical across runs.
//
// Ids: 0..255 are the single bytes in byte-level alphabet order, i.e. sorted
// by the rune that stands for each byte ("!" is 0, ... "~" is 93, then the
// printable Latin-1 bytes, then the remapped ones: "Ġ", the space, is 220),
// which is GPT-2's and HF's BpeTrainer's order. Merged tokens follow in
// creation order (should a merge yield a string that is already a token,
// which HF's trainer allows for but which does not seem to arise, the merge
// is kept and reuses the token's id, as in HF). The special tokens take the
// last ids, in the order given.
//
// A Trainer is not safe for concurrent use.
type Trainer struct {
	opt     TrainOptions
	steps   []preStep
	special *addedMatcher
	counts  map[string]int64
}

// trainPreTokenizerJSON is the pre_tokenizer written into trained
// tokenizer.json files, exactly as HF serializes Llama 3's. NewTrainer parses
// it with the loader's own parser, so training splits text exactly as
// encoding with the written file does.
var trainPreTokenizerJSON = mustJSON(orderedJSON{
	{"type", "Sequence"},
	{"pretokenizers", []any{
		orderedJSON{
			{"type", "Split"},
			{"pattern", map[string]string{"Regex": patternLlama3}},
			{"behavior", "Isolated"},
			{"invert", false},
		},
		byteLevelJSON(false, true, false),
	}},
})

// NewTrainer checks opt and returns an empty Trainer.
func NewTrainer(opt TrainOptions) (*Trainer, error) {
	if opt.VocabSize < 256+len(opt.Special) {
		return nil, fmt.Errorf("tokenizer: VocabSize %d is less than 256 byte tokens + %d special tokens", opt.VocabSize, len(opt.Special))
	}
	if opt.VocabSize > maxTokenID {
		return nil, fmt.Errorf("tokenizer: VocabSize %d is too large", opt.VocabSize)
	}
	if opt.MinFrequency < 0 {
		return nil, fmt.Errorf("tokenizer: negative MinFrequency %d", opt.MinFrequency)
	}
	if opt.MinFrequency == 0 {
		opt.MinFrequency = 2
	}
	opt.Special = slices.Clone(opt.Special)
	seen := make(map[string]bool, len(opt.Special))
	toks := make([]addedToken, len(opt.Special))
	for i, s := range opt.Special {
		switch {
		case s == "":
			return nil, fmt.Errorf("tokenizer: special token %d is empty", i)
		case !utf8.ValidString(s):
			return nil, fmt.Errorf("tokenizer: special token %q is not valid UTF-8", s)
		case seen[s]:
			return nil, fmt.Errorf("tokenizer: duplicate special token %q", s)
		}
		if r, _ := utf8.DecodeRuneInString(s); utf8.RuneCountInString(s) == 1 && int(r) < len(runeToByte) && runeToByte[r] >= 0 {
			return nil, fmt.Errorf("tokenizer: special token %q is also the byte-level token of byte %#x", s, runeToByte[r])
		}
		seen[s] = true
		toks[i] = addedToken{content: s, id: int32(i), special: true}
	}
	steps, err := parsePreTokenizer(trainPreTokenizerJSON)
	if err != nil {
		return nil, err // cannot happen: the JSON is ours
	}
	return &Trainer{
		opt:     opt,
		steps:   steps,
		special: newAddedMatcher(toks),
		counts:  make(map[string]int64),
	}, nil
}

// Add pre-tokenizes text and counts its pieces. It may be called any number
// of times (e.g. once per file); only the unique pieces are stored.
func (t *Trainer) Add(text string) {
	t.special.split(text, func(s string) { t.pre(0, s) }, func(int32) {})
}

// pre mirrors encState.pre: run pre-tokenizer step k on s, then the rest on
// each piece, and count what comes out.
func (t *Trainer) pre(k int, s string) {
	if k == len(t.steps) {
		if s == "" {
			return
		}
		if c, ok := t.counts[s]; ok {
			t.counts[s] = c + 1
		} else {
			t.counts[strings.Clone(s)] = 1 // do not pin the caller's text
		}
		return
	}
	st := t.steps[k]
	if st.addPrefixSpace && !strings.HasPrefix(s, " ") {
		s = " " + s
	}
	if st.split == splitNone {
		t.pre(k+1, s)
		return
	}
	splitPieces(st.split, s, func(p string) { t.pre(k+1, p) })
}

// UniquePieces is the number of distinct pre-tokenized pieces added so far.
func (t *Trainer) UniquePieces() int { return len(t.counts) }

// Train learns the merges from everything added so far and returns the
// tokenizer together with its tokenizer.json. The vocabulary has exactly
// VocabSize ids unless the corpus runs out of pairs occurring MinFrequency
// times, in which case it is smaller (see TrainOptions.VocabSize); check
// Tokenizer.VocabSize. Train does not consume the counts: more text may be
// added and Train called again.
func (t *Trainer) Train() (*Tokenizer, []byte, error) {
	tokens, merges := t.learn()
	tokIndex := make(map[string]int32, len(tokens))
	for id, s := range tokens {
		tokIndex[s] = int32(id)
	}
	for _, s := range t.opt.Special {
		if id, ok := tokIndex[s]; ok {
			return nil, nil, fmt.Errorf("tokenizer: special token %q is also learned token %d", s, id)
		}
	}
	data, err := trainedJSON(tokens, merges, t.opt.Special)
	if err != nil {
		return nil, nil, err
	}
	tok, err := parse(data, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("tokenizer: reloading the trained tokenizer: %w", err)
	}
	return tok, data, nil
}

// trainAlphabet lists the 256 byte-level single-byte tokens in id order:
// sorted by the rune that stands for the byte.
func trainAlphabet() []string {
	rs := make([]rune, 256)
	for b := range 256 {
		rs[b] = byteToRune[b]
	}
	slices.Sort(rs)
	out := make([]string, 256)
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// trainPair is a pair of adjacent symbols (token ids) and what BPE knows
// about it: its count-weighted number of occurrences and the words it occurs
// in (a superset: words where it no longer occurs, or listed twice, are
// skipped when the pair is merged).
type trainPair struct {
	key    uint64 // pairKey(left, right)
	count  int64
	words  []int32
	pushed int32 // merge step that last queued it for a heap push
}

// heapEntry is a heap element: the pair's count when pushed. Entries are not
// updated in place: a popped entry whose count is stale is re-pushed or
// dropped (see learn).
type heapEntry struct {
	count int64
	key   uint64
	pair  int32
}

// before orders the heap: higher count first, then the smaller pair.
func (a heapEntry) before(b heapEntry) bool {
	return a.count > b.count || a.count == b.count && a.key < b.key
}

type pairHeap []heapEntry

func (h *pairHeap) push(e heapEntry) {
	*h = append(*h, e)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if !a[i].before(a[p]) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *pairHeap) down(i int) {
	a := *h
	n := len(a)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && a[r].before(a[l]) {
			m = r
		}
		if !a[m].before(a[i]) {
			return
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
}

func (h *pairHeap) pop() heapEntry {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	*h = a[:n]
	h.down(0)
	return top
}

// bpeState is the working state of one Train call.
type bpeState struct {
	syms   []int32 // all words' symbols, back to back
	start  []int   // word i is syms[start[i] : start[i]+size[i]]
	size   []int32
	weight []int64 // each word's count
	stamp  []int32 // last merge step that processed each word

	pairs   []trainPair
	pairIdx map[uint64]int32
	heap    pairHeap
	step    int32
	changed []int32 // pairs whose count grew during this step
}

func (s *bpeState) pairOf(a, b int32) int32 {
	k := pairKey(a, b)
	p, ok := s.pairIdx[k]
	if !ok {
		p = int32(len(s.pairs))
		s.pairs = append(s.pairs, trainPair{key: k, pushed: -1})
		s.pairIdx[k] = p
	}
	return p
}

// add counts n more occurrences of (a, b) in word w.
func (s *bpeState) add(a, b int32, w int32, n int64) {
	i := s.pairOf(a, b)
	p := &s.pairs[i]
	p.count += n
	if l := len(p.words); l == 0 || p.words[l-1] != w {
		p.words = append(p.words, w)
	}
	if p.pushed != s.step {
		p.pushed = s.step
		s.changed = append(s.changed, i)
	}
}

// sub removes n occurrences of (a, b), which exists.
func (s *bpeState) sub(a, b int32, n int64) {
	s.pairs[s.pairIdx[pairKey(a, b)]].count -= n
}

// mergeWord replaces every (a, b) in word w, left to right, by x and updates
// the pair counts of the neighbours.
func (s *bpeState) mergeWord(w int32, a, b, x int32) {
	sy := s.syms[s.start[w] : s.start[w]+int(s.size[w])]
	n := s.weight[w]
	j := 0
	for i := 0; i < len(sy); {
		if i+1 < len(sy) && sy[i] == a && sy[i+1] == b {
			if j > 0 { // the left neighbour, possibly already merged
				l := sy[j-1]
				s.sub(l, a, n)
				s.add(l, x, w, n)
			}
			if i+2 < len(sy) {
				r := sy[i+2]
				s.sub(b, r, n)
				s.add(x, r, w, n)
			}
			s.sub(a, b, n)
			sy[j] = x
			j++
			i += 2
			continue
		}
		sy[j] = sy[i]
		j++
		i++
	}
	s.size[w] = int32(j)
}

// learn runs BPE and returns the model vocabulary (byte-level strings, by
// id, without the specials) and the merges as pairs of ids.
func (t *Trainer) learn() ([]string, [][2]int32) {
	tokens := trainAlphabet()
	var byteID [256]int32
	tokIndex := make(map[string]int32, t.opt.VocabSize)
	for id, tok := range tokens {
		tokIndex[tok] = int32(id)
		byteID[runeToByte[[]rune(tok)[0]]] = int32(id)
	}

	// One word per unique piece of two bytes or more (single bytes have no
	// pairs), in sorted order so that nothing depends on map order.
	keys := make([]string, 0, len(t.counts))
	total := 0
	for k := range t.counts {
		if len(k) > 1 {
			keys = append(keys, k)
			total += len(k)
		}
	}
	slices.Sort(keys)
	s := &bpeState{
		syms:    make([]int32, 0, total),
		start:   make([]int, len(keys)),
		size:    make([]int32, len(keys)),
		weight:  make([]int64, len(keys)),
		stamp:   make([]int32, len(keys)),
		pairIdx: make(map[uint64]int32),
	}
	for w, k := range keys {
		s.start[w] = len(s.syms)
		s.size[w] = int32(len(k))
		s.weight[w] = t.counts[k]
		for i := 0; i < len(k); i++ {
			s.syms = append(s.syms, byteID[k[i]])
		}
		sy := s.syms[s.start[w]:]
		for i := 0; i+1 < len(sy); i++ {
			s.add(sy[i], sy[i+1], int32(w), s.weight[w])
		}
	}
	s.changed = s.changed[:0] // every pair: the heap is built below
	s.heap = make(pairHeap, 0, len(s.pairs))
	for i, p := range s.pairs {
		s.heap = append(s.heap, heapEntry{count: p.count, key: p.key, pair: int32(i)})
	}
	for i := len(s.heap)/2 - 1; i >= 0; i-- {
		s.heap.down(i)
	}

	want := t.opt.VocabSize - len(t.opt.Special)
	target := want - 256
	minFreq := int64(t.opt.MinFrequency)
	var merges [][2]int32
	for len(tokens) < want && len(s.heap) > 0 {
		e := s.heap.pop()
		p := &s.pairs[e.pair]
		if e.count != p.count {
			// Stale. A higher current count has its own entry already
			// (pushed when the count grew); a lower one needs one.
			if p.count < e.count && p.count > 0 {
				s.heap.push(heapEntry{count: p.count, key: p.key, pair: e.pair})
			}
			continue
		}
		if p.count < minFreq {
			break // the best pair is too rare, so are all others
		}
		a, b := int32(p.key>>32), int32(uint32(p.key))
		str := tokens[a] + tokens[b]
		x, ok := tokIndex[str]
		if !ok {
			x = int32(len(tokens))
			tokens = append(tokens, str)
			tokIndex[str] = x
		}
		merges = append(merges, [2]int32{a, b})

		s.step++
		s.changed = s.changed[:0]
		words := p.words
		p.words = nil
		for _, w := range words {
			if s.stamp[w] == s.step {
				continue
			}
			s.stamp[w] = s.step
			s.mergeWord(w, a, b, x)
		}
		for _, q := range s.changed {
			if c := s.pairs[q].count; c > 0 {
				s.heap.push(heapEntry{count: c, key: s.pairs[q].key, pair: q})
			}
		}
		if t.opt.Progress != nil && len(merges)%100 == 0 {
			t.opt.Progress(len(merges), target)
		}
	}
	if t.opt.Progress != nil && len(merges)%100 != 0 {
		t.opt.Progress(len(merges), target)
	}
	return tokens, merges
}

// orderedJSON is a JSON object whose keys keep their order.
type orderedJSON []kv

type kv struct {
	k string
	v any
}

func (o orderedJSON) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshalNoEscape(e.k)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v, err := marshalNoEscape(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshalNoEscape is json.Marshal without HTML escaping, so "<|eot|>" is
// written as such rather than as "\u003c|eot|\u003e" (both are valid).
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func mustJSON(v any) json.RawMessage {
	b, err := marshalNoEscape(v)
	if err != nil {
		panic(err)
	}
	return b
}

func byteLevelJSON(addPrefixSpace, trimOffsets, useRegex bool) orderedJSON {
	return orderedJSON{
		{"type", "ByteLevel"},
		{"add_prefix_space", addPrefixSpace},
		{"trim_offsets", trimOffsets},
		{"use_regex", useRegex},
	}
}

// trainedJSON writes tokenizer.json in the layout HF itself writes (key
// order, two-space indentation, vocab by id), with merges as [left, right]
// pairs as current HF `tokenizers` (>= 0.20) writes them.
func trainedJSON(tokens []string, merges [][2]int32, special []string) ([]byte, error) {
	added := make([]orderedJSON, len(special))
	for i, s := range special {
		added[i] = orderedJSON{
			{"id", len(tokens) + i},
			{"content", s},
			{"single_word", false},
			{"lstrip", false},
			{"rstrip", false},
			{"normalized", false},
			{"special", true},
		}
	}
	vocab := make(orderedJSON, len(tokens))
	for id, s := range tokens {
		vocab[id] = kv{s, id}
	}
	mergeList := make([][2]string, len(merges))
	for i, m := range merges {
		mergeList[i] = [2]string{tokens[m[0]], tokens[m[1]]}
	}
	file := orderedJSON{
		{"version", "1.0"},
		{"truncation", nil},
		{"padding", nil},
		{"added_tokens", added},
		{"normalizer", nil},
		{"pre_tokenizer", trainPreTokenizerJSON},
		// As in Llama 3's file; ByteLevel post-processing only adjusts
		// offsets and adds no tokens.
		{"post_processor", byteLevelJSON(true, false, true)},
		{"decoder", byteLevelJSON(true, true, true)},
		{"model", orderedJSON{
			{"type", "BPE"},
			{"dropout", nil},
			{"unk_token", nil},
			{"continuing_subword_prefix", nil},
			{"end_of_word_suffix", nil},
			{"fuse_unk", false},
			{"byte_fallback", false},
			{"ignore_merges", false},
			{"vocab", vocab},
			{"merges", mergeList},
		}},
	}
	compact, err := marshalNoEscape(file)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// WriteTokenizerConfig writes a minimal tokenizer_config.json into dir, so
// that Load picks up the BOS/EOS tokens and Hugging Face's AutoTokenizer
// loads the directory as a PreTrainedTokenizerFast over tokenizer.json. bos
// may be empty (no BOS token); modelMaxLength is the model's context length.
func WriteTokenizerConfig(dir, bos, eos string, modelMaxLength int) error {
	if eos == "" {
		return errors.New("tokenizer: WriteTokenizerConfig: empty eos token")
	}
	var bosV any
	if bos != "" {
		bosV = bos
	}
	cfg := orderedJSON{
		{"tokenizer_class", "PreTrainedTokenizerFast"},
		{"bos_token", bosV},
		{"eos_token", eos},
		{"model_max_length", modelMaxLength},
		// Keep Decode(Encode(s)) == s in transformers too.
		{"clean_up_tokenization_spaces", false},
	}
	compact, err := marshalNoEscape(cfg)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	return os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), out.Bytes(), 0o644)
}
