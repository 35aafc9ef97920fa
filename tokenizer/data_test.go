package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gopard/gopard/internal/shareddata"
)

// Conformance data lives in ../shared/data relative to the repo root; tests
// find it by walking up from the package directory and skip when it is absent.

// findDataDir returns the tokenizer conformance directory, or "" when absent.
func findDataDir() string {
	if root := shareddata.Find(); root != "" {
		return filepath.Join(root, "tokenizers")
	}
	return ""
}

func dataDir(tb testing.TB) string {
	tb.Helper()
	return shareddata.Dir(tb, "tokenizers")
}

// realNames are the conformance tokenizers, one directory and one cases file each.
var realNames = []string{"qwen3", "llama3", "llama3_1"}

type loaded struct {
	once sync.Once
	tok  *Tokenizer
	err  error
}

var realToks = map[string]*loaded{"qwen3": {}, "llama3": {}, "llama3_1": {}}

// realTokenizer loads each real tokenizer once per test binary: parsing the
// 9-11 MB files is the slowest thing these tests do.
func realTokenizer(tb testing.TB, name string) *Tokenizer {
	tb.Helper()
	dir := dataDir(tb)
	l := realToks[name]
	l.once.Do(func() { l.tok, l.err = Load(filepath.Join(dir, name)) })
	if l.err != nil {
		tb.Fatalf("Load(%s): %v", name, l.err)
	}
	return l.tok
}

type conformanceCase struct {
	Text string  `json:"text"`
	IDs  []int32 `json:"ids"`
}

func readCases(tb testing.TB, name string) []conformanceCase {
	tb.Helper()
	f, err := os.Open(filepath.Join(dataDir(tb), "cases-"+name+".jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var cases []conformanceCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c conformanceCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			tb.Fatalf("cases-%s.jsonl line %d: %v", name, len(cases)+1, err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return cases
}
