// Package fakegpu builds a stand-in for the CUDA and HIP driver libraries
// (testdata/fakegpu.c) whose "device" is the CPU emulator of
// gpu/internal/emu, so that the tests of gpu/cuda and gpu/hip run their
// dlopen layers, and every kernel through them, without a GPU.
package fakegpu

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gopard/gopard/gpu/internal/emu"
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
