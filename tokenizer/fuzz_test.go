package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"", " ", "Hello world", "I'M don't 'sup", "1234567 3.14159", "  \n\n\t x  ",
	"<|begin_of_text|>hi<|eot_id|>", "<|im_start|>user\n<think>", "e\u0301 한국어 😀👍🏽 🇺🇸",
	"\xff\xfe", "a\xe2\x82", "\xed\xa0\x80", "\r\n\r\n", "ſ'ſ", "\u0085\u00a0\u3000x",
}

// fuzzTokenizers are the tokenizers FuzzEncode exercises: the real ones when
// the conformance data is present, and always a tiny one with added tokens.
func fuzzTokenizers(tb testing.TB) map[string]*Tokenizer {
	toks := map[string]*Tokenizer{
		"tiny": tinySpec{
			merges: [][2]string{{"a", "b"}, {"Ġ", "a"}},
			added:  []map[string]any{added(300, "<x>", "special"), added(301, "[L]", "lstrip", "rstrip"), added(302, "wd", "single_word")},
		}.load(tb),
	}
	if findDataDir() != "" {
		for _, n := range []string{"qwen3", "llama3"} {
			toks[n] = realTokenizer(tb, n)
		}
	}
	return toks
}

// FuzzEncode: arbitrary bytes never panic; for valid UTF-8 and a tokenizer
// without a normalizer (or lstrip/rstrip tokens, which drop spaces) decoding
// the encoding gives the text back, and stream decoding equals Decode.
func FuzzEncode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	toks := fuzzTokenizers(f)
	f.Fuzz(func(t *testing.T, s string) {
		for name, tok := range toks {
			got := tok.Encode(s, true)
			for _, id := range got {
				if id < 0 || int(id) >= tok.VocabSize() {
					t.Fatalf("%s: id %d out of range for %q", name, id, s)
				}
			}
			dec := tok.Decode(got)
			if !utf8.ValidString(dec) {
				t.Fatalf("%s: Decode returned invalid UTF-8 for %q", name, s)
			}
			sd := NewStreamDecoder(tok)
			var sb strings.Builder
			for _, id := range got {
				sb.WriteString(sd.Add(id))
			}
			sb.WriteString(sd.Flush())
			if sb.String() != dec {
				t.Fatalf("%s: stream %q != decode %q", name, sb.String(), dec)
			}
			roundTrips := name == "llama3" || name == "tiny" && !strings.Contains(s, "[L]")
			if utf8.ValidString(s) && roundTrips {
				if dec := tok.Decode(tok.Encode(s, false)); dec != s {
					t.Fatalf("%s: round trip %q -> %q", name, s, dec)
				}
			}
		}
	})
}

// FuzzLoad: parsing arbitrary tokenizer.json / tokenizer_config.json bytes
// returns an error or a working tokenizer, never a panic.
func FuzzLoad(f *testing.F) {
	base := tinySpec{merges: [][2]string{{"a", "b"}}, added: []map[string]any{added(300, "<x>", "special")}}
	f.Add(base.json(), []byte(`{"bos_token": "<x>", "chat_template": "t"}`))
	base.pairs = true
	base.normalizer = map[string]any{"type": "NFC"}
	base.pre = map[string]any{"type": "Sequence", "pretokenizers": []any{
		map[string]any{"type": "Split", "pattern": map[string]any{"Regex": patternLlama3}, "behavior": "Isolated"},
		map[string]any{"type": "ByteLevel", "use_regex": false}}}
	f.Add(base.json(), []byte(`{"eos_token": {"content": "<x>"}}`))
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]}, "pre_tokenizer": {"type": "ByteLevel"}}`), []byte(`{}`))
	f.Add([]byte(`{"model": {"vocab": {"a": 9}, "merges": ["a a"]}}`), []byte(nil))
	f.Add([]byte(`{"added_tokens": [{"id": 70000, "content": "z"}], "model": {"type": "BPE", "vocab": {}}, "pre_tokenizer": {"type": "ByteLevel"}}`), []byte(`null`))
	f.Add([]byte(`{"model": null}`), []byte(`[`))
	f.Fuzz(func(t *testing.T, data, cfg []byte) {
		if len(cfg) == 0 {
			cfg = nil
		}
		tok, err := parse(data, cfg)
		if err != nil {
			return
		}
		ids := tok.Encode("ab <x> a\u0301 12\xff", true)
		_ = tok.Decode(append(ids, -1, 1<<30))
		tok.BOS()
		tok.EOS()
		tok.Token(0)
	})
}
