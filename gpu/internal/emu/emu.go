// Package emu runs the GPU kernels on the CPU, so that the kernels and
// gpu.Device are tested on machines without a GPU: Open compiles the
// sources of gpu/kernels with the host's C++ compiler against
// kernels.EmuPrelude (every GPU thread a fiber, blocks one after the
// other) into a shared library, and returns a gpu.Driver that launches
// them from it, with host memory standing in for device memory.
//
// It is slow (a context switch per thread per barrier) and meant for
// small test shapes; the emulated warp can be 32 threads (CUDA's
// spellings) or 64 (an AMD wavefront, HIP's spellings).
package emu

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gopard/gopard/gpu"
	"github.com/gopard/gopard/gpu/kernels"
)

// ErrNoCompiler is returned by Open when there is no C++ compiler.
var ErrNoCompiler = errors.New("emu: no C++ compiler (c++, g++ or clang++; or $CXX)")

// errUnavailable is returned by Open when built without cgo or off Linux.
var errUnavailable = errors.New("emu: needs cgo on linux")

// compiler returns the C++ compiler to use.
func compiler() (string, error) {
	if cxx := os.Getenv("CXX"); cxx != "" {
		return exec.LookPath(cxx)
	}
	for _, c := range []string{"c++", "g++", "clang++"} {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", ErrNoCompiler
}

// flags are the compiler flags of an emulated warp size.
func flags(warp int) []string {
	f := []string{"-std=c++17", "-O2", "-fPIC", "-shared", "-w"}
	if warp == 64 {
		return append(f, "-D__HIPCC__", "-DEMU_WARP=64")
	}
	return append(f, "-DEMU_WARP=32")
}

// source is the emulator's translation unit: the prelude, the kernels, and
// one C entry point per kernel, emu_launch_<name>, that runs a grid.
func source() string {
	var b strings.Builder
	b.WriteString(kernels.EmuPrelude)
	b.WriteString("\n")
	b.WriteString(kernels.Source())
	b.WriteString("\n// ---- launch entry points\n")
	for _, n := range kernels.Names() {
		b.WriteString(`extern "C" void emu_launch_` + n + `(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, void** p) {` + "\n")
		b.WriteString("  emu::launch(" + n + ", gx, gy, gz, bx, by, bz, p);\n}\n")
	}
	return b.String()
}

// Library compiles the kernels for an emulated warp of 32 or 64 threads
// into a shared library, or finds it in the cache, and returns its path.
// Kernel name runs as emu_launch_<name>(gx, gy, gz, bx, by, bz, params),
// params as cuLaunchKernel's.
func Library(warp int) (string, error) {
	if warp != 32 && warp != 64 {
		return "", fmt.Errorf("emu: warp size %d (want 32 or 64)", warp)
	}
	cxx, err := compiler()
	if err != nil {
		return "", err
	}
	version, _ := exec.Command(cxx, "--version").Output()
	src, opts := source(), flags(warp)
	dir := gpu.CacheDir("emu")
	if dir == "" {
		if dir, err = os.MkdirTemp("", "gopard-emu-"); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := gpu.CachePath(dir, gpu.CacheKey(src, string(version), opts), fmt.Sprintf("warp%d", warp), "so")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cpp, so := filepath.Join(tmp, "kernels.cpp"), filepath.Join(tmp, "kernels.so")
	if err := os.WriteFile(cpp, []byte(src), 0o644); err != nil {
		return "", err
	}
	out, err := exec.Command(cxx, append(opts, "-o", so, cpp)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("emu: %s %s: %v\n%s", cxx, strings.Join(opts, " "), err, out)
	}
	return path, os.Rename(so, path)
}
