// Command eval is gopard's equivalent of the PARD reference's pard.infer:
// it runs benchmark prompts (JSONL, field "data") through AR, VSD and PARD
// decoding over a grid of K values in one process, and prints a table of
// tokens per second, speedup over AR and mean accepted length, and writes
// one JSON line per grid cell.
//
//	go run ./cmd/eval -t TARGET -d PARD_DRAFT -k 4,8,12 -b humaneval,gsm8k
//	go run ./cmd/eval -k 2,4,8 -n 20      # the embedded Go models on held-out Go code
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gopard/gopard/internal/cli"
	"github.com/gopard/gopard/internal/defaultmodel"
	"github.com/gopard/gopard/internal/gocorpus"
	"github.com/gopard/gopard/models/llama"
	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/pard"
	"github.com/gopard/gopard/tokenizer"
)

type config struct {
	target, draft, arDraft string
	ks                     []int
	minConfs               []float32
	modes                  []pard.Mode
	benchmarks             []string
	dataDir, out, serie    string
	limit, tokens, maxLen  int
	warmup, threads        int
	pardToken              int
	bf16Flag               cli.BF16Activations
	embedded               bool // no --target: the embedded Go models
	kvCache                string
	draftAct               string
	cpuProfile             string
	interleave             bool
	device                 string
}

func main() {
	c, err := parseFlags(os.Args[1:], os.Stderr)
	if err == flag.ErrHelp {
		os.Exit(0)
	}
	if err != nil {
		cli.Fatal("eval", err)
	}
	if err := run(c, os.Stdout, os.Stderr); err != nil {
		cli.Fatal("eval", err)
	}
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ks, minConfs, modes, bench string
	for _, n := range []string{"target", "t", "model"} {
		fs.StringVar(&c.target, n, "", "target model directory (with tokenizer.json and a chat template)")
	}
	for _, n := range []string{"draft", "d"} {
		fs.StringVar(&c.draft, n, "", "PARD draft directory (config.json with pard_token)")
	}
	fs.StringVar(&c.arDraft, "ar-draft", "", "autoregressive draft for VSD (default: the PARD draft, run autoregressively)")
	for _, n := range []string{"k", "draft_k"} {
		fs.StringVar(&ks, n, "12", "comma-separated draft lengths K to evaluate")
	}
	fs.StringVar(&minConfs, "min-confidence", "0", cli.MinConfidenceHelp+"; comma-separated values make more cells of the grid")
	fs.StringVar(&modes, "modes", "", "comma-separated modes among ar,vsd,pard (default: ar, plus vsd and pard when a draft is given)")
	for _, n := range []string{"benchmark", "b"} {
		fs.StringVar(&bench, n, "", "comma-separated benchmarks: humaneval, gsm8k, math_500 (alias math500), go (completion prompts cut from the held-out packages of $(go env GOROOT)/src, no chat template), or paths to JSONL files (default: humaneval; go for the embedded models)")
	}
	fs.StringVar(&c.dataDir, "data", "", "directory of the benchmark JSONL files (default: datas/bmk, ../shared/data/bmk or shared/data/bmk, first found)")
	fs.IntVar(&c.limit, "n", 0, "use only the first n prompts of each benchmark (0: all)")
	for _, n := range []string{"tokens", "max-tokens"} {
		fs.IntVar(&c.tokens, n, 512, "maximum new tokens per prompt")
	}
	fs.IntVar(&c.maxLen, "max_cache_len", 0, "KV-cache capacity, prompt included; generation stops there (0: the longest prompt + --tokens + K + 1)")
	fs.IntVar(&c.warmup, "warmup", 8, "prompts run untimed before each grid cell")
	for _, n := range []string{"model_serie", "ms"} {
		fs.StringVar(&c.serie, n, "", "llama3|qwen|r1: chat prompt style (inferred from the target's name)")
	}
	fs.StringVar(&c.out, "out", "", "results JSONL file (default: results/<timestamp>.jsonl)")
	fs.IntVar(&c.threads, "threads", 0, "CPU threads (0: all cores)")
	fs.StringVar(&c.device, "device", "auto", cli.FallBackHelp)
	fs.Var(&c.bf16Flag, "bf16-activations", cli.BF16ActivationsHelp)
	fs.StringVar(&c.kvCache, "kv-cache", "f32", cli.KVCacheHelp)
	fs.StringVar(&c.draftAct, "draft-activations", "bf16", cli.DraftActivationsHelp)
	fs.BoolVar(&c.interleave, "interleave", false, "run every grid cell on a prompt before the next prompt, instead of one cell after the other: on a machine whose speed drifts, the cells' speeds (and speedups) are then measured under the same conditions")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (models loaded, warm-ups and timed prompts) to this file, for go tool pprof")
	fs.IntVar(&c.pardToken, "pard-token", -1, "PARD mask token id (default: the draft's pard_token)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if _, err := cli.ParseDraftActivations(c.draftAct); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.target == "" {
		if c.draft != "" || c.arDraft != "" {
			return nil, fmt.Errorf("--draft or --ar-draft without --target (-t) DIR")
		}
		// No model: the embedded Go models (target, PARD draft, AR draft).
		dirs, err := defaultmodel.Dirs()
		if err != nil {
			return nil, err
		}
		c.target, c.draft, c.arDraft = dirs.Target, dirs.PARD, dirs.Draft
		c.embedded = true
		if bench == "" {
			bench = "go"
		}
	}
	if bench == "" {
		bench = "humaneval"
	}
	for _, f := range strings.Split(ks, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 0 || k > pard.MaxK {
			return nil, fmt.Errorf("-k %q: want comma-separated integers in [0, %d]", ks, pard.MaxK)
		}
		c.ks = append(c.ks, k)
	}
	for _, f := range strings.Split(minConfs, ",") {
		mc, err := cli.ParseMinConfidence(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("--min-confidence %q: %w", minConfs, err)
		}
		c.minConfs = append(c.minConfs, mc)
	}
	if modes == "" {
		modes = "ar"
		if c.draft != "" || c.arDraft != "" {
			modes += ",vsd"
		}
		if c.draft != "" {
			modes += ",pard"
		}
	}
	for _, f := range strings.Split(modes, ",") {
		m, err := pard.ParseMode(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("--modes: %w", err)
		}
		if m == pard.PARD && c.draft == "" {
			return nil, fmt.Errorf("--modes pard needs --draft DIR")
		}
		if m == pard.VSD && c.draft == "" && c.arDraft == "" {
			return nil, fmt.Errorf("--modes vsd needs --ar-draft DIR or --draft DIR")
		}
		c.modes = append(c.modes, m)
	}
	for _, b := range strings.Split(bench, ",") {
		if b = strings.TrimSpace(b); b == "math500" {
			b = "math_500"
		}
		c.benchmarks = append(c.benchmarks, b)
	}
	switch {
	case c.limit < 0:
		return nil, fmt.Errorf("-n %d: must not be negative", c.limit)
	case c.tokens < 1:
		return nil, fmt.Errorf("--tokens %d: must be at least 1", c.tokens)
	case c.warmup < 0:
		return nil, fmt.Errorf("--warmup %d: must not be negative", c.warmup)
	case c.maxLen < 0:
		return nil, fmt.Errorf("--max_cache_len %d: must not be negative", c.maxLen)
	}
	return c, nil
}

// readBenchmark returns the "data" field of every line of a JSONL file.
func readBenchmark(c *config, name string) ([]string, error) {
	path := name
	if !strings.HasSuffix(name, ".jsonl") {
		dirs := []string{c.dataDir}
		if c.dataDir == "" {
			dirs = []string{"datas/bmk", "../shared/data/bmk", "shared/data/bmk"}
		}
		path = ""
		for _, d := range dirs {
			if p := filepath.Join(d, name+".jsonl"); fileExists(p) {
				path = p
				break
			}
		}
		if path == "" {
			return nil, fmt.Errorf("benchmark %q: no %s.jsonl in %s (pass --data DIR)", name, name, strings.Join(dirs, ", "))
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("benchmark %s: %w", name, err)
	}
	defer f.Close()
	var prompts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var row struct {
			Data *string `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil || row.Data == nil {
			return nil, fmt.Errorf("%s:%d: want a JSON object with a string field \"data\"", path, line)
		}
		prompts = append(prompts, *row.Data)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.limit > 0 && len(prompts) > c.limit {
		prompts = prompts[:c.limit]
	}
	if len(prompts) == 0 {
		return nil, fmt.Errorf("%s: no prompts", path)
	}
	return prompts, nil
}

// goPrompts cuts n (default 40) completion prompts of up to 800 bytes
// (about 300 tokens) from the held-out packages of the Go source tree.
func goPrompts(n int) ([]string, error) {
	if n == 0 {
		n = 40
	}
	_, held, err := gocorpus.Files(gocorpus.Root())
	if err != nil {
		return nil, err
	}
	ps, err := gocorpus.Prompts(held, n, 800)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Text
	}
	return out, nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// cell is one row of the grid's results.
type cell struct {
	Benchmark string `json:"benchmark"`
	Mode      string `json:"mode"`
	K         int    `json:"k"`
	// MinConfidence is pard.Options.MinConfidence (0: every draft verified).
	MinConfidence float32 `json:"min_confidence"`
	Target        string  `json:"target"`
	Draft         string  `json:"draft,omitempty"`
	Prompts       int     `json:"prompts"`
	Tokens        int     `json:"tokens"`
	Seconds       float64 `json:"seconds"`
	TokenPerSec   float64 `json:"token_per_sec"`
	AcceptLength  float64 `json:"accept_length"`
	// Verified is the mean number of drafts an iteration verified: K, less
	// where --min-confidence cut iterations (or the context's end did).
	Verified    float64   `json:"verified_per_iteration"`
	Acc         float64   `json:"acc"`
	PerDepth    []float64 `json:"per_depth_acceptance,omitempty"`
	TargetShare float64   `json:"target_time_share"`
	DraftShare  float64   `json:"draft_time_share"`
	SpeedupVsAR float64   `json:"speedup_vs_ar,omitempty"`
	// How the cell ran, so that result files compare like with like.
	Device          string `json:"device"`
	BF16Activations bool   `json:"bf16_activations"`
	KVCache         string `json:"kv_cache"`
	// DraftBF16 is whether the drafts' products took bf16 activations
	// (--draft-activations).
	DraftBF16 bool `json:"draft_bf16_activations"`
	// CPU names the processor (ops.CPUName) where the cell ran on one.
	CPU string `json:"cpu,omitempty"`
}

func run(c *config, stdout, stderr io.Writer) error {
	tok, err := tokenizer.Load(c.target)
	if err != nil {
		return err
	}
	serie := c.serie
	// Prompts, built as the reference does: the target's chat template, the
	// system prompt "You are a helpful assistant." (none for r1), the
	// generation prompt, thinking off, tokenized without added specials.
	// The go benchmark is raw code completion instead.
	prompts := map[string][][]int32{}
	longest := 0
	for _, b := range c.benchmarks {
		if b == "go" {
			texts, err := goPrompts(c.limit)
			if err != nil {
				return err
			}
			for _, text := range texts {
				ids := tok.Encode(text, true)
				longest = max(longest, len(ids))
				prompts[b] = append(prompts[b], ids)
			}
			continue
		}
		if serie == "" {
			if serie, err = cli.ModelSerie(c.target); err != nil {
				return err
			}
		}
		texts, err := readBenchmark(c, b)
		if err != nil {
			return err
		}
		for _, text := range texts {
			p, err := cli.ChatPrompt(c.target, cli.DefaultSystem(serie), text)
			if err != nil {
				return err
			}
			ids := tok.Encode(p, false)
			longest = max(longest, len(ids))
			prompts[b] = append(prompts[b], ids)
		}
	}
	maxK := 0
	for _, k := range c.ks {
		maxK = max(maxK, k)
	}
	// With --max_cache_len the sequence stops at that length, as the
	// reference's does; by default every prompt gets its full --tokens.
	capacity := c.maxLen
	if capacity == 0 {
		capacity = longest + c.tokens + maxK + 1
	}
	hf, err := llama.ReadConfig(c.target)
	if err != nil {
		return err
	}
	if hf.MaxPositions > 0 && capacity > hf.MaxPositions {
		capacity = hf.MaxPositions
	}

	ms, err := cli.FallBack(c.device, stderr, func(device string) (*models, error) {
		return openModels(c, device, tok, capacity, stderr)
	})
	if err != nil {
		return err
	}
	defer ms.close()
	backend, bf16On, draftBF16 := ms.backend, ms.bf16On, ms.draftBF16
	target, pardDraft, vsdDraft := ms.target, ms.pardDraft, ms.vsdDraft
	fmt.Fprintf(stderr, "eval: running on %s\n", backend.Name())
	cpuName := ""
	if _, onCPU := backend.(*ops.CPU); onCPU {
		cpuName = ops.CPUName()
	}

	outPath := c.out
	if outPath == "" {
		outPath = filepath.Join("results", time.Now().Format("20060102_150405")+".jsonl")
	}
	if err := os.MkdirAll(filepath.Dir(outPath), 0o755); err != nil {
		return err
	}
	outFile, err := os.Create(outPath)
	if err != nil {
		return err
	}
	defer outFile.Close()
	enc := json.NewEncoder(outFile)

	stopProfile, err := cli.StartCPUProfile(c.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()

	var cells []cell
	for _, b := range c.benchmarks {
		var specs []cellSpec
		for _, mode := range c.modes {
			ks, mcs := c.ks, c.minConfs
			if mode == pard.AR {
				ks, mcs = []int{0}, []float32{0}
			}
			for _, k := range ks {
				if mode != pard.AR && k == 0 {
					continue
				}
				for _, mc := range mcs {
					label := fmt.Sprintf("%s %s k=%d", b, mode, k)
					if mc > 0 {
						label += fmt.Sprintf(" min=%g", mc)
					}
					sp := cellSpec{label: label, target: target}
					switch mode {
					case pard.VSD:
						sp.draft, sp.draftDir = vsdDraft, firstNonEmpty(c.arDraft, c.draft)
					case pard.PARD:
						sp.draft, sp.draftDir = pardDraft, c.draft
					}
					sp.opt = pard.Options{Mode: mode, K: k, MaxNewTokens: c.tokens, MaxContext: capacity, Vocab: tok.VocabSize(), MinConfidence: mc}
					if c.pardToken >= 0 {
						sp.opt.PardToken = int32(c.pardToken)
					}
					specs = append(specs, sp)
				}
			}
		}
		var results []cell
		if c.interleave {
			if results, err = runInterleaved(prompts[b], specs, c.warmup, b+" interleaved", stderr); err != nil {
				return fmt.Errorf("%s: %w", b, err)
			}
		} else {
			for _, sp := range specs {
				r, err := runCell(prompts[b], sp, c.warmup, stderr)
				if err != nil {
					return fmt.Errorf("%s: %w", sp.label, err)
				}
				results = append(results, r)
			}
		}
		arSpeed := 0.0
		for i, r := range results {
			r.Benchmark, r.Target, r.Draft = b, c.target, specs[i].draftDir
			r.Device, r.BF16Activations, r.KVCache = backend.Name(), bf16On, c.kvCache
			r.DraftBF16, r.CPU = draftBF16 && r.Mode != "ar", cpuName
			if specs[i].opt.Mode == pard.AR {
				arSpeed = r.TokenPerSec
			} else if arSpeed > 0 {
				r.SpeedupVsAR = r.TokenPerSec / arSpeed
			}
			cells = append(cells, r)
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
	}
	printTable(stdout, cells)
	fmt.Fprintf(stderr, "results written to %s\n", outPath)
	return nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// cellSpec is one cell of the grid: a mode and K with its models.
type cellSpec struct {
	label         string
	target, draft pard.Model
	draftDir      string
	opt           pard.Options
}

// warmUp runs the first warmup prompts untimed.
func (sp cellSpec) warmUp(prompts [][]int32, warmup int, stderr io.Writer) error {
	for i := 0; i < min(warmup, len(prompts)); i++ {
		fmt.Fprintf(stderr, "\r%-28s warm-up %d/%d", sp.label, i+1, min(warmup, len(prompts)))
		if _, err := pard.Generate(sp.target, sp.draft, prompts[i], sp.opt); err != nil {
			return err
		}
	}
	return nil
}

// runCell warms up on the first prompts, then runs every prompt once and
// sums the statistics as the reference does (tokens/s = Σ tokens / Σ time,
// each prompt's prefill iteration excluded).
func runCell(prompts [][]int32, sp cellSpec, warmup int, stderr io.Writer) (cell, error) {
	cells, err := runInterleaved(prompts, []cellSpec{sp}, warmup, sp.label, stderr)
	if err != nil {
		return cell{}, err
	}
	return cells[0], nil
}

// runInterleaved is runCell for several cells at once: after each cell's
// warm-up, every prompt goes through all the cells before the next prompt,
// so that a drift in the machine's speed affects every cell alike.
func runInterleaved(prompts [][]int32, specs []cellSpec, warmup int, label string, stderr io.Writer) ([]cell, error) {
	for _, sp := range specs {
		if err := sp.warmUp(prompts, warmup, stderr); err != nil {
			return nil, fmt.Errorf("%s: %w", sp.label, err)
		}
	}
	sums := make([]pard.Stats, len(specs))
	tokens := make([]int, len(specs))
	var all pard.Stats
	allTokens := 0
	start := time.Now()
	for i, p := range prompts {
		for j, sp := range specs {
			res, err := pard.Generate(sp.target, sp.draft, p, sp.opt)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", sp.label, err)
			}
			sums[j].Add(res.Stats)
			tokens[j] += len(res.Output)
			all.Add(res.Stats)
			allTokens += len(res.Output)
		}
		progress(stderr, label, i+1, len(prompts), allTokens, all, start)
	}
	fmt.Fprintln(stderr)
	cells := make([]cell, len(specs))
	for j, sp := range specs {
		cells[j] = finishCell(sp.opt, len(prompts), tokens[j], sums[j])
	}
	return cells, nil
}

// finishCell turns a cell's summed statistics into its result.
func finishCell(opt pard.Options, prompts, tokens int, sum pard.Stats) cell {
	decode := (sum.Total - sum.PrefillTime).Seconds()
	r := cell{Mode: opt.Mode.String(), K: opt.K, MinConfidence: opt.MinConfidence, Prompts: prompts, Tokens: tokens, Seconds: decode,
		AcceptLength: sum.AcceptLength, Acc: sum.Acc, Verified: sum.Verified}
	if decode > 0 {
		r.TokenPerSec = float64(tokens) / decode
	}
	if sum.Total > 0 {
		r.TargetShare = sum.TargetTime.Seconds() / sum.Total.Seconds()
		r.DraftShare = sum.DraftTime.Seconds() / sum.Total.Seconds()
	}
	for _, v := range sum.PerDepth {
		if v != v {
			v = -1
		}
		r.PerDepth = append(r.PerDepth, v)
	}
	return r
}

func progress(w io.Writer, label string, done, total, tokens int, sum pard.Stats, start time.Time) {
	const width = 24
	filled := width * done / total
	elapsed := time.Since(start)
	eta := time.Duration(float64(elapsed) / float64(done) * float64(total-done))
	tps := 0.0
	if d := (sum.Total - sum.PrefillTime).Seconds(); d > 0 {
		tps = float64(tokens) / d
	}
	fmt.Fprintf(w, "\r%-28s %3d/%-3d |%s%s| %6.1f tok/s  AL %.2f  ETA %v   ", label, done, total,
		strings.Repeat("█", filled), strings.Repeat("·", width-filled), tps, sum.AcceptLength, eta.Round(time.Second))
}

func printTable(w io.Writer, cells []cell) {
	fmt.Fprintf(w, "\n%-12s %-5s %3s %8s %8s %10s %8s %9s %8s %6s\n", "benchmark", "mode", "K", "min_conf", "prompts", "tok/s", "speedup", "accept_len", "verified", "acc")
	for _, c := range cells {
		speed := "1.00x"
		if c.Mode != "ar" {
			speed = "-"
			if c.SpeedupVsAR > 0 {
				speed = fmt.Sprintf("%.2fx", c.SpeedupVsAR)
			}
		}
		fmt.Fprintf(w, "%-12s %-5s %3d %8g %8d %10.2f %8s %9.2f %8.2f %6.3f\n", c.Benchmark, c.Mode, c.K, c.MinConfidence, c.Prompts, c.TokenPerSec, speed, c.AcceptLength, c.Verified, c.Acc)
	}
}

// models are the backend eval runs on and the models it loaded there.
type models struct {
	backend           nn.Backend
	bf16On, draftBF16 bool // whether the target and the drafts take bf16 activations
	pair              *cli.Pair
	ar                *llama.Model // --ar-draft, or nil
	target, pardDraft pard.Model
	vsdDraft          pard.Model // the AR draft, or the PARD draft run as one
}

// openModels opens the backend of device (with --threads,
// --bf16-activations, --kv-cache and --draft-activations) and loads the
// target, the PARD draft and the --ar-draft onto it, leaving nothing open
// when one fails: cli.FallBack runs it again on the CPU when the models do
// not fit a GPU that --device auto chose.
func openModels(c *config, device string, tok *tokenizer.Tokenizer, capacity int, stderr io.Writer) (*models, error) {
	bs, note, err := cli.OpenBackends(device, c.threads, &c.bf16Flag, c.embedded, c.kvCache, c.draftAct)
	if err != nil {
		return nil, err
	}
	if note != "" {
		fmt.Fprintln(stderr, "eval: "+note)
	}
	c.kvCache = bs.KVCache
	b, draftB := bs.Target, bs.Draft
	ms := &models{backend: b, bf16On: bs.BF16, draftBF16: bs.DraftBF16}
	fail := func(err error) (*models, error) {
		ms.close()
		return nil, err
	}
	if ms.pair, err = cli.OpenPair(c.target, c.draft, tok, b, draftB, capacity, false); err != nil {
		return fail(err)
	}
	ms.target, ms.pardDraft = ms.pair.Models()
	ms.vsdDraft = ms.pardDraft
	if c.arDraft != "" {
		ar, info, err := ms.pair.OpenDraft(c.arDraft, draftB, capacity, false)
		if err != nil {
			return fail(err)
		}
		ms.ar, ms.vsdDraft = ar, pard.WithInfo(ar, info)
	}
	return ms, nil
}

// close releases the models, then the backend.
func (ms *models) close() {
	if ms.ar != nil {
		ms.ar.Close()
	}
	if ms.pair != nil {
		ms.pair.Close()
	}
	cli.CloseBackend(ms.backend)
}
