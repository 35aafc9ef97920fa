//go:build gopard_external_assets

package defaultmodel

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestExternalAssets: a build that reads the assets from the source tree
// extracts the same models (here from this package's directory, the test's
// working directory).
func TestExternalAssets(t *testing.T) {
	if _, err := os.Stat("assets/target/config.json"); err != nil {
		t.Skip("no models in assets/")
	}
	assets = os.DirFS(".").(fs.ReadFileFS)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	m, err := extract()
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{m.Target, m.Draft, m.PARD} {
		for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Error(err)
			}
		}
	}
}
