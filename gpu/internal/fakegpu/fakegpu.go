// Package fakegpu builds a stand-in for the CUDA and HIP driver libraries
// (testdata/fakegpu.c) whose "device" is the CPU emulator of
// gpu/internal/emu, so that the tests of gpu/cuda and gpu/hip run their
// dlopen layers, and every kernel through them, without a GPU.
package fakegpu

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopard/gopard/gpu/gputest"
	"github.com/gopard/gopard/gpu/internal/emu"
	"github.com/gopard/gopard/nn"
)

//go:embed testdata/fakegpu.c
var source []byte

// ChildEnv is set in the test process that Run starts.
const ChildEnv = "GOPARD_FAKEGPU_CHILD"

// Run re-runs the calling test in a child process whose driver libraries
// are the fake one (libraries are opened once per process, so the child
// gets a fresh start): it compiles testdata/fakegpu.c and the emulator for
// an emulated warp, and passes their paths in env (the names the driver
// layer reads, set to the fake library) and FAKE_MODULE. It skips when
// there is no C or C++ compiler, and returns in the parent (false) or the
// child (true). Without cgo it skips too.
func Run(t *testing.T, warp int, libEnv ...string) (child bool) {
	t.Helper()
	if os.Getenv(ChildEnv) != "" {
		return true
	}
	if !driversLoad {
		t.Skip("fakegpu: the driver layers need cgo on linux")
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("fakegpu: no C compiler")
	}
	module, err := emu.Library(warp)
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	src, lib := filepath.Join(dir, "fakegpu.c"), filepath.Join(dir, "libfakegpu.so")
	if err := os.WriteFile(src, source, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-O1", "-o", lib, src, "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("fakegpu: %s: %v\n%s", cc, err, out)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), ChildEnv+"=1", "FAKE_MODULE="+module, "GOPARD_GPU_CACHE="+filepath.Join(dir, "cache"))
	for _, e := range libEnv {
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%s", e, lib))
	}
	out, err := cmd.CombinedOutput()
	t.Logf("child process:\n%s", out)
	if err != nil {
		t.Fatalf("child process: %v", err)
	}
	return false
}

// Memory checks, in the child, the memory the fake reports through b (8
// of 16 GiB free), that a model too large for FAKE_MEM_FREE bytes is
// refused before any upload (gputest.TooLarge), and that an allocation the
// driver refuses for want of memory is an error matching
// nn.ErrOutOfMemory, named as the driver names it (oom).
func Memory(t *testing.T, b gputest.Backend, oom string) {
	free, total, err := b.(interface {
		MemInfo() (free, total int64, err error)
	}).MemInfo()
	if err != nil {
		t.Fatal(err)
	}
	if free != 8<<30 || total != 16<<30 {
		t.Fatalf("MemInfo: %d free of %d, want 8 of 16 GiB", free, total)
	}
	t.Setenv("FAKE_MEM_FREE", "1000")
	gputest.TooLarge(t, b)
	_, err = b.(nn.Allocator).TryAlloc(1000) // 4000 bytes
	if !errors.Is(err, nn.ErrOutOfMemory) || !strings.Contains(err.Error(), oom) {
		t.Fatalf("TryAlloc of 4000 bytes with 1000 free: %v, want an error naming %s that matches nn.ErrOutOfMemory", err, oom)
	}
	os.Unsetenv("FAKE_MEM_FREE")
}
