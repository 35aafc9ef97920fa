package tokenizer

import "unicode/utf8"

// byteToRune is GPT-2's byte-level alphabet: printable Latin-1 bytes stand for
// themselves and the other 68 bytes (controls, space, 0x7F-0xA0, 0xAD) are
// moved to U+0100.. so that every token is printable text. Vocabularies store
// tokens in this alphabet ("Ġ" is the space byte 0x20).
var byteToRune [256]rune

// runeToByte inverts byteToRune; only runes below 0x144 can occur.
var runeToByte [0x144]int16

func init() {
	n := rune(0)
	for b := range 256 {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		if printable {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = 256 + n
			n++
		}
	}
	for i := range runeToByte {
		runeToByte[i] = -1
	}
	for b, r := range byteToRune {
		runeToByte[r] = int16(b)
	}
}

// byteLevelDecode maps a byte-level token back to raw bytes. ok is false when
// some rune is outside the alphabet; HF's ByteLevel decoder then uses the
// token's own UTF-8 bytes instead, and so do we.
func byteLevelDecode(tok string) ([]byte, bool) {
	out := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); {
		r, w := utf8.DecodeRuneInString(tok[i:])
		if r == utf8.RuneError && w <= 1 || int(r) >= len(runeToByte) || runeToByte[r] < 0 {
			return nil, false
		}
		out = append(out, byte(runeToByte[r]))
		i += w
	}
	return out, true
}

// byteLevelEncode maps raw bytes to the byte-level alphabet.
func byteLevelEncode(b []byte) string {
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = byteToRune[c]
	}
	return string(rs)
}
