package pard

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
)

// Mode selects the engine.
type Mode int

const (
	AR   Mode = iota // the target alone
	VSD              // vanilla speculative decoding: an AR draft, K sequential draft forwards
	PARD             // parallel draft: one draft forward with K−1 mask tokens
)

// MaxK is the largest number of draft tokens per iteration that Generate
// accepts (the reference harness allows 33).
const MaxK = 64

// String returns "ar", "vsd" or "pard".
func (m Mode) String() string {
	switch m {
	case AR:
		return "ar"
	case VSD:
		return "vsd"
	case PARD:
		return "pard"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses "ar" (also "ar+"), "vsd" or "pard", in any case.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "ar", "ar+":
		return AR, nil
	case "vsd":
		return VSD, nil
	case "pard":
		return PARD, nil
	}
	return 0, fmt.Errorf("pard: unknown mode %q (want ar, vsd or pard)", s)
}

// Set parses s into m, so that *Mode is a flag.Value.
func (m *Mode) Set(s string) error {
	v, err := ParseMode(s)
	if err == nil {
		*m = v
	}
	return err
}

// MarshalText writes the mode's name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses a mode's name.
func (m *Mode) UnmarshalText(b []byte) error { return m.Set(string(b)) }

// Options controls Generate. The zero value means greedy AR decoding until an
// EOS or the end of the context.
type Options struct {
	Mode Mode
	// K is the number of draft tokens per iteration (0 ≤ K ≤ MaxK). K = 0,
	// or Mode AR, decodes with the target alone. Near the end of the context
	// an iteration drafts fewer tokens so that its forwards fit (see MaxContext).
	K int
	// MaxNewTokens bounds len(Result.Output); 0 means no bound besides EOS and
	// the context. An iteration that overshoots is trimmed.
	MaxNewTokens int
	// MaxContext bounds the sequence (prompt + output) in positions; 0 means
	// the smallest Info().MaxContext of the models in use (0 there: unbounded).
	// The sequence never exceeds it: an iteration at total length n drafts
	// min(K, MaxContext−n−1) tokens, so every forward writes positions
	// < MaxContext−1 and commits at most up to MaxContext tokens. (The
	// reference instead stops at max_cache_len−32 with a fixed K.)
	MaxContext int
	// Vocab, when > 0, is the tokenizer's vocabulary size: only ids below it
	// are generated (by the target and the draft), and models whose logits
	// widths differ are compatible when both are ≥ it (see CheckCompatible).
	// 0 means the smallest VocabSize of the models in use. Draft tokens are
	// always below the target's VocabSize.
	Vocab int
	// Temperature 0 is greedy decoding; > 0 samples (target and draft) from
	// softmax(logits/Temperature) restricted by TopK (0: off) then TopP
	// (0 or 1: off), and speculative engines use rejection sampling.
	Temperature float32
	TopK        int
	TopP        float32
	Seed        uint64 // the sampling stream; the same seed gives the same output
	// PardToken overrides the PARD draft's mask token when > 0; otherwise
	// the draft's Info().PardToken is used.
	PardToken int32
	// MinConfidence, when > 0, shortens an iteration whose later drafts
	// are unlikely to be accepted: the target verifies drafts only while
	// the product of the draft's probabilities for the tokens it chose (its
	// estimate that all of them will be accepted) is at least
	// MinConfidence, and always the first. Every draft after the first
	// rejected one costs a verify row for nothing; the cut keeps a large
	// K's long accepted runs where the draft is sure and a short verify
	// where it is not. The output is unchanged (greedy: the target's
	// tokens; sampling: its distribution, as the cut depends on the draft
	// alone). PARD still drafts K tokens in its one forward; VSD stops
	// drafting at the cut. A greedy draft that is an ArgmaxForwarder then
	// returns its ids' probabilities beside them (ForwardArgmaxProb: a GPU
	// copies back two numbers a row); another's rows are read.
	// Stats.Drafted counts the verified drafts. 0 verifies all K; must be
	// < 1.
	MinConfidence float32
	// IgnoreEOS keeps generating past the target's EOS ids.
	IgnoreEOS bool
	// OnToken, when set, receives each committed block of tokens (after EOS
	// and budget trimming) as it is committed. The slice aliases
	// Result.Output: read it, do not modify or keep it past the call.
	OnToken func(ids []int32)
}

// DefaultOptions returns the reference harness's settings for mode: K = 12
// for VSD and PARD, 512 new tokens, greedy.
func DefaultOptions(mode Mode) Options {
	o := Options{Mode: mode, MaxNewTokens: 512}
	if mode != AR {
		o.K = 12
	}
	return o
}

// Stop reasons in Result.StopReason.
const (
	StopEOS       = "eos"        // an EOS id of the target was generated (it ends Output)
	StopMaxTokens = "max_tokens" // Output reached Options.MaxNewTokens
	StopContext   = "context"    // the sequence reached the context limit
)

// Result is the outcome of Generate.
type Result struct {
	Prompt     []int32 // a copy of the prompt
	Output     []int32 // the generated tokens, the EOS included when StopReason is "eos"
	Stats      Stats
	StopReason string // StopEOS, StopMaxTokens or StopContext
}

// Cache rewind rules (spec §1.4 and §2). They are variables only so that a
// test can plant a wrong rule and check that the test fakes notice.
var (
	// The target processed every committed token except the last one (the
	// correction/bonus, which it produced but never read) with the right
	// prefix; its later slots hold rejected drafts.
	rewindTarget = func(total, tLen int) int { return min(total-1, tLen) }
	// The PARD draft read the committed tokens plus k−1 masks; dropping the
	// masks leaves exactly the previously committed prefix.
	rewindPARD = func(dLen, k int) int { return dLen - (k - 1) }
	// The VSD draft read the previously committed tokens and its own drafts
	// d1..d(k−1) (never dk). With a accepted drafts the valid prefix ends at
	// total−1 if a < k (the correction was never read); if a = k it ends at
	// total−2 = dLen (dk and the bonus were never read). Either way
	// min(total−1, dLen), and the next input all[dLen:total] is keep[−1:] or
	// keep[−2:] respectively.
	rewindVSD = func(total, dLen int) int { return min(total-1, dLen) }
)

// Generate continues prompt with target, sped up by draft according to
// opt.Mode (draft may be nil for AR). It starts by truncating both caches to
// 0, so models can be reused across calls; it is not safe for concurrent use
// of the same models.
func Generate(target, draft Model, prompt []int32, opt Options) (*Result, error) {
	e, err := newEngine(target, draft, prompt, opt)
	if err != nil {
		return nil, err
	}
	return e.run()
}

// engine is the state of one Generate call.
type engine struct {
	target, draft Model
	opt           Options
	mode          Mode // AR when K = 0
	k             int
	vocab         int   // ids ≥ vocab are never generated
	pard          int32 // PARD mask token
	eos           []int32
	limit         int // the sequence never exceeds it
	greedy        bool
	// The models' ForwardArgmax, when the engine uses it instead of Forward
	// (nil otherwise; see argmaxOf): greedy decoding needs only each row's
	// argmax, and a GPU then copies back ids instead of whole rows.
	targetArgmax, draftArgmax ArgmaxForwarder
	// The models as ChainForwarders, when a greedy iteration passes
	// the drafts to the verify without reading them first (nil otherwise;
	// see newEngine).
	targetChain, draftChain ChainForwarder
	// The models as SampleChainForwarders, when a sampling engine draws
	// the target's tokens on its device (targetSample) and an iteration
	// draws its drafts and verifies them there (draftSample); nil
	// otherwise. With the draws' settings and uniform numbers.
	targetSample, draftSample SampleChainForwarder
	sampling                  nn.Sampling
	uniform, verifyU          []float32

	all        []int32 // prompt + committed tokens; drafts sit after them
	plen       int
	tLen, dLen int     // cache lengths the engine expects
	din        []int32 // PARD draft input buffer

	// Sampling: the generator, and for the host's draws the sampler and
	// the distributions (nil when the models draw on their device).
	smp *sampler
	rnd rng
	p   []float32   // target distribution of the position being verified
	q   [][]float32 // draft distributions, one per depth
	// exps holds a greedy draft row's softmax while its top token's
	// probability is read (Options.MinConfidence, a draft without
	// ForwardArgmaxProb).
	exps []float32

	stats Stats
}

func newEngine(target, draft Model, prompt []int32, opt Options) (*engine, error) {
	if target == nil {
		return nil, errors.New("pard: no target model")
	}
	switch opt.Mode {
	case AR, VSD, PARD:
	default:
		return nil, fmt.Errorf("pard: unknown mode %d", int(opt.Mode))
	}
	if opt.Mode != AR && draft == nil {
		return nil, fmt.Errorf("pard: mode %s needs a draft model", opt.Mode)
	}
	if opt.K < 0 || opt.K > MaxK {
		return nil, fmt.Errorf("pard: K = %d draft tokens per iteration is out of range [0, %d]", opt.K, MaxK)
	}
	if len(prompt) == 0 {
		return nil, errors.New("pard: empty prompt")
	}
	if opt.MaxNewTokens < 0 {
		return nil, fmt.Errorf("pard: MaxNewTokens = %d is negative", opt.MaxNewTokens)
	}
	if opt.MaxContext < 0 {
		return nil, fmt.Errorf("pard: MaxContext = %d is negative", opt.MaxContext)
	}
	if opt.Vocab < 0 {
		return nil, fmt.Errorf("pard: Vocab = %d is negative", opt.Vocab)
	}
	t := opt.Temperature
	if t < 0 || t != t || math.IsInf(float64(t), 0) {
		return nil, fmt.Errorf("pard: temperature %v is not a finite number ≥ 0", t)
	}
	if t > 0 && 1/t > math.MaxFloat32 {
		return nil, fmt.Errorf("pard: temperature %v is too small to divide the logits by (0 is greedy)", t)
	}
	if opt.TopK < 0 {
		return nil, fmt.Errorf("pard: top-k %d is negative", opt.TopK)
	}
	if p := opt.TopP; p < 0 || p > 1 || p != p {
		return nil, fmt.Errorf("pard: top-p %v is outside [0, 1]", p)
	}
	if c := opt.MinConfidence; !(c >= 0 && c < 1) {
		return nil, fmt.Errorf("pard: minimum confidence %v is outside [0, 1)", c)
	}

	e := &engine{target: target, opt: opt, mode: opt.Mode, k: opt.K, greedy: opt.Temperature == 0}
	if e.mode == AR || e.k == 0 {
		e.mode, e.k = AR, 0
	} else {
		e.draft = draft
	}
	ti := target.Info()
	if ti.VocabSize <= 0 {
		return nil, fmt.Errorf("pard: target %s: vocabulary size %d", ti.Name, ti.VocabSize)
	}
	e.vocab, e.limit = ti.VocabSize, ti.MaxContext
	minVocab := ti.VocabSize
	if e.draft != nil {
		di := e.draft.Info()
		if err := CheckCompatible(ti, di, opt.Vocab); err != nil {
			return nil, err
		}
		minVocab = min(minVocab, di.VocabSize)
		e.vocab = minVocab
		if di.MaxContext > 0 && (e.limit <= 0 || di.MaxContext < e.limit) {
			e.limit = di.MaxContext
		}
		if e.mode == PARD {
			e.pard = di.PardToken
			if opt.PardToken > 0 {
				e.pard = opt.PardToken
			}
			if e.pard < 0 {
				return nil, fmt.Errorf("pard: draft %s has no PARD mask token: pass --pard-token ID or a draft config.json with \"pard_token\"", di.Name)
			}
			if int(e.pard) >= di.VocabSize {
				return nil, fmt.Errorf("pard: PARD mask token %d is outside the draft %s's vocabulary (%d)", e.pard, di.Name, di.VocabSize)
			}
		}
	}
	if opt.Vocab > 0 {
		if opt.Vocab > ti.VocabSize {
			return nil, fmt.Errorf("pard: Vocab = %d exceeds the target %s's %d logits", opt.Vocab, ti.Name, ti.VocabSize)
		}
		e.vocab = min(e.vocab, opt.Vocab)
	}
	if opt.MaxContext > 0 && (e.limit <= 0 || opt.MaxContext < e.limit) {
		e.limit = opt.MaxContext
	}
	if e.limit <= 0 {
		if opt.MaxNewTokens == 0 {
			return nil, errors.New("pard: nothing bounds the generation: set MaxNewTokens or MaxContext (the models report no context size)")
		}
		e.limit = math.MaxInt
	}
	for i, id := range prompt {
		if id < 0 || int(id) >= minVocab {
			return nil, fmt.Errorf("pard: prompt token %d at index %d is outside the vocabulary [0, %d)", id, i, minVocab)
		}
	}
	if len(prompt) >= e.limit {
		return nil, fmt.Errorf("pard: the prompt has %d tokens but the context holds %d: no room to generate", len(prompt), e.limit)
	}
	if !opt.IgnoreEOS {
		e.eos = ti.EOS
	}

	// Buffers. The sequence grows to at most the limit, or to the budget plus
	// one iteration's overshoot.
	size := e.limit
	if opt.MaxNewTokens > 0 {
		size = min(size, len(prompt)+opt.MaxNewTokens+e.k+1)
	}
	size = min(size, len(prompt)+max(4096, 2*(e.k+1)))
	e.all = make([]int32, size)
	e.plen = copy(e.all, prompt)
	if e.mode == PARD {
		e.din = make([]int32, 0, len(prompt)+2*e.k+1)
	}
	if e.greedy {
		e.targetArgmax = argmaxOf(target, e.vocab)
		if e.draft != nil {
			e.draftArgmax = argmaxOf(e.draft, e.vocab)
			if opt.MinConfidence > 0 && e.draftArgmax == nil {
				e.exps = make([]float32, e.vocab)
			}
			// Chained: the draft's ids go to the verify without the host
			// reading them, unless a cut needs their probabilities first.
			tc, tok := e.targetArgmax.(ChainForwarder)
			dc, dok := e.draftArgmax.(ChainForwarder)
			if opt.MinConfidence == 0 && tok && dok {
				e.targetChain, e.draftChain = tc, dc
			}
		}
	} else {
		e.rnd = newRNG(opt.Seed)
		// On the device: the target's draws, and an iteration's drafts and
		// verify when the draft draws there too, unless a cut needs the
		// drafts' distributions on the host first.
		tc, tok := target.(SampleChainForwarder)
		dc, dok := e.draft.(SampleChainForwarder)
		if opt.MinConfidence == 0 && tok && tc.SamplesOnDevice() && (e.draft == nil || dok && dc.SamplesOnDevice()) {
			e.targetSample = tc
			if e.draft != nil {
				e.draftSample = dc
			}
			e.sampling = nn.Sampling{Temperature: opt.Temperature, TopK: opt.TopK, TopP: opt.TopP, Vocab: e.vocab}
			e.uniform, e.verifyU = make([]float32, e.k+1), make([]float32, e.k+1)
		} else {
			// The host's draws: its sampler, the target's distribution and
			// the drafts'.
			e.smp = newSampler(opt.Temperature, opt.TopK, opt.TopP, e.vocab)
			e.p, e.q = make([]float32, e.vocab), make([][]float32, e.k)
			for i := range e.q {
				e.q[i] = make([]float32, e.vocab)
			}
		}
	}
	e.stats.DepthTried = make([]int, e.k)
	e.stats.DepthAccepted = make([]int, e.k)
	return e, nil
}

func (e *engine) run() (*Result, error) {
	start := time.Now()
	e.target.Truncate(0)
	if e.draft != nil {
		e.draft.Truncate(0)
	}
	total, reason := e.plen, ""
	for reason == "" {
		kk := min(e.k, e.limit-total-1) // drafts this iteration
		if kk < 0 {
			reason = StopContext
			break
		}
		iterStart := time.Now()
		if need := total + kk + 1; need > len(e.all) {
			e.all = append(e.all, make([]int32, max(need, 2*len(e.all))-len(e.all))...)
		}
		proposed := kk // the PARD draft read kk−1 masks, whatever is verified
		var out logits
		var a int
		var next int32
		var err error
		switch {
		case e.draftSample != nil && kk > 0:
			a, next, err = e.draftAndVerifySampled(total, kk)
		case e.targetSample != nil:
			next, err = e.sampleTarget(total)
		case e.draftChain != nil && kk > 0:
			if out, err = e.draftAndVerifyChained(total, kk); err == nil {
				a, next = e.verify(out, e.all[total:total+kk])
			}
		default:
			if out, kk, err = e.draftThenVerify(total, kk); err == nil {
				a, next = e.verify(out, e.all[total:total+kk])
			}
		}
		if err != nil {
			return nil, err
		}
		e.all[total+a] = next
		e.stats.record(kk, a)
		newTotal := total + a + 1

		// Rewind the caches to what stays valid.
		e.tLen = rewindTarget(newTotal, e.tLen)
		if err := truncate(e.target, "target", e.tLen); err != nil {
			return nil, err
		}
		if proposed > 0 {
			if e.mode == PARD {
				e.dLen = rewindPARD(e.dLen, proposed)
			} else {
				e.dLen = rewindVSD(newTotal, e.dLen)
			}
			if err := truncate(e.draft, "draft", e.dLen); err != nil {
				return nil, err
			}
		}

		// Commit, trimming after an EOS and beyond the budget.
		n := a + 1
		for i, id := range e.all[total:newTotal] {
			if slices.Contains(e.eos, id) {
				n, reason = i+1, StopEOS
				break
			}
		}
		if m := e.opt.MaxNewTokens; m > 0 && total+n-e.plen >= m {
			if total+n-e.plen > m {
				n, reason = m-(total-e.plen), StopMaxTokens
			} else if reason == "" {
				reason = StopMaxTokens
			}
		}
		if e.opt.OnToken != nil {
			e.opt.OnToken(e.all[total : total+n : total+n])
		}
		total += n
		if e.stats.Iterations == 1 {
			e.stats.PrefillTime = time.Since(iterStart)
		}
	}
	e.stats.Total = time.Since(start)
	e.stats.Tokens = total - e.plen
	e.stats.finish()
	res := &Result{
		Prompt:     slices.Clone(e.all[:e.plen]),
		Output:     e.all[e.plen:total:total],
		Stats:      e.stats,
		StopReason: reason,
	}
	return res, nil
}

// propose writes kk drafts after the committed tokens (at e.all[total:]) and,
// when sampling, their draft distributions into e.q. It returns how many of
// them the target is to verify: kk, or fewer under Options.MinConfidence.
func (e *engine) propose(total, kk int) (int, error) {
	drafts := e.all[total : total+kk]
	conf := 1.0 // the draft's probability that drafts[:j] are all accepted
	if e.mode == PARD {
		in := e.pardInput(total, kk)
		out, err := e.draftForward(in, kk)
		if err != nil {
			return 0, err
		}
		for j := range kk {
			drafts[j] = e.pick(out, j, j)
			if e.cut(&conf, out, j, j, drafts[j]) {
				return j, nil
			}
		}
		return kk, nil
	}
	// VSD: K sequential forwards, feeding each draft back.
	x := e.all[e.dLen:total]
	for j := range kk {
		out, err := e.draftForward(x, 1)
		if err != nil {
			return 0, err
		}
		drafts[j] = e.pick(out, 0, j)
		if e.cut(&conf, out, 0, j, drafts[j]) {
			return j, nil
		}
		x = drafts[j : j+1]
	}
	return kk, nil
}

// draftThenVerify proposes up to kk drafts (none when kk is 0) and runs
// the target's verify over its uncached tokens and them, in one forward.
// It returns the target's output and the number of drafts verified (fewer
// than kk under Options.MinConfidence).
func (e *engine) draftThenVerify(total, kk int) (logits, int, error) {
	if kk > 0 {
		var err error
		if kk, err = e.propose(total, kk); err != nil {
			return logits{}, 0, err
		}
	}
	x := e.all[e.tLen : total+kk]
	t0 := time.Now()
	out, err := forward(e.target, e.targetArgmax, false, x, e.tLen, kk+1)
	e.stats.TargetTime += time.Since(t0)
	e.stats.TargetForwards++
	if err != nil {
		return logits{}, 0, fmt.Errorf("pard: target forward at %d: %w", e.tLen, err)
	}
	if e.tLen, err = expect(e.target, "target", out, e.targetArgmax != nil, false, kk+1, e.vocab, e.tLen+len(x)); err != nil {
		return logits{}, 0, err
	}
	return out, kk, nil
}

// pardInput is the PARD draft's input for kk drafts: the committed tokens
// it has not read, then kk−1 mask tokens.
func (e *engine) pardInput(total, kk int) []int32 {
	in := append(e.din[:0], e.all[e.dLen:total]...)
	for range kk - 1 {
		in = append(in, e.pard)
	}
	e.din = in
	return in
}

// draftAndVerifyChained is propose and the verify forward of a greedy
// iteration whose models are ChainForwarders: the draft's kk ids stay
// where it computed them and feed the target's forward, and come back
// with the target's kk+1 (one wait for a GPU). It writes the drafts after
// the committed tokens and returns the target's ids. The draft's time is
// that of queuing its forwards on a GPU; the target's includes the wait
// for both.
func (e *engine) draftAndVerifyChained(total, kk int) (logits, error) {
	t0 := time.Now()
	pending, read, err := e.draftChained(total, kk, nil)
	e.stats.DraftTime += time.Since(t0)
	if err != nil {
		return logits{}, err
	}
	x := e.all[e.tLen:total]
	t0 = time.Now()
	drafts, ids, err := e.targetChain.ForwardArgmaxAfter(x, pending, e.tLen, kk+1)
	e.stats.TargetTime += time.Since(t0)
	e.stats.TargetForwards++
	if err != nil {
		return logits{}, fmt.Errorf("pard: target forward at %d after the draft's at %d: %w", e.tLen, e.dLen, err)
	}
	if e.dLen, err = expect(e.draft, "draft", logits{ids: drafts}, true, false, kk, e.vocab, e.dLen+read); err != nil {
		return logits{}, err
	}
	copy(e.all[total:total+kk], drafts)
	out := logits{ids: ids}
	if e.tLen, err = expect(e.target, "target", out, true, false, kk+1, e.vocab, e.tLen+len(x)+kk); err != nil {
		return logits{}, err
	}
	return out, nil
}

// draftChained queues the draft's forwards of an iteration, leaving the kk
// drafts pending: PARD's one forward over the committed tokens it has not
// read and kk−1 masks, or VSD's kk forwards, each fed the draft before it.
// The drafts are argmax ids, or with u (a uniform number a draft) draws.
// It returns the handle on the drafts and how many positions the draft
// read (its cache grows by that from e.dLen).
func (e *engine) draftChained(total, kk int, u []float32) (nn.Pending, int, error) {
	if e.mode == PARD {
		in := e.pardInput(total, kk)
		p, err := e.draftFirst(in, kk, u)
		return p, len(in), err
	}
	x := e.all[e.dLen:total]
	p, err := e.draftFirst(x, 1, u)
	if err != nil {
		return nil, 0, err
	}
	read := len(x)
	for j := 1; j < kk; j++ {
		if p, err = e.draftNext(p, e.dLen+read, u, j); err != nil {
			return nil, 0, err
		}
		read++
	}
	return p, read, nil
}

// draftFirst queues the draft's first pending forward of an iteration, over
// x at e.dLen, for want ids (draws by u[:want] when u is not nil).
func (e *engine) draftFirst(x []int32, want int, u []float32) (p nn.Pending, err error) {
	e.stats.DraftForwards++
	if u == nil {
		p, err = e.draftChain.ForwardArgmaxPending(x, e.dLen, want)
	} else {
		p, err = e.draftSample.ForwardSamplePending(x, e.dLen, want, e.sampling, u[:want])
	}
	if err != nil {
		return nil, fmt.Errorf("pard: draft forward at %d: %w", e.dLen, err)
	}
	return p, nil
}

// draftNext queues VSD's next forward at start, fed the draft's newest
// pending id, for the draft of depth j (drawn by u[j] when u is not nil).
func (e *engine) draftNext(prev nn.Pending, start int, u []float32, j int) (p nn.Pending, err error) {
	e.stats.DraftForwards++
	if u == nil {
		p, err = e.draftChain.ForwardArgmaxPendingAfter(nil, prev, 1, start, 1)
	} else {
		p, err = e.draftSample.ForwardSamplePendingAfter(nil, prev, 1, start, 1, e.sampling, u[j:j+1])
	}
	if err != nil {
		return nil, fmt.Errorf("pard: draft forward at %d: %w", start, err)
	}
	return p, nil
}

// draftAndVerifySampled is a sampling iteration whose models draw on the
// device: the draft draws its kk drafts there (by the uniform numbers pick
// would use, in the same order), the target's forward takes them there and
// its verify runs there (by the numbers verify would use), and the drafts,
// the number accepted and the token after them come back in one wait. It
// writes the drafts after the committed tokens and returns the other two.
func (e *engine) draftAndVerifySampled(total, kk int) (int, int32, error) {
	u := e.uniform[:kk]
	for j := range u {
		u[j] = e.uniform32()
	}
	t0 := time.Now()
	pending, read, err := e.draftChained(total, kk, u)
	e.stats.DraftTime += time.Since(t0)
	if err != nil {
		return 0, 0, err
	}
	// The verify's numbers: kk+1 drawn ahead, the generator then put where
	// verify's own draws would have left it (a+2 of them after a rejection
	// at depth a, kk+1 when every draft is accepted).
	saved := e.rnd
	v := e.verifyU[:kk+1]
	for j := range v {
		v[j] = e.uniform32()
	}
	x := e.all[e.tLen:total]
	t0 = time.Now()
	drafts, a, next, err := e.targetSample.ForwardVerifySampled(x, pending, e.tLen, kk, e.sampling, v)
	e.stats.TargetTime += time.Since(t0)
	e.stats.TargetForwards++
	if err != nil {
		return 0, 0, fmt.Errorf("pard: target forward at %d after the draft's at %d: %w", e.tLen, e.dLen, err)
	}
	if e.dLen, err = expect(e.draft, "draft", logits{ids: drafts}, true, false, kk, e.vocab, e.dLen+read); err != nil {
		return 0, 0, err
	}
	if a < 0 || a > kk || next < 0 || int(next) >= e.vocab {
		return 0, 0, fmt.Errorf("pard: target %s accepted %d of %d drafts, then token %d (vocabulary %d)", e.target.Info().Name, a, kk, next, e.vocab)
	}
	if e.tLen, err = cacheLength(e.target, "target", e.tLen+len(x)+kk); err != nil {
		return 0, 0, err
	}
	copy(e.all[total:total+kk], drafts)
	e.rnd = saved
	taken := kk + 1
	if a < kk {
		taken = a + 2
	}
	for range taken {
		e.rnd.float64()
	}
	return a, next, nil
}

// sampleTarget is an iteration without drafts whose target draws on the
// device: its forward over the committed tokens it has not read, and a
// draw from the last position's distribution there by the uniform number
// verify would use; one id comes back.
func (e *engine) sampleTarget(total int) (int32, error) {
	x := e.all[e.tLen:total]
	e.uniform[0] = e.uniform32()
	t0 := time.Now()
	p, err := e.targetSample.ForwardSamplePending(x, e.tLen, 1, e.sampling, e.uniform[:1])
	var ids []int32
	if err == nil {
		ids, err = p.IDs()
	}
	e.stats.TargetTime += time.Since(t0)
	e.stats.TargetForwards++
	if err != nil {
		return 0, fmt.Errorf("pard: target forward at %d: %w", e.tLen, err)
	}
	if e.tLen, err = expect(e.target, "target", logits{ids: ids}, true, false, 1, e.vocab, e.tLen+len(x)); err != nil {
		return 0, err
	}
	return ids[0], nil
}

// uniform32 is the next uniform number as a device takes it: a float32
// below 1, as the float64 is.
func (e *engine) uniform32() float32 { return min(float32(e.rnd.float64()), 0x1.fffffep-1) }

// cut multiplies *conf by the draft's probability of id, its draft at depth
// j from row i of out, and reports whether Options.MinConfidence leaves
// that draft and the later ones unverified (never the first).
func (e *engine) cut(conf *float64, out logits, i, j int, id int32) bool {
	if e.opt.MinConfidence == 0 {
		return false
	}
	switch {
	case e.greedy && out.probs != nil:
		*conf *= float64(out.probs[i]) // the probability of out.ids[i], which is id
	case e.greedy:
		copy(e.exps, out.rows[i][:e.vocab]) // the rows belong to the model
		ops.Softmax(e.exps)
		*conf *= float64(e.exps[id])
	default:
		*conf *= float64(e.q[j][id])
	}
	return j > 0 && *conf < float64(e.opt.MinConfidence)
}

func (e *engine) draftForward(x []int32, want int) (logits, error) {
	t0 := time.Now()
	// Under MinConfidence an ArgmaxForwarder draft gives its ids'
	// probabilities too (cut reads them).
	probs := e.opt.MinConfidence > 0
	out, err := forward(e.draft, e.draftArgmax, probs, x, e.dLen, want)
	e.stats.DraftTime += time.Since(t0)
	e.stats.DraftForwards++
	if err != nil {
		return logits{}, fmt.Errorf("pard: draft forward at %d: %w", e.dLen, err)
	}
	e.dLen, err = expect(e.draft, "draft", out, e.draftArgmax != nil, probs, want, e.vocab, e.dLen+len(x))
	return out, err
}

// pick chooses the draft token of depth j from row i of the draft's output
// (only ids below e.vocab), keeping its distribution when sampling.
func (e *engine) pick(out logits, i, j int) int32 {
	if e.greedy {
		return out.argmax(i, e.vocab)
	}
	row := out.rows[i][:e.vocab]
	e.smp.probs(e.q[j], row)
	return sampleFrom(e.q[j], e.rnd.float64())
}

// logits is one forward's output: the logits rows, or, when the engine uses
// the model's ForwardArgmax, only their argmax ids (and with
// ForwardArgmaxProb their probabilities).
type logits struct {
	rows  [][]float32
	ids   []int32   // instead of rows
	probs []float32 // beside ids, or nil
}

// argmax is the greedy choice at row i among the ids below vocab. ids are
// only used when the model's rows are exactly vocab wide (see argmaxOf), so
// both give the same id.
func (l logits) argmax(i, vocab int) int32 {
	if l.ids != nil {
		return l.ids[i]
	}
	return argmax(l.rows[i][:vocab])
}

// argmaxOf returns m as an ArgmaxForwarder when a greedy engine may use its
// ForwardArgmax: the argmax spans the whole row, so only when the engine
// generates from the whole row too (vocab = VocabSize). When vocab is
// smaller the rows must be cut first, and the engine reads rows.
func argmaxOf(m Model, vocab int) ArgmaxForwarder {
	if a, ok := m.(ArgmaxForwarder); ok && m.Info().VocabSize == vocab {
		return a
	}
	return nil
}

// forward runs m over x at positions start.., for want rows, or for want
// argmax ids through a when a is not nil (with their probabilities when
// probs).
func forward(m Model, a ArgmaxForwarder, probs bool, x []int32, start, want int) (out logits, err error) {
	switch {
	case a != nil && probs:
		out.ids, out.probs, err = a.ForwardArgmaxProb(x, start, want)
	case a != nil:
		out.ids, err = a.ForwardArgmax(x, start, want)
	default:
		out.rows, err = m.Forward(x, start, want)
	}
	return out, err
}

// expect checks a forward's result (ids when byID, and their probabilities
// when probs too) and the cache length it left, and returns that length.
func expect(m Model, role string, out logits, byID, probs bool, want, vocab, wantLen int) (int, error) {
	if byID {
		if len(out.ids) != want {
			return 0, fmt.Errorf("pard: %s %s returned %d argmax ids, want %d", role, m.Info().Name, len(out.ids), want)
		}
		if probs && len(out.probs) != want {
			return 0, fmt.Errorf("pard: %s %s returned %d argmax probabilities, want %d", role, m.Info().Name, len(out.probs), want)
		}
		for _, id := range out.ids {
			if id < 0 || int(id) >= vocab {
				return 0, fmt.Errorf("pard: %s %s returned argmax id %d outside the vocabulary [0, %d)", role, m.Info().Name, id, vocab)
			}
		}
	} else {
		if len(out.rows) != want {
			return 0, fmt.Errorf("pard: %s %s returned %d logits rows, want %d", role, m.Info().Name, len(out.rows), want)
		}
		for _, r := range out.rows {
			if len(r) < vocab {
				return 0, fmt.Errorf("pard: %s %s returned a logits row of %d values, want ≥ %d", role, m.Info().Name, len(r), vocab)
			}
		}
	}
	return cacheLength(m, role, wantLen)
}

// cacheLength checks the cache length a forward left, and returns it.
func cacheLength(m Model, role string, wantLen int) (int, error) {
	if n := m.Len(); n != wantLen {
		return 0, fmt.Errorf("pard: %s %s cache holds %d positions after a forward, want %d", role, m.Info().Name, n, wantLen)
	}
	return wantLen, nil
}

func truncate(m Model, role string, n int) error {
	m.Truncate(n)
	if got := m.Len(); got != n {
		return fmt.Errorf("pard: %s %s cache holds %d positions after Truncate(%d)", role, m.Info().Name, got, n)
	}
	return nil
}
