// Package shareddata finds the project's shared conformance data
// (../shared/data beside the repository) for tests, which skip with a
// clear message when it is absent.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Find walks up from the working directory and returns the first
// shared/data directory it meets, or "" when there is none.
func Find() string {
	d, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(d, "shared", "data")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		if filepath.Dir(d) == d {
			return ""
		}
		d = filepath.Dir(d)
	}
}

// Dir returns shared/data joined with parts, or skips the test when the
// shared data is absent.
func Dir(t testing.TB, parts ...string) string {
	t.Helper()
	root := Find()
	if root == "" {
		t.Skip("../shared/data not found: conformance data absent")
	}
	return filepath.Join(append([]string{root}, parts...)...)
}
