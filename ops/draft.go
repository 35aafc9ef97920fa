package ops

import (
	"math"
	"slices"
)

// DraftDist writes into q (len(logits) values) the distribution that a
// draft's tokens are drawn from where its logits stay on a device (the GPU's
// draft_sample kernel, nn.SampleChainer): the CPU reference of that kernel.
//
//	w_i = exp((x_i − max x)/T)                       NaN logits as −Inf
//	top-k (0 < k < n): keep w_i ≥ the k-th largest w  (every tie of it)
//	top-p (0 < p < 1): keep w_i ≥ τ, τ the largest value with
//	                   Σ_{kept w_j ≥ τ} w_j ≥ p · Σ_{kept} w_j
//	q_i = kept w_i / Σ kept w_j, else 0
//
// A row whose largest logit is not finite (nothing but −Inf and NaN, or a
// +Inf) gives its argmax (Argmax) probability 1.
//
// It is the transform of pard's sampler (temperature, top-k, top-p) with
// thresholds instead of a sort: tied values are kept or dropped together,
// where the sampler breaks ties by id. Speculative sampling stays exact
// with any draft distribution, as long as the verify knows it; the
// engine reads it back from the device.
func DraftDist(q, logits []float32, temperature float32, topK int, topP float32) {
	q = q[:len(logits)]
	m := float32(math.Inf(-1))
	for _, x := range logits {
		m = max32(m, x)
	}
	if math.IsInf(float64(m), 0) {
		clear(q)
		q[Argmax(logits)] = 1
		return
	}
	invT := 1 / temperature
	for i, x := range logits {
		w := float32(math.Exp(float64((x - m) * invT)))
		if w != w { // a NaN logit
			w = 0
		}
		q[i] = w
	}
	var tau float32 // keep q[i] ≥ tau
	if topK > 0 && topK < len(q) {
		sorted := slices.Clone(q)
		slices.SortFunc(sorted, func(a, b float32) int { return compareDesc(a, b) })
		tau = sorted[topK-1]
	}
	if topP > 0 && topP < 1 {
		var kept []float32
		var sum float64
		for _, w := range q {
			if w >= tau {
				kept = append(kept, w)
				sum += float64(w)
			}
		}
		slices.SortFunc(kept, func(a, b float32) int { return compareDesc(a, b) })
		var cum float64
		for _, w := range kept {
			cum += float64(w)
			if cum >= float64(topP)*sum {
				tau = w
				break
			}
		}
	}
	var sum float64
	for i, w := range q {
		if w < tau {
			q[i] = 0
		}
		sum += float64(q[i])
	}
	inv := float32(1 / sum)
	for i := range q {
		q[i] *= inv
	}
}

// Draw returns the index that a uniform number u in [0, 1) picks from the
// non-negative weights q: the first whose running sum exceeds u·Σq, or the
// last positive one when rounding leaves none (0 when none is).
func Draw(q []float32, u float64) int {
	var sum float64
	for _, w := range q {
		sum += float64(w)
	}
	target, cum, last := u*sum, 0.0, 0
	for i, w := range q {
		if w > 0 {
			cum += float64(w)
			last = i
			if cum > target {
				return i
			}
		}
	}
	return last
}

// max32 is max that ignores NaN (as the kernels' fmaxf).
func max32(a, b float32) float32 {
	if b > a {
		return b
	}
	return a
}

func compareDesc(a, b float32) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// Verdict is speculative rejection sampling's test of k drafts x_a drawn
// from q_a against the target's distributions p_a (a ≤ k) with the uniform
// numbers u[0..k], the CPU reference of the GPU's spec_accept kernel
// (nn.SampleChainer.KeepVerdict): accepted = the first depth a with
// u[a]·q_a(x_a) ≥ p_a(x_a) (k when none), next = Draw from (p_a − q_a)⁺
// by u[a+1] (from p_a when that has no mass), or bonus when every draft is
// accepted.
func Verdict(drafts []int32, q, p [][]float32, bonus int32, u []float32) (accepted int, next int32) {
	for a, x := range drafts {
		if u[a]*q[a][x] < p[a][x] {
			continue
		}
		residual := make([]float32, len(p[a]))
		var mass float64
		for i, v := range p[a] {
			residual[i] = max(v-q[a][i], 0)
			mass += float64(residual[i])
		}
		if !(mass > 0) {
			residual = p[a]
		}
		return a, int32(Draw(residual, float64(u[a+1])))
	}
	return len(drafts), bonus
}
