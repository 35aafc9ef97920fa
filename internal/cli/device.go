package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/gopard/gopard/gpu"
	"github.com/gopard/gopard/gpu/cuda"
	"github.com/gopard/gopard/gpu/hip"
	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
)

// DeviceHelp is the usage text of the --device flag.
const DeviceHelp = "where the model runs: auto (a GPU when one works, else the CPU), cpu, cuda, hip, or cuda:N / hip:N for GPU number N"

// FallBackHelp is DeviceHelp for the commands that load models through
// FallBack.
const FallBackHelp = DeviceHelp + "; with auto, models that do not fit the GPU's free memory run on the CPU"

// Backend returns the backend a --device value names; threads sizes the
// CPU backend (≤ 0: all cores). "auto" tries CUDA, then HIP, and falls back
// to the CPU (saying so on stderr when a GPU is there but failed to open:
// autoBackend); "cuda" and "hip" fail with the reason the GPU cannot
// be used (for instance "cuda: libcuda.so.1 not found: no NVIDIA driver on
// this machine"). A malformed GPU setting in the environment
// (gpu.SettingsFromEnv) is an error for every kind but cpu. Release a GPU
// backend with CloseBackend when done.
func Backend(device string, threads int) (nn.Backend, error) {
	kind, ordinal, err := parseDevice(device)
	if err != nil {
		return nil, err
	}
	if kind == "cpu" {
		return ops.NewCPU(threads), nil
	}
	if _, err := gpu.SettingsFromEnv(); err != nil {
		return nil, err // auto would otherwise fall back to the CPU over a typo
	}
	for _, g := range gpuOpeners {
		if g.kind == kind {
			return g.open(ordinal)
		}
	}
	return autoBackend(threads, os.Stderr, gpuOpeners)
}

// gpuOpeners are the GPU kinds, in the order auto tries them.
var gpuOpeners = []gpuOpener{
	{"cuda", func(n int) (nn.Backend, error) { return opened(cuda.Open(n)) }},
	{"hip", func(n int) (nn.Backend, error) { return opened(hip.Open(n)) }},
}

// opened is an Open's result as an nn.Backend: nil on error, where the
// Open's nil pointer would make a non-nil interface.
func opened[B nn.Backend](b B, err error) (nn.Backend, error) {
	if err != nil {
		return nil, err
	}
	return b, nil
}

// gpuOpener opens GPU number 0, 1, ... of one kind.
type gpuOpener struct {
	kind string
	open func(ordinal int) (nn.Backend, error)
}

// autoBackend is --device auto: the first of the GPUs that opens, else the
// CPU. Not having a GPU (gpu.ErrNoDevice) is the usual case and passes in
// silence; a GPU that is there but failed to open (its kernels did not
// compile, its memory is taken) is told on warn, so that a run which falls
// back to the CPU's speed says why.
func autoBackend(threads int, warn io.Writer, gpus []gpuOpener) (nn.Backend, error) {
	var failed []string
	for _, g := range gpus {
		b, err := g.open(0)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, gpu.ErrNoDevice) {
			fmt.Fprintf(warn, "--device auto: %v\n", err)
			failed = append(failed, g.kind)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(warn, "--device auto: running on the CPU instead (--device %s makes this an error, --device cpu skips the GPU)\n",
			strings.Join(failed, " or --device "))
	}
	return ops.NewCPU(threads), nil
}

// FallBack runs open, which opens the backend a --device value names and
// loads the models onto it, and returns what it made. When device is auto
// and open fails because a model does not fit a GPU's memory
// (nn.ErrOutOfMemory: refused before its upload, or an allocation the
// driver refused), FallBack says so on warn and runs open again for the
// CPU, which holds the models in host memory: auto means the fastest
// place that can run the job, and a GPU that cannot hold it is not one.
// open must leave nothing open or loaded when it fails. With any other
// device, or any other error, open's result is returned as it is.
func FallBack[T any](device string, warn io.Writer, open func(device string) (T, error)) (T, error) {
	v, err := open(device)
	if err == nil || !errors.Is(err, nn.ErrOutOfMemory) {
		return v, err
	}
	if kind, _, _ := parseDevice(device); kind != "auto" {
		return v, err
	}
	fmt.Fprintf(warn, "--device auto: %v\n--device auto: running on the CPU instead (--device cpu skips the GPU)\n", err)
	return open("cpu")
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
const KVCacheHelp = "KV-cache dtype: f32, or f16 (half the cache memory, on the CPU or the GPU, and half the bytes attention reads per position; keys and values rounded to binary16, as llama.cpp's default cache)"

// SetKVCache applies a --kv-cache value to backend b before models are
// loaded on it: "f32" (the default) or "f16" (ops.CPU and the GPUs). It
// returns the value's canonical spelling, for reports.
func SetKVCache(b nn.Backend, dtype string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(dtype)) {
	case "", "f32":
		return "f32", nil
	case "f16":
		s, ok := b.(interface{ SetF16KVCache(on bool) })
		if !ok {
			return "", fmt.Errorf("--kv-cache f16: %s keeps an f32 cache", b.Name())
		}
		s.SetF16KVCache(true)
		return "f16", nil
	}
	return "", fmt.Errorf("--kv-cache %q: want f32 or f16", dtype)
}

// DraftActivationsHelp is the usage text of the --draft-activations flag.
const DraftActivationsHelp = "activations of the draft models' matrix products on the CPU: bf16 (the default where the CPU has AVX512-BF16 and the draft's weights are bf16: about twice the multiply-adds per instruction) or f32. On a GPU the drafts share the target's --bf16-activations. The output does not depend on it: the target checks every drafted token; only how many it accepts may move"

// DraftBackend returns the backend drafts run on beside a target on b, for
// a --draft-activations value: on the CPU a sibling of b (the same pool,
// kernels of its own) whose matrix products take bf16 activations unless
// activations is "f32"; on a GPU, b itself, whose setting (the target's
// --bf16-activations) the drafts share. bf16 reports whether bf16
// activations took effect (the CPU has AVX512-BF16; the GPU has them on).
// Call it after SetKVCache, whose setting the sibling copies, and after
// BF16Activations.Apply.
func DraftBackend(b nn.Backend, activations string) (draft nn.Backend, bf16 bool, err error) {
	want, err := ParseDraftActivations(activations)
	if err != nil {
		return nil, false, err
	}
	cpu, ok := b.(*ops.CPU)
	if !ok {
		g, ok := b.(interface{ BF16Activations() bool })
		return b, ok && g.BF16Activations(), nil
	}
	sib := cpu.Sibling()
	if want {
		bf16 = sib.SetBF16Activations(true)
	}
	return sib, bf16, nil
}

// Backends are what a command that runs a target and its drafts opens for
// its --device, --threads, --bf16-activations, --kv-cache and
// --draft-activations flags.
type Backends struct {
	Target, Draft   nn.Backend // Draft is Target's DraftBackend
	BF16, DraftBF16 bool       // whether their products take bf16 activations
	KVCache         string     // --kv-cache as SetKVCache spells it
}

// OpenBackends opens the backend of device and threads, applies bf16 (for
// the embedded models or a checkpoint), kvCache and draftAct to it in the
// order they need, and returns it with its drafts' backend; note is
// bf16.Apply's line for the caller to print ("" for none). On error
// nothing is left open; else the caller closes Target (CloseBackend).
func OpenBackends(device string, threads int, bf16 *BF16Activations, embedded bool, kvCache, draftAct string) (bs Backends, note string, err error) {
	b, err := Backend(device, threads)
	if err != nil {
		return Backends{}, "", err
	}
	bs.Target = b
	bs.BF16, note = bf16.Apply(b, embedded)
	if bs.KVCache, err = SetKVCache(b, kvCache); err == nil {
		bs.Draft, bs.DraftBF16, err = DraftBackend(b, draftAct)
	}
	if err != nil {
		CloseBackend(b)
		return Backends{}, "", err
	}
	return bs, note, nil
}

// ParseDraftActivations checks a --draft-activations value and reports
// whether it asks for bf16 activations ("" means the default, bf16).
func ParseDraftActivations(activations string) (bf16 bool, err error) {
	switch strings.ToLower(strings.TrimSpace(activations)) {
	case "", "bf16":
		return true, nil
	case "f32":
		return false, nil
	}
	return false, fmt.Errorf("--draft-activations %q: want bf16 or f32", activations)
}

// BF16ActivationsHelp is the usage text of the --bf16-activations flag.
const BF16ActivationsHelp = "round the target's activations to bf16 before its products with bf16 weights: on CPUs with AVX512-BF16 about twice the multiply-adds per instruction; on GPUs with tensor cores (CUDA sm_80+) their mma kernels, written so that a verify of up to 16 rows costs about what its weights' bytes cost but not yet timed on a GPU (there the drafts share the setting). Logits move within ~2e-2 of the float32 path, and every mode (AR, VSD, PARD) computes the same way, so their outputs stay identical. Default auto: on a CPU, on for the embedded models (this repository's own, with no outside reference to match) and off for a checkpoint given by directory (float32 activations match the conformance data); on a GPU off (the tensor-core kernels are not yet timed on one); --bf16-activations=false or =true decides"

// BF16Activations is the value of a --bf16-activations flag: true or false
// when given, else auto (see Want). It is a boolean flag, so a bare
// --bf16-activations sets it.
type BF16Activations struct{ given, on bool }

// String is "auto" until the flag is given, then its value.
func (f *BF16Activations) String() string {
	if !f.given {
		return "auto"
	}
	return strconv.FormatBool(f.on)
}

// Set parses a boolean ("true", "false", "1", "0", ...).
func (f *BF16Activations) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("want true or false")
	}
	f.given, f.on = true, v
	return nil
}

// IsBoolFlag lets the flag package accept a bare --bf16-activations.
func (f *BF16Activations) IsBoolFlag() bool { return true }

// Want reports whether the target is to take bf16 activations: the flag's
// value when given, else whether the models are the embedded ones. Where
// the CPU lacks AVX512-BF16 the backend keeps float32 either way.
func (f *BF16Activations) Want(embedded bool) bool {
	if f.given {
		return f.on
	}
	return embedded
}

// Apply turns bf16 activations on for the target's backend b when Want
// says so and b can take them (a CPU with AVX512-BF16, a GPU with tensor
// cores; a GPU only when the flag is given). on reports whether they took
// effect; note is a line to print when the flag asked for them by name and
// they cannot be had ("" otherwise: auto falls back silently).
func (f *BF16Activations) Apply(b nn.Backend, embedded bool) (on bool, note string) {
	if !f.Want(embedded) {
		return false, ""
	}
	_, isCPU := b.(*ops.CPU)
	if !f.given && !isCPU {
		// auto keeps a GPU's float32 kernels: the tensor-core ones have not
		// been timed on a GPU yet (docs/gpu.md).
		return false, ""
	}
	s, ok := b.(interface{ SetBF16Activations(bool) bool })
	if ok && s.SetBF16Activations(true) {
		return true, ""
	}
	if !f.given {
		return false, ""
	}
	if isCPU {
		return false, "this CPU has no AVX512-BF16; --bf16-activations has no effect"
	}
	return false, b.Name() + " cannot take bf16 activations (a CPU needs AVX512-BF16, a GPU tensor cores: CUDA sm_80+); --bf16-activations has no effect"
}
