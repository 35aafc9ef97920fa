// Package defaultmodel carries gopard's default model trio inside the
// binary, so that `go run ./cmd/generate` works offline with no flags: a
// byte-level BPE tokenizer, a target model, a several-times smaller
// autoregressive draft and that draft's PARD adaptation, all trained by
// cmd/train on the Go source tree (scripts/train-default.sh; the recipe and
// figures are in assets/README.md).
//
// The embedded files are written once to the user's cache directory (the
// loaders memory-map files) and reused from there on later runs. The
// weights are embedded as byte planes (Pack, written by ./pack), which
// fit 70.6 MB of bf16 safetensors in 49.3; the extracted files are the
// originals.
package defaultmodel

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
)

// Models are the directories of the default trio, each a Hugging Face
// model directory with the shared tokenizer.
type Models struct {
	Target, Draft, PARD string
}

// Names of the models, as printed by the commands.
const (
	TargetName = "gopard-go-target"
	DraftName  = "gopard-go-draft"
	PARDName   = "gopard-go-pard"
)

var (
	once   sync.Once
	models Models
	err    error
)

// modelDirs are the assets' model subdirectories and the shared files
// every one of them gets.
var (
	modelDirs   = []string{"target", "draft", "pard"}
	sharedFiles = []string{"tokenizer.json", "tokenizer_config.json"}
)

// Dirs returns the default models, extracting them on first use into
// $XDG_CACHE_HOME/gopard/default-<hash> (or the OS temporary directory
// when there is no cache directory).
func Dirs() (Models, error) {
	once.Do(func() { models, err = extract() })
	return models, err
}

func extract() (Models, error) {
	if _, err := fs.Stat(assets, "assets/target/config.json"); err != nil {
		return Models{}, fmt.Errorf("this build %s no default models (%s): train them with scripts/train-default.sh, or pass --model DIR", assetsVerb, assetsWhere)
	}
	// The content hash names the directory: a rebuilt binary with other
	// weights never reuses stale files.
	h := sha256.New()
	var files []string
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		files = append(files, p)
		return nil
	})
	if err != nil {
		return Models{}, fmt.Errorf("default models: %w", err)
	}
	base, cerr := os.UserCacheDir()
	if cerr != nil {
		base = os.TempDir()
	}
	root := filepath.Join(base, "gopard", "default-"+hex.EncodeToString(h.Sum(nil))[:16])
	m := Models{Target: filepath.Join(root, "target"), Draft: filepath.Join(root, "draft"), PARD: filepath.Join(root, "pard")}
	if _, err := os.Stat(filepath.Join(root, "complete")); err == nil {
		return m, nil
	}
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return Models{}, fmt.Errorf("default models: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(root), "extract-")
	if err != nil {
		return Models{}, fmt.Errorf("default models: %w", err)
	}
	defer os.RemoveAll(tmp)
	write := func(src, dst string) error {
		b, err := assets.ReadFile(src)
		if err != nil {
			return err
		}
		if strings.HasSuffix(src, PlanesSuffix) {
			if b, err = Unpack(b); err != nil {
				return fmt.Errorf("%s: %w", src, err)
			}
			dst = strings.TrimSuffix(dst, PlanesSuffix)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	}
	for _, p := range files {
		rel := p[len("assets/"):]
		if dir := path.Dir(rel); dir == "." {
			continue // shared files, copied into each model below
		}
		if err := write(p, filepath.Join(tmp, filepath.FromSlash(rel))); err != nil {
			return Models{}, fmt.Errorf("default models: %w", err)
		}
	}
	for _, d := range modelDirs {
		for _, f := range sharedFiles {
			if err := write("assets/"+f, filepath.Join(tmp, d, f)); err != nil {
				return Models{}, fmt.Errorf("default models: %w", err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "complete"), nil, 0o644); err != nil {
		return Models{}, fmt.Errorf("default models: %w", err)
	}
	if err := os.Rename(tmp, root); err != nil {
		// Another process may have won the race; its copy is as good.
		if _, serr := os.Stat(filepath.Join(root, "complete")); serr != nil {
			return Models{}, fmt.Errorf("default models: %w", err)
		}
	}
	return m, nil
}
