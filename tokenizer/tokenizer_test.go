package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tinySpec describes a small byte-level tokenizer.json built in memory. Its
// vocabulary is the 256 byte tokens with id == byte value, then one token per
// merge, so expected ids are easy to write down.
type tinySpec struct {
	merges       [][2]string // in the byte-level alphabet, e.g. {"Ġ", "a"}
	pairs        bool        // serialize merges as ["a","b"] instead of "a b"
	ignoreMerges bool
	added        []map[string]any
	normalizer   any
	pre          any // default: a lone ByteLevel with the GPT-2 regex
	post         any
}

func (s tinySpec) json() []byte {
	vocab := map[string]int{}
	for b := range 256 {
		vocab[string(byteToRune[b])] = b
	}
	var merges []any
	for _, m := range s.merges {
		if _, ok := vocab[m[0]+m[1]]; !ok {
			vocab[m[0]+m[1]] = len(vocab)
		}
		if s.pairs {
			merges = append(merges, []string{m[0], m[1]})
		} else {
			merges = append(merges, m[0]+" "+m[1])
		}
	}
	if merges == nil {
		merges = []any{}
	}
	pre := s.pre
	if pre == nil {
		pre = map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}
	}
	f := map[string]any{
		"version":        "1.0",
		"added_tokens":   s.added,
		"normalizer":     s.normalizer,
		"pre_tokenizer":  pre,
		"post_processor": s.post,
		"decoder":        map[string]any{"type": "ByteLevel"},
		"model": map[string]any{
			"type": "BPE", "vocab": vocab, "merges": merges, "ignore_merges": s.ignoreMerges,
		},
	}
	b, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	return b
}

func (s tinySpec) load(tb testing.TB) *Tokenizer {
	tb.Helper()
	tok, err := parse(s.json(), nil)
	require.NoError(tb, err)
	return tok
}

func added(id int, content string, flags ...string) map[string]any {
	m := map[string]any{"id": id, "content": content, "special": false,
		"lstrip": false, "rstrip": false, "single_word": false, "normalized": false}
	for _, f := range flags {
		m[f] = true
	}
	return m
}

func ids(s string) []int32 { // byte ids of the tiny vocabulary
	out := make([]int32, len(s))
	for i := range len(s) {
		out[i] = int32(s[i])
	}
	return out
}

func cat(parts ...[]int32) []int32 {
	var out []int32
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestAddedTokenFlags(t *testing.T) {
	tok := tinySpec{
		added: []map[string]any{
			added(300, "<x>", "special"),
			added(301, "[L]", "lstrip"),
			added(302, "[R]", "rstrip"),
			added(303, "wd", "single_word"),
			added(304, "norm", "normalized"),
			added(305, "<x>y"),
			added(306, "[LR]", "lstrip", "rstrip"),
		},
		normalizer: map[string]any{"type": "Lowercase"},
	}.load(t)
	for _, c := range []struct {
		in   string
		want []int32
	}{
		{"a<x>b", cat(ids("a"), []int32{300}, ids("b"))},
		{"<x>yz", cat([]int32{305}, ids("z"))},             // longest match wins
		{"<x", ids("<x")},                                  // incomplete: plain text
		{"<X>", ids("<x>")},                                // raw tokens are matched before lowercasing
		{"a  [L]b", cat(ids("a"), []int32{301}, ids("b"))}, // lstrip eats the spaces
		{"a[R] \t b", cat(ids("a"), []int32{302}, ids("b"))},
		{"a [LR] b", cat(ids("a"), []int32{306}, ids("b"))},
		{"<x> [L]", []int32{300, 301}}, // lstrip stops at the previous token
		{"a wd b", cat(ids("a "), []int32{303}, ids(" b"))},
		{"wd", []int32{303}},
		{"awd", ids("awd")},                      // single_word: glued to a letter on the left
		{"wd1", ids("wd1")},                      // or a digit on the right
		{"NORM x", cat([]int32{304}, ids(" x"))}, // normalized token matches after lowercasing
		{"A", ids("a")},
	} {
		assert.Equal(t, c.want, tok.Encode(c.in, false), "%q", c.in)
	}
	assert.Equal(t, map[string]int32{"<x>": 300}, tok.SpecialIDs())
	assert.Equal(t, 307, tok.VocabSize())
	assert.Equal(t, "a<x>b[L]", tok.Decode([]int32{97, 300, 98, 301}))
	id, ok := tok.TokenID("[R]")
	assert.True(t, ok)
	assert.Equal(t, int32(302), id)
}

func TestMergesAndIgnoreMerges(t *testing.T) {
	for _, pairs := range []bool{false, true} {
		spec := tinySpec{
			pairs: pairs,
			merges: [][2]string{
				{"a", "a"},   // 256
				{"b", "c"},   // 257
				{"a", "bc"},  // 258
				{"aa", "aa"}, // 259
			},
		}
		tok := spec.load(t)
		// "aaa": two equal-rank candidates, the leftmost merges first.
		assert.Equal(t, []int32{256, 'a'}, tok.Encode("aaa", false))
		assert.Equal(t, []int32{259}, tok.Encode("aaaa", false))
		// "abc": (b,c) outranks nothing else, then (a,bc).
		assert.Equal(t, []int32{258}, tok.Encode("abc", false))
		assert.Equal(t, []int32{259, 256, 'a'}, tok.Encode("aaaaaaa", false))
		// Long pieces go through the heap; result must be deterministic.
		long := strings.Repeat("a", 1001)
		got := tok.Encode(long, false)
		assert.Equal(t, long, tok.Decode(got))
		assert.Len(t, got, 251) // 1001 = 250*4 + 1: 250 x "aaaa" then "a"
		assert.Equal(t, int32('a'), got[250])
	}
	// With ignore_merges a piece that is itself a token is emitted whole
	// even if the merges would not build it.
	spec := tinySpec{merges: [][2]string{{"x", "y"}, {"y", "z"}}, ignoreMerges: true}
	tok := spec.load(t)
	id, _ := tok.TokenID("yz")
	assert.Equal(t, []int32{id}, tok.Encode("yz", false))
	spec.ignoreMerges = false
	// Without it, "xyz" merges (x,y) first and "xy"+"z" has no merge.
	tok = spec.load(t)
	xy, _ := tok.TokenID("xy")
	assert.Equal(t, []int32{xy, 'z'}, tok.Encode("xyz", false))
}

func TestPostProcessorAndConfig(t *testing.T) {
	post := map[string]any{"type": "Sequence", "processors": []any{
		map[string]any{"type": "ByteLevel"},
		map[string]any{"type": "TemplateProcessing",
			"single": []any{
				map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
				map[string]any{"SpecialToken": map[string]any{"id": "</s>", "type_id": 0}},
			},
			"special_tokens": map[string]any{
				"<s>":  map[string]any{"id": "<s>", "ids": []int{300}},
				"</s>": map[string]any{"id": "</s>", "ids": []int{301}},
			}},
	}}
	spec := tinySpec{added: []map[string]any{added(300, "<s>", "special"), added(301, "</s>", "special")}, post: post}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer.json"), spec.json(), 0o644))
	cfg := `{"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>",
		"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(cfg), 0o644))

	for _, p := range []string{dir, filepath.Join(dir, "tokenizer.json")} {
		tok, err := Load(p)
		require.NoError(t, err)
		assert.Equal(t, []int32{300, 'h', 'i', 301}, tok.Encode("hi", true))
		assert.Equal(t, []int32{'h', 'i'}, tok.Encode("hi", false))
		assert.Equal(t, "<s>", tok.BOSToken())
		assert.Equal(t, "</s>", tok.EOSToken())
		bos, ok := tok.BOS()
		assert.True(t, ok)
		assert.Equal(t, int32(300), bos)
		eos, ok := tok.EOS()
		assert.True(t, ok)
		assert.Equal(t, int32(301), eos)
		assert.Equal(t, "D", tok.ChatTemplate())
	}

	// Without a config there is no BOS/EOS and no template.
	tok := spec.load(t)
	_, ok := tok.BOS()
	assert.False(t, ok)
	_, ok = tok.EOS()
	assert.False(t, ok)
	assert.Equal(t, "", tok.ChatTemplate())

	// null bos_token is "absent".
	tok, err := parse(spec.json(), []byte(`{"bos_token": null, "eos_token": "</s>", "chat_template": "X"}`))
	require.NoError(t, err)
	_, ok = tok.BOS()
	assert.False(t, ok)
	assert.Equal(t, "X", tok.ChatTemplate())
}

func TestPreTokenizerPatterns(t *testing.T) {
	split := func(k splitKind, s string) []string {
		var out []string
		splitPieces(k, s, func(p string) { out = append(out, p) })
		return out
	}
	type tc struct {
		in   string
		want []string
	}
	llama := []tc{
		{"Hello world", []string{"Hello", " world"}},
		{"I'm", []string{"I", "'m"}},
		{"I'M WE'LL", []string{"I", "'M", " WE", "'LL"}},
		{"'sup", []string{"'s", "up"}},
		{"don't", []string{"don", "'t"}},
		{"x'ſ", []string{"x", "'ſ"}}, // (?i) folds ſ to s
		{"1234567", []string{"123", "456", "7"}},
		{"  hi", []string{" ", " hi"}},
		{"a  \n\n  b", []string{"a", "  \n\n", " ", " b"}},
		{"x  ", []string{"x", "  "}},
		{"hello!!\n\nworld", []string{"hello", "!!\n\n", "world"}},
		{" !?", []string{" !?"}},
		{"\tfoo", []string{"\tfoo"}},
		{"\t!", []string{"\t", "!"}},
		{"e\u0301", []string{"e", "\u0301"}},
		{"$100", []string{"$", "100"}},
		{"\r\n\r\nx", []string{"\r\n\r\n", "x"}},
		{"\n x", []string{"\n", " x"}},
		{"a\xffb", []string{"a", "\xffb"}},
		{"٣٤٥٦", []string{"٣٤٥", "٦"}},
	}
	for _, c := range llama {
		assert.Equal(t, c.want, split(splitLlama3, c.in), "llama3 %q", c.in)
	}
	assert.Equal(t, []string{"1", "2", "3", "4"}, split(splitQwen2, "1234"))
	assert.Equal(t, []string{"I", "'M"}, split(splitQwen2, "I'M"))

	gpt2 := []tc{
		{"Hello world", []string{"Hello", " world"}},
		{"I'M", []string{"I", "'", "M"}}, // case-sensitive contractions
		{"I'm", []string{"I", "'m"}},
		{"  hi", []string{" ", " hi"}},
		{"123 4567", []string{"123", " 4567"}},
		{"a\n\nb", []string{"a", "\n", "\n", "b"}},
		{"x  ", []string{"x", "  "}},
		{" !?x", []string{" !?", "x"}},
	}
	for _, c := range gpt2 {
		assert.Equal(t, c.want, split(splitGPT2, c.in), "gpt2 %q", c.in)
	}
}

func TestLossyAndStream(t *testing.T) {
	for in, want := range map[string]string{
		"ok":               "ok",
		"\xe2\x82":         "\uFFFD",
		"\xe2\x82A":        "\uFFFDA",
		"\xe0\x80":         "\uFFFD\uFFFD",
		"\xed\xa0\x80":     "\uFFFD\uFFFD\uFFFD",
		"\xf0\x9f\x98":     "\uFFFD",
		"\xf0\x9f\x98\x80": "😀",
		"\xff\xfe":         "\uFFFD\uFFFD",
		"a\xc3":            "a\uFFFD",
	} {
		assert.Equal(t, want, string(appendLossy(nil, []byte(in))), "%q", in)
	}

	tok := tinySpec{added: []map[string]any{added(300, "<e>", "special")}}.load(t)
	sd := NewStreamDecoder(tok)
	var got []string
	for _, id := range cat(ids("é😀"), []int32{300, 0xe2, 0x82}, ids("A")) {
		got = append(got, sd.Add(id))
	}
	got = append(got, sd.Flush())
	assert.Equal(t, []string{"", "é", "", "", "", "😀", "<e>", "", "", "\uFFFDA", ""}, got)
	assert.Equal(t, "\uFFFD", func() string { sd.Add(0xf0); return sd.Flush() }())
	assert.Equal(t, "", sd.Add(-1)) // unknown ids are skipped
}

func TestMalformed(t *testing.T) {
	good := tinySpec{}
	mutate := func(f func(m map[string]any)) string {
		var m map[string]any
		require.NoError(t, json.Unmarshal(good.json(), &m))
		f(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return string(b)
	}
	model := func(m map[string]any) map[string]any { return m["model"].(map[string]any) }
	for _, c := range []struct {
		name, json, want string
	}{
		{"empty", "", "parsing tokenizer.json"},
		{"truncated", `{"model": {"type": "BPE", "vocab": {`, "parsing tokenizer.json"},
		{"not an object", `[1,2]`, "parsing tokenizer.json"},
		{"no model", `{}`, `no "model"`},
		{"unknown model", mutate(func(m map[string]any) { model(m)["type"] = "WordPiece" }), `unsupported model type "WordPiece"`},
		{"no vocab", mutate(func(m map[string]any) { delete(model(m), "vocab") }), `no "vocab"`},
		{"bad vocab id", mutate(func(m map[string]any) { model(m)["vocab"] = map[string]any{"a": "x"} }), "parsing tokenizer.json"},
		{"negative id", mutate(func(m map[string]any) { model(m)["vocab"] = map[string]any{"a": -1} }), "negative id"},
		{"huge id", mutate(func(m map[string]any) { model(m)["vocab"] = map[string]any{"a": 1 << 30} }), "too large"},
		{"merge unknown token", mutate(func(m map[string]any) { model(m)["merges"] = []any{"a zz"} }), `unknown token "zz"`},
		{"merge result unknown", mutate(func(m map[string]any) { model(m)["merges"] = []any{"a b"} }), `produces "ab"`},
		{"merge not two", mutate(func(m map[string]any) { model(m)["merges"] = []any{"abc"} }), "not two space-separated"},
		{"merge pair of three", mutate(func(m map[string]any) { model(m)["merges"] = []any{[]any{"a", "b", "c"}} }), "has 3 elements"},
		{"merges wrong type", mutate(func(m map[string]any) { model(m)["merges"] = []any{1} }), "parsing merges"},
		{"byte fallback", mutate(func(m map[string]any) { model(m)["byte_fallback"] = true }), "byte_fallback"},
		{"unk missing", mutate(func(m map[string]any) { model(m)["unk_token"] = "<unk>" }), `unk_token "<unk>"`},
		{"unknown normalizer", mutate(func(m map[string]any) { m["normalizer"] = map[string]any{"type": "Replace"} }), `unsupported normalizer type "Replace"`},
		{"nested unknown normalizer", mutate(func(m map[string]any) {
			m["normalizer"] = map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "NFC"}, map[string]any{"type": "Strip"}}}
		}), `"Strip"`},
		{"no pre_tokenizer", mutate(func(m map[string]any) { m["pre_tokenizer"] = nil }), "no pre_tokenizer"},
		{"unknown pattern", mutate(func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `\w+|\d`}, "behavior": "Isolated"},
				map[string]any{"type": "ByteLevel", "use_regex": false}}}
		}), `unsupported Split pre-tokenizer pattern "\\w+|\\d"`},
		{"split without bytelevel", mutate(func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Split", "pattern": map[string]any{"Regex": patternQwen2}, "behavior": "Isolated"}
		}), "no ByteLevel"},
		{"split removed", mutate(func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Split", "pattern": map[string]any{"Regex": patternQwen2}, "behavior": "Removed"}
		}), "only Isolated"},
		{"unknown pre_tokenizer", mutate(func(m map[string]any) { m["pre_tokenizer"] = map[string]any{"type": "Metaspace"} }), `"Metaspace"`},
		{"unknown post", mutate(func(m map[string]any) { m["post_processor"] = map[string]any{"type": "RobertaProcessing"} }), `"RobertaProcessing"`},
		{"template unknown special", mutate(func(m map[string]any) {
			m["post_processor"] = map[string]any{"type": "TemplateProcessing", "single": []any{
				map[string]any{"SpecialToken": map[string]any{"id": "<s>"}}, map[string]any{"Sequence": map[string]any{"id": "A"}}}}
		}), `special token "<s>"`},
		{"unknown decoder", mutate(func(m map[string]any) { m["decoder"] = map[string]any{"type": "WordPiece"} }), `unsupported decoder type "WordPiece"`},
		{"added without id", mutate(func(m map[string]any) { m["added_tokens"] = []any{map[string]any{"content": "x"}} }), `lacks "id"`},
		{"added empty", mutate(func(m map[string]any) { m["added_tokens"] = []any{map[string]any{"id": 5, "content": ""}} }), "empty content"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse([]byte(c.json), nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}

	// Config errors and Load's error context.
	_, err := parse(good.json(), []byte(`{"eos_token": 5}`))
	assert.ErrorContains(t, err, "eos_token")
	_, err = parse(good.json(), []byte(`{"chat_template": 5}`))
	assert.ErrorContains(t, err, "chat_template")
	_, err = Load(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorContains(t, err, "missing")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(`{"model": {"type": "Unigram"}}`), 0o644))
	_, err = Load(dir)
	assert.ErrorContains(t, err, filepath.Join(dir, "tokenizer.json")+": unsupported model type")
}

// TestConcurrentEncode: one Tokenizer shared by goroutines (the word cache is
// the only mutable state) gives the same ids as serial use, even while the
// cache keeps filling up and being emptied.
func TestConcurrentEncode(t *testing.T) {
	tok := tinySpec{merges: [][2]string{{"a", "b"}, {"Ġ", "ab"}}}.load(t)
	tok.cache = newWordCache(8)
	texts := []string{"ab ab abab", "x y z ab", "hello world", "ab  ab\n\nab"}
	want := make([][]int32, len(texts))
	for i, s := range texts {
		want[i] = tok.Encode(s, false)
	}
	done := make(chan bool)
	for g := range 4 {
		go func() {
			ok := true
			for i := range 200 {
				k := (i + g) % len(texts)
				ok = ok && assert.Equal(t, want[k], tok.Encode(texts[k], false))
			}
			done <- ok
		}()
	}
	for range 4 {
		<-done
	}
	assert.LessOrEqual(t, len(tok.cache.m), 8)
}
