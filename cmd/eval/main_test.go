package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gopard/gopard/internal/defaultmodel"
	"github.com/gopard/gopard/internal/shareddata"
	"github.com/gopard/gopard/ops/asm"
)

func TestFlags(t *testing.T) {
	c, err := parseFlags([]string{"-t", "x", "-d", "y", "-k", "4,8", "-b", "math500,gsm8k"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.modes) != 3 || len(c.ks) != 2 || c.benchmarks[0] != "math_500" || !slices.Equal(c.minConfs, []float32{0}) {
		t.Fatalf("parsed %+v", c)
	}
	if c, err := parseFlags([]string{"-t", "x", "--min-confidence", "0, 0.25"}, io.Discard); err != nil || !slices.Equal(c.minConfs, []float32{0, 0.25}) {
		t.Fatalf("--min-confidence 0,0.25 parsed as %v (%v)", c.minConfs, err)
	}
	// No model: the embedded Go models on the go benchmark.
	if c, err := parseFlags(nil, io.Discard); err != nil {
		t.Fatal(err)
	} else if c.draft == "" || c.arDraft == "" || len(c.benchmarks) != 1 || c.benchmarks[0] != "go" || len(c.modes) != 3 {
		t.Errorf("no flags parsed as %+v, want the embedded trio on -b go", c)
	}
	for _, bad := range [][]string{{"-d", "y"}, {"--ar-draft", "y"}, {"-t", "x", "-k", "a"}, {"-t", "x", "--modes", "pard"}, {"-t", "x", "--modes", "fast"}, {"-t", "x", "--tokens", "0"},
		{"-t", "x", "--min-confidence", "1"}, {"-t", "x", "--min-confidence", "0.1,-0.1"}, {"-t", "x", "--min-confidence", "NaN"}, {"-t", "x", "--min-confidence", "0.99999999"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted bad flags", bad)
		}
	}
}

// A tiny end-to-end grid on the real-tokenizer conformance model, used as its
// own draft (with a binary16 KV cache): every cell must produce tokens, and
// the results file one line each, saying how it ran.
func TestEvalGrid(t *testing.T) {
	model := shareddata.Dir(t, "conformance", "models", "qwen3-vocab")
	out := filepath.Join(t.TempDir(), "r.jsonl")
	c, err := parseFlags([]string{"-t", model, "-d", model, "--pard-token", "151670", "-ms", "qwen", "-k", "2,4",
		"-b", "gsm8k", "--data", shareddata.Dir(t, "bmk"), "-n", "2", "--tokens", "6", "--warmup", "1", "--out", out, "--threads", "1",
		"--device", "cpu", "--kv-cache", "F16", "--min-confidence", "0,0.5"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := run(c, &table, io.Discard); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 9 { // ar + (vsd, pard) × (K 2, 4) × (min confidence 0, 0.5)
		t.Fatalf("%d result lines:\n%s", len(lines), data)
	}
	for _, l := range lines {
		var r cell
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Tokens == 0 || r.Prompts != 2 {
			t.Fatalf("bad result line %s (%v)", l, err)
		}
		if r.KVCache != "f16" || r.BF16Activations || !strings.HasPrefix(r.Device, "cpu") {
			t.Fatalf("result line %s: want kv_cache f16, no bf16 activations, a cpu device", l)
		}
		if r.Mode != "ar" && (r.Verified < 1 || r.Verified > float64(r.K) || r.MinConfidence == 0 && r.Verified != float64(r.K)) {
			t.Fatalf("result line %s: drafts verified per iteration out of [1, K], or below K without a minimum confidence", l)
		}
	}
	if !strings.Contains(table.String(), "pard") {
		t.Fatalf("table:\n%s", table.String())
	}
}

// The embedded Go models on held-out Go code (the README's figures), tiny.
func TestEvalGoBenchmark(t *testing.T) {
	if _, err := defaultmodel.Dirs(); err != nil {
		t.Skipf("no embedded models: %v", err)
	}
	out := filepath.Join(t.TempDir(), "r.jsonl")
	c, err := parseFlags([]string{"-k", "2", "-n", "2", "--tokens", "8", "--warmup", "0", "--out", out, "--threads", "1", "--device", "cpu"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := run(c, &table, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go ", "ar ", "vsd ", "pard "} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	// Left to auto, the embedded models take bf16 activations where the CPU
	// has them, in every mode.
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r cell
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if r.BF16Activations != asm.HasMatDot() {
			t.Errorf("result line %s: bf16_activations %v on a CPU where AVX512-BF16 is %v", l, r.BF16Activations, asm.HasMatDot())
		}
	}
}

// TestEvalInterleaved checks that --interleave measures the same cells as
// the cell-by-cell grid: greedy decoding gives each cell the same tokens
// and accepted lengths in either order, and speedups are still against AR.
func TestEvalInterleaved(t *testing.T) {
	if _, err := defaultmodel.Dirs(); err != nil {
		t.Skipf("no embedded models: %v", err)
	}
	results := func(extra ...string) []cell {
		out := filepath.Join(t.TempDir(), "r.jsonl")
		args := append([]string{"-k", "2,3", "-n", "3", "--tokens", "8", "--warmup", "1", "--out", out, "--threads", "1", "--device", "cpu"}, extra...)
		c, err := parseFlags(args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if err := run(c, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var cells []cell
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var r cell
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatal(err)
			}
			cells = append(cells, r)
		}
		return cells
	}
	seq, inter := results(), results("--interleave")
	if len(seq) != 5 || len(inter) != len(seq) { // ar + vsd×2 + pard×2
		t.Fatalf("%d and %d cells", len(seq), len(inter))
	}
	for i, s := range seq {
		r := inter[i]
		if r.Mode != s.Mode || r.K != s.K || r.Tokens != s.Tokens || r.Prompts != 3 || r.AcceptLength != s.AcceptLength {
			t.Errorf("cell %d: interleaved %+v, in turn %+v", i, r, s)
		}
		if (r.Mode == "ar") == (r.SpeedupVsAR > 0) {
			t.Errorf("cell %d (%s): speedup %v", i, r.Mode, r.SpeedupVsAR)
		}
	}
}
