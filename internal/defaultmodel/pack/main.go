// Command pack writes a model directory into the default models' assets
// in the form internal/defaultmodel embeds: config.json as it is, and
// model.safetensors as byte planes (model.safetensors.bpz), which the
// package unpacks to the original file on first use.
//
//	go run ./internal/defaultmodel/pack SRC_DIR DST_DIR
//
// scripts/train-default.sh runs it for the target and both drafts.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gopard/gopard/internal/defaultmodel"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: pack SRC_DIR DST_DIR (a model directory with config.json and model.safetensors)")
		os.Exit(2)
	}
	if err := pack(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "pack:", err)
		os.Exit(1)
	}
}

func pack(src, dst string) error {
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		return err
	}
	name := filepath.Join(src, "model.safetensors")
	file, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	h, err := defaultmodel.SafetensorsHeaderLen(file)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	packed, err := defaultmodel.Pack(file, h)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	// Never ship a file the package could not give back.
	if back, err := defaultmodel.Unpack(packed); err != nil || !bytes.Equal(back, file) {
		return fmt.Errorf("%s: the packed file does not unpack to the original (%v)", name, err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dst, "config.json"), cfg, 0o644); err != nil {
		return err
	}
	out := filepath.Join(dst, "model.safetensors"+defaultmodel.PlanesSuffix)
	if err := os.WriteFile(out, packed, 0o644); err != nil {
		return err
	}
	// A plain copy left from before would be embedded beside it.
	if err := os.Remove(filepath.Join(dst, "model.safetensors")); err != nil && !os.IsNotExist(err) {
		return err
	}
	fmt.Printf("%s: %.2f MB → %s: %.2f MB (%.2f)\n", name, float64(len(file))/1e6, out, float64(len(packed))/1e6, float64(len(packed))/float64(len(file)))
	return nil
}
