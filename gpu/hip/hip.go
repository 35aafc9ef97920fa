// Package hip is gopard's AMD backend: the kernels of gpu/kernels (shared
// with CUDA through compat.h), compiled at run time by hiprtc for the
// device's gfx architecture and launched through the HIP runtime.
// libamdhip64.so and libhiprtc.so are opened with dlopen, so the package
// builds, and its tests pass (skipping), on machines with no ROCm and no
// GPU; built without cgo or off Linux, New reports that HIP is not
// available.
//
// Compiled kernels are cached on disk (see gpu.CacheDir) as
// <hash>-<gfx arch>.hsaco.
package hip

import (
	"os"
	"path/filepath"
	"slices"

	"github.com/gopard/gopard/gpu"
)

// Backend is a HIP device running gopard's kernels: an nn.Backend, plus
// Argmax, Time, Allocated, Free and Close (see gpu.Device).
type Backend struct {
	*gpu.Device
}

// New opens the first HIP device.
func New() (*Backend, error) { return Open(0) }

// Open opens HIP device ordinal, compiling the kernels on first use. When
// there is no usable HIP (no cgo, no runtime, no device) the error matches
// gpu.ErrNoDevice.
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

// rocmLibs lists where to look for a ROCm library: the file the
// environment variable env names, the sonames on the loader's path, then
// the same in $ROCM_PATH/lib and /opt/rocm/lib.
func rocmLibs(env string, names ...string) []string {
	var libs []string
	if p := os.Getenv(env); p != "" {
		libs = append(libs, p)
	}
	libs = append(libs, names...)
	for _, root := range []string{os.Getenv("ROCM_PATH"), "/opt/rocm"} {
		if root == "" {
			continue
		}
		for _, n := range names {
			if p := filepath.Join(root, "lib", n); !slices.Contains(libs, p) {
				libs = append(libs, p)
			}
		}
	}
	return libs
}

func runtimeLibs() []string {
	return rocmLibs("GOPARD_AMDHIP", "libamdhip64.so", "libamdhip64.so.7", "libamdhip64.so.6", "libamdhip64.so.5")
}

func hiprtcLibs() []string {
	return rocmLibs("GOPARD_HIPRTC", "libhiprtc.so", "libhiprtc.so.7", "libhiprtc.so.6", "libhiprtc.so.5")
}

// findArch returns the gcnArchName ("gfx90a:sramecc+:xnack-") in the
// bytes of a hipDeviceProp_t, found by its shape rather than its offset,
// which differs between ROCm releases: a NUL-terminated string at the
// start of a field, "gfx" and hex digits, then target features.
func findArch(props []byte) string {
	for i := 0; i+4 < len(props); i++ {
		if (i > 0 && props[i-1] != 0) || string(props[i:i+3]) != "gfx" || !isHex(props[i+3]) {
			continue
		}
		j := i + 3
		for j < len(props) && isHex(props[j]) {
			j++
		}
		end := j
		for end < len(props) && props[end] != 0 && isFeature(props[end]) {
			end++
		}
		if end < len(props) && props[end] == 0 && (end == j || props[j] == ':') {
			return string(props[i:end])
		}
	}
	return ""
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

func isFeature(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == ':' || c == '+' || c == '-' || c == '_'
}

// options are hiprtc's options for a gfx architecture ("" lets hiprtc
// pick the current device's).
func options(arch string) []string {
	opts := []string{"-O3", "-DGOPARD_HIP=1"}
	if arch != "" {
		opts = append(opts, "--gpu-architecture="+arch)
	}
	return opts
}
