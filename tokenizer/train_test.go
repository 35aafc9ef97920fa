package tokenizer

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// trainGoCorpus is Go-like text written for these tests.
const trainGoCorpus = `package main

import (
	"errors"
	"fmt"
	"os"
)

// Config holds the settings of a server.
type Config struct {
	Name    string
	Port    int
	Verbose bool
}

var errNoName = errors.New("config: no name")

func (c *Config) Validate() error {
	if c.Name == "" {
		return errNoName
	}
	if c.Port <= 0 || c.Port > 65535 {
		return fmt.Errorf("config: bad port %d", c.Port)
	}
	return nil
}

func run(args []string) error {
	c := &Config{Name: "demo", Port: 8080}
	for i, a := range args {
		if a == "-v" {
			c.Verbose = true
			continue
		}
		if err := c.Validate(); err != nil {
			return fmt.Errorf("arg %d: %w", i, err)
		}
	}
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// packageSources returns the contents of this package's own .go files.
func packageSources(tb testing.TB) []string {
	tb.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil || len(names) == 0 {
		tb.Fatalf("no .go files: %v", err)
	}
	slices.Sort(names)
	var out []string
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func mustTrain(tb testing.TB, opt TrainOptions, texts ...string) (*Tokenizer, []byte) {
	tb.Helper()
	tr, err := NewTrainer(opt)
	if err != nil {
		tb.Fatal(err)
	}
	for _, s := range texts {
		tr.Add(s)
	}
	tok, data, err := tr.Train()
	if err != nil {
		tb.Fatal(err)
	}
	return tok, data
}

// trainedMerges reads the merges back from a trained tokenizer.json.
func trainedMerges(tb testing.TB, data []byte) [][2]string {
	tb.Helper()
	var f struct {
		Model struct {
			Merges [][2]string `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		tb.Fatal(err)
	}
	return f.Model.Merges
}

func TestTrainHandChecked(t *testing.T) {
	// Pieces: "aaab", " aaab", " ab", once each. Pair counts: a a 4, a b 3,
	// Ġ a 2. After "a a": aa a 2, a b 3, Ġ aa 1, Ġ a 1 -> "a b". Then
	// aa ab 2, Ġ aa 1, Ġ ab 1 -> "aa ab". What is left occurs once: with
	// MinFrequency 2 training stops there. With 1, "Ġ ab" and "Ġ aaab" tie
	// and the smaller right id (ab=257 < aaab=258) goes first.
	tests := []struct {
		name    string
		minFreq int
		want    [][2]string
		size    int
	}{
		{"default", 0, [][2]string{{"a", "a"}, {"a", "b"}, {"aa", "ab"}}, 259 + 1},
		{"min1", 1, [][2]string{{"a", "a"}, {"a", "b"}, {"aa", "ab"}, {"Ġ", "ab"}, {"Ġ", "aaab"}}, 261 + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, data := mustTrain(t, TrainOptions{VocabSize: 300, Special: []string{"<|end|>"}, MinFrequency: tc.minFreq}, "aaab aaab ab")
			if got := trainedMerges(t, data); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("merges = %q, want %q", got, tc.want)
			}
			// Ran out of pairs: stopped early, specials right after.
			if tok.VocabSize() != tc.size {
				t.Errorf("VocabSize = %d, want %d", tok.VocabSize(), tc.size)
			}
			if id, _ := tok.TokenID("<|end|>"); int(id) != tc.size-1 {
				t.Errorf("<|end|> id = %d, want %d", id, tc.size-1)
			}
			for i, m := range tc.want {
				if id, ok := tok.TokenID(m[0] + m[1]); !ok || int(id) != 256+i {
					t.Errorf("token %q: id %d %v, want %d", m[0]+m[1], id, ok, 256+i)
				}
			}
			if got := tok.Encode("aaab", false); !reflect.DeepEqual(got, []int32{258}) {
				t.Errorf(`Encode("aaab") = %v, want [258]`, got)
			}
		})
	}
}

func TestTrainByteIDs(t *testing.T) {
	tok, _ := mustTrain(t, TrainOptions{VocabSize: 256}, "")
	for _, tc := range []struct {
		id  int32
		tok string
	}{{0, "!"}, {93, "~"}, {94, "¡"}, {187, "ÿ"}, {188, "Ā"}, {220, "Ġ"}, {255, "Ń"}} {
		if got, _ := tok.Token(tc.id); got != tc.tok {
			t.Errorf("Token(%d) = %q, want %q", tc.id, got, tc.tok)
		}
	}
	seen := map[int32]bool{}
	for b := range 256 {
		ids := tok.Encode(string([]byte{byte(b)}), false)
		if len(ids) != 1 || seen[ids[0]] || ids[0] > 255 {
			t.Fatalf("byte %#x encodes to %v", b, ids)
		}
		seen[ids[0]] = true
	}
}

// referenceMerges is a plain O(merges × corpus) BPE: recount every pair
// each round. learn must agree with it merge for merge.
func referenceMerges(counts map[string]int64, vocabSize, minFreq int) ([]string, [][2]int32) {
	tokens := trainAlphabet()
	index := map[string]int32{}
	var byteID [256]int32
	for id, s := range tokens {
		index[s] = int32(id)
		byteID[runeToByte[[]rune(s)[0]]] = int32(id)
	}
	type word struct {
		sym []int32
		n   int64
	}
	var words []word
	for k, n := range counts {
		w := word{n: n}
		for i := 0; i < len(k); i++ {
			w.sym = append(w.sym, byteID[k[i]])
		}
		words = append(words, w)
	}
	var merges [][2]int32
	for len(tokens) < vocabSize {
		pc := map[[2]int32]int64{}
		for _, w := range words {
			for i := 0; i+1 < len(w.sym); i++ {
				pc[[2]int32{w.sym[i], w.sym[i+1]}] += w.n
			}
		}
		best, bestN := [2]int32{}, int64(0)
		for p, n := range pc {
			if n > bestN || n == bestN && (p[0] < best[0] || p[0] == best[0] && p[1] < best[1]) {
				best, bestN = p, n
			}
		}
		if bestN == 0 || bestN < int64(minFreq) {
			break
		}
		s := tokens[best[0]] + tokens[best[1]]
		x, ok := index[s]
		if !ok {
			x = int32(len(tokens))
			tokens = append(tokens, s)
			index[s] = x
		}
		merges = append(merges, best)
		for wi := range words {
			sy := words[wi].sym
			var out []int32
			for i := 0; i < len(sy); i++ {
				if i+1 < len(sy) && sy[i] == best[0] && sy[i+1] == best[1] {
					out = append(out, x)
					i++
				} else {
					out = append(out, sy[i])
				}
			}
			words[wi].sym = out
		}
	}
	return tokens, merges
}

func TestTrainMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Few distinct characters make ties and overlapping pairs ("aaaa")
	// common.
	alphabet := []string{"a", "b", "c", " ", "\n", "\t", "é", "1", "."}
	for trial := range 40 {
		var sb strings.Builder
		for range 50 + rng.IntN(400) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		minFreq := 1 + trial%3
		tr, err := NewTrainer(TrainOptions{VocabSize: 256 + 10 + rng.IntN(60), MinFrequency: minFreq})
		if err != nil {
			t.Fatal(err)
		}
		if trial%2 == 0 {
			tr.Add(sb.String())
		} else {
			// Words straight from a tiny alphabet, no pre-tokenizer: lots of
			// ways to build the same string.
			for range 5 + rng.IntN(30) {
				var w strings.Builder
				for range 1 + rng.IntN(9) {
					w.WriteByte("abc"[rng.IntN(3)])
				}
				tr.counts[w.String()] += 1 + int64(rng.IntN(5))
			}
		}
		gotToks, gotMerges := tr.learn()
		wantToks, wantMerges := referenceMerges(tr.counts, tr.opt.VocabSize, minFreq)
		if !reflect.DeepEqual(gotMerges, wantMerges) || !reflect.DeepEqual(gotToks, wantToks) {
			t.Fatalf("trial %d (%q): merges\n%v\nwant\n%v", trial, sb.String(), gotMerges, wantMerges)
		}
	}
}

func TestTrainRoundTrip(t *testing.T) {
	specials := []string{"<|endoftext|>", "<|reserved_special_0|>", "<|reserved_special_1|>"}
	corpus := append([]string{trainGoCorpus}, packageSources(t)...)
	tok, data := mustTrain(t, TrainOptions{VocabSize: 400, Special: specials}, corpus...)
	if tok.VocabSize() != 400 {
		t.Fatalf("VocabSize = %d, want 400", tok.VocabSize())
	}
	for i, s := range specials {
		id, ok := tok.TokenID(s)
		if !ok || int(id) != 400-len(specials)+i {
			t.Errorf("special %q has id %d %v, want %d", s, id, ok, 400-len(specials)+i)
		}
		if got := tok.Encode("x"+s+"y", false); len(got) != 3 || got[1] != id {
			t.Errorf("Encode(x%sy) = %v, want the special's single id %d in the middle", s, got, id)
		}
	}
	if got := tok.SpecialIDs(); len(got) != len(specials) {
		t.Errorf("SpecialIDs = %v", got)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	texts := strings.Split(trainGoCorpus, "\n")
	texts = append(texts, trainGoCorpus,
		"naïve café, Grüße aus Köln — 東京タワー 🎉👩‍💻 emoji!",
		"unseen: func zzQux(x ΔΣ) (ωψ, error) { return 0x1F600, nil }",
		"\t\t\t\n\n\r\n   trailing   ",
		"<|endoftext|>start<|reserved_special_1|>",
		"123456789 3.14159 1e-9",
		"",
	)
	for _, s := range texts {
		ids := tok.Encode(s, false)
		if got := tok.Decode(ids); got != s {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
		if got := loaded.Encode(s, true); !slices.Equal(got, ids) {
			t.Errorf("reloaded Encode(%q) = %v, trained Encode = %v", s, got, ids)
		}
		for _, id := range ids {
			if id < 0 || int(id) >= 400 {
				t.Errorf("Encode(%q) produced id %d outside the vocab", s, id)
			}
		}
	}
	// The training text compresses: common Go pieces became single tokens.
	for _, piece := range []string{"\tif", " err", " :=", " nil", "func"} {
		if ids := tok.Encode(piece, false); len(ids) != 1 {
			t.Errorf("Encode(%q) = %v, want one token", piece, ids)
		}
	}
}

func TestTrainDeterministic(t *testing.T) {
	src := packageSources(t)
	rev := slices.Clone(src)
	slices.Reverse(rev)
	opt := TrainOptions{VocabSize: 600, Special: []string{"<|eot|>"}}
	_, a := mustTrain(t, opt, src...)
	_, b := mustTrain(t, opt, rev...) // same counts, other order of Add
	if !bytes.Equal(a, b) {
		t.Fatal("two trainings gave different tokenizer.json")
	}
	tr, err := NewTrainer(opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range src {
		tr.Add(s)
	}
	for i := range 2 { // Train does not consume the counts
		_, c, err := tr.Train()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, c) {
			t.Fatalf("Train call %d gave different tokenizer.json", i+1)
		}
	}
}

func TestTrainCompression(t *testing.T) {
	src := packageSources(t)
	tok, _ := mustTrain(t, TrainOptions{VocabSize: 1000}, src...)
	var nBytes, nToks int
	for _, s := range src {
		nBytes += len(s)
		nToks += len(tok.Encode(s, false))
	}
	ratio := float64(nToks) / float64(nBytes)
	t.Logf("%d bytes -> %d tokens (%.3f tokens/byte)", nBytes, nToks, ratio)
	if ratio >= 0.5 {
		t.Errorf("%.3f tokens/byte, want < 0.5", ratio)
	}
}

func TestNewTrainerErrors(t *testing.T) {
	tests := []struct {
		name string
		opt  TrainOptions
	}{
		{"too small", TrainOptions{VocabSize: 255}},
		{"too small for specials", TrainOptions{VocabSize: 257, Special: []string{"<a>", "<b>"}}},
		{"duplicate special", TrainOptions{VocabSize: 300, Special: []string{"<a>", "<b>", "<a>"}}},
		{"empty special", TrainOptions{VocabSize: 300, Special: []string{""}}},
		{"invalid utf-8 special", TrainOptions{VocabSize: 300, Special: []string{"<\xff>"}}},
		{"special is a byte token", TrainOptions{VocabSize: 300, Special: []string{"Ġ"}}},
		{"negative min frequency", TrainOptions{VocabSize: 300, MinFrequency: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewTrainer(tc.opt); err == nil {
				t.Errorf("NewTrainer(%+v) succeeded", tc.opt)
			}
		})
	}
	if _, err := NewTrainer(TrainOptions{VocabSize: 258, Special: []string{"<a>", "<b>"}}); err != nil {
		t.Errorf("smallest valid VocabSize: %v", err)
	}
}

func TestTrainSpecialCollision(t *testing.T) {
	// "Ġab" as a special is cut out of the text, but " ab" still trains the
	// byte-level token "Ġab": Train must refuse rather than write a file
	// with two meanings for one string.
	tr, err := NewTrainer(TrainOptions{VocabSize: 300, Special: []string{"Ġab"}})
	if err != nil {
		t.Fatal(err)
	}
	tr.Add(" ab ab ab Ġab")
	if _, _, err := tr.Train(); err == nil {
		t.Error("Train succeeded with a special token equal to a learned token")
	}
}

func TestTrainSkipsSpecialsInText(t *testing.T) {
	tr, err := NewTrainer(TrainOptions{VocabSize: 300, Special: []string{"<|endoftext|>"}})
	if err != nil {
		t.Fatal(err)
	}
	tr.Add("one<|endoftext|>two<|endoftext|>")
	var got []string
	for k := range tr.counts {
		got = append(got, k)
	}
	slices.Sort(got)
	if want := []string{"one", "two"}; !slices.Equal(got, want) {
		t.Errorf("pieces = %q, want %q", got, want)
	}
	if tr.UniquePieces() != 2 {
		t.Errorf("UniquePieces = %d, want 2", tr.UniquePieces())
	}
}

// TestTrainSplitGo checks the splits that Trainer's doc comment shows, on
// the code path that both training and encoding use.
func TestTrainSplitGo(t *testing.T) {
	tr, err := NewTrainer(TrainOptions{VocabSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	if want := []preStep{{split: splitLlama3}}; !reflect.DeepEqual(tr.steps, want) {
		t.Fatalf("trainer pre-tokenizer steps = %+v, want %+v", tr.steps, want)
	}
	tests := []struct {
		in   string
		want []string
	}{
		{"\n\t\tif err != nil {\n", []string{"\n", "\t", "\tif", " err", " !=", " nil", " {\n"}},
		{"\t\t}\n", []string{"\t", "\t", "}\n"}},
		{"\t\t\treturn x12345\n", []string{"\t\t", "\treturn", " x", "123", "45", "\n"}},
	}
	for _, tc := range tests {
		var got []string
		splitPieces(splitLlama3, tc.in, func(p string) { got = append(got, p) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("split(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTrainJSONShape(t *testing.T) {
	_, data := mustTrain(t, TrainOptions{VocabSize: 300, Special: []string{"<|end|>"}}, trainGoCorpus)
	var f map[string]json.RawMessage
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	keys := []string{"version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder", "model"}
	last := -1
	for _, k := range keys {
		i := bytes.Index(data, []byte(`"`+k+`":`))
		if i < 0 || i < last {
			t.Errorf("key %q missing or out of order", k)
		}
		last = i
	}
	if !bytes.Contains(data, []byte(`"content": "<|end|>"`)) {
		t.Error("special token content is not written literally (HTML-escaped?)")
	}
	var m struct {
		Version     string `json:"version"`
		AddedTokens []struct {
			ID                                              int
			Content                                         string
			SingleWord, LStrip, RStrip, Normalized, Special bool
		} `json:"added_tokens"`
		Model struct {
			Type         string            `json:"type"`
			Vocab        map[string]int    `json:"vocab"`
			Merges       []json.RawMessage `json:"merges"`
			IgnoreMerges bool              `json:"ignore_merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.Version != "1.0" || m.Model.Type != "BPE" || len(m.Model.Vocab) != 299 || len(m.Model.Merges) != 43 {
		t.Errorf("version %q type %q vocab %d merges %d", m.Version, m.Model.Type, len(m.Model.Vocab), len(m.Model.Merges))
	}
	if a := m.AddedTokens; len(a) != 1 || a[0].ID != 299 || a[0].Content != "<|end|>" || !a[0].Special || a[0].Normalized || a[0].LStrip || a[0].RStrip || a[0].SingleWord {
		t.Errorf("added_tokens = %+v", a)
	}
	if len(m.Model.Merges) > 0 && m.Model.Merges[0][0] != '[' {
		t.Errorf("merge %s is not a [left, right] pair", m.Model.Merges[0])
	}

	// The processing sections are exactly Llama 3's.
	dir := findDataDir()
	if dir == "" {
		t.Skip("shared data absent: cannot compare with Llama 3's tokenizer.json")
	}
	ref, err := os.ReadFile(filepath.Join(dir, "llama3", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rf map[string]json.RawMessage
	if err := json.Unmarshal(ref, &rf); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"normalizer", "pre_tokenizer", "post_processor", "decoder", "truncation", "padding", "version"} {
		var a, b any
		if err := json.Unmarshal(f[k], &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(rf[k], &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s = %s, Llama 3 has %s", k, f[k], rf[k])
		}
	}
}

func TestTrainProgress(t *testing.T) {
	var calls [][2]int
	mustTrain(t, TrainOptions{VocabSize: 560, Progress: func(m, target int) { calls = append(calls, [2]int{m, target}) }}, trainGoCorpus, trainGoCorpus)
	if len(calls) == 0 {
		t.Fatal("Progress never called")
	}
	for i, c := range calls {
		if c[1] != 304 || (i < len(calls)-1 && c[0] != 100*(i+1)) {
			t.Errorf("Progress call %d = %v", i, c)
		}
	}
}

func TestWriteTokenizerConfig(t *testing.T) {
	dir := t.TempDir()
	_, data := mustTrain(t, TrainOptions{VocabSize: 300, Special: []string{"<|begin|>", "<|end|>"}}, trainGoCorpus)
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteTokenizerConfig(dir, "<|begin|>", "<|end|>", 2048); err != nil {
		t.Fatal(err)
	}
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	bos, ok1 := tok.BOS()
	eos, ok2 := tok.EOS()
	if !ok1 || !ok2 || bos != 298 || eos != 299 {
		t.Errorf("BOS %d %v, EOS %d %v; want 298, 299", bos, ok1, eos, ok2)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(cfg, &c); err != nil {
		t.Fatal(err)
	}
	if c["tokenizer_class"] != "PreTrainedTokenizerFast" || c["model_max_length"] != 2048.0 {
		t.Errorf("tokenizer_config.json = %s", cfg)
	}
	if err := WriteTokenizerConfig(dir, "", "", 1); err == nil {
		t.Error("WriteTokenizerConfig without eos succeeded")
	}
}

// BenchmarkTrainBPE trains a 2048-token vocabulary on ~250 KB of Go source
// from GOROOT (Add and Train).
func BenchmarkTrainBPE(b *testing.B) {
	src := goSource(b)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		tr, err := NewTrainer(TrainOptions{VocabSize: 2048, Special: []string{"<|endoftext|>"}})
		if err != nil {
			b.Fatal(err)
		}
		tr.Add(src)
		if _, _, err := tr.Train(); err != nil {
			b.Fatal(err)
		}
	}
}
