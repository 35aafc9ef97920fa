package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gopard/gopard/internal/defaultmodel"
	"github.com/gopard/gopard/internal/shareddata"
	"github.com/gopard/gopard/ops/asm"
)

func modelDir(t *testing.T) string {
	return shareddata.Dir(t, "conformance", "models", "qwen3-vocab")
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--model", "x"}, {"--model", "x", "--ids", "1", "--prompt", "a"}, {"-k", "0"}, {"--draft", "x", "--ids", "1"},
		{"--model", "x", "--ids", "1", "-k", "-1"}, {"--model", "x", "--ids", "1", "--max-tokens", "0"},
		{"--model", "x", "--ids", "1", "--para"}, {"--model", "x", "--ids", "1", "--top-p", "2"},
		{"--model", "x", "--ids", "1", "--temperature", "-1"}, {"--model", "x", "--ids", "1", "stray"},
		{"--draft-activations", "fp8"}, {"--model", "x", "--ids", "1", "--min-confidence", "1"},
		{"--model", "x", "--ids", "1", "--min-confidence", "-0.5"}, {"--model", "x", "--ids", "1", "--min-confidence", "0.99999999"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted bad flags", args)
		}
	}
}

// No model flags at all select the embedded demo, with its own defaults.
func TestNoFlagsIsDemo(t *testing.T) {
	for _, c := range []struct {
		args   []string
		tokens int
		kSet   bool
		kv, kp int     // the demo's K for VSD and PARD
		cv, cp float32 // and their minimum confidence
	}{
		{nil, 128, false, demoVSDK, demoPARDK, 0, demoPARDMinConfidence},
		{[]string{"--prompt", "func main() {"}, 128, false, demoVSDK, demoPARDK, 0, demoPARDMinConfidence},
		{[]string{"--max-tokens", "40", "-k", "6"}, 40, true, 6, 6, 0, 0},
		{[]string{"--min-confidence", "0"}, 128, false, demoVSDK, demoPARDK, 0, 0},
		{[]string{"--min-confidence", "0.2", "-k", "3"}, 128, true, 3, 3, 0.2, 0.2},
	} {
		cfg, err := parseFlags(c.args, io.Discard)
		if err != nil {
			t.Fatalf("parseFlags(%q): %v", c.args, err)
		}
		if !cfg.demo || cfg.maxTokens != c.tokens || cfg.kSet != c.kSet {
			t.Errorf("parseFlags(%q): demo %v, max tokens %d, k set %v; want demo, %d, %v", c.args, cfg.demo, cfg.maxTokens, cfg.kSet, c.tokens, c.kSet)
		}
		if kv, kp, cv, cp := demoSettings(cfg, true); kv != c.kv || kp != c.kp || cv != c.cv || cp != c.cp {
			t.Errorf("parseFlags(%q): demo K %d / %d, min confidence %g / %g; want %d / %d, %g / %g", c.args, kv, kp, cv, cp, c.kv, c.kp, c.cv, c.cp)
		}
		// On a GPU the demo's own cut is off; the flags still decide.
		wantGPU := c.cp
		if !c.kSet && cfg.minConf == 0 {
			wantGPU = 0
		}
		if _, _, _, cp := demoSettings(cfg, false); cp != wantGPU {
			t.Errorf("parseFlags(%q) on a GPU: PARD's min confidence %g, want %g", c.args, cp, wantGPU)
		}
	}
}

// PARD and VSD greedy output must be the target's own greedy output.
func TestSpeculativeEqualsAR(t *testing.T) {
	dir := modelDir(t)
	gen := func(args ...string) output {
		return generateJSON(t, append([]string{"--model", dir, "--prompt", "The little robot", "--max-tokens", "12", "--threads", "1"}, args...)...)
	}
	ar := gen()
	if len(ar.IDs) != 12 || ar.Mode != "ar" {
		t.Fatalf("AR output %+v", ar)
	}
	// The draft's activations (bf16 by default, f32) may change what it
	// proposes, never the output.
	for _, extra := range [][]string{
		{"-d", dir, "-k", "3"}, {"-d", dir, "--para", "--pard-token", "151670", "-k", "5"},
		{"-d", dir, "-k", "3", "--draft-activations", "f32"}, {"-d", dir, "--para", "--pard-token", "151670", "-k", "5", "--draft-activations", "f32"},
		{"-d", dir, "-k", "3", "--min-confidence", "0.5"}, {"-d", dir, "--para", "--pard-token", "151670", "-k", "5", "--min-confidence", "0.5"},
	} {
		o := gen(extra...)
		if !slices.Equal(o.IDs, ar.IDs) {
			t.Errorf("%v: ids %v, AR %v", extra, o.IDs, ar.IDs)
		}
		if o.TargetFwd == 0 || o.DraftFwd == 0 {
			t.Errorf("%v: forwards not counted: %+v", extra, o)
		}
		wantMC := float32(0)
		if slices.Equal(extra[len(extra)-2:], []string{"--min-confidence", "0.5"}) {
			wantMC = 0.5
		}
		if o.MinConfidence != wantMC || o.Verified < 1 || o.Verified > float64(o.K) || wantMC == 0 && o.Verified != float64(o.K) {
			t.Errorf("%v: %.2f drafts verified an iteration, min confidence %v", extra, o.Verified, o.MinConfidence)
		}
	}
}

// A random-weight target with an unrelated draft (low acceptance) must still
// give the target's greedy output, for every K, in VSD and PARD modes.
func TestLowAcceptanceEqualsAR(t *testing.T) {
	models := filepath.Dir(modelDir(t))
	target, draft := filepath.Join(models, "llama3-tiny"), filepath.Join(models, "stories260k")
	gen := func(args ...string) output {
		return generateJSON(t, append([]string{"--model", target, "--ids", "10,216,113,104,245", "--max-tokens", "24", "--ignore-eos"}, args...)...)
	}
	ar := gen()
	for _, k := range []string{"1", "2", "4", "8", "12"} {
		for _, extra := range [][]string{{"-d", draft, "-k", k}, {"-d", draft, "--para", "--pard-token", "3", "-k", k}} {
			if o := gen(extra...); !slices.Equal(o.IDs, ar.IDs) {
				t.Errorf("%v: ids %v, AR %v", extra, o.IDs, ar.IDs)
			}
		}
	}
}

// generateJSON runs the command with --json and decodes its object.
func generateJSON(t *testing.T, args ...string) output {
	t.Helper()
	c, err := parseFlags(append(args, "--json"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(c, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var o output
	if err := json.Unmarshal(out.Bytes(), &o); err != nil {
		t.Fatalf("--json output %q: %v", out.String(), err)
	}
	return o
}

// The no-flag demo on the embedded models: three modes, identical tokens
// (runDemo fails otherwise), a table on stderr.
func TestDemoRuns(t *testing.T) {
	if _, err := defaultmodel.Dirs(); err != nil {
		t.Skipf("no embedded models: %v", err)
	}
	c, err := parseFlags([]string{"--max-tokens", "24", "--threads", "1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run(c, &out, &errOut); err != nil {
		t.Fatalf("demo: %v\n%s", err, errOut.String())
	}
	if !strings.HasPrefix(out.String(), demoSnippet) || len(out.String()) <= len(demoSnippet) {
		t.Errorf("demo printed %q, want the snippet and its completion", out.String())
	}
	act := "float32 activations" // the embedded models take bf16 ones where the CPU has them
	if asm.HasMatDot() {
		act = "bf16 activations"
	}
	// PARD drafts demoPARDK tokens and cuts the unlikely ones by default.
	pardRow := fmt.Sprintf("PARD  %3d ", demoPARDK)
	for _, want := range []string{"AR ", "VSD ", pardRow, "identical token for token", "median of 5 runs", act, "PARD's while the draft's probability that all are accepted stays ≥ 0.1"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("demo table lacks %q:\n%s", want, errOut.String())
		}
	}
}
