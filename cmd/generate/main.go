// Command generate continues a prompt with a target model, alone (AR) or
// sped up by a draft model: vanilla speculative decoding (VSD) with an
// autoregressive draft, or PARD with a parallel draft (--para). The output
// is exactly what the target alone produces (greedy: the same tokens;
// sampling: the same distribution).
//
//	go run ./cmd/generate --model DIR --prompt "Once upon a time"
//	go run ./cmd/generate -t TARGET -d PARD_DRAFT --para -k 8 --chat --prompt "Write a haiku"
//	go run ./cmd/generate --model DIR --ids 1,2,3 --max-tokens 32 --json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gopard/gopard/internal/cli"
	"github.com/gopard/gopard/models/llama"
	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/pard"
	"github.com/gopard/gopard/tokenizer"
)

type config struct {
	target, draft, tokenizerDir string
	k                           int
	minConf                     float32
	para                        bool
	maxTokens, maxCacheLen      int
	serie                       string
	ids, prompt, system         string
	chat, noSystem              bool
	temperature, topP           float64
	topK                        int
	seed                        uint64
	pardToken                   int
	threads                     int
	asJSON, ignoreEOS, quiet    bool
	demo, kSet, minConfSet      bool // no --model: the embedded models' side-by-side demo; -k, --min-confidence given
	bf16Flag                    cli.BF16Activations
	bf16Act                     bool // whether the target took bf16 activations (set by newBackend)
	kvCache                     string
	draftAct                    string
	draftBF16                   bool // whether the drafts took bf16 activations (set by newBackend)
	device                      string
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, name := range []string{"target", "model", "t"} {
		fs.StringVar(&c.target, name, "", "target model directory (config.json, safetensors, tokenizer.json)")
	}
	for _, name := range []string{"draft", "d"} {
		fs.StringVar(&c.draft, name, "", "draft model directory: a PARD draft with --para, else an AR draft (VSD)")
	}
	for _, name := range []string{"k", "draft_k"} {
		fs.IntVar(&c.k, name, 12, "draft tokens per iteration (0: the target alone, AR)")
	}
	fs.Func("min-confidence", cli.MinConfidenceHelp+" (default 0)", func(s string) (err error) {
		c.minConf, err = cli.ParseMinConfidence(s)
		return err
	})
	fs.BoolVar(&c.para, "para", false, "the draft is a PARD parallel draft: one draft forward proposes k tokens")
	for _, name := range []string{"max-tokens", "tokens"} {
		fs.IntVar(&c.maxTokens, name, 512, "maximum number of tokens to generate")
	}
	fs.IntVar(&c.maxCacheLen, "max_cache_len", 0, "KV-cache capacity in positions, prompt included (0: prompt + max-tokens + k + 1, within max_position_embeddings)")
	for _, name := range []string{"model_serie", "ms"} {
		fs.StringVar(&c.serie, name, "", "llama3|qwen|r1: picks the default --chat system prompt (inferred from the target's name)")
	}
	fs.StringVar(&c.tokenizerDir, "tokenizer", "", "tokenizer directory (default: the target's)")
	fs.StringVar(&c.ids, "ids", "", "prompt as token ids, comma-separated (no tokenizer needed)")
	fs.StringVar(&c.prompt, "prompt", "", "prompt text")
	fs.BoolVar(&c.chat, "chat", false, "wrap --prompt in the target's chat template as a user message")
	fs.StringVar(&c.system, "system", "", `system message for --chat (default: "You are a helpful assistant.", none for r1)`)
	fs.BoolVar(&c.noSystem, "no-system", false, "no system message with --chat")
	fs.Float64Var(&c.temperature, "temperature", 0, "sampling temperature (0: greedy)")
	fs.IntVar(&c.topK, "top-k", 0, "sample from the k most likely tokens (0: all)")
	fs.Float64Var(&c.topP, "top-p", 1, "sample from the smallest set of tokens whose probability reaches p (1: all)")
	fs.Uint64Var(&c.seed, "seed", 0, "sampling seed")
	fs.IntVar(&c.pardToken, "pard-token", -1, "PARD mask token id (default: the draft config.json's pard_token)")
	fs.IntVar(&c.threads, "threads", 0, "CPU threads (0: all cores)")
	fs.StringVar(&c.device, "device", "auto", cli.FallBackHelp)
	fs.Var(&c.bf16Flag, "bf16-activations", cli.BF16ActivationsHelp)
	fs.StringVar(&c.kvCache, "kv-cache", "f32", cli.KVCacheHelp)
	fs.StringVar(&c.draftAct, "draft-activations", "bf16", cli.DraftActivationsHelp)
	fs.BoolVar(&c.asJSON, "json", false, "print one JSON object instead of streaming text")
	fs.BoolVar(&c.ignoreEOS, "ignore-eos", false, "keep generating past end-of-sequence tokens")
	fs.BoolVar(&c.quiet, "quiet", false, "no loading or statistics lines on stderr")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: generate [--model DIR (--prompt TEXT | --ids 1,2,3)] [flags]\n\nWith no model, the embedded Go models complete a Go snippet (or --prompt) with AR, VSD and PARD side by side.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if _, err := cli.ParseDraftActivations(c.draftAct); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c.kSet = set["k"] || set["draft_k"]
	c.minConfSet = set["min-confidence"]
	if c.target == "" && c.draft == "" && c.ids == "" && !c.chat && c.temperature == 0 {
		// No model: the embedded Go models' demo, 128 tokens unless asked.
		c.demo = true
		if !set["max-tokens"] && !set["tokens"] {
			c.maxTokens = 128
		}
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q (flags come as --name value)", fs.Arg(0))
	case c.demo:
		if c.k < 1 && c.kSet {
			return nil, fmt.Errorf("-k %d: the demo compares speculative modes, give k ≥ 1", c.k)
		}
	case c.target == "":
		return nil, fmt.Errorf("--model (or --target, -t) DIR is required (or no model flags at all for the embedded demo)")
	case c.ids != "" && c.prompt != "":
		return nil, fmt.Errorf("give --ids or --prompt, not both")
	case c.ids == "" && c.prompt == "":
		return nil, fmt.Errorf("give a prompt: --prompt TEXT or --ids 1,2,3")
	case c.chat && c.ids != "":
		return nil, fmt.Errorf("--chat needs --prompt text, not --ids")
	case c.k < 0 || c.k > pard.MaxK:
		return nil, fmt.Errorf("-k %d: must be in [0, %d]", c.k, pard.MaxK)
	case c.maxTokens < 1:
		return nil, fmt.Errorf("--max-tokens %d: must be at least 1", c.maxTokens)
	case c.maxCacheLen < 0:
		return nil, fmt.Errorf("--max_cache_len %d: must not be negative", c.maxCacheLen)
	case c.para && c.draft == "":
		return nil, fmt.Errorf("--para needs a PARD draft: --draft DIR")
	case c.temperature < 0 || c.temperature > 100:
		return nil, fmt.Errorf("--temperature %v: must be in [0, 100]", c.temperature)
	case c.topK < 0:
		return nil, fmt.Errorf("--top-k %d: must not be negative", c.topK)
	case c.topP <= 0 || c.topP > 1:
		return nil, fmt.Errorf("--top-p %v: must be in (0, 1]", c.topP)
	case c.threads < 0 || c.threads > 1024:
		return nil, fmt.Errorf("--threads %d: must be in [0, 1024]", c.threads)
	}
	if c.draft == "" && !c.demo {
		c.k = 0
	}
	return c, nil
}

func main() {
	c, err := parseFlags(os.Args[1:], os.Stderr)
	if err == flag.ErrHelp {
		os.Exit(0)
	}
	if err != nil {
		cli.Fatal("generate", err)
	}
	if err := run(c, os.Stdout, os.Stderr); err != nil {
		cli.Fatal("generate", err)
	}
}

// output is the --json object.
type output struct {
	PromptIDs     []int32   `json:"prompt_ids"`
	IDs           []int32   `json:"ids"`
	Text          *string   `json:"text,omitempty"`
	PrefillTPS    float64   `json:"prefill_tokens_per_second"`
	DecodeTPS     float64   `json:"decode_tokens_per_second"`
	Mode          string    `json:"mode"`
	K             int       `json:"k"`
	MinConfidence float32   `json:"min_confidence"`
	Verified      float64   `json:"verified_per_iteration"` // drafts verified per iteration: K, or fewer under --min-confidence
	AcceptLength  float64   `json:"accept_length"`
	Acc           float64   `json:"acc"`
	PerDepth      []float64 `json:"per_depth_acceptance"`
	TargetFwd     int       `json:"target_forwards"`
	DraftFwd      int       `json:"draft_forwards"`
	TargetShare   float64   `json:"target_time_share"`
	DraftShare    float64   `json:"draft_time_share"`
	StopReason    string    `json:"stop_reason"`
	PeakRSSBytes  int64     `json:"peak_rss_bytes,omitempty"`
	TotalSeconds  float64   `json:"total_seconds"`
	PrefillSecond float64   `json:"prefill_seconds"`
}

func run(c *config, stdout, stderr io.Writer) error {
	if c.demo {
		return runDemo(c, stdout, stderr)
	}
	tokDir := c.tokenizerDir
	if tokDir == "" {
		tokDir = c.target
	}
	var tok *tokenizer.Tokenizer
	var err error
	if c.prompt != "" || cli.HasTokenizer(tokDir) {
		if tok, err = tokenizer.Load(tokDir); err != nil {
			return err
		}
	}
	prompt, err := buildPrompt(c, tok, tokDir)
	if err != nil {
		return err
	}

	hf, err := llama.ReadConfig(c.target)
	if err != nil {
		return err
	}
	capacity := c.maxCacheLen
	if capacity == 0 {
		capacity = len(prompt) + c.maxTokens + c.k + 1
		if hf.MaxPositions > 0 {
			capacity = min(capacity, hf.MaxPositions)
		}
	}
	if len(prompt) >= capacity {
		return fmt.Errorf("the prompt has %d tokens; the context holds %d (raise --max_cache_len, within max_position_embeddings %d)", len(prompt), capacity, hf.MaxPositions)
	}

	b, pair, err := openPair(c, tok, capacity, stderr)
	if err != nil {
		return err
	}
	defer cli.CloseBackend(b)
	defer pair.Close()
	target, draft := pair.Models()

	mode := pard.AR
	switch {
	case c.draft != "" && c.para:
		mode = pard.PARD
	case c.draft != "":
		mode = pard.VSD
	}
	if c.k == 0 {
		mode = pard.AR
	}
	opt := pard.Options{
		Mode: mode, K: c.k, MaxNewTokens: c.maxTokens, MaxContext: capacity,
		Temperature: float32(c.temperature), TopK: c.topK, TopP: float32(c.topP), Seed: c.seed,
		IgnoreEOS: c.ignoreEOS, MinConfidence: c.minConf,
	}
	if c.pardToken >= 0 {
		opt.PardToken = int32(c.pardToken)
	}
	if tok != nil {
		opt.Vocab = tok.VocabSize()
	}
	var stream *tokenizer.StreamDecoder
	if !c.asJSON {
		if tok != nil {
			stream = tokenizer.NewStreamDecoder(tok)
		}
		opt.OnToken = func(ids []int32) {
			for _, id := range ids {
				if stream != nil {
					fmt.Fprint(stdout, stream.Add(id))
				} else {
					fmt.Fprintf(stdout, "%d ", id)
				}
			}
		}
	}

	res, err := pard.Generate(target, draft, prompt, opt)
	if err != nil {
		return err
	}
	st := res.Stats
	prefillTPS := 0.0
	if st.PrefillTime > 0 {
		prefillTPS = float64(len(prompt)) / st.PrefillTime.Seconds()
	}
	if c.asJSON {
		o := output{
			PromptIDs: prompt, IDs: res.Output, PrefillTPS: prefillTPS, DecodeTPS: st.TokensPerSecond,
			Mode: mode.String(), K: opt.K, MinConfidence: opt.MinConfidence, AcceptLength: st.AcceptLength, Acc: st.Acc, PerDepth: finite(st.PerDepth),
			TargetFwd: st.TargetForwards, DraftFwd: st.DraftForwards, StopReason: res.StopReason,
			TotalSeconds: st.Total.Seconds(), PrefillSecond: st.PrefillTime.Seconds(), PeakRSSBytes: cli.PeakRSS(),
		}
		o.Verified = st.Verified
		if st.Total > 0 {
			o.TargetShare = st.TargetTime.Seconds() / st.Total.Seconds()
			o.DraftShare = st.DraftTime.Seconds() / st.Total.Seconds()
		}
		if tok != nil {
			text := tok.Decode(res.Output)
			o.Text = &text
		}
		enc := json.NewEncoder(stdout)
		return enc.Encode(o)
	}
	if stream != nil {
		fmt.Fprint(stdout, stream.Flush())
	}
	fmt.Fprintln(stdout)
	if !c.quiet {
		fmt.Fprintf(stderr, "[%s k=%d] %d tokens (stop: %s): prefill %.1f tok/s, decode %.1f tok/s",
			mode, opt.K, len(res.Output), res.StopReason, prefillTPS, st.TokensPerSecond)
		if mode != pard.AR {
			fmt.Fprintf(stderr, "; mean accepted length %.2f, acc %.3f; %d target / %d draft forwards",
				st.AcceptLength, st.Acc, st.TargetForwards, st.DraftForwards)
			if opt.MinConfidence > 0 {
				fmt.Fprintf(stderr, "; %.2f drafts verified an iteration (--min-confidence %g)", st.Verified, opt.MinConfidence)
			}
		}
		if rss := cli.PeakRSS(); rss > 0 {
			fmt.Fprintf(stderr, "; peak RSS %.0f MB", float64(rss)/1e6)
		}
		fmt.Fprintln(stderr)
	}
	return nil
}

// finite replaces NaN (depths no iteration reached) by -1 so the JSON stays valid.
func finite(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		if x != x {
			x = -1
		}
		out[i] = x
	}
	return out
}

func buildPrompt(c *config, tok *tokenizer.Tokenizer, tokDir string) ([]int32, error) {
	if c.ids != "" {
		ids, err := cli.ParseIDs(c.ids)
		if err != nil {
			return nil, fmt.Errorf("--ids: %w", err)
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("--ids: no token ids given")
		}
		return ids, nil
	}
	text := c.prompt
	addSpecial := true
	if c.chat {
		system := c.system
		if system == "" && !c.noSystem {
			serie := c.serie
			if serie == "" {
				var err error
				if serie, err = cli.ModelSerie(c.target); err != nil {
					serie = "qwen" // the common case; only r1 differs (no system prompt)
				}
			}
			system = cli.DefaultSystem(serie)
		}
		var err error
		if text, err = cli.ChatPrompt(tokDir, system, text); err != nil {
			return nil, err
		}
		addSpecial = false // the template wrote BOS where the model wants it
	}
	ids := tok.Encode(text, addSpecial)
	if len(ids) == 0 {
		return nil, fmt.Errorf("the prompt encodes to no tokens")
	}
	if strings.TrimSpace(c.prompt) == "" && !c.chat {
		return nil, fmt.Errorf("--prompt is blank")
	}
	return ids, nil
}

// openPair opens the backend and loads the target and the draft onto it;
// with --device auto, a pair too large for the GPU's memory runs on the
// CPU (cli.FallBack).
func openPair(c *config, tok *tokenizer.Tokenizer, capacity int, stderr io.Writer) (nn.Backend, *cli.Pair, error) {
	type opened struct {
		b    nn.Backend
		pair *cli.Pair
	}
	o, err := cli.FallBack(c.device, stderr, func(device string) (opened, error) {
		b, draftB, err := newBackend(c, device, stderr)
		if err != nil {
			return opened{}, err
		}
		pair, err := cli.OpenPair(c.target, c.draft, tok, b, draftB, capacity, c.asJSON || c.quiet)
		if err != nil {
			cli.CloseBackend(b)
			return opened{}, err
		}
		return opened{b, pair}, nil
	})
	return o.b, o.pair, err
}

// newBackend is the backend of device (--device), --threads,
// --bf16-activations and --kv-cache, and the one drafts run on beside it
// (--draft-activations).
func newBackend(c *config, device string, stderr io.Writer) (target, draft nn.Backend, err error) {
	bs, note, err := cli.OpenBackends(device, c.threads, &c.bf16Flag, c.demo, c.kvCache, c.draftAct)
	if err != nil {
		return nil, nil, err
	}
	if note != "" && !c.quiet {
		fmt.Fprintln(stderr, "generate: "+note)
	}
	c.bf16Act, c.kvCache, c.draftBF16 = bs.BF16, bs.KVCache, bs.DraftBF16
	return bs.Target, bs.Draft, nil
}
