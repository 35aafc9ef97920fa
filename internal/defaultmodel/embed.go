//go:build !gopard_external_assets

package defaultmodel

import (
	"embed"
	"io/fs"
)

//go:embed assets
var embedded embed.FS

// assets holds assets/ of this package: embedded in the binary.
var assets fs.ReadFileFS = embedded

const (
	assetsVerb  = "embeds"
	assetsWhere = "internal/defaultmodel/assets is empty"
)
