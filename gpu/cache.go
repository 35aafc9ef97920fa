package gpu

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
)

// CacheDir returns the directory in which a vendor's compiled kernels are
// kept: $GOPARD_GPU_CACHE/<vendor> when that is set, else
// os.UserCacheDir()/gopard/<vendor>; "" when GOPARD_GPU_CACHE is "off" or
// there is no cache directory.
func CacheDir(vendor string) string {
	if env := os.Getenv("GOPARD_GPU_CACHE"); env == "off" {
		return ""
	} else if env != "" {
		return filepath.Join(env, vendor)
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "gopard", vendor)
}

// CacheKey names a compiled module by what determines it: the kernel
// source, the compiler's version and its options (16 hex digits of their
// SHA-256).
func CacheKey(source, compiler string, options []string) string {
	h := sha256.New()
	for _, s := range append([]string{source, compiler}, options...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// CachePath is the file of a module: dir/<key>-<arch>.<ext>, the arch
// stripped of characters that do not belong in a file name (":" of AMD's
// target features becomes "_").
func CachePath(dir, key, arch, ext string) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '+':
			return r
		}
		return '_'
	}, arch)
	return filepath.Join(dir, key+"-"+clean+"."+ext)
}

// Cached returns the module at path when the cache holds it, and otherwise
// builds it and stores it (a failure to store is not an error: the cache
// is an optimization). path "" disables the cache.
func Cached(path string, build func() ([]byte, error)) (image []byte, hit bool, err error) {
	if path != "" {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return b, true, nil
		}
	}
	image, err = build()
	if err != nil || path == "" {
		return image, false, err
	}
	if os.MkdirAll(filepath.Dir(path), 0o755) == nil {
		// Write then rename, so that a concurrent reader never sees half a file.
		if f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*"); err == nil {
			_, werr := f.Write(image)
			if cerr := f.Close(); werr == nil && cerr == nil {
				werr = os.Rename(f.Name(), path)
			}
			if werr != nil {
				os.Remove(f.Name())
			}
		}
	}
	return image, false, nil
}
