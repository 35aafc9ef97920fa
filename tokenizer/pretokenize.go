package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// The Split regexes we know, exactly as they appear in tokenizer.json (after
// JSON unescaping). They need look-ahead, which Go's regexp lacks, so each is
// implemented by a scanner below instead of being compiled.
const (
	// Llama 3 / 3.1: digits in runs of up to three.
	patternLlama3 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// Qwen2 / 2.5 / 3 and DeepSeek-R1-Distill-Qwen: single digits.
	patternQwen2 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// GPT-2: the regex ByteLevel applies itself when use_regex is true.
	patternGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
)

type splitKind uint8

const (
	splitNone splitKind = iota
	splitLlama3
	splitQwen2
	splitGPT2
)

// preStep is one pre-tokenizer stage: an optional prefix space (ByteLevel's
// add_prefix_space) followed by an optional regex split. The byte-level
// alphabet mapping itself is folded into BPE, which works on raw bytes.
type preStep struct {
	addPrefixSpace bool
	split          splitKind
}

func parsePreTokenizer(raw json.RawMessage) ([]preStep, error) {
	if isNull(raw) {
		return nil, errors.New("no pre_tokenizer: only byte-level BPE (with a ByteLevel pre-tokenizer) is supported")
	}
	var steps []preStep
	sawByteLevel := false
	var walk func(raw json.RawMessage) error
	walk = func(raw json.RawMessage) error {
		var p struct {
			Type           string            `json:"type"`
			Pretokenizers  []json.RawMessage `json:"pretokenizers"`
			AddPrefixSpace bool              `json:"add_prefix_space"`
			UseRegex       *bool             `json:"use_regex"`
			Pattern        struct {
				Regex  *string `json:"Regex"`
				String *string `json:"String"`
			} `json:"pattern"`
			Behavior string `json:"behavior"`
			Invert   bool   `json:"invert"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("parsing pre_tokenizer: %w", err)
		}
		switch p.Type {
		case "Sequence":
			for _, s := range p.Pretokenizers {
				if err := walk(s); err != nil {
					return err
				}
			}
		case "ByteLevel":
			sawByteLevel = true
			st := preStep{addPrefixSpace: p.AddPrefixSpace}
			if p.UseRegex == nil || *p.UseRegex { // HF's default is true
				st.split = splitGPT2
			}
			if st != (preStep{}) {
				steps = append(steps, st)
			}
		case "Split":
			if p.Pattern.Regex == nil {
				if p.Pattern.String != nil {
					return fmt.Errorf("unsupported Split pre-tokenizer with String pattern %q", *p.Pattern.String)
				}
				return errors.New(`Split pre-tokenizer has no "pattern"."Regex"`)
			}
			if p.Behavior != "Isolated" || p.Invert {
				return fmt.Errorf("unsupported Split pre-tokenizer behavior %q (invert %v): only Isolated is supported", p.Behavior, p.Invert)
			}
			var k splitKind
			switch *p.Pattern.Regex {
			case patternLlama3:
				k = splitLlama3
			case patternQwen2:
				k = splitQwen2
			case patternGPT2:
				k = splitGPT2
			default:
				return fmt.Errorf("unsupported Split pre-tokenizer pattern %q: only the Llama 3, Qwen2 and GPT-2 patterns are implemented", *p.Pattern.Regex)
			}
			steps = append(steps, preStep{split: k})
		default:
			return fmt.Errorf("unsupported pre_tokenizer type %q", p.Type)
		}
		return nil
	}
	if err := walk(raw); err != nil {
		return nil, err
	}
	if !sawByteLevel {
		return nil, errors.New("pre_tokenizer has no ByteLevel step: only byte-level BPE is supported")
	}
	return steps, nil
}

// Character classes of the regexes: \p{L}, \p{N}, \s and everything else.
const (
	clsOther uint8 = iota
	clsL
	clsN
	clsS
)

var asciiClass [utf8.RuneSelf]uint8

func init() {
	for c := range utf8.RuneSelf {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			asciiClass[c] = clsL
		case c >= '0' && c <= '9':
			asciiClass[c] = clsN
		case c == ' ', c >= '\t' && c <= '\r':
			asciiClass[c] = clsS
		}
	}
}

// classAt classifies the rune at s[i]. Invalid UTF-8 bytes are one-byte
// "other" characters (like U+FFFD, which is \p{So}), so arbitrary input still
// splits into pieces that cover every byte.
func classAt(s string, i int) (cls uint8, r rune, w int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return asciiClass[c], rune(c), 1
	}
	r, w = utf8.DecodeRuneInString(s[i:])
	switch {
	case w <= 1:
		return clsOther, r, w
	case unicode.IsLetter(r):
		return clsL, r, w
	case unicode.IsNumber(r):
		return clsN, r, w
	case unicode.IsSpace(r): // the Unicode White_Space property, as onig's \s
		return clsS, r, w
	}
	return clsOther, r, w
}

// scanClass returns the end of the run of class cls starting at i.
func scanClass(s string, i int, cls uint8) int {
	for i < len(s) {
		c, _, w := classAt(s, i)
		if c != cls {
			break
		}
		i += w
	}
	return i
}

func scanNewlines(s string, i int) int {
	for i < len(s) && (s[i] == '\r' || s[i] == '\n') {
		i++
	}
	return i
}

// contraction matches the part after the apostrophe of 's 't 're 've 'm 'll
// 'd at s[j:], returning its byte length or 0. With fold it is
// case-insensitive like (?i:...), where Unicode case folding also lets the
// long s 'ſ' (U+017F) match 's'.
func contraction(s string, j int, fold bool) int {
	if j >= len(s) {
		return 0
	}
	lower := func(c byte) byte {
		if fold && c >= 'A' && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	switch c := lower(s[j]); c {
	case 's', 't', 'm', 'd':
		return 1
	case 'r', 'v', 'l':
		if j+1 < len(s) {
			c2 := lower(s[j+1])
			if (c != 'l' && c2 == 'e') || (c == 'l' && c2 == 'l') {
				return 2
			}
		}
	case 0xC5: // first byte of ſ
		if fold && j+1 < len(s) && s[j+1] == 0xBF {
			return 2
		}
	}
	return 0
}

// matchLlama returns the end of the match at s[i] of patternLlama3
// (maxDigits 3) or patternQwen2 (maxDigits 1). Every character is covered by
// some alternative, so there is always a non-empty match. The alternatives
// are tried in the regex's order:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)
//	[^\r\n\p{L}\p{N}]?\p{L}+
//	\p{N}{1,3}
//	 ?[^\s\p{L}\p{N}]+[\r\n]*
//	\s*[\r\n]+
//	\s+(?!\S)
//	\s+
func matchLlama(s string, i int, maxDigits int) int {
	if s[i] == '\'' {
		if n := contraction(s, i+1, true); n > 0 {
			return i + 1 + n
		}
	}
	cls, r, w := classAt(s, i)
	j := i + w
	switch cls {
	case clsL:
		return scanClass(s, j, clsL)
	case clsN:
		for n := 1; n < maxDigits && j < len(s); n++ {
			c, _, w2 := classAt(s, j)
			if c != clsN {
				break
			}
			j += w2
		}
		return j
	}
	// One non-letter, non-digit, non-newline character, then letters.
	if r != '\r' && r != '\n' && j < len(s) {
		if c2, _, w2 := classAt(s, j); c2 == clsL {
			return scanClass(s, j+w2, clsL)
		}
	}
	// An optional space, a run of "other" characters, trailing newlines.
	if cls == clsOther {
		return scanNewlines(s, scanClass(s, j, clsOther))
	}
	if r == ' ' && j < len(s) {
		if c2, _, w2 := classAt(s, j); c2 == clsOther {
			return scanNewlines(s, scanClass(s, j+w2, clsOther))
		}
	}
	return matchSpace(s, i, true)
}

// matchSpace handles the whitespace alternatives at s[i] (a space char):
//
//	\s*[\r\n]+   (when newlines): up to and including the run's last \r or \n
//	\s+(?!\S)    the run minus its last char when a non-space follows
//	\s+          otherwise the whole run (a single space before a non-space)
func matchSpace(s string, i int, newlines bool) int {
	end, lastNL, lastStart := i, -1, i
	for end < len(s) {
		cls, r, w := classAt(s, end)
		if cls != clsS {
			break
		}
		if r == '\r' || r == '\n' {
			lastNL = end
		}
		lastStart = end
		end += w
	}
	switch {
	case newlines && lastNL >= 0:
		return lastNL + 1
	case end == len(s):
		return end
	case lastStart > i:
		return lastStart
	}
	return end
}

// matchGPT2 returns the end of the match at s[i] of patternGPT2:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func matchGPT2(s string, i int) int {
	if s[i] == '\'' {
		if n := contraction(s, i+1, false); n > 0 {
			return i + 1 + n
		}
	}
	cls, r, w := classAt(s, i)
	start := i
	if r == ' ' && i+1 < len(s) {
		if c2, _, w2 := classAt(s, i+1); c2 != clsS {
			cls, start, w = c2, i+1, w2
		}
	}
	if cls != clsS {
		return scanClass(s, start+w, cls)
	}
	return matchSpace(s, i, false)
}

// splitPieces calls emit for each consecutive match of the split pattern in s.
func splitPieces(k splitKind, s string, emit func(string)) {
	for i := 0; i < len(s); {
		var j int
		switch k {
		case splitLlama3:
			j = matchLlama(s, i, 3)
		case splitQwen2:
			j = matchLlama(s, i, 1)
		case splitGPT2:
			j = matchGPT2(s, i)
		default:
			j = len(s)
		}
		emit(s[i:j])
		i = j
	}
}
