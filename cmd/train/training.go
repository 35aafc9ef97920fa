package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gopard/gopard/internal/gocorpus"
	"github.com/gopard/gopard/models"
	"github.com/gopard/gopard/models/llama"
	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/pard/train"
	"github.com/gopard/gopard/tensor"
	"github.com/gopard/gopard/tokenizer"
)

type trainFlags struct {
	// data
	data, ext, template string
	maxBytes            int
	out, checkpoint     string
	// pretrain
	tokenizerDir, init                              string
	hidden, layers, heads, kvHeads, headDim, interm int
	ropeTheta                                       float64
	context                                         int
	untied                                          bool
	// pard
	model     string
	paraNum   int
	pardToken int
	r, rMin   float64
	// optimisation
	seq, batch, steps, warmup    int
	stopAfter                    int
	lr, minLR, weightDecay, clip float64
	schedule                     string
	seed                         uint64
	threads                      int
	checkpointEvery, evalEvery   int
	evalSeqs, logEvery           int
	resume, quiet                bool
	grow                         bool // pretrain --init with --layers given
}

func parseTrainFlags(mode string, args []string, stderr io.Writer) (*trainFlags, error) {
	f := &trainFlags{}
	fs := flag.NewFlagSet("train "+mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.data, "data", gocorpus.Root(), "training data: a directory (files with --ext; a Go source tree leaves out gocorpus.Holdout), a .jsonl of conversations, or a text file")
	fs.StringVar(&f.ext, "ext", ".go", "file extension to read in a --data directory")
	fs.StringVar(&f.template, "template", "auto", "prompt template for .jsonl conversations: llama3, qwen, r1, plain, or auto (from the tokenizer's special tokens)")
	fs.IntVar(&f.maxBytes, "max-bytes", 0, "read at most this many bytes of training text (0: all)")
	fs.StringVar(&f.out, "out", "", "output model directory (Hugging Face layout, bf16 safetensors)")
	fs.StringVar(&f.checkpoint, "checkpoint", "", "checkpoint directory (default: OUT/checkpoint)")
	fs.IntVar(&f.seq, "seq", 512, "tokens per training sequence")
	fs.IntVar(&f.batch, "batch", 8, "sequences per optimizer step (gradients accumulated)")
	fs.IntVar(&f.steps, "steps", 1000, "optimizer steps")
	fs.IntVar(&f.stopAfter, "stop-after", 0, "stop after this many steps in this run (0: run to --steps), writing the checkpoint and the model; continue with --resume and the same --steps and --threads (the learning-rate schedule spans --steps) for the model of one uninterrupted run, bit for bit")
	fs.IntVar(&f.warmup, "warmup", -1, "linear warm-up steps (-1: 5% of --steps for pretrain, 0 for pard)")
	fs.Float64Var(&f.lr, "lr", 0, "peak learning rate (0: 1e-3 for pretrain, 3e-4 for pard)")
	fs.Float64Var(&f.minLR, "min-lr", -1, "final learning rate of the cosine schedule (-1: lr/10)")
	fs.StringVar(&f.schedule, "schedule", "cosine", "learning-rate schedule: cosine (after warm-up) or constant")
	fs.Float64Var(&f.weightDecay, "weight-decay", 0.1, "AdamW decoupled weight decay on matrices")
	fs.Float64Var(&f.clip, "clip", 1, "clip the global gradient norm to this (0: off)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed: initialisation, data order and COD")
	fs.IntVar(&f.threads, "threads", 0, "worker threads (0: all cores); results are reproducible for a given count")
	fs.IntVar(&f.checkpointEvery, "checkpoint-every", 100, "write a checkpoint every N steps (0: only at the end)")
	fs.IntVar(&f.evalEvery, "eval-every", 100, "evaluate the held-out loss every N steps (0: only at the end)")
	fs.IntVar(&f.evalSeqs, "eval-seqs", 8, "held-out sequences in an evaluation")
	fs.IntVar(&f.logEvery, "log-every", 10, "progress line every N steps")
	fs.BoolVar(&f.resume, "resume", false, "continue from the checkpoint in --checkpoint")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress lines")
	if mode == "pretrain" {
		fs.StringVar(&f.tokenizerDir, "tokenizer", "", "directory with tokenizer.json (from train tokenizer)")
		fs.IntVar(&f.hidden, "hidden", 512, "hidden size")
		fs.IntVar(&f.layers, "layers", 5, "decoder layers")
		fs.IntVar(&f.heads, "heads", 8, "attention heads")
		fs.IntVar(&f.kvHeads, "kv-heads", 4, "key/value heads (grouped-query attention)")
		fs.IntVar(&f.headDim, "head-dim", 0, "head dimension (0: hidden/heads)")
		fs.IntVar(&f.interm, "intermediate", 1408, "MLP intermediate size")
		fs.Float64Var(&f.ropeTheta, "rope-theta", 10000, "RoPE base")
		fs.IntVar(&f.context, "context", 1024, "max_position_embeddings written to config.json")
		fs.BoolVar(&f.untied, "untied", false, "a separate LM head instead of the tied embedding")
		fs.StringVar(&f.init, "init", "", "continue training this autoregressive model directory instead of a fresh one (its shape and, without --tokenizer, its tokenizer); a larger --layers grows it first with new layers that leave its output unchanged until trained (train.Grow)")
		f.paraNum = 1
	} else {
		fs.StringVar(&f.model, "model", "", "autoregressive model directory to adapt (Llama, Qwen2 or Qwen3, any dtype)")
		fs.IntVar(&f.paraNum, "para-num", 8, "PARD blocks P: the draft predicts up to P tokens at once (≥ the K used at inference)")
		fs.IntVar(&f.pardToken, "pard-token", -1, "mask token id (-1: the model's pard_token, else an unused id: past the tokenizer's vocabulary or a reserved special token)")
		fs.Float64Var(&f.r, "r", 0.7, "COD keep ratio r: block i keeps max(r^i, r-min) of its positions")
		fs.Float64Var(&f.rMin, "r-min", 0.2, "COD minimum keep ratio")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if f.lr == 0 {
		f.lr = map[string]float64{"pretrain": 1e-3, "pard": 3e-4}[mode]
	}
	if f.minLR < 0 {
		f.minLR = f.lr / 10
	}
	if f.warmup < 0 {
		f.warmup = 0
		if mode == "pretrain" {
			f.warmup = f.steps / 20
		}
	}
	if f.checkpoint == "" && f.out != "" {
		f.checkpoint = filepath.Join(f.out, "checkpoint")
	}
	switch {
	case f.maxBytes < 0:
		return nil, fmt.Errorf("--max-bytes %d is negative", f.maxBytes)
	case f.threads < 0 || f.threads > 1024:
		return nil, fmt.Errorf("--threads %d: want 0..1024", f.threads)
	case f.checkpointEvery < 0 || f.evalEvery < 0 || f.logEvery < 0 || f.evalSeqs < 0:
		return nil, fmt.Errorf("--checkpoint-every, --eval-every, --log-every and --eval-seqs must not be negative")
	case f.steps < 1 || f.steps > 1e8:
		return nil, fmt.Errorf("--steps %d: want 1..1e8", f.steps)
	case f.stopAfter < 0:
		return nil, fmt.Errorf("--stop-after %d is negative", f.stopAfter)
	}
	if _, ok := templates[f.template]; !ok && f.template != "auto" {
		return nil, fmt.Errorf("--template %q: want llama3, qwen, r1, plain or auto", f.template)
	}
	if mode == "pretrain" && f.init != "" {
		var shaped []string
		fs.Visit(func(fl *flag.Flag) {
			switch fl.Name {
			case "hidden", "heads", "kv-heads", "head-dim", "intermediate", "rope-theta", "context", "untied":
				shaped = append(shaped, "--"+fl.Name)
			case "layers":
				f.grow = true
			}
		})
		if len(shaped) > 0 {
			return nil, fmt.Errorf("%s: the shape comes from --init's model (only --layers may grow it)", strings.Join(shaped, ", "))
		}
		if f.tokenizerDir == "" {
			f.tokenizerDir = f.init
		}
	}
	if mode == "pretrain" {
		if err := nonEmpty("tokenizer", f.tokenizerDir); err != nil {
			return nil, err
		}
		if f.headDim == 0 && f.heads > 0 {
			if f.hidden%f.heads != 0 {
				return nil, fmt.Errorf("--hidden %d is not a multiple of --heads %d: set --head-dim", f.hidden, f.heads)
			}
			f.headDim = f.hidden / f.heads
		}
	} else if err := nonEmpty("model", f.model); err != nil {
		return nil, err
	}
	return f, checkOut(f.out)
}

func runTraining(mode string, args []string, stdout, stderr io.Writer) error {
	f, err := parseTrainFlags(mode, args, stderr)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) {
		if !f.quiet {
			fmt.Fprintf(stderr, format, a...)
		}
	}
	cpu := ops.NewCPU(f.threads)
	defer cpu.Pool().Close()

	// The model: fresh, or the AR checkpoint to adapt.
	var (
		m      *train.Model
		hf     *llama.HFConfig
		tok    *tokenizer.Tokenizer
		tokDir string
		rawCfg map[string]json.RawMessage // the adapted model's config.json, kept whole
	)
	switch {
	case mode == "pretrain" && f.init != "":
		tokDir = f.tokenizerDir
		if tok, err = tokenizer.Load(tokDir); err != nil {
			return err
		}
		if m, hf, _, rawCfg, err = loadTrainModel(cpu, f.init); err != nil {
			return err
		}
		if f.grow && f.layers != m.Cfg.Layers {
			if f.layers < m.Cfg.Layers {
				return fmt.Errorf("--layers %d: %s has %d layers, and --init can only add layers", f.layers, f.init, m.Cfg.Layers)
			}
			logf("pretrain: growing %s from %d to %d layers\n", f.init, m.Cfg.Layers, f.layers)
			if m, err = train.Grow(m, f.layers); err != nil {
				return fmt.Errorf("%s: %w", f.init, err)
			}
		}
		// The source's config (its eos ids, rope details…) with the new
		// depth; an AR model, whatever it started from.
		hf.NumLayers, hf.PardToken, hf.SpdType = m.Cfg.Layers, nil, ""
		delete(rawCfg, "pard_token")
		delete(rawCfg, "spd_type")
	case mode == "pretrain":
		tokDir = f.tokenizerDir
		if tok, err = tokenizer.Load(tokDir); err != nil {
			return err
		}
		cfg := nn.Config{Hidden: f.hidden, Intermediate: f.interm, Layers: f.layers, Heads: f.heads, KVHeads: f.kvHeads,
			HeadDim: f.headDim, Vocab: tok.VocabSize(), NormEps: 1e-5, RoPE: nn.RoPEConfig{Theta: f.ropeTheta},
			MaxPositions: f.context, Tied: !f.untied}
		arch := llama.Arch{Name: "llama"}
		if m, err = train.NewModel(cfg, arch); err != nil {
			return err
		}
		m.Init(rand.New(rand.NewPCG(f.seed, 1)))
		hf = llama.NewHFConfig(cfg, arch)
	default:
		tokDir = f.model
		if tok, err = tokenizer.Load(tokDir); err != nil {
			return err
		}
		var srcPard int
		if m, hf, srcPard, rawCfg, err = loadTrainModel(cpu, f.model); err != nil {
			return err
		}
		if f.pardToken < 0 {
			id, how, err := chooseMaskToken(tok, m.Cfg.Vocab, srcPard)
			if err != nil {
				return fmt.Errorf("%s: %w", f.model, err)
			}
			f.pardToken = int(id)
			logf("pard: mask token %d (%s)\n", id, how)
		} else if f.pardToken >= m.Cfg.Vocab {
			return fmt.Errorf("--pard-token %d is outside the vocabulary of %d rows", f.pardToken, m.Cfg.Vocab)
		}
	}
	eosID, ok := tok.EOS()
	if !ok {
		if id, ok2 := tok.TokenID(EOS); ok2 {
			eosID = id
		} else {
			return fmt.Errorf("%s: the tokenizer has no EOS token to separate documents", tokDir)
		}
	}
	if int(eosID) >= m.Cfg.Vocab || tok.VocabSize() > m.Cfg.Vocab {
		return fmt.Errorf("tokenizer in %s has %d tokens but the model has %d vocabulary rows", tokDir, tok.VocabSize(), m.Cfg.Vocab)
	}

	// Data.
	tmpl := f.template
	if tmpl == "auto" {
		tmpl = guessTemplate(tok)
	}
	t0 := time.Now()
	docs, err := readDocuments(f.data, f.ext, tmpl, f.maxBytes, false)
	if err != nil {
		return err
	}
	tokens := tokenize(tok, docs, eosID, f.threads)
	var evalTokens []int32
	if fileIsDir(f.data) && f.ext == ".go" {
		if held, err := readDocuments(f.data, f.ext, tmpl, 8<<20, true); err == nil {
			evalTokens = tokenize(tok, held, eosID, f.threads)
		}
	}
	if len(evalTokens) < f.seq+1 && len(tokens) > 20*(f.seq+1) {
		// No held-out packages: hold out the tail of the stream.
		cut := len(tokens) - max(f.seq+1, len(tokens)/50)
		tokens, evalTokens = tokens[:cut], tokens[cut:]
	}
	logf("%s: %d documents, %.1f MB, %d tokens (%.2f bytes/token) in %s; %d held-out tokens\n", mode, len(docs.texts),
		float64(docs.bytes)/1e6, len(tokens), float64(docs.bytes)/float64(max(1, len(tokens))), time.Since(t0).Round(time.Millisecond), len(evalTokens))
	var evalSeqs [][]int32
	if n := len(evalTokens) / (f.seq + 1); n > 0 {
		step := n / min(n, max(1, f.evalSeqs))
		for i := 0; i < n && len(evalSeqs) < f.evalSeqs; i += max(1, step) {
			evalSeqs = append(evalSeqs, evalTokens[i*(f.seq+1):(i+1)*(f.seq+1)])
		}
	}

	opt := train.Options{SeqLen: f.seq, Batch: f.batch, P: f.paraNum, R: f.r, RMin: f.rMin, MaskID: int32(f.pardToken),
		WeightDecay: f.weightDecay, Clip: f.clip, Seed: f.seed,
		Schedule: train.Schedule{Kind: f.schedule, LR: f.lr, MinLR: f.minLR, Warmup: f.warmup, Steps: f.steps}}
	tr, err := train.NewTrainer(m, cpu, opt, &train.Windows{Tokens: tokens})
	if err != nil {
		return err
	}
	if f.resume {
		if err := tr.Resume(f.checkpoint); err != nil {
			return err
		}
		logf("%s: resumed at step %d from %s\n", mode, tr.StepsDone(), f.checkpoint)
		// The checkpoint's settings win, so that the run continues as it
		// began; say so when the flags asked for something else.
		if got := tr.O; got.SeqLen != opt.SeqLen || got.Batch != opt.Batch || got.P != opt.P || got.Seed != opt.Seed ||
			got.R != opt.R || got.RMin != opt.RMin || got.MaskID != opt.MaskID || got.Schedule.LR != opt.Schedule.LR {
			fmt.Fprintf(stderr, "%s: warning: continuing with the checkpoint's settings (seq %d, batch %d, para-num %d, seed %d, r %v, r-min %v, mask %d, lr %v), not the flags'\n",
				mode, got.SeqLen, got.Batch, got.P, got.Seed, got.R, got.RMin, got.MaskID, got.Schedule.LR)
		}
	}
	c := m.Cfg
	logf("%s: %d parameters (%.1f MB as bf16), %d layers, hidden %d, heads %d/%d, vocab %d; P=%d; %d steps × %d sequences × %d tokens; %s\n",
		mode, m.NumParams(), float64(2*m.NumParams())/1e6, c.Layers, c.Hidden, c.Heads, c.KVHeads, c.Vocab, f.paraNum,
		f.steps, f.batch, f.seq, cpu.Name())

	evaluate := func() float64 {
		if len(evalSeqs) == 0 {
			return math.NaN()
		}
		l, err := tr.Evaluate(evalSeqs, 1)
		if err != nil {
			return math.NaN()
		}
		return l
	}
	start := time.Now()
	startStep := tr.StepsDone()
	var rows, toks int
	var flops float64
	var last train.StepStats
	for tr.StepsDone() < f.steps && (f.stopAfter == 0 || tr.StepsDone()-startStep < f.stopAfter) {
		st, err := tr.Step()
		if err != nil {
			return err
		}
		last = st
		rows += st.Rows
		toks += f.batch * f.seq
		flops += st.FLOPs
		el := time.Since(start).Seconds()
		done := st.Step - startStep
		if f.logEvery > 0 && (st.Step%f.logEvery == 0 || st.Step == f.steps) {
			eta := time.Duration(el / float64(done) * float64(f.steps-st.Step) * float64(time.Second))
			logf("%s %s step %d/%d  loss %.4f  |g| %.2f  lr %.2e  %.0f tok/s (%.0f rows/s, %.1f GFLOP/s)  ETA %s\n",
				mode, bar(st.Step, f.steps), st.Step, f.steps, st.Loss, st.GradNorm, st.LR, float64(toks)/el,
				float64(rows)/el, flops/el/1e9, eta.Round(time.Second))
		}
		if f.evalEvery > 0 && st.Step%f.evalEvery == 0 && st.Step < f.steps {
			logf("%s: step %d held-out loss %.4f\n", mode, st.Step, evaluate())
		}
		if f.checkpointEvery > 0 && st.Step%f.checkpointEvery == 0 && st.Step < f.steps {
			if err := tr.SaveCheckpoint(f.checkpoint); err != nil {
				return err
			}
		}
	}
	if err := tr.SaveCheckpoint(f.checkpoint); err != nil {
		return err
	}
	evalLoss := evaluate()

	// The model directory.
	if mode == "pard" {
		pt := int64(f.pardToken)
		hf.PardToken, hf.SpdType = &pt, "pard"
	}
	if len(hf.EOSTokenID) == 0 {
		hf.EOSTokenID = json.RawMessage(fmt.Sprint(eosID))
	}
	hf.TorchDType = "bfloat16"
	if err := llama.Save(f.out, hf, m.Arch, m.Weights(tensor.BF16)); err != nil {
		return err
	}
	if rawCfg != nil {
		if err := mergeConfig(f.out, rawCfg); err != nil {
			return err
		}
	}
	if err := copyTokenizerFiles(tokDir, f.out); err != nil {
		return err
	}
	el := time.Since(start)
	of := ""
	if tr.StepsDone() < f.steps {
		of = fmt.Sprintf(" of %d (continue with --resume)", f.steps)
	}
	fmt.Fprintf(stdout, "%s: wrote %s after %d steps%s: final training loss %.4f, held-out loss %.4f; %s, %.0f tokens/s, %.1f GFLOP/s\n",
		mode, f.out, tr.StepsDone(), of, last.Loss, evalLoss, el.Round(time.Second), float64(toks)/el.Seconds(), flops/el.Seconds()/1e9)
	return nil
}

// loadTrainModel reads the model in dir (any supported architecture and
// dtype) as a float32 training model, with its Hugging Face config, its
// pard_token (or whatever models.Load reports without one) and its
// config.json whole, so that the keys gopard does not model survive.
func loadTrainModel(cpu *ops.CPU, dir string) (*train.Model, *llama.HFConfig, int, map[string]json.RawMessage, error) {
	src, err := models.Load(dir, llama.Options{Backend: cpu, Context: 16})
	if err != nil {
		return nil, nil, 0, nil, err
	}
	m, err := train.FromWeights(src.Config(), src.Arch, src.Weights())
	src.Close() // FromWeights copied what it needs
	if err != nil {
		return nil, nil, 0, nil, fmt.Errorf("%s: %w", dir, err)
	}
	var raw map[string]json.RawMessage
	if js, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
		_ = json.Unmarshal(js, &raw)
	}
	return m, src.HF, int(src.PardToken), raw, nil
}

func fileIsDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// bar draws a 20-cell progress bar.
func bar(done, total int) string {
	n := 20 * done / max(1, total)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", 20-n) + "]"
}

// chooseMaskToken picks PARD's mask token for a model without one: the
// model's own pard_token if it has one; else the first embedding row past
// the tokenizer's vocabulary (Qwen2.5 pads its embedding to 151936 rows,
// 151665 being the reference's choice); else the first reserved special
// token ("<|reserved_special_token_12|>"-style names, as for Llama 3).
func chooseMaskToken(tok *tokenizer.Tokenizer, rows int, modelPard int) (int32, string, error) {
	if modelPard >= 0 {
		return int32(modelPard), "the model's pard_token", nil
	}
	if n := tok.VocabSize(); n < rows {
		return int32(n), fmt.Sprintf("the first of %d embedding rows past the tokenizer's %d tokens", rows-n, n), nil
	}
	best, name := int32(-1), ""
	for s, id := range tok.SpecialIDs() {
		if strings.Contains(s, "reserved") && (best < 0 || id < best) {
			best, name = id, s
		}
	}
	if best >= 0 {
		return best, "reserved special token " + name, nil
	}
	return 0, "", fmt.Errorf("no unused token id found (no embedding rows past the tokenizer's vocabulary, no reserved special token): pass --pard-token")
}

// mergeConfig rewrites dir/config.json as the adapted model's original
// config with the keys Save wrote on top, so that fields gopard does not
// model (quantisation hints, rope details, auto_map…) survive adaptation.
func mergeConfig(dir string, orig map[string]json.RawMessage) error {
	p := filepath.Join(dir, "config.json")
	js, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var fresh map[string]json.RawMessage
	if err := json.Unmarshal(js, &fresh); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	for k, v := range fresh {
		if string(v) == "null" {
			continue
		}
		orig[k] = v
	}
	out, err := json.MarshalIndent(orig, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(p, append(out, '\n'), 0o644)
}

// copyTokenizerFiles copies the tokenizer (and generation) files of src
// into dst unchanged, as PARD adaptation keeps the base tokenizer.
func copyTokenizerFiles(src, dst string) error {
	if src == dst {
		return nil
	}
	for _, name := range []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "chat_template.jinja"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
