package tokenizer

import (
	"strings"
	"sync"
)

// Encode tokenizes text. With addSpecial the post-processor's special tokens
// are added (Llama 3.1: <|begin_of_text|> in front; Qwen and this Llama 3 file
// add nothing), as HF's add_special_tokens=True does. Added tokens written
// literally in text (e.g. "<|im_start|>") always map to their ids. Invalid
// UTF-8 is accepted: stray bytes become their byte-level tokens.
func (t *Tokenizer) Encode(text string, addSpecial bool) []int32 {
	e := encState{t: t, ids: make([]int32, 0, len(text)/3+len(t.prefix)+len(t.suffix)+1)}
	if addSpecial {
		e.ids = append(e.ids, t.prefix...)
	}
	t.rawAdded.split(text, e.rawText, e.addedTok)
	if addSpecial {
		e.ids = append(e.ids, t.suffix...)
	}
	return e.ids
}

type encState struct {
	t   *Tokenizer
	ids []int32
}

func (e *encState) addedTok(id int32) { e.ids = append(e.ids, id) }

// rawText handles text between non-normalized added tokens: normalize it,
// then look for the added tokens that are matched on normalized text.
func (e *encState) rawText(s string) {
	if e.t.normalizer != nil {
		s = e.t.normalizer(s)
	}
	e.t.normAdded.split(s, e.normText, e.addedTok)
}

func (e *encState) normText(s string) { e.pre(0, s) }

// pre runs pre-tokenizer step k on s and everything after it on each piece.
func (e *encState) pre(k int, s string) {
	steps := e.t.preSteps
	if k == len(steps) {
		e.ids = e.t.bpe(s, e.ids)
		return
	}
	st := steps[k]
	if st.addPrefixSpace && !strings.HasPrefix(s, " ") {
		s = " " + s
	}
	if st.split == splitNone {
		e.pre(k+1, s)
		return
	}
	splitPieces(st.split, s, func(p string) { e.pre(k+1, p) })
}

// bpe appends the ids of one pre-token (raw bytes; the byte-level alphabet
// is implicit in byteID and the merge table).
func (t *Tokenizer) bpe(piece string, ids []int32) []int32 {
	switch len(piece) {
	case 0:
		return ids
	case 1:
		return t.appendSymbols(ids, piece)
	}
	if v, ok := t.cache.get(piece); ok {
		return append(ids, v...)
	}
	start := len(ids)
	if id, ok := t.rawVocab[piece]; ok && t.ignoreMerges {
		ids = append(ids, id)
	} else {
		ids = t.merge(piece, ids)
	}
	if len(piece) <= maxCachedPiece {
		t.cache.put(strings.Clone(piece), append([]int32(nil), ids[start:]...))
	}
	return ids
}

// appendSymbols appends the per-byte initial symbols without merging. Bytes
// missing from the vocabulary become unk, or are dropped when there is no
// unk token (as HF's BPE does).
func (t *Tokenizer) appendSymbols(ids []int32, piece string) []int32 {
	for i := 0; i < len(piece); i++ {
		if id := t.byteID[piece[i]]; id >= 0 {
			ids = append(ids, id)
		} else if t.unkID >= 0 {
			ids = append(ids, t.unkID)
		}
	}
	return ids
}

// symbol is a node of the doubly linked list of the word's current tokens.
type symbol struct {
	id         int32
	prev, next int32
	dead       bool
}

// mergeCand is a candidate merge of the symbol at pos with its successor,
// valid only while those two symbols still have ids left and right.
type mergeCand struct {
	rank, pos           int32
	left, right, result int32
}

func (a mergeCand) less(b mergeCand) bool {
	return a.rank < b.rank || a.rank == b.rank && a.pos < b.pos
}

// merge applies BPE to piece: repeatedly merge the adjacent pair with the
// lowest rank, leftmost first on ties (exactly HF's order). A binary heap of
// candidates plus lazy invalidation makes it O(n log n) in the piece length.
func (t *Tokenizer) merge(piece string, ids []int32) []int32 {
	var symBuf [32]symbol
	var heapBuf [32]mergeCand
	syms := symBuf[:0]
	for i := 0; i < len(piece); i++ {
		id := t.byteID[piece[i]]
		if id < 0 {
			if t.unkID < 0 {
				continue
			}
			id = t.unkID
		}
		n := int32(len(syms))
		syms = append(syms, symbol{id: id, prev: n - 1, next: n + 1})
	}
	if len(syms) == 0 {
		return ids
	}
	syms[len(syms)-1].next = -1
	h := heapBuf[:0]
	cand := func(pos int32) {
		s := &syms[pos]
		if s.next < 0 {
			return
		}
		r := syms[s.next].id
		if m, ok := t.merges[pairKey(s.id, r)]; ok {
			h = heapPush(h, mergeCand{rank: int32(m >> 32), pos: pos, left: s.id, right: r, result: int32(uint32(m))})
		}
	}
	for i := range syms {
		cand(int32(i))
	}
	for len(h) > 0 {
		var c mergeCand
		c, h = heapPop(h)
		s := &syms[c.pos]
		if s.dead || s.next < 0 || s.id != c.left || syms[s.next].id != c.right {
			continue // stale: one of the two symbols changed since
		}
		nx := &syms[s.next]
		s.id = c.result
		nx.dead = true
		s.next = nx.next
		if s.next >= 0 {
			syms[s.next].prev = c.pos
		}
		if s.prev >= 0 {
			cand(s.prev)
		}
		cand(c.pos)
	}
	for i := int32(0); i >= 0; i = syms[i].next {
		ids = append(ids, syms[i].id)
	}
	return ids
}

// heapPush and heapPop keep a min-heap of candidates by (rank, pos). They
// take and return the slice (rather than being methods on a pointer) so the
// initial stack buffer does not escape.
func heapPush(a []mergeCand, c mergeCand) []mergeCand {
	a = append(a, c)
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if !a[i].less(a[p]) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
	return a
}

func heapPop(a []mergeCand) (mergeCand, []mergeCand) {
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && a[r].less(a[l]) {
			m = r
		}
		if !a[m].less(a[i]) {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	return top, a
}

const (
	defaultCacheSize = 1 << 16
	maxCachedPiece   = 256 // longer pieces are rare and would bloat the cache
)

// wordCache memoizes pre-token -> ids. It is safe for concurrent use. When
// full it is simply emptied: cheap, and the common pieces come back at once.
type wordCache struct {
	mu  sync.RWMutex
	m   map[string][]int32
	max int
}

func newWordCache(n int) *wordCache {
	return &wordCache{m: make(map[string][]int32), max: n}
}

func (c *wordCache) get(k string) ([]int32, bool) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *wordCache) put(k string, v []int32) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[k] = v
	c.mu.Unlock()
}
