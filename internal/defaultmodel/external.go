//go:build gopard_external_assets

package defaultmodel

import (
	"io/fs"
	"os"
	"path/filepath"
)

// A binary built with -tags gopard_external_assets reads the assets from
// $GOPARD_DEFAULTMODEL_DIR (the directory that holds assets/; default
// internal/defaultmodel under the working directory) instead of carrying
// their 49 MB: for a machine that has the source tree but where a binary
// that large does not fit what can be sent (a lent GPU machine, see
// scripts/gpu-check.sh).
var assets = os.DirFS(assetsDir()).(fs.ReadFileFS)

var assetsWhere = "no " + filepath.Join(assetsDir(), "assets", "target", "config.json")

const assetsVerb = "finds"

func assetsDir() string {
	if d := os.Getenv("GOPARD_DEFAULTMODEL_DIR"); d != "" {
		return d
	}
	return filepath.Join("internal", "defaultmodel")
}
