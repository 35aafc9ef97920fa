package pard

import "time"

// Stats are the engine's metrics, with the reference's definitions (spec
// §4.6). The counts add up over prompts with Add; the ratios derive from them.
type Stats struct {
	Iterations     int // verification rounds; each is one target forward
	TargetForwards int
	DraftForwards  int
	Tokens         int // generated tokens (len(Result.Output))
	Drafted        int // draft tokens verified by the target
	Accepted       int // draft tokens the target accepted
	Rejected       int // iterations that stopped at a mismatching draft
	// DepthTried[i] counts the iterations that verified a draft at depth i
	// (they accepted ≥ i drafts and proposed > i); DepthAccepted[i] those
	// that accepted it (accepted ≥ i+1). len = K.
	DepthTried, DepthAccepted []int

	// AcceptLength is the mean number of tokens an iteration commits
	// (accepted drafts + the correction/bonus token), prefill iteration
	// included: (Accepted + Iterations) / Iterations. It counts verified
	// blocks before EOS/budget trimming, like the reference.
	AcceptLength float64
	// Acc is Accepted / (Accepted + Rejected): one success per accepted
	// draft, one failure per first mismatch, none when all drafts of an
	// iteration were accepted. 0 without drafts.
	Acc float64
	// Verified is Drafted / Iterations, the drafts an iteration sent to the
	// target: K, less where Options.MinConfidence cut some or the context
	// ran out. 0 without iterations.
	Verified float64
	// PerDepth[i] = DepthAccepted[i] / DepthTried[i], the acceptance rate at
	// depth i (pard2_infer's accept_ratio), for the depths that some
	// iteration reached (a prefix of 0..K−1).
	PerDepth []float64

	// PrefillTime is the wall time of the first iteration (draft prefill and
	// target prefill merged with the first verification).
	PrefillTime time.Duration
	// Wall time in target and in draft forwards. Where a greedy PARD or
	// VSD iteration chains its models on a GPU (ChainForwarder), the
	// draft's forwards are only queued in DraftTime and run on the device
	// during TargetTime, which waits for both.
	TargetTime time.Duration
	DraftTime  time.Duration
	Total      time.Duration // all of Generate
	// TokensPerSecond is Tokens / (Total − PrefillTime): like the reference,
	// it excludes the prefill iteration's time but counts its tokens. 0 when
	// only one iteration ran.
	TokensPerSecond float64
}

// record adds one iteration that proposed kk drafts and accepted a.
func (s *Stats) record(kk, a int) {
	s.Iterations++
	s.Drafted += kk
	s.Accepted += a
	if a < kk {
		s.Rejected++
	}
	for i := 0; i <= a && i < kk; i++ {
		s.DepthTried[i]++
		if i < a {
			s.DepthAccepted[i]++
		}
	}
}

// finish derives the ratios from the counts.
func (s *Stats) finish() {
	s.AcceptLength, s.Acc, s.Verified, s.TokensPerSecond = 0, 0, 0, 0
	if s.Iterations > 0 {
		s.AcceptLength = float64(s.Accepted+s.Iterations) / float64(s.Iterations)
		s.Verified = float64(s.Drafted) / float64(s.Iterations)
	}
	if d := s.Accepted + s.Rejected; d > 0 {
		s.Acc = float64(s.Accepted) / float64(d)
	}
	s.PerDepth = s.PerDepth[:0]
	for i, n := range s.DepthTried {
		if n == 0 {
			break
		}
		s.PerDepth = append(s.PerDepth, float64(s.DepthAccepted[i])/float64(n))
	}
	if d := s.Total - s.PrefillTime; s.Iterations > 1 && d > 0 {
		s.TokensPerSecond = float64(s.Tokens) / d.Seconds()
	}
}

// Add accumulates o into s (an evaluation over many prompts) and recomputes
// the ratios over the sums, as the reference does: AcceptLength and Acc over
// all iterations and drafts, TokensPerSecond as Σ tokens / Σ time after
// each prompt's prefill.
func (s *Stats) Add(o Stats) {
	s.Iterations += o.Iterations
	s.TargetForwards += o.TargetForwards
	s.DraftForwards += o.DraftForwards
	s.Tokens += o.Tokens
	s.Drafted += o.Drafted
	s.Accepted += o.Accepted
	s.Rejected += o.Rejected
	// New slices: s may be a copy of another Stats sharing them.
	n := max(len(s.DepthTried), len(o.DepthTried))
	tried, acc := make([]int, n), make([]int, n)
	for i := range n {
		if i < len(s.DepthTried) {
			tried[i], acc[i] = s.DepthTried[i], s.DepthAccepted[i]
		}
		if i < len(o.DepthTried) {
			tried[i] += o.DepthTried[i]
			acc[i] += o.DepthAccepted[i]
		}
	}
	s.DepthTried, s.DepthAccepted, s.PerDepth = tried, acc, nil
	s.PrefillTime += o.PrefillTime
	s.TargetTime += o.TargetTime
	s.DraftTime += o.DraftTime
	s.Total += o.Total
	s.finish()
}
