package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// addedMatcher finds added tokens in text, leftmost-longest and
// non-overlapping like the Aho-Corasick automaton HF uses, via a byte trie.
type addedMatcher struct {
	toks  []addedToken
	nodes []trieNode
	first [256]bool // bytes that can start a token: skip the rest quickly
}

type trieNode struct {
	next map[byte]int32
	tok  int32 // index into toks of the token ending here, -1 if none
}

func newAddedMatcher(toks []addedToken) *addedMatcher {
	if len(toks) == 0 {
		return nil
	}
	m := &addedMatcher{toks: toks, nodes: []trieNode{{tok: -1}}}
	for i, a := range toks {
		n := int32(0)
		for j := 0; j < len(a.content); j++ {
			c := a.content[j]
			nx, ok := m.nodes[n].next[c]
			if !ok {
				nx = int32(len(m.nodes))
				m.nodes = append(m.nodes, trieNode{tok: -1})
				if m.nodes[n].next == nil {
					m.nodes[n].next = make(map[byte]int32)
				}
				m.nodes[n].next[c] = nx
			}
			n = nx
		}
		m.nodes[n].tok = int32(i)
		m.first[a.content[0]] = true
	}
	return m
}

// longestAt returns the token index and length of the longest token that is
// a prefix of s, or -1.
func (m *addedMatcher) longestAt(s string) (int, int) {
	best, bestLen := -1, 0
	n := int32(0)
	for j := 0; j < len(s); j++ {
		nx, ok := m.nodes[n].next[s[j]]
		if !ok {
			break
		}
		n = nx
		if t := m.nodes[n].tok; t >= 0 {
			best, bestLen = int(t), j+1
		}
	}
	return best, bestLen
}

// split calls text for the stretches of s between added tokens and tok for
// each added token, in order. It follows HF's AddedVocabulary: single_word
// tokens only match when not glued to a word character on either side, lstrip
// and rstrip swallow adjacent whitespace (never reaching back into a previous
// token's span).
func (m *addedMatcher) split(s string, text func(string), tok func(int32)) {
	if m == nil {
		if s != "" {
			text(s)
		}
		return
	}
	emitted := 0 // end of what has been handed out so far
	for pos := 0; pos < len(s); {
		// Find the leftmost position at or after pos where a token starts.
		ti, start, stop := -1, 0, 0
		for i := pos; i < len(s); i++ {
			if !m.first[s[i]] {
				continue
			}
			if t, l := m.longestAt(s[i:]); t >= 0 {
				ti, start, stop = t, i, i+l
				break
			}
		}
		if ti < 0 {
			break
		}
		pos = stop
		a := &m.toks[ti]
		if a.singleWord && (endsWithWordChar(s[:start]) || startsWithWordChar(s[stop:])) {
			continue
		}
		if a.lstrip {
			for start > emitted {
				r, w := utf8.DecodeLastRuneInString(s[emitted:start])
				if !unicode.IsSpace(r) {
					break
				}
				start -= w
			}
		}
		if a.rstrip {
			for stop < len(s) {
				r, w := utf8.DecodeRuneInString(s[stop:])
				if !unicode.IsSpace(r) {
					break
				}
				stop += w
			}
			pos = stop
		}
		if start > emitted {
			text(s[emitted:start])
		}
		tok(a.id)
		emitted = stop
	}
	if emitted < len(s) {
		text(s[emitted:])
	}
}

func isWordChar(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }

func endsWithWordChar(s string) bool {
	r, w := utf8.DecodeLastRuneInString(s)
	return w > 0 && isWordChar(r)
}

func startsWithWordChar(s string) bool {
	r, w := utf8.DecodeRuneInString(s)
	return w > 0 && isWordChar(r)
}
