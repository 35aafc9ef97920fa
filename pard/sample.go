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
}

func newSampler(temp float32, topK int, topP float32, vocab int) *sampler {
	return &sampler{temp: float64(temp), topK: topK, topP: float64(topP), cands: make([]cand, vocab)}
}

// probs writes into dst (len(logits) values) the probabilities of the
// transformed distribution of logits; entries outside its support are 0.
// NaN logits count as −Inf.
func (s *sampler) probs(dst, logits []float32) {
	n := len(logits)
	c := s.cands[:0]
	maxv := float32(math.Inf(-1))
	if s.topK > 0 && s.topK < n {
		c = topK(c[:0:s.topK], logits, s.topK) // NaNs already −Inf
		for _, x := range c {
			if x.v > maxv {
				maxv = x.v
			}
		}
	} else {
		for i, l := range logits {
			if l != l {
				l = float32(math.Inf(-1))
			}
			if l > maxv {
				maxv = l
			}
			c = append(c, cand{l, int32(i)})
		}
	}
	clear(dst)
	if math.IsInf(float64(maxv), -1) { // nothing finite: fall back to the argmax
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
	inv := 1 / sum
	for _, x := range c {
		dst[x.id] = float32(float64(x.v) * inv)
	}
}

// nucleus keeps the smallest set of the highest weights (ties: lower id
// first) whose mass reaches p·sum, and returns it with its mass. It sorts only
// the candidates above a weight threshold that already holds that mass.
func nucleus(c []cand, sum, p float64) ([]cand, float64) {
	need := p * sum
	t := float32(1) // the largest weight is exp(0) = 1
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
