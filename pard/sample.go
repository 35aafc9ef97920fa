package pard

import (
	"math"
	"slices"

	"github.com/gopard/gopard/ops"
)

// rng is xoshiro256** seeded through splitmix64: small, fast, and the same
// stream for the same seed on every platform.
type rng struct{ s [4]uint64 }

func newRNG(seed uint64) rng {
	var r rng
	for i := range r.s {
		seed += 0x9e3779b97f4a7c15
		z := seed
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		r.s[i] = z ^ z>>31
	}
	return r
}

func (r *rng) next() uint64 {
	s := &r.s
	out := rotl(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = rotl(s[3], 45)
	return out
}

func rotl(x uint64, k uint) uint64 { return x<<k | x>>(64-k) }

// float64 returns a uniform number in [0, 1).
func (r *rng) float64() float64 { return float64(r.next()>>11) * 0x1p-53 }

// argmax returns the index of the largest value, the lowest index on ties;
// NaNs never win, 0 when no value is comparable (ops.Argmax, as the GPU's
// argmax kernel computes it, so that ids do not depend on where it runs).
func argmax(row []float32) int32 { return int32(ops.Argmax(row)) }

// expNeg returns e^x for x ≤ 0 with a relative error below 1e-8 (far below
// float32 resolution), several times faster than math.Exp: x = (n + f)·ln 2
// with n an integer and |f| ≤ 1/2, then 2^f by its Taylor series to degree 8
// and 2^n by building the exponent bits.
func expNeg(x float64) float64 {
	if x < -708 || x != x {
		return 0
	}
	t := x * math.Log2E
	n := math.Floor(t + 0.5)
	y := (t - n) * math.Ln2 // |y| ≤ ln2/2
	p := 1 + y*(1+y*(1.0/2+y*(1.0/6+y*(1.0/24+y*(1.0/120+y*(1.0/720+y*(1.0/5040+y*(1.0/40320))))))))
	return p * math.Float64frombits(uint64(int64(n)+1023)<<52)
}

// sampleFrom draws an index from the unnormalised non-negative weights w
// using the uniform number u in [0, 1).
func sampleFrom(w []float32, u float64) int32 {
	var sum float64
	for _, x := range w {
		sum += float64(x)
	}
	target := u * sum
	var cum float64
	last := -1
	for i, x := range w {
		if x <= 0 {
			continue
		}
		cum += float64(x)
		last = i
		if cum > target {
			return int32(i)
		}
	}
	if last < 0 {
		return argmax(w)
	}
	return int32(last) // rounding: u*sum landed on the total
}

// sampleResidual draws from normalize(max(p−q, 0)) with u in [0, 1). When
// the residual has no mass (p ≤ q everywhere up to rounding; then a rejection
// is almost impossible) it draws from p.
func sampleResidual(p, q []float32, u float64) int32 {
	var sum float64
	for i, x := range p {
		if d := x - q[i]; d > 0 {
			sum += float64(d)
		}
	}
	if !(sum > 0) {
		return sampleFrom(p, u)
	}
	target := u * sum
	var cum float64
	last := -1
	for i, x := range p {
		if d := x - q[i]; d > 0 {
			cum += float64(d)
			last = i
			if cum > target {
				return int32(i)
			}
		}
	}
	return int32(last)
}

// cand is a token with a value: its logit, then its unnormalised weight.
type cand struct {
	v  float32
	id int32
}

// cmpCand orders by value descending, then id ascending.
func cmpCand(a, b cand) int {
	switch {
	case a.v > b.v:
		return -1
	case a.v < b.v:
		return 1
	}
	return int(a.id) - int(b.id)
}

// worse reports whether a ranks below b (smaller value, or a higher id on ties).
func worse(a, b cand) bool { return a.v < b.v || (a.v == b.v && a.id > b.id) }

// sampler turns a row of logits into the distribution that sampling uses:
// temperature, then top-k, then top-p (nucleus), as in HF transformers. The
// same transform serves the target in every engine and the draft, so that the
// speculative engines sample exactly what AR sampling samples.
type sampler struct {
	temp  float64 // > 0
	topK  int     // 0: off
	topP  float64 // 0 or 1: off
	cands []cand  // scratch, one per vocabulary entry
	// nucleus's scratch for vocabularies of bucketMin and more: four
	// tallies of the mass of each bucket of probabilities (values ≤ 1,
	// whose bits shifted right by 20 are at most 1016), and the boundary
	// bucket's candidates.
	mass *[4][1017]float64
	edge []cand
}

func newSampler(temp float32, topK int, topP float32, vocab int) *sampler {
	s := &sampler{temp: float64(temp), topK: topK, topP: float64(topP), cands: make([]cand, vocab)}
	if topP > 0 && topP < 1 && vocab >= bucketMin {
		s.mass, s.edge = new([4][1017]float64), make([]cand, vocab)
	}
	return s
}

// probs writes into dst (len(logits) values) the probabilities of the
// transformed distribution of logits; entries outside its support are 0.
// NaN logits count as −Inf.
func (s *sampler) probs(dst, logits []float32) {
	if s.topK > 0 && s.topK < len(logits) {
		s.probsTopK(dst, logits)
		return
	}
	maxv := float32(math.Inf(-1))
	for _, l := range logits {
		if l > maxv { // NaN never is
			maxv = l
		}
	}
	if math.IsInf(float64(maxv), -1) { // nothing finite: fall back to the argmax
		clear(dst)
		dst[argmax(logits)] = 1
		return
	}
	// softmax((l − max)/T) over the whole row: the vocabulary's exponentials
	// in ops' vector kernels, about 0.25 ms for a 150k-token row where a
	// scalar loop took 1.3 (BenchmarkProbs), and a speculative iteration
	// transforms 2K+1 rows.
	invT := float32(1 / s.temp)
	for i, l := range logits {
		if l != l {
			l = float32(math.Inf(-1))
		}
		dst[i] = (l - maxv) * invT
	}
	ops.Softmax(dst)
	if s.topP > 0 && s.topP < 1 {
		s.nucleus(dst, s.topP)
	}
}

// probsTopK is probs with top-k on: the k best logits, then their softmax,
// then top-p among them.
func (s *sampler) probsTopK(dst, logits []float32) {
	c := topK(s.cands[:0:s.topK], logits, s.topK) // NaNs already −Inf
	maxv := float32(math.Inf(-1))
	for _, x := range c {
		if x.v > maxv {
			maxv = x.v
		}
	}
	if math.IsInf(float64(maxv), -1) { // nothing finite: fall back to the argmax
		clear(dst)
		dst[argmax(logits)] = 1
		return
	}
	invT := 1 / s.temp
	var sum float64
	for i := range c {
		w := float32(expNeg(float64(c[i].v-maxv) * invT))
		c[i].v = w
		sum += float64(w)
	}
	if s.topP > 0 && s.topP < 1 {
		c, sum = nucleus(c, sum, s.topP)
	}
	spread(dst, c, sum)
}

// spread makes dst the distribution of the kept weights c, whose mass is
// sum: each divided by it, every other entry 0.
func spread(dst []float32, c []cand, sum float64) {
	clear(dst)
	inv := 1 / sum
	for _, x := range c {
		dst[x.id] = float32(float64(x.v) * inv)
	}
}

// bucketMin is the vocabulary from which nucleus tallies buckets instead of
// sorting candidates (clearing the tallies costs what a few thousand
// values do).
const bucketMin = 4096

// nucleus cuts the distribution p to its top-p set (the smallest set of the
// highest probabilities, ties to the lower id, whose mass reaches topP of
// the whole) and renormalises it in place. One pass sums the mass by
// bucket of value (a probability's float32 exponent and top three
// mantissa bits, so buckets are ordered as their values); every value in
// a bucket above the one where the running mass from the top reaches
// topP is kept unsorted, and only that boundary bucket is sorted. Sorting
// all the candidates of a flat 150k-token distribution took milliseconds.
func (s *sampler) nucleus(p []float32, topP float64) {
	if s.mass == nil || len(p) < bucketMin { // a small row: sort its candidates
		c := s.cands[:0]
		var total float64
		for i, x := range p {
			c = append(c, cand{x, int32(i)})
			total += float64(x)
		}
		c, sum := nucleus(c, total, topP)
		spread(p, c, sum)
		return
	}
	const shift = 20
	// Four tallies, element i in tally i%4: a flat distribution puts run
	// after run of elements in one bucket, and one tally would make each
	// addition wait for the last.
	t4 := s.mass
	clear(t4[:])
	i := 0
	for ; i+3 < len(p); i += 4 {
		t4[0][math.Float32bits(p[i])>>shift] += float64(p[i])
		t4[1][math.Float32bits(p[i+1])>>shift] += float64(p[i+1])
		t4[2][math.Float32bits(p[i+2])>>shift] += float64(p[i+2])
		t4[3][math.Float32bits(p[i+3])>>shift] += float64(p[i+3])
	}
	for ; i < len(p); i++ {
		t4[0][math.Float32bits(p[i])>>shift] += float64(p[i])
	}
	mass := &t4[0]
	var total float64
	for b := range mass {
		mass[b] += t4[1][b] + t4[2][b] + t4[3][b]
		total += mass[b]
	}
	need := topP * total
	var above float64 // the mass of the buckets above the boundary
	edge := uint32(0)
	for b := len(mass) - 1; b >= 0; b-- {
		if above+mass[b] >= need {
			edge = uint32(b)
			break
		}
		above += mass[b]
	}
	// Both lists written without a branch (each candidate is stored, and
	// its list's length advances only if it belongs there): random
	// probabilities made the branches of a switch mispredict half the time.
	keep, c := s.cands[:len(p)], s.edge[:len(p)]
	nk, nc := 0, 0
	for i, x := range p {
		b := math.Float32bits(x) >> shift
		keep[nk], c[nc] = cand{x, int32(i)}, cand{x, int32(i)}
		inKeep, inEdge := 0, 0
		if b > edge {
			inKeep = 1
		}
		if b == edge {
			inEdge = 1
		}
		nk, nc = nk+inKeep, nc+inEdge
	}
	keep, c = keep[:nk], c[:nc]
	slices.SortFunc(c, cmpCand)
	cum := above
	for _, x := range c {
		keep = append(keep, x)
		if cum += float64(x.v); cum >= need {
			break
		}
	}
	spread(p, keep, cum)
}

// nucleus keeps the smallest set of the highest weights (ties: lower id
// first) whose mass reaches p·sum, and returns it with its mass. It sorts only
// the candidates above a weight threshold that already holds that mass.
func nucleus(c []cand, sum, p float64) ([]cand, float64) {
	need := p * sum
	t := float32(1) // no weight exceeds 1 (exp(0), or a probability)
	for t > 0 {
		var m float64
		for _, x := range c {
			if x.v >= t {
				m += float64(x.v)
			}
		}
		if m >= need {
			break
		}
		t /= 16
	}
	j := 0
	for i := range c {
		if c[i].v >= t {
			c[i], c[j] = c[j], c[i]
			j++
		}
	}
	head := c[:j]
	slices.SortFunc(head, cmpCand)
	var cum float64
	for i, x := range head {
		cum += float64(x.v)
		if cum >= need {
			return head[:i+1], cum
		}
	}
	return head, cum
}

// topK appends to h (cap k) the k best logits (ties: lower id) in no
// particular order, using a min-heap whose root is the worst kept entry.
func topK(h []cand, logits []float32, k int) []cand {
	for i, l := range logits {
		if l != l {
			l = float32(math.Inf(-1))
		}
		x := cand{l, int32(i)}
		if len(h) < k {
			h = append(h, x)
			for j := len(h) - 1; j > 0; { // sift up
				parent := (j - 1) / 2
				if !worse(h[j], h[parent]) {
					break
				}
				h[j], h[parent] = h[parent], h[j]
				j = parent
			}
			continue
		}
		if !worse(h[0], x) {
			continue
		}
		h[0] = x
		for j := 0; ; { // sift down
			m, l, r := j, 2*j+1, 2*j+2
			if l < k && worse(h[l], h[m]) {
				m = l
			}
			if r < k && worse(h[r], h[m]) {
				m = r
			}
			if m == j {
				break
			}
			h[j], h[m] = h[m], h[j]
			j = m
		}
	}
	return h
}
