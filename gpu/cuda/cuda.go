// Package cuda is gopard's NVIDIA backend: the kernels of gpu/kernels,
// compiled at run time by NVRTC for the device's compute capability and
// launched through the CUDA driver API. libcuda.so.1 and libnvrtc.so are
// opened with dlopen, so the package builds, and its tests pass (skipping),
// on machines with no CUDA SDK and no GPU; built without cgo or off Linux,
// New reports that CUDA is not available.
//
// Compiled kernels are cached on disk (see gpu.CacheDir) as
// <hash>-sm_XX.cubin, or <hash>-compute_XX.ptx when NVRTC is older than
// the device and the driver compiles the PTX.
//
// Kernels are issued as CUDA graphs (graph.go) and, on sm_90 and later,
// with programmatic dependent launch, so that each kernel's blocks start
// while the one before it finishes. The environment can change that:
// GOPARD_CUDA_GRAPHS=0 launches every kernel by itself, GOPARD_CUDA_PDL=0
// (or 1, to force it below sm_90) sets the overlap, and
// GOPARD_NVRTC_OPTIONS adds NVRTC options (kernel experiments);
// GOPARD_GPU_PREFETCH=on (or a budget, 24MiB) asks L2 for the next linear
// layers' weights while the operations between them run (sm_90+; see
// gpu.Device.SetPrefetch), and GOPARD_GPU_FUSE_NORM=on folds a decode
// step's residual adds and norms into its linear layers (see
// gpu.Device.SetFuseNorm), and GOPARD_GPU_BULK=on sends a prompt's prefill
// through a tiled matrix product (gpu.Device.SetBulk). Where
// the libraries are: GOPARD_LIBCUDA and GOPARD_NVRTC.
package cuda

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gopard/gopard/gpu"
)

// Backend is a CUDA device running gopard's kernels: an nn.Backend, plus
// Argmax, Time, Allocated, Free and Close (see gpu.Device).
type Backend struct {
	*gpu.Device
}

// New opens the first CUDA device.
func New() (*Backend, error) { return Open(0) }

// Open opens CUDA device ordinal, compiling the kernels on first use.
// When there is no usable CUDA (no cgo, no driver, no device) the error
// matches gpu.ErrNoDevice.
func Open(ordinal int) (*Backend, error) {
	drv, err := openDriver(ordinal)
	if err != nil {
		return nil, err
	}
	dev, err := gpu.NewDevice(drv)
	if err != nil {
		drv.Close()
		return nil, err
	}
	return &Backend{Device: dev}, nil
}

// driverLibs are where dlopen looks for the driver API: the file
// $GOPARD_LIBCUDA names, then the driver's sonames.
func driverLibs() []string {
	libs := []string{"libcuda.so.1", "libcuda.so"}
	if p := os.Getenv("GOPARD_LIBCUDA"); p != "" {
		libs = append([]string{p}, libs...)
	}
	return libs
}

// nvrtcLibs lists where to look for NVRTC, most specific first: the file
// $GOPARD_NVRTC names, the unversioned and versioned sonames on the
// loader's path, then the same in $CUDA_HOME, $CUDA_PATH and
// /usr/local/cuda.
func nvrtcLibs() []string {
	names := []string{"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so.11.1", "libnvrtc.so.11.0"}
	var libs []string
	if p := os.Getenv("GOPARD_NVRTC"); p != "" {
		libs = append(libs, p)
	}
	libs = append(libs, names...)
	for _, root := range []string{os.Getenv("CUDA_HOME"), os.Getenv("CUDA_PATH"), "/usr/local/cuda"} {
		if root == "" {
			continue
		}
		for _, n := range names {
			if p := filepath.Join(root, "lib64", n); !slices.Contains(libs, p) {
				libs = append(libs, p)
			}
		}
	}
	return libs
}

// target chooses what NVRTC compiles for a device of compute capability
// cc (major·10 + minor): a CUBIN for sm_<cc> when NVRTC can make CUBINs
// and supports that architecture (supported nil: unknown, assume it does);
// otherwise PTX for the newest compute_XX not above cc, which the driver
// compiles when it loads the module.
func target(cc int, supported []int, canCUBIN bool) (arch string, cubin bool) {
	if canCUBIN && (supported == nil || slices.Contains(supported, cc)) {
		return fmt.Sprintf("sm_%d", cc), true
	}
	best := cc
	if supported != nil {
		best = 0
		for _, a := range supported {
			if a <= cc && a > best {
				best = a
			}
		}
		if best == 0 {
			best = cc
		}
	}
	return fmt.Sprintf("compute_%d", best), false
}

// options are NVRTC's options for an architecture from target, then
// those in $GOPARD_NVRTC_OPTIONS (space-separated; for experiments with
// the kernels' compile-time switches, e.g. -DGP_WAIT_BEFORE_LAUNCH).
func options(arch string) []string {
	return append([]string{"--gpu-architecture=" + arch, "--std=c++14", "-DGOPARD_CUDA=1"}, strings.Fields(os.Getenv("GOPARD_NVRTC_OPTIONS"))...)
}
