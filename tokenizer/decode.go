package tokenizer

import "unicode/utf8"

// buildDecodeTable precomputes each id's bytes with HF's ByteLevel decoder
// rule: map every rune of the token back through the byte-level alphabet, or,
// if some rune is outside it (e.g. an added token containing a real space),
// use the token's UTF-8 text unchanged. Added tokens go through the same rule.
func (t *Tokenizer) buildDecodeTable() {
	t.decOff = make([]uint32, len(t.tokens)+1)
	for id, tok := range t.tokens {
		t.decOff[id] = uint32(len(t.decBuf))
		if !t.defined[id] {
			continue
		}
		if b, ok := byteLevelDecode(tok); ok {
			t.decBuf = append(t.decBuf, b...)
		} else {
			t.decBuf = append(t.decBuf, tok...)
		}
	}
	t.decOff[len(t.tokens)] = uint32(len(t.decBuf))
}

// idBytes returns the raw bytes of id; nil for ids the tokenizer does not
// define, which Decode therefore skips.
func (t *Tokenizer) idBytes(id int32) []byte {
	if id < 0 || int(id) >= len(t.tokens) {
		return nil
	}
	return t.decBuf[t.decOff[id]:t.decOff[id+1]]
}

// Decode turns ids back into text. Special and other added tokens decode to
// their literal text; unknown ids are skipped. Byte sequences that are not
// valid UTF-8 become U+FFFD, one per maximal invalid subpart, as Rust's
// String::from_utf8_lossy in HF does. No clean-up of spaces is applied, so
// Decode(Encode(s)) == s (after normalization, for Qwen's NFC).
func (t *Tokenizer) Decode(ids []int32) string {
	var buf []byte
	for _, id := range ids {
		buf = append(buf, t.idBytes(id)...)
	}
	if utf8.Valid(buf) {
		return string(buf)
	}
	return string(appendLossy(nil, buf))
}

// appendLossy appends b to dst, replacing each maximal subpart of an invalid
// UTF-8 sequence (Unicode §3.9, "substitution of maximal subparts") by U+FFFD.
func appendLossy(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			dst = append(dst, b[i])
			i++
			continue
		}
		r, w := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || w > 1 {
			dst = append(dst, b[i:i+w]...)
			i += w
			continue
		}
		dst = utf8.AppendRune(dst, utf8.RuneError)
		i += max(1, validPrefixLen(b[i:]))
	}
	return dst
}

// seqRanges gives, for a lead byte, the allowed range of each continuation
// byte (Unicode Table 3-7). ok is false for bytes that cannot start a sequence.
func seqRanges(lead byte) (r [3][2]byte, n int, ok bool) {
	const lo, hi = 0x80, 0xBF
	switch {
	case lead >= 0xC2 && lead <= 0xDF:
		return [3][2]byte{{lo, hi}}, 1, true
	case lead == 0xE0:
		return [3][2]byte{{0xA0, hi}, {lo, hi}}, 2, true
	case lead == 0xED:
		return [3][2]byte{{lo, 0x9F}, {lo, hi}}, 2, true
	case lead >= 0xE1 && lead <= 0xEF:
		return [3][2]byte{{lo, hi}, {lo, hi}}, 2, true
	case lead == 0xF0:
		return [3][2]byte{{0x90, hi}, {lo, hi}, {lo, hi}}, 3, true
	case lead >= 0xF1 && lead <= 0xF3:
		return [3][2]byte{{lo, hi}, {lo, hi}, {lo, hi}}, 3, true
	case lead == 0xF4:
		return [3][2]byte{{lo, 0x8F}, {lo, hi}, {lo, hi}}, 3, true
	}
	return r, 0, false
}

// validPrefixLen is how many leading bytes of b form a prefix of some valid
// UTF-8 sequence (0 when b[0] cannot start one).
func validPrefixLen(b []byte) int {
	r, n, ok := seqRanges(b[0])
	if !ok {
		return 0
	}
	k := 1
	for k <= n && k < len(b) && b[k] >= r[k-1][0] && b[k] <= r[k-1][1] {
		k++
	}
	return k
}

// incompleteTail is the length of the suffix of b that is a proper prefix of
// a valid UTF-8 sequence, i.e. bytes that a later token could still complete.
func incompleteTail(b []byte) int {
	for k := 1; k <= 3 && k <= len(b); k++ {
		p := len(b) - k
		if _, n, ok := seqRanges(b[p]); ok {
			if n >= k && validPrefixLen(b[p:]) == k {
				return k
			}
			return 0
		}
		if b[p] < 0x80 || b[p] > 0xBF {
			return 0 // neither a lead nor a continuation byte
		}
	}
	return 0
}

// StreamDecoder turns ids into text one at a time, as a model generates
// them, returning only complete UTF-8: a character split across tokens is
// held back until its last byte arrives. The concatenation of all Add results
// and the final Flush equals Decode of all ids. Not safe for concurrent use.
type StreamDecoder struct {
	t       *Tokenizer
	pending []byte
}

// NewStreamDecoder returns a StreamDecoder for t.
func NewStreamDecoder(t *Tokenizer) *StreamDecoder { return &StreamDecoder{t: t} }

// Add appends id and returns the text it completes (possibly "").
func (d *StreamDecoder) Add(id int32) string {
	d.pending = append(d.pending, d.t.idBytes(id)...)
	k := incompleteTail(d.pending)
	n := len(d.pending) - k
	if n == 0 {
		return ""
	}
	out := string(appendLossy(nil, d.pending[:n]))
	d.pending = d.pending[:copy(d.pending, d.pending[n:])]
	return out
}

// Flush returns whatever is held back (an incomplete sequence becomes
// U+FFFD) and resets the decoder.
func (d *StreamDecoder) Flush() string {
	out := string(appendLossy(nil, d.pending))
	d.pending = d.pending[:0]
	return out
}
