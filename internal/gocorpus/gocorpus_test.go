package gocorpus

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFilesAndPrompts(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	long := "// " + strings.Repeat("x", 300) + "\n"
	write("fmt/print.go", "package fmt\n"+long+"func A() {\n}\n")
	write("encoding/csv/reader.go", "package csv\n"+long+"func Read() {\n\treturn\n}\n"+long+"func (r *R) Next() error {\n}\n")
	write("encoding/csv/reader_test.go", "package csv\n"+long+"func TestX() {\n}\n")
	write("go/printer/testdata/bad.go", "package broken {{{")
	write("go/printer/printer.go", "package printer\n"+long+"func P() {\n}\n")
	write("encoding/csvx/a.go", "package csvx\n") // not under encoding/csv/

	train, hold, err := Files(root)
	if err != nil {
		t.Fatal(err)
	}
	rel := func(ps []string) string {
		var out []string
		for _, p := range ps {
			r, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(r))
		}
		return strings.Join(out, " ")
	}
	if got, want := rel(train), "encoding/csvx/a.go fmt/print.go"; got != want {
		t.Errorf("train files %q, want %q", got, want)
	}
	if got, want := rel(hold), "encoding/csv/reader.go encoding/csv/reader_test.go go/printer/printer.go"; got != want {
		t.Errorf("held-out files %q, want %q", got, want)
	}
	ps, err := Prompts(hold, 10, 100)
	if err != nil {
		t.Fatal(err)
	}
	// Packages take turns: csv's first, printer's, then csv's second; test files never.
	want := []string{"func Read() {\n", "func P() {\n", "func (r *R) Next() error {\n"}
	if len(ps) != len(want) {
		t.Fatalf("%d prompts, want %d", len(ps), len(want))
	}
	for i, p := range ps {
		if !strings.HasSuffix(p.Text, want[i]) || len(p.Text) > 100+len(want[i]) {
			t.Errorf("prompt %d = %q, want ≤100 bytes of context then %q", i, p.Text, want[i])
		}
	}
	if _, _, err := Files(filepath.Join(root, "missing")); err == nil {
		t.Error("missing root accepted")
	}
}
