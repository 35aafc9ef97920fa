// Package gocorpus is the training and evaluation data of gopard's default
// models: the Go source tree every Go installation carries
// ($(go env GOROOT)/src), split by package into a training set and a fixed
// list of held-out packages from which evaluation prompts are cut.
package gocorpus

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// Holdout are the package directories (relative to GOROOT/src, with all
// their subdirectories) that training never sees: evaluation prompts come
// from them. Chosen to span parsers, encoders, networking and templates.
var Holdout = []string{
	"archive/zip",
	"encoding/csv",
	"go/printer",
	"image/png",
	"net/textproto",
	"text/tabwriter",
	"compress/flate",
	"html/template",
}

// Root returns the Go source tree of the toolchain: $GOROOT if set, else
// the GOROOT the binary was built with, else what `go env GOROOT` says
// (a -trimpath build records none).
func Root() string {
	root := os.Getenv("GOROOT")
	if root == "" {
		root = runtime.GOROOT() //nolint:staticcheck // the build's GOROOT is the right default here
	}
	if root == "" {
		if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
			root = strings.TrimSpace(string(out))
		}
	}
	return filepath.Join(root, "src")
}

// Files lists the .go files under root in lexical order, split into the
// training files and the held-out ones. testdata directories are skipped:
// they hold deliberately broken or generated code.
func Files(root string) (train, holdout []string, err error) {
	if fi, err := os.Stat(root); err != nil {
		return nil, nil, fmt.Errorf("go corpus: %w", err)
	} else if !fi.IsDir() {
		return nil, nil, fmt.Errorf("go corpus: %s is not a directory", root)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if IsHoldout(filepath.ToSlash(filepath.Dir(rel))) {
			holdout = append(holdout, path)
		} else {
			train = append(train, path)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("go corpus %s: %w", root, err)
	}
	slices.Sort(train)
	slices.Sort(holdout)
	if len(train) == 0 {
		return nil, nil, fmt.Errorf("go corpus %s: no .go files", root)
	}
	return train, holdout, nil
}

// IsHoldout reports whether the package directory dir (slash-separated,
// relative to GOROOT/src) is held out.
func IsHoldout(dir string) bool {
	for _, h := range Holdout {
		if dir == h || strings.HasPrefix(dir, h+"/") {
			return true
		}
	}
	return false
}

// Prompt is a code-completion prompt: a file's text up to and including
// the opening line of a function, whose body the model writes.
type Prompt struct {
	File string
	Text string
}

// Prompts cuts up to n prompts from files (normally the held-out ones):
// in every non-test file, each top-level function whose opening line ends
// with "{" gives a prompt of at most maxBytes of the text before it (cut
// at a line boundary) plus that line and a newline. Packages take turns,
// one prompt each per round, so that n prompts spread across them.
func Prompts(files []string, n, maxBytes int) ([]Prompt, error) {
	type cand struct {
		file string
		cuts []int // byte offsets just after a "func ... {\n" line
		text string
	}
	var cs []cand
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("go corpus: %w", err)
		}
		text := string(b)
		var cuts []int
		off := 0
		for _, line := range strings.SplitAfter(text, "\n") {
			off += len(line)
			if strings.HasPrefix(line, "func ") && strings.HasSuffix(line, "{\n") && off > 200 {
				cuts = append(cuts, off)
			}
		}
		if len(cuts) > 0 {
			cs = append(cs, cand{f, cuts, text})
		}
	}
	// Queue each package's cuts file by file, then deal packages in turn.
	var pkgs [][]Prompt
	for i, c := range cs {
		if i == 0 || filepath.Dir(c.file) != filepath.Dir(cs[i-1].file) {
			pkgs = append(pkgs, nil)
		}
		for _, end := range c.cuts {
			start := max(0, end-maxBytes)
			if start > 0 {
				if j := strings.IndexByte(c.text[start:end], '\n'); j >= 0 {
					start += j + 1
				}
			}
			pkgs[len(pkgs)-1] = append(pkgs[len(pkgs)-1], Prompt{File: c.file, Text: c.text[start:end]})
		}
	}
	var out []Prompt
	for round := 0; len(out) < n; round++ {
		added := false
		for _, q := range pkgs {
			if round < len(q) && len(out) < n {
				out = append(out, q[round])
				added = true
			}
		}
		if !added {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("go corpus: no function in %d files to cut prompts from", len(files))
	}
	return out, nil
}
