package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopard/gopard/internal/defaultmodel"
)

// pack writes config.json and the byte planes of model.safetensors,
// removes a plain copy left in the destination, and names the file it
// cannot read.
func TestPack(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	hdr := `{"w":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}}`
	file := append(binary.LittleEndian.AppendUint64(nil, uint64(len(hdr))), hdr...)
	file = append(file, 1, 0x3f, 2, 0x3f, 3, 0xbf, 4, 0x3e)
	os.WriteFile(filepath.Join(src, "model.safetensors"), file, 0o644)
	os.WriteFile(filepath.Join(src, "config.json"), []byte(`{"x":1}`), 0o644)
	os.WriteFile(filepath.Join(dst, "model.safetensors"), []byte("stale"), 0o644)
	if err := pack(src, dst); err != nil {
		t.Fatal(err)
	}
	packed, err := os.ReadFile(filepath.Join(dst, "model.safetensors"+defaultmodel.PlanesSuffix))
	if err != nil {
		t.Fatal(err)
	}
	if back, err := defaultmodel.Unpack(packed); err != nil || !bytes.Equal(back, file) {
		t.Fatalf("the packed file unpacks to %d bytes (%v), want the original %d", len(back), err, len(file))
	}
	if _, err := os.Stat(filepath.Join(dst, "model.safetensors")); !os.IsNotExist(err) {
		t.Errorf("the stale plain copy is still there (%v)", err)
	}
	if cfg, _ := os.ReadFile(filepath.Join(dst, "config.json")); string(cfg) != `{"x":1}` {
		t.Errorf("config.json: %q", cfg)
	}
	os.WriteFile(filepath.Join(src, "model.safetensors"), []byte{0xff, 0, 0, 0, 0, 0, 0, 0, '{'}, 0o644)
	if err := pack(src, dst); err == nil || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("a broken safetensors file: %v", err)
	}
}
