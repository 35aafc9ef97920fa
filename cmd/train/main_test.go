package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gopard/gopard/internal/gocorpus"
	"github.com/gopard/gopard/models"
	"github.com/gopard/gopard/models/llama"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tokenizer"
)

// The tests share one tiny corpus, tokenizer and pretrained model, built
// on first use by the commands under test (TestEndToEnd checks them).
var (
	fixOnce sync.Once
	fix     struct {
		root, corpus, tok, model string
		tokOut, modelOut         string
		err                      error
	}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fix.root != "" {
		os.RemoveAll(fix.root)
	}
	os.Exit(code)
}

// tinyModel are the pretrain flags of a model that trains in milliseconds.
var tinyModel = []string{"--hidden", "32", "--layers", "1", "--heads", "2", "--kv-heads", "1",
	"--intermediate", "48", "--seq", "32", "--batch", "2", "--threads", "1", "--quiet"}

func fixture(t *testing.T) (corpus, tok, model string) {
	t.Helper()
	fixOnce.Do(func() {
		fix.root, fix.err = os.MkdirTemp("", "train-test-")
		if fix.err != nil {
			return
		}
		fix.corpus = filepath.Join(fix.root, "corpus")
		fix.tok = filepath.Join(fix.root, "tok")
		fix.model = filepath.Join(fix.root, "model")
		if fix.err = writeGoCorpus(fix.corpus, 12); fix.err != nil {
			return
		}
		var out string
		out, _, fix.err = runArgs("tokenizer", "--data", fix.corpus, "--vocab", "300", "--quiet", "--out", fix.tok)
		fix.tokOut += out
		if fix.err != nil {
			return
		}
		out, _, fix.err = runArgs(append([]string{"pretrain", "--tokenizer", fix.tok, "--data", fix.corpus,
			"--steps", "4", "--out", fix.model}, tinyModel...)...)
		fix.modelOut = out
	})
	if fix.err != nil {
		t.Fatalf("fixture: %v", fix.err)
	}
	return fix.corpus, fix.tok, fix.model
}

func runArgs(args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	err = run(args, &o, &e)
	return o.String(), e.String(), err
}

// mustRun runs the command and fails the test on an error.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, err := runArgs(args...)
	if err != nil {
		t.Fatalf("train %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// writeGoCorpus writes n small files of Go-like code (about 3 KB each).
func writeGoCorpus(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(7, 11))
	names := []string{"buf", "count", "index", "value", "node", "reader", "writer", "token", "state", "size", "offset", "name"}
	types := []string{"int", "string", "[]byte", "bool", "float64", "*Node", "error"}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	for i := range n {
		var b strings.Builder
		fmt.Fprintf(&b, "// Package p%d is generated test code.\npackage p%d\n\nimport (\n\t\"fmt\"\n\t\"strings\"\n)\n\n", i, i)
		fmt.Fprintf(&b, "// Node is a list node.\ntype Node struct {\n\tNext  *Node\n\tValue int\n\tName  string\n}\n\n")
		for j := range 10 {
			a, c := pick(names), pick(names)
			fmt.Fprintf(&b, "// %s%d returns the %s of %s.\nfunc %s%d(%s %s, %s int) (int, error) {\n",
				strings.ToUpper(a[:1])+a[1:], j, a, c, strings.ToUpper(a[:1])+a[1:], j, c, pick(types), a)
			fmt.Fprintf(&b, "\tif %s < 0 {\n\t\treturn 0, fmt.Errorf(\"%s: negative %%d\", %s)\n\t}\n", a, c, a)
			fmt.Fprintf(&b, "\ttotal := 0\n\tfor i := 0; i < %s; i++ {\n\t\ttotal += i * %d\n\t}\n", a, rng.IntN(100))
			fmt.Fprintf(&b, "\ts := strings.Repeat(%q, %d)\n\t_ = s\n\treturn total, nil\n}\n\n", pick(names), rng.IntN(9)+1)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("p%02d.go", i)), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	// A file with another extension, which must not be read.
	return os.WriteFile(filepath.Join(dir, "README.txt"), []byte(strings.Repeat("not Go ", 100)), 0o644)
}

var heldOutRE = regexp.MustCompile(`held-out loss (\S+);`)

func TestEndToEnd(t *testing.T) {
	corpus, tokDir, arDir := fixture(t)
	if !strings.Contains(fix.tokOut, "300 tokens written") {
		t.Errorf("tokenizer stdout %q: want 300 tokens written", fix.tokOut)
	}
	tok, err := tokenizer.Load(tokDir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 300 {
		t.Fatalf("tokenizer vocabulary %d, want 300", tok.VocabSize())
	}
	mask, ok := tok.TokenID("<|reserved_special_0|>")
	if !ok {
		t.Fatal("tokenizer lacks <|reserved_special_0|>")
	}
	eos, ok := tok.EOS()
	if !ok || eos != 299-4 {
		t.Errorf("EOS %d (%v), want 295: the first special after the learned tokens", eos, ok)
	}

	pardDir := filepath.Join(t.TempDir(), "pard")
	pardOut := mustRun(t, "pard", "--model", arDir, "--data", corpus, "--para-num", "4", "--seq", "32", "--batch", "2",
		"--steps", "3", "--threads", "1", "--quiet", "--out", pardDir)

	for _, c := range []struct {
		name, dir, stdout string
		pard              int32 // -1: none
	}{
		{"pretrain", arDir, fix.modelOut, -1},
		{"pard", pardDir, pardOut, mask},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := models.Load(c.dir, llama.Options{Backend: ops.NewCPU(1), Context: 64})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			defer m.Close()
			if got := m.Config().Vocab; got != 300 {
				t.Errorf("vocab %d, want 300", got)
			}
			if m.PardToken != c.pard {
				t.Errorf("loaded pard token %d, want %d", m.PardToken, c.pard)
			}
			var cfg map[string]any
			js, err := os.ReadFile(filepath.Join(c.dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(js, &cfg); err != nil {
				t.Fatal(err)
			}
			if c.pard >= 0 {
				if pt, ok := cfg["pard_token"].(float64); !ok || int32(pt) != c.pard {
					t.Errorf("config.json pard_token %v, want %d (<|reserved_special_0|>)", cfg["pard_token"], c.pard)
				}
				if cfg["spd_type"] != "pard" {
					t.Errorf("config.json spd_type %v, want pard", cfg["spd_type"])
				}
			} else if _, ok := cfg["pard_token"]; ok {
				t.Errorf("pretrained config.json has pard_token %v", cfg["pard_token"])
			}
			for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
				want, err := os.ReadFile(filepath.Join(tokDir, f))
				if err != nil {
					t.Fatal(err)
				}
				if got, err := os.ReadFile(filepath.Join(c.dir, f)); err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: not a copy of the tokenizer's (%v)", f, err)
				}
			}
			sm := heldOutRE.FindStringSubmatch(c.stdout)
			if sm == nil {
				t.Fatalf("stdout %q does not report the held-out loss", c.stdout)
			}
			// An untrained model is near ln(300) ≈ 5.7; any finite loss
			// in a sane range shows the evaluation ran.
			if l, err := strconv.ParseFloat(sm[1], 64); err != nil || math.IsNaN(l) || l <= 0 || l > 20 {
				t.Errorf("held-out loss %q: want a finite positive number", sm[1])
			}
			if _, err := os.Stat(filepath.Join(c.dir, "checkpoint", "state.json")); err != nil {
				t.Errorf("no checkpoint: %v", err)
			}
		})
	}
}

// readFile is os.ReadFile failing the test.
func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestResume checks that a run split by --stop-after and continued with
// --resume writes bit-for-bit the model of one uninterrupted run, and that
// the comparison is sharp enough to see a run with another schedule.
func TestResume(t *testing.T) {
	corpus, tokDir, arDir := fixture(t)
	for _, mode := range []string{"pretrain", "pard"} {
		t.Run(mode, func(t *testing.T) {
			base := []string{mode, "--data", corpus, "--checkpoint-every", "2"}
			if mode == "pretrain" {
				base = append(base, "--tokenizer", tokDir)
				base = append(base, tinyModel...)
			} else {
				base = append(base, "--model", arDir, "--para-num", "3", "--seq", "32", "--batch", "2", "--threads", "1", "--quiet")
			}
			tmp := t.TempDir()
			dir := func(name string) string { return filepath.Join(tmp, name) }
			with := func(extra ...string) []string { return append(append([]string(nil), base...), extra...) }

			mustRun(t, with("--steps", "4", "--out", dir("straight"))...)
			out := mustRun(t, with("--steps", "4", "--stop-after", "2", "--out", dir("split"))...)
			if !strings.Contains(out, "after 2 steps of 4") {
				t.Errorf("--stop-after 2 stdout %q: want after 2 steps of 4", out)
			}
			half := readFile(t, filepath.Join(dir("split"), "model.safetensors"))
			out = mustRun(t, with("--steps", "4", "--resume", "--out", dir("split"))...)
			if !strings.Contains(out, "after 4 steps:") {
				t.Errorf("resumed stdout %q: want after 4 steps", out)
			}
			// Flags that disagree with the checkpoint are overridden, loudly.
			if _, stderr, err := runArgs(with("--steps", "4", "--resume", "--seed", "99", "--out", dir("split"))...); err != nil ||
				!strings.Contains(stderr, "warning: continuing with the checkpoint's settings") {
				t.Errorf("resume with another --seed: err %v, stderr %q: want a warning", err, stderr)
			}
			// The naive split: a 2-step run has a shorter cosine schedule.
			mustRun(t, with("--steps", "2", "--out", dir("naive"))...)
			mustRun(t, with("--steps", "4", "--resume", "--out", dir("naive"))...)

			for _, f := range []string{"model.safetensors", "checkpoint/model-000004.safetensors", "checkpoint/optimizer-000004.safetensors"} {
				want := readFile(t, filepath.Join(dir("straight"), f))
				if got := readFile(t, filepath.Join(dir("split"), f)); !bytes.Equal(got, want) {
					t.Errorf("%s: --stop-after 2 then --resume differs from a straight run", f)
				}
				if got := readFile(t, filepath.Join(dir("naive"), f)); bytes.Equal(got, want) {
					t.Errorf("%s: --steps 2 then --resume --steps 4 equals a straight run: the test cannot see schedule changes", f)
				}
			}
			if bytes.Equal(half, readFile(t, filepath.Join(dir("split"), "model.safetensors"))) {
				t.Error("resuming did not change the model")
			}
			var st struct{ Step int }
			if err := json.Unmarshal(readFile(t, filepath.Join(dir("split"), "checkpoint", "state.json")), &st); err != nil || st.Step != 4 {
				t.Errorf("checkpoint step %d (%v), want 4", st.Step, err)
			}
		})
	}
}

func TestSeed(t *testing.T) {
	corpus, tokDir, _ := fixture(t)
	tmp := t.TempDir()
	runs := 0
	model := func(seed string) []byte {
		runs++
		out := filepath.Join(tmp, fmt.Sprintf("run%d-seed%s", runs, seed))
		mustRun(t, append([]string{"pretrain", "--tokenizer", tokDir, "--data", corpus, "--steps", "2", "--seed", seed, "--out", out}, tinyModel...)...)
		return readFile(t, filepath.Join(out, "model.safetensors"))
	}
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"1", "1", true},
		{"1", "2", false},
		{"3", "3", true},
	} {
		a, b := model(c.a), model(c.b)
		if bytes.Equal(a, b) != c.same {
			t.Errorf("--seed %s vs --seed %s: identical models %v, want %v", c.a, c.b, !c.same, c.same)
		}
	}
}

func writeJSONL(t *testing.T, dir string, lines []string) string {
	t.Helper()
	p := filepath.Join(dir, "chat.jsonl")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func conversations(n int) []string {
	var lines []string
	for i := range n {
		b, _ := json.Marshal(map[string]any{"conversation": []map[string]string{{
			"human":     fmt.Sprintf("What is %d plus %d?", i, i%7),
			"assistant": fmt.Sprintf("func add() int { return %d + %d } // %d", i, i%7, i+i%7),
		}}})
		lines = append(lines, string(b))
	}
	return lines
}

func TestJSONL(t *testing.T) {
	_, _, arDir := fixture(t)
	tmp := t.TempDir()
	good := writeJSONL(t, filepath.Join(tmp), conversations(200))
	bad := filepath.Join(tmp, "bad.jsonl")
	lines := conversations(5)
	lines[2] = `{"conversation":[{"human":"hi",`
	if err := os.WriteFile(bad, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	noAnswer := filepath.Join(tmp, "noanswer.jsonl")
	if err := os.WriteFile(noAnswer, []byte(lines[0]+"\n\n"+`{"conversation":[{"human":"hi"}]}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, data, template string
		wantErr              []string // substrings of the error; none: success
	}{
		{"plain", good, "plain", nil},
		{"auto", good, "auto", nil},
		{"qwen", good, "qwen", nil}, // rendered as text: the tokenizer lacks <|im_start|>
		{"unknown template", good, "chatml9", []string{`"chatml9"`}},
		{"malformed line", bad, "plain", []string{bad + ":3"}},
		{"missing assistant", noAnswer, "plain", []string{noAnswer + ":3", "assistant"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			stdout, stderr, err := runArgs("pard", "--model", arDir, "--data", c.data, "--template", c.template, "--para-num", "2",
				"--seq", "16", "--batch", "1", "--steps", "1", "--threads", "1", "--quiet", "--out", out)
			if c.wantErr == nil {
				if err != nil {
					t.Fatalf("%v\n%s", err, stderr)
				}
				if !strings.Contains(stdout, "held-out loss") {
					t.Errorf("stdout %q", stdout)
				}
				if _, err := os.Stat(filepath.Join(out, "model.safetensors")); err != nil {
					t.Error(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one mentioning %q", c.wantErr)
			}
			for _, w := range c.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestReadDocuments(t *testing.T) {
	tmp := t.TempDir()
	jsonl := writeJSONL(t, tmp, []string{`{"conversation":[{"human":"Q1","assistant":"A1"},{"human":"later","assistant":"turns"}]}`, ``, `{"conversation":[{"human":"Q2","assistant":"A2"}]}`})
	text := filepath.Join(tmp, "big.txt")
	if err := os.WriteFile(text, []byte(strings.Repeat("héllo ", 100)), 0o644); err != nil { // é is 2 bytes
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "dir")
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	for name, body := range map[string]string{"b.txt": "bbbb", "a.txt": "aaaa", "sub/c.txt": "cccc", "d.md": "dddd"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name, path, ext, template string
		maxBytes                  int
		want                      []string
		wantErr                   string
	}{
		{"plain", jsonl, "", "plain", 0, []string{"Q1\nA1", "Q2\nA2"}, ""},
		{"r1", jsonl, "", "r1", 0, []string{"<｜User｜>Q1<｜Assistant｜>A1<｜end▁of▁sentence｜>", "<｜User｜>Q2<｜Assistant｜>A2<｜end▁of▁sentence｜>"}, ""},
		{"jsonl capped", jsonl, "", "plain", 6, []string{"Q1\nA1"}, ""},
		{"dir", dir, ".txt", "plain", 0, []string{"aaaa", "bbbb", "cccc"}, ""},
		{"dir capped", dir, ".txt", "plain", 9, []string{"aaaa", "bbbb"}, ""},
		{"dir no match", dir, ".rs", "plain", 0, nil, "no documents"},
		{"text", text, "", "plain", 0, []string{strings.Repeat("héllo ", 100)}, ""},
		// 9 bytes end inside the second é: the split rune is dropped.
		{"text capped", text, "", "plain", 9, []string{"héllo h"}, ""},
		{"text capped at a rune", text, "", "plain", 7, []string{"héllo "}, ""},
		{"missing", filepath.Join(tmp, "nope"), "", "plain", 0, nil, "nope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := readDocuments(c.path, c.ext, c.template, c.maxBytes, false)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%q", d.texts) != fmt.Sprintf("%q", c.want) {
				t.Errorf("documents %q, want %q", d.texts, c.want)
			}
		})
	}
}

func TestBadFlags(t *testing.T) {
	corpus, tokDir, arDir := fixture(t)
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	out := filepath.Join(tmp, "out")
	missing := filepath.Join(tmp, "does-not-exist")
	pre := func(extra ...string) []string {
		return append(append([]string{"pretrain", "--tokenizer", tokDir, "--data", corpus, "--steps", "1"}, tinyModel...), extra...)
	}
	pard := func(extra ...string) []string {
		return append([]string{"pard", "--model", arDir, "--data", corpus, "--seq", "16", "--batch", "1", "--steps", "1", "--quiet"}, extra...)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "no command"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"tokenizer no out", []string{"tokenizer", "--data", corpus}, "--out is required"},
		{"tokenizer vocab 10", []string{"tokenizer", "--data", corpus, "--vocab", "10", "--out", out}, "--vocab 10"},
		{"tokenizer no data", []string{"tokenizer", "--data", missing, "--out", out}, missing},
		{"tokenizer out is a file", []string{"tokenizer", "--data", corpus, "--out", file}, "is a file"},
		{"tokenizer stray argument", []string{"tokenizer", "--out", out, "extra"}, "unexpected arguments"},
		{"tokenizer bad flag", []string{"tokenizer", "--vocab", "many"}, "invalid value"},
		{"pretrain no out", pre(), "--out is required"},
		{"pretrain no tokenizer", []string{"pretrain", "--data", corpus, "--out", out}, "--tokenizer is required"},
		{"pretrain tokenizer missing", pre("--tokenizer", missing, "--out", out), missing},
		{"pretrain steps 0", pre("--steps", "0", "--out", out), "--steps 0"},
		{"pretrain stop-after -1", pre("--stop-after", "-1", "--out", out), "--stop-after -1"},
		{"pretrain no data", pre("--data", missing, "--out", out), missing},
		{"pretrain template", pre("--template", "chatml9", "--out", out), `"chatml9"`},
		{"pretrain hidden heads", pre("--hidden", "30", "--heads", "4", "--out", out), "--hidden 30 is not a multiple of --heads 4"},
		{"pretrain kv heads", pre("--heads", "2", "--kv-heads", "3", "--out", out), "num_key_value_heads"},
		{"pretrain heads 0", pre("--heads", "0", "--out", out), "must be positive"},
		{"pretrain seq 1", pre("--seq", "1", "--out", out), "sequence length 1"},
		{"pretrain resume without checkpoint", pre("--resume", "--out", out), "resume"},
		{"pard no model", []string{"pard", "--data", corpus, "--out", out}, "--model is required"},
		{"pard model missing", pard("--model", missing, "--out", out), missing},
		{"pard token beyond vocab", pard("--pard-token", "300", "--out", out), "--pard-token 300"},
		{"pard para-num 0", pard("--para-num", "0", "--out", out), "para-num 0"},
		{"pard r 0", pard("--r", "0", "--out", out), "COD ratios"},
		{"pard no data", pard("--data", missing, "--out", out), missing},
		{"pard data too short", pard("--data", file, "--out", out), "fewer than one sequence"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := runArgs(c.args...)
			if err == nil {
				t.Fatalf("no error, want one mentioning %q", c.want)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
	// --help is not an error for main (it exits 0).
	for _, args := range [][]string{{"help"}, {"--help"}, {"tokenizer", "--help"}, {"pretrain", "-h"}, {"pard", "--help"}} {
		stdout, stderr, err := runArgs(args...)
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%q: %v", args, err)
		}
		if !strings.Contains(stdout+stderr, "usage") && !strings.Contains(stdout+stderr, "-out") {
			t.Errorf("%q printed no help: %q", args, stdout+stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "model.safetensors")); err == nil {
		t.Error("a failed run wrote a model")
	}
}

// trainTok trains a small tokenizer with the given special tokens.
func trainTok(t *testing.T, vocab int, special ...string) *tokenizer.Tokenizer {
	t.Helper()
	tr, err := tokenizer.NewTrainer(tokenizer.TrainOptions{VocabSize: vocab, Special: special})
	if err != nil {
		t.Fatal(err)
	}
	tr.Add(strings.Repeat("func main() { return x + y }\n", 20))
	tok, _, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestChooseMaskToken(t *testing.T) {
	// Specials take the last ids in the order given: reserved 2 gets a
	// lower id than reserved 0 here, so "lowest" is by id, not by name.
	reserved := trainTok(t, 270, EOS, "<|reserved_special_2|>", "<|reserved_special_0|>", "<|other|>")
	llama3 := trainTok(t, 270, "<|begin_of_text|>", "<|reserved_special_token_7|>", "<|reserved_special_token_3|>")
	plain := trainTok(t, 270, EOS, "<|other|>")
	id := func(tok *tokenizer.Tokenizer, s string) int32 {
		v, ok := tok.TokenID(s)
		if !ok {
			t.Fatalf("no token %s", s)
		}
		return v
	}
	if n := reserved.VocabSize(); n != 270 {
		t.Fatalf("test tokenizer has %d tokens, want 270", n)
	}
	for _, c := range []struct {
		name      string
		tok       *tokenizer.Tokenizer
		rows      int
		modelPard int
		want      int32
		wantHow   string // substring of the explanation; "" with want -1: an error
	}{
		{"model pard_token wins", reserved, 300, 5, 5, "pard_token"},
		{"model pard_token 0", plain, 270, 0, 0, "pard_token"},
		{"padded embedding", reserved, 300, -1, 270, "past the tokenizer"},
		{"padded by one", plain, 271, -1, 270, "past the tokenizer"},
		{"lowest reserved", reserved, 270, -1, id(reserved, "<|reserved_special_2|>"), "<|reserved_special_2|>"},
		{"llama 3 names", llama3, 270, -1, id(llama3, "<|reserved_special_token_7|>"), "reserved_special_token_7"},
		{"nothing free", plain, 270, -1, -1, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, how, err := chooseMaskToken(c.tok, c.rows, c.modelPard)
			if c.want < 0 {
				if err == nil || !strings.Contains(err.Error(), "--pard-token") {
					t.Fatalf("got %d (%s), %v; want an error suggesting --pard-token", got, how, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want || !strings.Contains(how, c.wantHow) {
				t.Errorf("got %d (%s), want %d (…%s…)", got, how, c.want, c.wantHow)
			}
		})
	}
}

// TestDistill writes a distillation corpus with the fixture's model,
// checks each file is its prompt plus a continuation, that a rerun keeps
// what exists and regenerates a deleted file bit for bit (greedy decoding
// is deterministic), and that train pard reads the directory.
func TestDistill(t *testing.T) {
	corpus, _, arDir := fixture(t)
	out := filepath.Join(t.TempDir(), "distill")
	args := []string{"distill", "--model", arDir, "--data", corpus, "--out", out, "--prompts", "5", "--tokens", "8", "--jobs", "2", "--quiet"}
	stdout := mustRun(t, args...)
	if !strings.Contains(stdout, "5 files") {
		t.Errorf("stdout %q: want 5 files", stdout)
	}
	train, _, err := gocorpus.Files(corpus)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := gocorpus.Prompts(train, 5, 800)
	if err != nil {
		t.Fatal(err)
	}
	files := make([][]byte, len(ps))
	for i, p := range ps {
		files[i] = readFile(t, distillPath(out, i))
		if !bytes.HasPrefix(files[i], []byte(p.Text)) || len(files[i]) == len(p.Text) {
			t.Errorf("file %d: not its prompt (%d bytes) followed by a continuation (%d bytes in all)", i, len(p.Text), len(files[i]))
		}
	}
	os.Remove(distillPath(out, 2))
	mustRun(t, args...)
	for i := range ps {
		if got := readFile(t, distillPath(out, i)); !bytes.Equal(got, files[i]) {
			t.Errorf("file %d changed on the rerun", i)
		}
	}
	pardDir := filepath.Join(t.TempDir(), "pard")
	mustRun(t, "pard", "--model", arDir, "--data", out, "--ext", ".txt", "--para-num", "4", "--seq", "16", "--batch", "1",
		"--steps", "1", "--threads", "1", "--quiet", "--out", pardDir)

	// Decoded speculatively with that (barely trained) PARD draft, the
	// files are the same, byte for byte.
	spec := filepath.Join(t.TempDir(), "spec")
	stdout = mustRun(t, "distill", "--model", arDir, "--draft", pardDir, "-k", "3", "--data", corpus, "--out", spec,
		"--prompts", "5", "--tokens", "8", "--jobs", "2", "--quiet")
	if !strings.Contains(stdout, "PARD K = 3") {
		t.Errorf("stdout %q: want the PARD decoding named", stdout)
	}
	for i := range ps {
		if got := readFile(t, distillPath(spec, i)); !bytes.Equal(got, files[i]) {
			t.Errorf("file %d: %q with the PARD draft, %q without", i, got, files[i])
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"distill", "--out", out}, "--model is required"},
		{[]string{"distill", "--model", arDir, "--data", corpus, "--out", out, "--prompts", "0"}, "--prompts 0"},
		{[]string{"distill", "--model", arDir, "--data", corpus, "--out", out, "--device", "tpu"}, `distill: --device "tpu": want auto, cpu, cuda, hip`},
		{[]string{"distill", "--model", arDir, "--data", corpus, "--out", out, "--tokens", "0"}, "--tokens 0"},
		{[]string{"distill", "--model", arDir, "--data", filepath.Join(out, "missing"), "--out", out}, "missing"},
		{[]string{"distill", "--model", arDir, "--draft", pardDir, "-k", "0", "--data", corpus, "--out", out}, "-k 0"},
		{[]string{"distill", "--model", arDir, "--draft", arDir, "--data", corpus, "--out", filepath.Join(t.TempDir(), "d"), "--prompts", "1", "--tokens", "2"}, "pard_token"},
	} {
		if _, _, err := runArgs(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one mentioning %q", c.args, err, c.want)
		}
	}
}

// pretrain --init continues a model: grown with --layers (the new layers
// adding nothing yet, so the held-out loss after a step at a negligible
// learning rate is the source's), kept at its depth without, and the flags
// that would change its shape refused.
func TestPretrainInit(t *testing.T) {
	corpus, _, arDir := fixture(t)
	tmp := t.TempDir()
	cont := func(out string, extra ...string) []string {
		return append([]string{"pretrain", "--init", arDir, "--data", corpus, "--steps", "1", "--lr", "1e-12",
			"--seq", "32", "--batch", "2", "--threads", "1", "--quiet", "--out", out}, extra...)
	}
	heldOut := func(out string) float64 {
		t.Helper()
		m := heldOutRE.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no held-out loss in %q", out)
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	layers := func(dir string) any {
		t.Helper()
		var cfg map[string]any
		b, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err == nil {
			err = json.Unmarshal(b, &cfg)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := cfg["pard_token"]; ok {
			t.Errorf("%s: config.json has a pard_token", dir)
		}
		if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err != nil {
			t.Errorf("%s: the tokenizer files were not copied: %v", dir, err)
		}
		return cfg["num_hidden_layers"]
	}
	same := filepath.Join(tmp, "same")
	sameLoss := heldOut(mustRun(t, cont(same)...))
	if n := layers(same); n != 1.0 {
		t.Fatalf("continued without --layers: %v layers, want 1", n)
	}
	grown := filepath.Join(tmp, "grown")
	grownLoss := heldOut(mustRun(t, cont(grown, "--layers", "3")...))
	if n := layers(grown); n != 3.0 {
		t.Fatalf("grown to 3 layers: %v layers", n)
	}
	if math.Abs(sameLoss-grownLoss) > 1e-3 {
		t.Errorf("the grown model's held-out loss is %v, the source's %v", grownLoss, sameLoss)
	}
	// The source's config survives beyond the shape: a list of eos ids
	// (as Llama 3 Instruct has) is not replaced by the tokenizer's one.
	src := filepath.Join(tmp, "src")
	if err := os.CopyFS(src, os.DirFS(arDir)); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	b, _ := os.ReadFile(filepath.Join(src, "config.json"))
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	eos := cfg["eos_token_id"]
	cfg["eos_token_id"] = []any{eos, 3.0}
	b, _ = json.Marshal(cfg)
	os.WriteFile(filepath.Join(src, "config.json"), b, 0o644)
	listed := filepath.Join(tmp, "listed")
	mustRun(t, append(cont(listed, "--layers", "2"), "--init", src)...)
	b, _ = os.ReadFile(filepath.Join(listed, "config.json"))
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(cfg["eos_token_id"]); got != fmt.Sprint([]any{eos, 3.0}) {
		t.Errorf("eos_token_id %s after --init, want the source's list [%v 3]", got, eos)
	}
	if n := layers(listed); n != 2.0 {
		t.Errorf("grown to 2 layers: %v", n)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{cont(filepath.Join(tmp, "x"), "--hidden", "64", "--heads", "4"), "--heads, --hidden: the shape comes from --init's model"},
		{append(cont(filepath.Join(tmp, "y"), "--layers", "1"), "--init", grown), "--init can only add layers"},
		{cont(filepath.Join(tmp, "z"), "--init", filepath.Join(tmp, "missing")), "missing"},
	} {
		if _, _, err := runArgs(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one mentioning %q", c.args, err, c.want)
		}
	}
}
