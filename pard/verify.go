package pard

// verify compares the drafts with the target's output (row i, or its argmax
// id when the target's ForwardArgmax is in use, is the target's prediction
// after the committed tokens and drafts[:i]) and returns the number a of
// accepted drafts and the token that follows them: the correction at the
// first rejection, or a bonus token from row len(drafts) when every draft was
// accepted.
//
// Greedy: a draft is accepted when it equals the target's argmax, and the
// extra token is the argmax, so the committed tokens are exactly those of AR
// greedy decoding.
//
// Sampling (speculative rejection sampling; Leviathan et al. 2023, Chen et
// al. 2023). At depth i let p be the target's transformed distribution and q
// the draft's, from which the draft token x was drawn. Accept x with
// probability min(1, p(x)/q(x)); otherwise draw from r = (p−q)⁺ / Σ(p−q)⁺.
// The committed token y then has probability
//
//	P(y) = q(y)·min(1, p(y)/q(y)) + P(reject)·r(y)
//	     = min(p(y), q(y)) + (1 − Σ_x min(p(x), q(x))) · (p(y)−q(y))⁺ / Σ(p−q)⁺
//	     = min(p(y), q(y)) + (p(y)−q(y))⁺            since Σ(p−q)⁺ = 1 − Σ min(p, q)
//	     = p(y),
//
// whatever q is, as long as x ~ q independently of the target's draws. So
// each committed token is distributed as AR sampling would draw it given the
// same prefix, and by induction over depths (a rejection ends the block; the
// bonus is drawn from p directly) so is the whole sequence. q may ignore the
// earlier drafts (PARD's masks do) or depend on them (VSD): the argument
// holds at each depth conditionally on the accepted prefix. A greedy draft is
// the case q = one-hot(x): accept with probability p(x), else draw from p
// without x. Note that draft tokens are drawn from q before verification, so
// the rng stream (and thus a seed's exact output) differs between engines;
// only the distribution is the same.
func (e *engine) verify(out logits, drafts []int32) (int, int32) {
	if e.greedy { // from ids when the target's ForwardArgmax gave them
		for a, d := range drafts {
			if t := out.argmax(a, e.vocab); t != d {
				return a, t
			}
		}
		return len(drafts), out.argmax(len(drafts), e.vocab)
	}
	rows, p := out.rows, e.p
	for a, x := range drafts {
		e.smp.probs(p, rows[a][:e.vocab])
		q := e.q[a]
		// Accept with probability min(1, p/q): u < p/q ⇔ u·q < p (q(x) > 0
		// since x was drawn from q).
		if u := e.rnd.float64(); u*float64(q[x]) < float64(p[x]) {
			continue
		}
		return a, sampleResidual(p, q, e.rnd.float64())
	}
	e.smp.probs(p, rows[len(drafts)][:e.vocab])
	return len(drafts), sampleFrom(p, e.rnd.float64())
}
