package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gopard/gopard/gpu/cuda"
	"github.com/gopard/gopard/gpu/hip"
	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
)

// DeviceHelp is the usage text of the --device flag.
const DeviceHelp = "where the model runs: auto (a GPU when one works, else the CPU), cpu, cuda, hip, or cuda:N / hip:N for GPU number N"

// Backend returns the backend a --device value names; threads sizes the
// CPU backend (≤ 0: all cores). "auto" tries CUDA, then HIP, and falls back
// to the CPU silently; "cuda" and "hip" fail with the reason the GPU cannot
// be used (for instance "cuda: libcuda.so.1 not found: no NVIDIA driver on
// this machine"). Release a GPU backend with CloseBackend when done.
func Backend(device string, threads int) (nn.Backend, error) {
	kind, ordinal, err := parseDevice(device)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "cpu":
		return ops.NewCPU(threads), nil
	case "cuda":
		return cuda.Open(ordinal)
	case "hip":
		return hip.Open(ordinal)
	}
	if b, err := cuda.Open(0); err == nil {
		return b, nil
	}
	if b, err := hip.Open(0); err == nil {
		return b, nil
	}
	return ops.NewCPU(threads), nil
}

// parseDevice splits "cuda:1" into its kind and ordinal.
func parseDevice(device string) (kind string, ordinal int, err error) {
	s := strings.ToLower(strings.TrimSpace(device))
	kind, num, hasNum := strings.Cut(s, ":")
	switch {
	case s == "":
		return "auto", 0, nil
	case (kind == "auto" || kind == "cpu") && !hasNum:
		return kind, 0, nil
	case kind == "cuda" || kind == "hip":
		if !hasNum {
			return kind, 0, nil
		}
		if n, err := strconv.Atoi(num); err == nil && n >= 0 {
			return kind, n, nil
		}
	}
	return "", 0, fmt.Errorf("--device %q: want auto, cpu, cuda, hip, cuda:N or hip:N", device)
}

// CloseBackend releases a backend from Backend: a GPU's memory and
// context (the CPU backend needs nothing).
func CloseBackend(b nn.Backend) error {
	if c, ok := b.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// KVCacheHelp is the usage text of the --kv-cache flag.
const KVCacheHelp = "KV-cache dtype: f32, or f16 (CPU only: half the cache memory and half the bytes attention reads per position; keys and values rounded to binary16, as llama.cpp's default cache)"

// SetKVCache applies a --kv-cache value to backend b before models are
// loaded on it: "f32" (the default, every backend) or "f16" (the CPU). It
// returns the value's canonical spelling, for reports.
func SetKVCache(b nn.Backend, dtype string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(dtype)) {
	case "", "f32":
		return "f32", nil
	case "f16":
		cpu, ok := b.(*ops.CPU)
		if !ok {
			return "", fmt.Errorf("--kv-cache f16: a CPU setting; %s keeps an f32 cache", b.Name())
		}
		cpu.SetF16KVCache(true)
		return "f16", nil
	}
	return "", fmt.Errorf("--kv-cache %q: want f32 or f16", dtype)
}
