package main

import (
	"fmt"
	"time"

	"github.com/gopard/gopard/internal/cli"
	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/pard"
)

// pardResult is the PARD iteration measurement of --pard-draft.
type pardResult struct {
	Draft string `json:"draft"`
	// DraftBF16Activations is whether the draft's products rounded their
	// activations to bf16 (--draft-activations on a CPU that can).
	DraftBF16Activations bool `json:"draft_bf16_activations"`
	K                    int  `json:"k"`
	// Temperature is the run's (0: greedy; else sampling, seed 1).
	Temperature float64 `json:"temperature"`
	Iterations  int     `json:"iterations"`
	Tokens      int     `json:"tokens"`
	AcceptLen   float64 `json:"accept_length"`
	// IterationMs is the mean wall time of an iteration after the prefill
	// one: draft forward, verify forward, host work and syncs.
	IterationMs float64 `json:"iteration_ms"`
	// DraftMs and VerifyMs are the median times of the two forwards alone,
	// outside the engine, at the shapes an iteration runs: the draft over
	// K rows (the newest token and K−1 masks), the target over K+1.
	DraftMs  float64 `json:"draft_ms"`
	VerifyMs float64 `json:"verify_ms"`
	// Overhead is IterationMs / (DraftMs + VerifyMs) − 1.
	Overhead float64 `json:"overhead"`
	// HostWaits is the number of times per iteration (the prefill one
	// included) the host waited for the device, where the backend counts
	// them (a GPU); the drafts stay on the device between the draft's
	// forward and the verify, so 1 unless the prompt's upload or a
	// buffer's growth adds one.
	HostWaits *float64 `json:"host_waits_per_iteration,omitempty"`
}

// benchPARD generates --pard-tokens tokens with PARD (K drafts, greedy or
// sampling at --pard-temperature) from a random draft of shape
// --pard-draft against the model m, and compares the mean iteration with
// its two forwards timed alone. Every iteration verifies all K drafts:
// the measurement is the engine's cost (with sampling, the draws and the
// acceptance test included), not its speed-up, which random weights do
// not show (greedy, they accept almost no drafts; sampling from their
// nearly flat distributions, most).
func benchPARD(o options, b nn.Backend, m *forwardRunner, prompt []int32, say func(string, ...any)) (*pardResult, error) {
	s := shapes[o.pardDraft]
	if s.cfg.Vocab != m.cfg.Vocab {
		return nil, fmt.Errorf("--pard-draft %s: vocabulary %d, the model's is %d", o.pardDraft, s.cfg.Vocab, m.cfg.Vocab)
	}
	db, dbf16, err := cli.DraftBackend(b, o.draftAct)
	if err != nil {
		return nil, err
	}
	w, err := loadWeights(db, first(randomWeights(s)))
	if err != nil {
		return nil, err
	}
	ddec, err := nn.NewDecoder(db, s.cfg, w, o.capacity(), 256)
	if err != nil {
		return nil, fmt.Errorf("draft %s: %w", o.pardDraft, err)
	}
	info := func(name string, cfg nn.Config, mask int32, spd string) pard.ModelInfo {
		return pard.ModelInfo{Name: name, VocabSize: cfg.Vocab, PardToken: mask, SpdType: spd, MaxContext: o.capacity()}
	}
	target := pard.WithInfo(m.dec, info(m.name, m.cfg, -1, ""))
	draft := pard.WithInfo(ddec, info(o.pardDraft+" (random bf16)", s.cfg, int32(s.cfg.Vocab-1), "pard"))
	opt := pard.Options{Mode: pard.PARD, K: o.k, MaxNewTokens: 8, IgnoreEOS: true, Temperature: float32(o.pardTemp), Seed: 1}
	if _, err := pard.Generate(target, draft, prompt, opt); err != nil { // warm-up
		return nil, err
	}
	opt.MaxNewTokens = o.pardTokens
	waiter, counts := b.(interface{ HostWaits() int64 })
	var waits int64
	if counts {
		waits = waiter.HostWaits()
	}
	res, err := pard.Generate(target, draft, prompt, opt)
	if err != nil {
		return nil, err
	}
	if counts {
		waits = waiter.HostWaits() - waits
	}
	st := res.Stats
	if st.Iterations < 2 {
		return nil, fmt.Errorf("PARD ran %d iteration(s): raise --pard-tokens", st.Iterations)
	}
	r := &pardResult{Draft: o.pardDraft, DraftBF16Activations: dbf16, K: o.k, Temperature: o.pardTemp, Iterations: st.Iterations, Tokens: st.Tokens, AcceptLen: round3(st.AcceptLength)}
	r.IterationMs = round3(float64(st.Total-st.PrefillTime) / float64(st.Iterations-1) / float64(time.Millisecond))
	if counts {
		w := round3(float64(waits) / float64(st.Iterations))
		r.HostWaits = &w
	}

	// The two forwards alone, at the context the run ended near.
	ctx := len(prompt) + st.Tokens
	_, onGPU := b.(gpuBackend)
	toks := syntheticPrompt(ctx+o.k+1, m.cfg.Vocab)
	for _, d := range []*nn.Decoder{m.dec, ddec} {
		d.Truncate(0)
		if _, err := d.Forward(toks[:ctx], 0, 0); err != nil {
			return nil, err
		}
	}
	in := append(toks[ctx:ctx+1:ctx+1], make([]int32, o.k-1)...)
	for i := 1; i < o.k; i++ {
		in[i] = int32(s.cfg.Vocab - 1)
	}
	ds, err := timeForward(ddec, in, ctx, o.k, o.runs, onGPU)
	if err != nil {
		return nil, err
	}
	vs, err := timeForward(m.dec, toks[ctx:ctx+o.k+1], ctx, o.k+1, o.runs, onGPU)
	if err != nil {
		return nil, err
	}
	m.dec.Truncate(0)
	r.DraftMs, r.VerifyMs = round3(ds*1e3), round3(vs*1e3)
	r.Overhead = round3(r.IterationMs/(r.DraftMs+r.VerifyMs) - 1)

	act := "float32"
	if dbf16 {
		act = "bf16"
	}
	how := "greedy"
	if o.pardTemp > 0 {
		how = fmt.Sprintf("sampling at temperature %v", o.pardTemp)
	}
	say("\nPARD, draft %s (random bf16, %s activations), K = %d, %s: %d tokens in %d iterations (mean accepted length %.2f)\n",
		o.pardDraft, act, o.k, how, st.Tokens, st.Iterations, st.AcceptLength)
	say("iteration %.3f ms; alone: draft forward of %d rows %.3f ms + verify forward of %d rows %.3f ms = %.3f ms; overhead %+.1f%%\n",
		r.IterationMs, o.k, r.DraftMs, o.k+1, r.VerifyMs, r.DraftMs+r.VerifyMs, 100*r.Overhead)
	if r.HostWaits != nil {
		say("host waits for the device: %.2f per iteration (%d in %d iterations, the prefill's included)\n", *r.HostWaits, waits, st.Iterations)
	}
	return r, nil
}

func first[A, B any](a A, _ B) A { return a }
