package chat

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopard/gopard/internal/shareddata"
)

// sharedData walks up from the working directory to a directory containing
// shared/data and returns that path, or skips the test.
func sharedData(t testing.TB) string {
	return shareddata.Dir(t)
}

func TestConformanceCases(t *testing.T) {
	data := sharedData(t)
	f, err := os.Open(filepath.Join(data, "chat_templates", "cases.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type loaded struct {
		t        *Template
		specials map[string]string
	}
	cache := map[string]loaded{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	n, pass := 0, 0
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		n++
		v, err := DecodeJSON(line)
		if err != nil {
			t.Fatalf("case %d: %v", n, err)
		}
		c := v.(*Map)
		name, _ := c.Get("tokenizer")
		want, _ := c.Get("rendered")
		tok := name.(string)
		ld, ok := cache[tok]
		if !ok {
			tmpl, specials, err := LoadConfig(filepath.Join(data, "tokenizers", tok))
			if err != nil {
				t.Fatalf("case %d: LoadConfig(%s): %v", n, tok, err)
			}
			ld = loaded{tmpl, specials}
			cache[tok] = ld
		}
		// Build the request from everything except tokenizer/rendered,
		// keeping key order.
		req := NewMap()
		for _, k := range c.Keys() {
			if k == "tokenizer" || k == "rendered" {
				continue
			}
			val, _ := c.Get(k)
			req.put(k, val)
		}
		var b strings.Builder
		if err := writeJSON(&b, req, &jsonOpts{itemSep: ", ", keySep: ": ", limit: 1 << 30}, 0); err != nil {
			t.Fatal(err)
		}
		got, err := RenderRequest(ld.t, []byte(b.String()), ld.specials)
		if err != nil {
			t.Errorf("case %d (%s): %v", n, tok, err)
			continue
		}
		if got != want.(string) {
			t.Errorf("case %d (%s):\n got: %q\nwant: %q", n, tok, got, want)
			continue
		}
		pass++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no cases")
	}
	t.Logf("%d/%d chat template cases render byte-exactly", pass, n)
}

func TestLoadConfigAll(t *testing.T) {
	data := sharedData(t)
	for _, tok := range []string{"qwen3", "llama3", "llama3_1"} {
		tmpl, specials, err := LoadConfig(filepath.Join(data, "tokenizers", tok, "tokenizer_config.json"))
		if err != nil {
			t.Fatalf("%s: %v", tok, err)
		}
		if _, ok := specials["eos_token"]; !ok {
			t.Errorf("%s: no eos_token in %v", tok, specials)
		}
		out, err := tmpl.RenderMessages(Messages("Be brief.", "Hi"), true, specials)
		if err != nil {
			t.Fatalf("%s: %v", tok, err)
		}
		if !strings.Contains(out, "Be brief.") || !strings.Contains(out, "Hi") {
			t.Errorf("%s: rendered %q", tok, out)
		}
	}
	if _, sp, _ := LoadConfig(filepath.Join(data, "tokenizers", "qwen3")); sp["bos_token"] != "" {
		t.Errorf("qwen3 has a null bos_token, got %q", sp["bos_token"])
	}
}
