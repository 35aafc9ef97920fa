package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopard/gopard/internal/shareddata"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A toy tokenizer: "Ġ" is the byte-level form of the space byte.
const toyJSON = `{
  "added_tokens": [{"id": 10, "content": "<|end|>", "special": true}],
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<|end|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
    "special_tokens": {"<|end|>": {"id": "<|end|>", "ids": [10], "tokens": ["<|end|>"]}}},
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE",
    "vocab": {"h": 0, "e": 1, "l": 2, "o": 3, "Ġ": 4, "he": 5, "ll": 6, "llo": 7, "hello": 8, "Ġhello": 9},
    "merges": ["h e", "l l", "ll o", "he llo", "Ġ hello"]}
}`

func toyDir(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(toyJSON), 0o644))
	return dir
}

func runCmd(args []string, stdin string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestRun(t *testing.T) {
	dir := toyDir(t)
	for _, c := range []struct {
		name   string
		args   []string
		in     string
		code   int
		out    string
		errHas string
	}{
		{"encode", []string{"--tokenizer", dir}, "{\"text\": \"hello hello\"}\n\n{\"text\": \"\"}\n{\"text\": \"hello<|end|>\", \"x\": 1}",
			0, "{\"ids\":[8,9]}\n{\"ids\":[]}\n{\"ids\":[8,10]}\n", ""},
		{"encode file path", []string{"--tokenizer", filepath.Join(dir, "tokenizer.json"), "--add-special"}, `{"text": "hello"}`,
			0, "{\"ids\":[10,8]}\n", ""},
		{"decode", []string{"-tokenizer", dir, "--decode"}, "{\"ids\": [8, 9, 10]}\r\n{\"ids\": []}\n",
			0, "{\"text\":\"hello hello<|end|>\"}\n{\"text\":\"\"}\n", ""},
		{"bad json", []string{"--tokenizer", dir}, "{\"text\": \"hello\"}\n{\"text\": \n", 1, "{\"ids\":[8]}\n", "line 2:"},
		{"missing text", []string{"--tokenizer", dir}, "{\"ids\": [1]}\n", 1, "", `line 1: missing "text"`},
		{"missing ids", []string{"--tokenizer", dir, "--decode"}, "\n{\"text\": \"x\"}\n", 1, "", `line 2: missing "ids"`},
		{"bad ids", []string{"--tokenizer", dir, "--decode"}, "{\"ids\": [\"a\"]}\n", 1, "", "line 1:"},
		{"help", []string{"-h"}, "", 0, "", "--decode"},
		{"no tokenizer", nil, "", 2, "", "--tokenizer is required"},
		{"extra args", []string{"--tokenizer", dir, "x"}, "", 2, "", "unexpected arguments"},
		{"bad tokenizer", []string{"--tokenizer", filepath.Join(dir, "nope")}, "", 1, "", "nope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCmd(c.args, c.in)
			assert.Equal(t, c.code, code, "stderr: %s", errOut)
			assert.Equal(t, c.out, out)
			assert.Contains(t, errOut, c.errHas)
		})
	}
}

// TestConformanceCases pipes a real cases file through the command when the
// shared conformance data is present.
func TestConformanceCases(t *testing.T) {
	data := shareddata.Dir(t, "tokenizers")
	cases, err := os.ReadFile(filepath.Join(data, "cases-llama3_1.jsonl"))
	require.NoError(t, err)
	code, out, errOut := runCmd([]string{"--tokenizer", filepath.Join(data, "llama3_1")}, string(cases))
	require.Equal(t, 0, code, errOut)
	want := bufio.NewScanner(bytes.NewReader(cases))
	got := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for want.Scan() {
		require.True(t, got.Scan())
		var w, g struct{ IDs []int32 }
		require.NoError(t, json.Unmarshal(want.Bytes(), &w))
		require.NoError(t, json.Unmarshal(got.Bytes(), &g))
		assert.Equal(t, len(w.IDs) == 0, len(g.IDs) == 0)
		if len(w.IDs) > 0 {
			assert.Equal(t, w.IDs, g.IDs, "line %d", n+1)
		}
		n++
	}
	assert.Equal(t, 132, n)
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
