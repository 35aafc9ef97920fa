// Command bench measures the machine and gopard's kernels and model
// forwards on it. On the CPU (the default): the read bandwidth (all
// threads streaming a buffer far larger than the last-level cache) and the
// FMA peak (an assembly loop of independent fused multiply-adds), then
// each kernel and whole-model forwards of M = 1, 2, 4, 8, 9, 13, 16 and 64
// tokens, each beside the machine's limit. On a GPU (--device cuda|hip):
// the device's copy bandwidth as the roofline, the same forwards (returning
// argmax ids, as greedy decoding there does) with the host time to queue
// each, and with --profile the device time of every operation (and, on
// either, forwards with each kind of operation left out: its cost in
// place, overlap included).
//
//	go run ./cmd/bench [--shape qwen2.5-0.5b|llama3.2-1b|llama3.1-8b|qwen3-0.6b|tiny | --model DIR]
//	                   [--device cpu|auto|cuda|hip] [--threads N] [--runs R] [--context C] [--json]
//	                   [--profile] [--pard-draft SHAPE -k K --pard-tokens T --pard-temperature T --draft-activations bf16|f32]
//
// Forwards run at context position C (default 256, prefilled once) and the
// cache is truncated back to C before every run. M ≤ 16 are verify-shaped
// (logits for every row, as a PARD verification needs); M = 64 is a
// prefill chunk (logits for the last row only). Times are medians of R
// runs after one warm-up. "weights GB/s" is the bytes of weight matrices a
// forward streams (every layer plus the LM head) over its time, compared
// with the measured bandwidth; GFLOP/s counts the matrix products and
// attention, compared with the FMA peak. --pard-draft times greedy PARD
// iterations of a random draft against the model, beside the draft and
// verify forwards alone; on the CPU the draft computes with bf16
// activations unless --draft-activations f32 (as generate and eval do).
//
// With --json it prints one object:
//
//	{"device": "cpu", "read_bandwidth_gbs": x, "fma_peak_gflops": y, "weight_bytes": n,
//	 "roofline_tok_s": r, "forward_ms": {"1": a, ..., "64": h}, "tok_s": {...},
//	 "weight_gbs": {...}, "gflops": {...}, "kernels": [{"name", "ms", "gbs", "gflops"}...],
//	 "threads": t, "impl": "avx512", "cpu": "AMD EPYC (family 25, model 17)", "shape": "...", "context": c,
//	 "bf16_activations": b, "dot_prefetch": "l2" (with them), "kv_cache": "f32"}
//
// (on a GPU "copy_bandwidth_gbs" and "launch_ms" replace the CPU's
// machine figures, threads and impl, with "l2_prefetch_bytes" and
// "fuse_norm" where those are on; "pard" is added with --pard-draft).
package main

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/gopard/gopard/internal/cli"
	"github.com/gopard/gopard/models/llama"
	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
)

// forwardSizes are the M of the forwards measured.
var forwardSizes = []int{1, 2, 4, 8, 9, 13, 16, 64}

// forwardWant is the logits rows a timed forward of M rows keeps: all of
// a decoding step's or a verify's (M ≤ 16), one of a prefill chunk's.
func forwardWant(M int) int {
	if M > 16 {
		return 1
	}
	return M
}

// maxForwardRows bounds --m.
const maxForwardRows = 1024

// rows is the largest forward the run times.
func (o options) rows() int { return max(64, o.only) }

type options struct {
	model, shape string
	threads      int
	runs         int
	context      int
	asJSON       bool
	skipKernels  bool
	cpuProfile   string
	only         int
	bf16Act      bool
	kvCache      string
	save         string
	device       string
	pardDraft    string
	draftAct     string
	k            int
	pardTokens   int
	pardTemp     float64
	profile      bool
	layers       int
}

func main() {
	var o options
	flag.StringVar(&o.model, "model", "", "model directory (config.json + safetensors); overrides --shape")
	flag.StringVar(&o.shape, "shape", "qwen2.5-0.5b", "random bf16 model built in memory: "+shapeNames())
	flag.IntVar(&o.layers, "layers", 0, "with --shape (or --save): give the random model this many layers instead of the shape's (0: the shape's), to time one family at several sizes")
	flag.IntVar(&o.threads, "threads", 0, "CPU threads (0: all cores)")
	flag.IntVar(&o.runs, "runs", 5, "timed runs per measurement (the median is reported)")
	flag.IntVar(&o.context, "context", 256, "context position of the forwards (tokens prefilled first)")
	flag.BoolVar(&o.asJSON, "json", false, "print one JSON object instead of tables")
	flag.BoolVar(&o.skipKernels, "skip-kernels", false, "do not time the individual kernels")
	flag.BoolVar(&o.bf16Act, "bf16-activations", false, "round activations to bf16 for bf16 weights (CPU: VDPBF16PS, see ops.CPU.SetBF16Activations; GPU: tensor cores, see gpu.Device.SetBF16Activations; less accurate)")
	flag.StringVar(&o.kvCache, "kv-cache", "f32", cli.KVCacheHelp)
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the forwards to this file")
	flag.StringVar(&o.save, "save", "", "write the random --shape model as a Hugging Face directory (config.json + model.safetensors) and exit")
	flag.IntVar(&o.only, "m", 0, "time only forwards of this many tokens, 1 to 1024 (0: all of 1, 2, 4, 8, 9, 13, 16, 64)")
	flag.StringVar(&o.device, "device", "cpu", cli.DeviceHelp)
	flag.StringVar(&o.pardDraft, "pard-draft", "", "also time PARD iterations with a random draft of this --shape (e.g. llama3.2-1b for llama3.1-8b) against the model")
	flag.StringVar(&o.draftAct, "draft-activations", "bf16", cli.DraftActivationsHelp+" (with --pard-draft)")
	flag.IntVar(&o.k, "k", 8, "drafts per PARD iteration (with --pard-draft)")
	flag.IntVar(&o.pardTokens, "pard-tokens", 128, "tokens generated in the timed PARD run (with --pard-draft)")
	flag.Float64Var(&o.pardTemp, "pard-temperature", 0, "sample the PARD run at this temperature (0: greedy; with --pard-draft): on a GPU the draws and the acceptance test then run on the device")
	flag.BoolVar(&o.profile, "profile", false, "time every operation of the M = 1 and M = 9 forwards (or --m's) alone and print where the time goes (a GPU: device time by events; the CPU: wall time, dispatch and waits included); then time those forwards with each kind of operation left out (attention, norms, rotations, L2 prefetches, all but the linear layers, the linear layers), to show what each costs in place, and on a GPU with norm folding turned the other way (GOPARD_GPU_FUSE_NORM)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: bench [--shape NAME | --model DIR] [flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		cli.Fatal("bench", fmt.Errorf("unexpected arguments %q", flag.Args()))
	}
	if err := run(o); err != nil {
		cli.Fatal("bench", err)
	}
}

func (o *options) validate() error {
	switch {
	case o.threads < 0:
		return fmt.Errorf("--threads %d: must be ≥ 0 (0: all %d cores)", o.threads, runtime.NumCPU())
	case o.runs < 1:
		return fmt.Errorf("--runs %d: must be ≥ 1", o.runs)
	case o.only < 0 || o.only > maxForwardRows:
		return fmt.Errorf("--m %d: must be in [1, %d] (0: all of %v)", o.only, maxForwardRows, forwardSizes)
	case o.context < 1 || o.context > 1<<16:
		return fmt.Errorf("--context %d: must be in [1, 65536]", o.context)
	case o.k < 1 || o.k > 64:
		return fmt.Errorf("--k %d: must be in [1, 64]", o.k)
	case o.pardTokens < 2 || o.pardTokens > 1<<14:
		return fmt.Errorf("--pard-tokens %d: must be in [2, 16384]", o.pardTokens)
	case !(o.pardTemp >= 0 && o.pardTemp <= 100):
		return fmt.Errorf("--pard-temperature %v: must be in [0, 100]", o.pardTemp)
	case o.layers < 0 || o.layers > 1024:
		return fmt.Errorf("--layers %d: must be in [1, 1024] (0: the shape's)", o.layers)
	case o.layers > 0 && o.model != "":
		return fmt.Errorf("--layers %d: only for a random --shape, not --model %s", o.layers, o.model)
	}
	if o.pardDraft != "" {
		if _, ok := shapes[o.pardDraft]; !ok {
			return fmt.Errorf("--pard-draft %q: unknown; use one of %s", o.pardDraft, shapeNames())
		}
	}
	if _, err := cli.ParseDraftActivations(o.draftAct); err != nil {
		return err
	}
	if o.model == "" {
		if _, ok := shapes[o.shape]; !ok {
			return fmt.Errorf("--shape %q: unknown; use one of %s", o.shape, shapeNames())
		}
	} else if o.save != "" {
		return fmt.Errorf("--save writes a random --shape model; it cannot be combined with --model")
	} else if st, err := os.Stat(o.model); err != nil || !st.IsDir() {
		return fmt.Errorf("--model %s: not a directory", o.model)
	}
	return nil
}

// report is the --json object.
type report struct {
	Device           string             `json:"device"`
	CPU              string             `json:"cpu,omitempty"` // ops.CPUName: the figures depend on the generation
	ReadBandwidthGBs float64            `json:"read_bandwidth_gbs,omitempty"`
	FMAPeakGFlops    float64            `json:"fma_peak_gflops,omitempty"`
	CopyBandwidthGBs float64            `json:"copy_bandwidth_gbs,omitempty"`
	WeightBytes      int64              `json:"weight_bytes"`
	RooflineTokS     float64            `json:"roofline_tok_s"`
	ForwardMs        map[string]float64 `json:"forward_ms"`
	LaunchMs         map[string]float64 `json:"launch_ms,omitempty"`
	TokS             map[string]float64 `json:"tok_s"`
	WeightGBs        map[string]float64 `json:"weight_gbs"`
	GFlops           map[string]float64 `json:"gflops"`
	Kernels          []kernelResult     `json:"kernels,omitempty"`
	PARD             *pardResult        `json:"pard,omitempty"`
	Threads          int                `json:"threads,omitempty"`
	Impl             string             `json:"impl,omitempty"`
	Shape            string             `json:"shape"`
	Context          int                `json:"context"`
	BF16Activations  bool               `json:"bf16_activations"`
	DotPrefetch      string             `json:"dot_prefetch,omitempty"` // with bf16 activations: where its tiles prefetch (GOPARD_DOT_PREFETCH)
	KVCache          string             `json:"kv_cache"`
	// L2PrefetchBytes: on a GPU, the weights each prefetch may ask L2 for
	// (GOPARD_GPU_PREFETCH; 0: off).
	L2PrefetchBytes int `json:"l2_prefetch_bytes,omitempty"`
	// FuseNorm: on a GPU, decode steps fold the residual adds and norms
	// into the linear layers (GOPARD_GPU_FUSE_NORM).
	FuseNorm bool `json:"fuse_norm,omitempty"`
	// Bulk: a prefill's rows but the last go through the tiled product
	// (GOPARD_GPU_BULK; the forward of 64 rows, which keeps one).
	Bulk bool `json:"bulk,omitempty"`
}

// gpuBackend is what bench uses of a GPU backend beyond nn.Backend.
type gpuBackend interface {
	nn.Backend
	CopyBandwidth(bytes, runs int) (float64, error)
	Synchronize() error
	LaunchMode() string
}

func run(o options) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.save != "" {
		return saveShape(o.shape, o.randomShape(), o.save)
	}
	backend, err := cli.Backend(o.device, o.threads)
	if err != nil {
		return err
	}
	defer cli.CloseBackend(backend)
	if o.kvCache, err = cli.SetKVCache(backend, o.kvCache); err != nil {
		return err
	}
	rep := report{Device: backend.Name(), ForwardMs: map[string]float64{}, TokS: map[string]float64{}, WeightGBs: map[string]float64{},
		GFlops: map[string]float64{}, Context: o.context, BF16Activations: o.bf16Act, KVCache: o.kvCache}
	say := func(format string, a ...any) {
		if !o.asJSON {
			fmt.Printf(format, a...)
		}
	}
	// limit is the bandwidth the "of bw" column compares with: the host's
	// read bandwidth, or the GPU's copy bandwidth.
	var limit float64
	gpu, onGPU := backend.(gpuBackend)
	if onGPU {
		if o.bf16Act {
			s, ok := backend.(interface{ SetBF16Activations(bool) bool })
			if !ok || !s.SetBF16Activations(true) {
				return fmt.Errorf("--bf16-activations: %s has no tensor cores for bf16 (CUDA sm_80+)", backend.Name())
			}
		}
		rep.LaunchMs = map[string]float64{}
		prefetch := "off"
		if p, ok := backend.(interface{ PrefetchBudget() int }); ok && p.PrefetchBudget() > 0 {
			rep.L2PrefetchBytes = p.PrefetchBudget()
			prefetch = fmt.Sprintf("up to %.1f MiB a call", float64(rep.L2PrefetchBytes)/(1<<20))
		}
		if f, ok := backend.(normFolder); ok {
			rep.FuseNorm = f.FuseNormSetting()
		}
		if k, ok := backend.(nn.Bulker); ok {
			rep.Bulk = k.BulkRows() > 0
		}
		say("gopard bench: %s, bf16 activations %v (tensor cores), weight prefetch into L2 %s (GOPARD_GPU_PREFETCH), norms folded into linear layers %v (GOPARD_GPU_FUSE_NORM), prefill by tiles %v (GOPARD_GPU_BULK), %s KV cache, %s/%s\n\n",
			backend.Name(), o.bf16Act, prefetch, rep.FuseNorm, rep.Bulk, o.kvCache, runtime.GOOS, runtime.GOARCH)
		defer func() { say("kernel launches: %s\n", gpu.LaunchMode()) }()
		bw, err := gpu.CopyBandwidth(1<<30, o.runs)
		if err != nil {
			return err
		}
		rep.CopyBandwidthGBs = round3(bw / 1e9)
		limit = rep.CopyBandwidthGBs
		say("device: copy bandwidth %.0f GB/s (1 GiB buffers, bytes read + written), the roofline of decoding\n\n", rep.CopyBandwidthGBs)
	} else {
		cpu := backend.(*ops.CPU)
		if o.bf16Act && !cpu.SetBF16Activations(true) {
			return fmt.Errorf("--bf16-activations: this CPU lacks AVX512-BF16")
		}
		pool := cpu.Pool()
		rep.Threads, rep.Impl = pool.Threads(), ops.Impl()
		act := fmt.Sprint(o.bf16Act)
		if o.bf16Act {
			rep.DotPrefetch = ops.DotPrefetch()
			act += " (prefetching into " + rep.DotPrefetch + ")"
		}
		say("gopard bench: %d threads, kernels %s, bf16 activations %s, %s KV cache, %s/%s\n\n", pool.Threads(), rep.Impl, act, o.kvCache, runtime.GOOS, runtime.GOARCH)
		rep.ReadBandwidthGBs = readBandwidth(pool, o.runs)
		rep.FMAPeakGFlops = fmaPeak(pool, o.runs)
		limit = rep.ReadBandwidthGBs
		rep.CPU = ops.CPUName()
		say("machine: %s, read bandwidth %.1f GB/s, FMA peak %.1f GFLOP/s (float32)\n", cmp.Or(rep.CPU, "CPU"), rep.ReadBandwidthGBs, rep.FMAPeakGFlops)
		if rep.Impl != "avx512" {
			say("(measured with the pure-Go sum and FMA loops of kernels %q: both limits are underestimated)\n", rep.Impl)
		}
		say("\n")
		if !o.skipKernels {
			rep.Kernels = benchKernels(cpu, o.runs)
			say("kernels on a Qwen2.5-0.5B layer's shapes (an 8.7 MB matrix stays in L3: GB/s may exceed memory's)\n")
			say("%-34s %10s %10s %8s %10s %8s\n", "kernel", "time", "GB/s", "of bw", "GFLOP/s", "of peak")
			for _, k := range rep.Kernels {
				say("%-34s %8.3fms %10.1f %7.0f%% %10.1f %7.0f%%\n", k.Name, k.Ms, k.GBs, 100*k.GBs/rep.ReadBandwidthGBs, k.GFlops, 100*k.GFlops/rep.FMAPeakGFlops)
			}
			say("\n")
		}
	}

	m, err := openModel(o, backend)
	if err != nil {
		return err
	}
	defer m.close()
	rep.Shape, rep.WeightBytes = m.name, m.weightBytes
	rep.RooflineTokS = round3(limit * 1e9 / float64(m.weightBytes))
	say("model %s: %d layers, hidden %d, vocab %d, %.1f MB of weights streamed per forward\n",
		m.name, m.cfg.Layers, m.cfg.Hidden, m.cfg.Vocab, float64(m.weightBytes)/1e6)
	say("roofline: %.1f forwards/s (bandwidth %.1f GB/s ÷ %.1f MB of weights)\n", rep.RooflineTokS, limit, float64(m.weightBytes)/1e6)
	if onGPU {
		say("forwards at context position %d, median of %d runs; time: wall clock of a forward that returns its rows' argmax ids\n", o.context, o.runs)
		say("(as greedy decoding on a GPU does); launch: host time to queue its kernels\n")
		say("%4s %10s %10s %10s %10s %8s %10s\n", "M", "time", "launch", "tok/s", "w GB/s", "of bw", "GFLOP/s")
	} else {
		say("forwards at context position %d, median of %d runs\n", o.context, o.runs)
		say("%4s %10s %10s %10s %8s %10s %8s\n", "M", "time", "tok/s", "w GB/s", "of bw", "GFLOP/s", "of peak")
	}

	prompt := syntheticPrompt(o.context+o.rows(), m.cfg.Vocab)
	if _, err := m.dec.Forward(prompt[:o.context], 0, 0); err != nil {
		return fmt.Errorf("prefill of %d tokens: %w", o.context, err)
	}
	stopProfile, err := cli.StartCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	sizes := forwardSizes
	if o.only != 0 {
		sizes = []int{o.only}
	}
	for _, M := range sizes {
		want := forwardWant(M)
		toks := prompt[o.context : o.context+M]
		sec, err := timeForward(m.dec, toks, o.context, want, o.runs, onGPU)
		if err != nil {
			return err
		}
		key := strconv.Itoa(M)
		rep.ForwardMs[key] = round3(sec * 1e3)
		rep.TokS[key] = round3(float64(M) / sec)
		rep.WeightGBs[key] = round3(float64(m.weightBytes) / sec / 1e9)
		rep.GFlops[key] = round3(m.flops(M, want, o.context) / sec / 1e9)
		if onGPU {
			launch, err := timeLaunch(m.dec, gpu, toks, o.context, o.runs)
			if err != nil {
				return err
			}
			rep.LaunchMs[key] = round3(launch * 1e3)
			say("%4d %8.3fms %8.3fms %10.1f %10.1f %7.0f%% %10.1f\n", M, sec*1e3, launch*1e3, float64(M)/sec,
				rep.WeightGBs[key], 100*rep.WeightGBs[key]/limit, rep.GFlops[key])
		} else {
			say("%4d %8.2fms %10.1f %10.1f %7.0f%% %10.1f %7.0f%%\n", M, sec*1e3, float64(M)/sec,
				rep.WeightGBs[key], 100*rep.WeightGBs[key]/limit, rep.GFlops[key], 100*rep.GFlops[key]/rep.FMAPeakGFlops)
		}
	}
	m.dec.Truncate(0)
	if o.only == 0 { // the ratios need every size
		say("\nforward(9)/forward(1) = %.2f, forward(13)/forward(1) = %.2f, prefill %.1f tok/s\n",
			rep.ForwardMs["9"]/rep.ForwardMs["1"], rep.ForwardMs["13"]/rep.ForwardMs["1"], rep.TokS["64"])
	}
	if o.only == 0 || o.only == 1 {
		say("decode (M = 1): %.1f tok/s = %.0f%% of the roofline\n", rep.TokS["1"], 100*rep.TokS["1"]/rep.RooflineTokS)
	}
	if o.profile {
		tb, ok := backend.(timedBackend)
		if cpu, isCPU := backend.(*ops.CPU); isCPU {
			tb, ok = cpuTimer{cpu}, true
		}
		if !ok {
			return fmt.Errorf("--profile: %s cannot time its operations", backend.Name())
		}
		sizes := []int{1, 9}
		if o.only != 0 {
			sizes = []int{o.only}
		}
		if err := profileOps(tb, m, sizes, o.context, o.runs, say); err != nil {
			return err
		}
		if err := ablateOps(tb, m, sizes, o.context, o.runs, limit, onGPU, say); err != nil {
			return err
		}
	}
	if o.pardDraft != "" {
		if rep.PARD, err = benchPARD(o, backend, m, prompt[:o.context], say); err != nil {
			return err
		}
	}
	if o.asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return nil
}

// syntheticPrompt returns n token ids spread over the vocabulary.
func syntheticPrompt(n, vocab int) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32((i*7919 + 13) % vocab)
	}
	return p
}

// argmaxForwarder is a decoder that can return argmax ids instead of
// logits rows (nn.Decoder does; on a GPU only the ids come back).
type argmaxForwarder interface {
	ForwardArgmax(tokens []int32, start, want int) ([]int32, error)
}

// forward runs one forward of toks at start with want output rows: on a
// GPU the argmax ids only, as greedy decoding there does; on the CPU the
// logits rows.
func forward(dec *nn.Decoder, toks []int32, start, want int, ids bool) error {
	var err error
	if af, ok := any(dec).(argmaxForwarder); ok && ids {
		_, err = af.ForwardArgmax(toks, start, want)
	} else {
		_, err = dec.Forward(toks, start, want)
	}
	if err != nil {
		return fmt.Errorf("forward of %d tokens at %d: %w", len(toks), start, err)
	}
	return nil
}

// timeForward returns the median wall-clock seconds of runs forwards of
// toks (after a warm-up), the first at start and each one position after
// the last, as decoding steps are (so that a GPU's graphs are timed with
// the updates each step needs), truncating the cache back before each.
func timeForward(dec *nn.Decoder, toks []int32, start, want, runs int, ids bool) (float64, error) {
	times := make([]float64, 0, runs)
	for r := -1; r < runs; r++ {
		pos := start + r + 1
		dec.Truncate(pos)
		t0 := time.Now()
		if err := forward(dec, toks, pos, want, ids); err != nil {
			return 0, err
		}
		if r >= 0 {
			times = append(times, time.Since(t0).Seconds())
		}
	}
	return cli.Median(times), nil
}

// timeLaunch returns the median host time to queue a forward's kernels
// (no logits rows asked for, so nothing waits for the device, and the last
// layer stops at the keys and values) on a GPU.
// Near the forward's time it says the host's launches, not the device,
// bound the forward.
func timeLaunch(dec *nn.Decoder, gpu gpuBackend, toks []int32, start, runs int) (float64, error) {
	times := make([]float64, 0, runs)
	for r := range runs {
		dec.Truncate(start + r)
		if err := gpu.Synchronize(); err != nil {
			return 0, err
		}
		t0 := time.Now()
		if _, err := dec.Forward(toks, start+r, 0); err != nil {
			return 0, err
		}
		times = append(times, time.Since(t0).Seconds())
	}
	return cli.Median(times), gpu.Synchronize()
}

// readBandwidth streams a 1 GiB buffer (far beyond any L3) with every
// thread and returns the best of runs passes in GB/s.
func readBandwidth(p *ops.Pool, runs int) float64 {
	buf := make([]float32, 256<<20)
	for i := 0; i < len(buf); i += 1024 { // touch every page
		buf[i] = 1
	}
	best := 0.0
	for range runs + 1 {
		t0 := time.Now()
		ops.ReadSum(p, buf)
		best = max(best, float64(len(buf)*4)/time.Since(t0).Seconds()/1e9)
	}
	return best
}

// fmaPeak times the FMA loop on every thread; the best of runs, in GFLOP/s.
func fmaPeak(p *ops.Pool, runs int) float64 {
	best := 0.0
	for range runs + 1 {
		t0 := time.Now()
		flops := ops.FMAPeakFlops(p, 1<<20)
		best = max(best, flops/time.Since(t0).Seconds()/1e9)
	}
	return best
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// shapeNames lists the --shape values.
func shapeNames() string {
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	slices.Sort(names)
	s := ""
	for i, n := range names {
		if i > 0 {
			s += "|"
		}
		s += n
	}
	return s
}

// forwardRunner is the model under test.
type forwardRunner struct {
	name        string
	cfg         nn.Config
	dec         *nn.Decoder
	weightBytes int64
	close       func()
}

// flops counts the multiply-adds (×2) of a forward of M rows with want
// logit rows at context position ctx: the layer matrices, the LM head and
// attention (q·k and p·v over the visible positions), the last layer's
// attention, o and MLP only for the want rows (nn.Decoder skips the rest).
func (m *forwardRunner) flops(M, want, ctx int) float64 {
	c := m.cfg
	q, kv := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	proj := float64(c.Hidden * (q + 2*kv))                  // q, k, v: every row, every layer
	rest := float64(q*c.Hidden + 3*c.Hidden*c.Intermediate) // o and the MLP
	f := 0.0
	for r := 0; r < M; r++ {
		att := 2 * float64(c.Heads*c.HeadDim*(ctx+r+1))
		layers := float64(c.Layers)
		if r < M-want {
			layers-- // the last layer skips the rows whose logits are not asked for
		}
		f += float64(c.Layers)*proj + layers*(rest+att)
	}
	return 2 * (f + float64(want*c.Vocab*c.Hidden))
}

// randomShape is --shape's dimensions with --layers applied.
func (o options) randomShape() shape {
	s := shapes[o.shape]
	if o.layers > 0 {
		s.cfg.Layers = o.layers
	}
	return s
}

// capacity is the KV cache the benchmark's models need.
func (o options) capacity() int { return o.context + o.runs + o.rows() + 16 + o.pardTokens + 2*o.k }

func openModel(o options, b nn.Backend) (*forwardRunner, error) {
	capacity := o.capacity()
	if o.model != "" {
		lm, err := cli.LoadModel(o.model, b, capacity, true)
		if err != nil {
			return nil, err
		}
		return &forwardRunner{name: o.model, cfg: lm.Config(), dec: lm.Decoder, weightBytes: lm.WeightBytes(),
			close: func() { lm.Close() }}, nil
	}
	s := o.randomShape()
	w, bytes := randomWeights(s)
	w, err := loadWeights(b, w)
	if err != nil {
		return nil, err
	}
	dec, err := nn.NewDecoder(b, s.cfg, w, capacity, 256)
	if err != nil {
		return nil, err
	}
	name := o.shape + " (random bf16)"
	if o.layers > 0 {
		name = fmt.Sprintf("%s with %d layers (random bf16)", o.shape, o.layers)
	}
	return &forwardRunner{name: name, cfg: s.cfg, dec: dec, weightBytes: bytes, close: func() {}}, nil
}

// saveShape writes a random model of a named shape where cmd/generate,
// cmd/score and --model can load it (memory-mapped, as real checkpoints are).
func saveShape(name string, s shape, dir string) error {
	arch := llama.Arch{Name: name, QKVBias: s.qkvBias, QKNorm: s.qkNorm}
	w, bytes := randomWeights(s)
	if err := llama.Save(dir, llama.NewHFConfig(s.cfg, arch), arch, w); err != nil {
		return err
	}
	fmt.Printf("wrote %s: random bf16 %s, %.1f MB of matrices\n", dir, name, float64(bytes)/1e6)
	return nil
}
