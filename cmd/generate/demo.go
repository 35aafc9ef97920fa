package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gopard/gopard/internal/cli"
	"github.com/gopard/gopard/internal/defaultmodel"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/pard"
	"github.com/gopard/gopard/tokenizer"
)

// demoSnippet is the Go code the no-flag demo completes.
const demoSnippet = `package main

import (
	"bufio"
	"fmt"
	"os"
)

// countLines returns the number of lines in the named file.
func countLines(name string) (int, error) {
	f, err := os.Open(name)
	if err != nil {
`

// The K each speculative mode uses in the demo unless -k is given, and the
// minimum confidence of PARD's drafts unless -k or --min-confidence is:
// the best cells of grids measured with cmd/eval on the held-out Go
// packages (README). PARD drafts six tokens and verifies them while the
// draft's probability that all are accepted stays ≥ 0.1 (4.3 of six on
// average): with bf16 activations that beat four drafts all verified in
// each of three grids (`eval -k 4,6,8 --min-confidence 0,0.1,0.15,0.2
// --modes ar,pard -n 40 --tokens 128 --interleave`: 2.21–2.55× of AR
// against 2.12–2.35×); VSD's best stays two drafts, all verified. The cut
// is the CPU's: on a GPU a verify costs about the same for 1 to 16 rows,
// and reading the draft's probabilities before the verify would add a
// wait for the device to every iteration (pard.ChainForwarder), so there
// PARD verifies all six.
const (
	demoVSDK              = 2
	demoPARDK             = 6
	demoPARDMinConfidence = 0.1
)

// demoSettings returns the K and minimum confidence of the demo's VSD and
// PARD runs: the demo's own unless -k or --min-confidence is given (PARD's
// cut only on the CPU, onCPU), the flags' for both modes otherwise.
func demoSettings(c *config, onCPU bool) (kv, kp int, cv, cp float32) {
	kv, kp = demoVSDK, demoPARDK
	if c.kSet {
		kv, kp = c.k, c.k
	}
	cv, cp = c.minConf, c.minConf
	if !c.kSet && !c.minConfSet && onCPU {
		cp = demoPARDMinConfidence
	}
	return kv, kp, cv, cp
}

// demoRounds is how many times the demo times each mode, the three in turn,
// after printing the text: a 128-token run lasts tens of milliseconds, and
// on a machine whose speed drifts one run each could put PARD behind AR
// (0.89× in one of three runs on the 2-core VM; 1.45× and 1.71× in the
// others). The table gives each mode's median.
const demoRounds = 5

// runDemo is generate with no model flags: the embedded Go models complete
// a Go snippet (or --prompt) three ways — the target alone (AR), with its
// autoregressive draft (VSD) and with the PARD draft — and print the text
// once and the three speeds side by side, each the median of demoRounds
// runs taken in turn. Greedy decoding makes all the outputs identical,
// which is checked.
func runDemo(c *config, stdout, stderr io.Writer) error {
	dirs, err := defaultmodel.Dirs()
	if err != nil {
		return err
	}
	tok, err := tokenizer.Load(dirs.Target)
	if err != nil {
		return err
	}
	text := c.prompt
	if text == "" {
		text = demoSnippet
	}
	prompt := tok.Encode(text, true)
	if len(prompt) == 0 {
		return fmt.Errorf("the prompt encodes to no tokens")
	}
	quiet := c.quiet || c.asJSON
	b, draftB, err := newBackend(c, c.device, stderr)
	if err != nil {
		return err
	}
	defer cli.CloseBackend(b)
	_, onCPU := b.(*ops.CPU)
	kv, kp, cv, cp := demoSettings(c, onCPU)
	capacity := len(prompt) + c.maxTokens + max(kv, kp) + 1
	target, err := cli.LoadModel(dirs.Target, b, capacity, true)
	if err != nil {
		return err
	}
	defer target.Close()
	draft, err := cli.LoadModel(dirs.Draft, draftB, capacity, true)
	if err != nil {
		return err
	}
	defer draft.Close()
	pdraft, err := cli.LoadModel(dirs.PARD, draftB, capacity, true)
	if err != nil {
		return err
	}
	defer pdraft.Close()
	if !quiet {
		fmt.Fprintf(stderr, "gopard demo: %s (%.1f MB bf16) completes Go code alone, with %s (%.1f MB) and with %s (%.1f MB); models extracted to %s\n",
			defaultmodel.TargetName, float64(target.WeightBytes())/1e6, defaultmodel.DraftName, float64(draft.WeightBytes())/1e6,
			defaultmodel.PARDName, float64(pdraft.WeightBytes())/1e6, strings.TrimSuffix(dirs.Target, "/target"))
	}
	ti, di, pi := cli.Info(target), cli.Info(draft), cli.Info(pdraft)
	tm, dm, pm := pard.WithInfo(target, ti), pard.WithInfo(draft, di), pard.WithInfo(pdraft, pi)
	for _, d := range []pard.ModelInfo{di, pi} {
		if err := pard.CheckCompatible(ti, d, tok.VocabSize()); err != nil {
			return err
		}
	}

	runs := []struct {
		name    string
		mode    pard.Mode
		k       int
		minConf float32
		draft   pard.Model
	}{
		{"AR", pard.AR, 0, 0, nil},
		{"VSD", pard.VSD, kv, cv, dm},
		{"PARD", pard.PARD, kp, cp, pm},
	}
	// Warm up: fault the mapped weights in and settle the clocks, so the
	// first measured run is not charged for it.
	for _, r := range runs {
		opt := pard.Options{Mode: r.mode, K: r.k, MaxNewTokens: 8, MaxContext: capacity, Vocab: tok.VocabSize(), IgnoreEOS: true}
		if _, err := pard.Generate(tm, r.draft, prompt, opt); err != nil {
			return err
		}
	}
	// Print the text as the PARD run writes it (untimed); then time the
	// modes in turn, round after round, so that the machine's drift hits
	// them alike, and keep each one's median. Every run must write the
	// same tokens.
	var ref []int32
	same := func(name string, out []int32) error {
		if ref == nil {
			ref = out
		} else if !slices.Equal(out, ref) {
			return fmt.Errorf("%s produced different tokens from the other runs: a bug, please report it", name)
		}
		return nil
	}
	opts := func(r int) pard.Options {
		return pard.Options{Mode: runs[r].mode, K: runs[r].k, MaxNewTokens: c.maxTokens, MaxContext: capacity, Vocab: tok.VocabSize(), IgnoreEOS: c.ignoreEOS,
			MinConfidence: runs[r].minConf}
	}
	if !c.asJSON {
		last := len(runs) - 1
		opt := opts(last)
		fmt.Fprint(stdout, text)
		sd := tokenizer.NewStreamDecoder(tok)
		opt.OnToken = func(ids []int32) {
			for _, id := range ids {
				fmt.Fprint(stdout, sd.Add(id))
			}
		}
		g, err := pard.Generate(tm, runs[last].draft, prompt, opt)
		if err != nil {
			return fmt.Errorf("%s: %w", runs[last].name, err)
		}
		fmt.Fprintln(stdout, sd.Flush())
		ref = g.Output
	}
	speeds := make([][]float64, len(runs))
	stats := make([]pard.Stats, len(runs)) // a mode's accepted length is the same every run
	for range demoRounds {
		for i, r := range runs {
			g, err := pard.Generate(tm, r.draft, prompt, opts(i))
			if err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			if err := same(r.name, g.Output); err != nil {
				return err
			}
			speeds[i] = append(speeds[i], g.Stats.TokensPerSecond)
			stats[i] = g.Stats
		}
	}
	tps := make([]float64, len(runs))
	for i := range runs {
		tps[i] = cli.Median(speeds[i])
	}
	if c.asJSON {
		fmt.Fprint(stdout, "[")
		for i, r := range runs {
			st := stats[i]
			sep := ","
			if i == len(runs)-1 {
				sep = "]\n"
			}
			fmt.Fprintf(stdout, `{"mode":%q,"k":%d,"min_confidence":%g,"tokens":%d,"tokens_per_second":%.3f,"speedup":%.4f,"accept_length":%.4f,"verified_per_iteration":%.4f,"runs":%d}%s`,
				r.name, r.k, r.minConf, len(ref), tps[i], tps[i]/tps[0], st.AcceptLength, st.Verified, demoRounds, sep)
		}
		return nil
	}
	defer func() {
		if quiet {
			return
		}
		fmt.Fprintf(stderr, "\n%-5s %3s %7s %9s %8s %14s %9s\n", "mode", "k", "tokens", "tok/s", "speedup", "mean accepted", "verified")
		var cut []string
		for i, r := range runs {
			st := stats[i]
			acc, ver := "-", "-"
			if r.mode != pard.AR {
				acc = fmt.Sprintf("%.2f", st.AcceptLength)
				ver = fmt.Sprintf("%.2f", st.Verified)
			}
			if r.minConf > 0 {
				cut = append(cut, fmt.Sprintf("%s's while the draft's probability that all are accepted stays ≥ %g", r.name, r.minConf))
			}
			fmt.Fprintf(stderr, "%-5s %3d %7d %9.1f %7.2fx %14s %9s\n", r.name, r.k, len(ref), tps[i], tps[i]/tps[0], acc, ver)
		}
		if len(cut) > 0 {
			fmt.Fprintf(stderr, "verified: the drafts per iteration the target checked (%s, the first always)\n", strings.Join(cut, "; "))
		}
		act := "float32 activations"
		if c.bf16Act {
			act = "bf16 activations"
		}
		switch {
		case c.draftBF16 && !c.bf16Act:
			act += " (drafts: bf16)"
		case !c.draftBF16 && c.bf16Act:
			act += " (drafts: float32)"
		}
		fmt.Fprintf(stderr, "tok/s: the median of %d runs of each mode, taken in turn; every output is identical token for token (greedy decoding is lossless); %s, %s, %s KV cache\n",
			demoRounds, b.Name(), act, c.kvCache)
	}()
	return nil
}
