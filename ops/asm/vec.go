package asm

import "math"

// The vector kernels in use; init (dispatch.go) may replace the twins.
var (
	dotImpl       = dotGo
	axpyImpl      = axpyGo
	addImpl       = addGo
	bf16ToF32Impl = bf16ToF32Go
	f16ToF32Impl  = f16ToF32Go
	f32ToF16Impl  = f32ToF16Go
	sumSqImpl     = sumSqGo
	scaleMulImpl  = scaleMulGo
	scaleImpl     = scaleGo
	siluMulImpl   = siluMulGo
	expSubImpl    = expSubGo
	maxImpl       = maxGo
	// hasArgmaxLanes: Argmax scans x with argmaxLanesAVX512 (called
	// directly, not through a variable, so that its outputs stay on the
	// stack).
	hasArgmaxLanes bool
	ropeRowImpl    = ropeRowGo
)

// Dot returns Σ a[i]·b[i]; len(b) must be ≥ len(a).
func Dot(a, b []float32) float32 {
	if len(b) < len(a) {
		panic("asm: Dot: b shorter than a")
	}
	return dotImpl(a, b)
}

// Axpy does y[i] += alpha·x[i]; len(y) must be ≥ len(x).
func Axpy(alpha float32, x, y []float32) {
	if len(y) < len(x) {
		panic("asm: Axpy: y shorter than x")
	}
	axpyImpl(alpha, x, y)
}

// Add does dst[i] += src[i]; len(dst) must be ≥ len(src).
func Add(dst, src []float32) {
	if len(dst) < len(src) {
		panic("asm: Add: dst shorter than src")
	}
	addImpl(dst, src)
}

// BF16ToF32 widens src into dst exactly; len(dst) must be ≥ len(src).
func BF16ToF32(dst []float32, src []uint16) {
	if len(dst) < len(src) {
		panic("asm: BF16ToF32: dst shorter than src")
	}
	bf16ToF32Impl(dst, src)
}

// F16ToF32 widens IEEE binary16 values into dst exactly (a NaN stays a
// NaN, made quiet); len(dst) must be ≥ len(src).
func F16ToF32(dst []float32, src []uint16) {
	if len(dst) < len(src) {
		panic("asm: F16ToF32: dst shorter than src")
	}
	f16ToF32Impl(dst, src)
}

// F32ToF16 rounds src into IEEE binary16 values in dst, to nearest with
// ties to even, as VCVTPS2PH does: too large a magnitude becomes an
// infinity, too small a signed zero or a subnormal, a NaN a quiet NaN
// keeping the top bits of its payload; len(dst) must be ≥ len(src).
func F32ToF16(dst []uint16, src []float32) {
	if len(dst) < len(src) {
		panic("asm: F32ToF16: dst shorter than src")
	}
	f32ToF16Impl(dst, src)
}

// SumSq returns Σ x[i]², the statistic of RMSNorm.
func SumSq(x []float32) float32 { return sumSqImpl(x) }

// ScaleMul does out[i] = x[i]·s·w[i], the second half of RMSNorm;
// len(out) and len(w) must be ≥ len(x). out may alias x.
func ScaleMul(out, x []float32, s float32, w []float32) {
	if len(out) < len(x) || len(w) < len(x) {
		panic("asm: ScaleMul: out or w shorter than x")
	}
	scaleMulImpl(out, x, s, w)
}

// Scale does x[i] *= s.
func Scale(x []float32, s float32) { scaleImpl(x, s) }

// SiLUMul does out[i] = gate[i]·sigmoid(gate[i])·up[i] with Exp's
// approximation of the exponential; out and up must be ≥ len(gate) long.
func SiLUMul(out, gate, up []float32) {
	if len(out) < len(gate) || len(up) < len(gate) {
		panic("asm: SiLUMul: out or up shorter than gate")
	}
	siluMulImpl(out, gate, up)
}

// ExpSub replaces x[i] by Exp(x[i] − m) and returns the sum of the new
// values: the body of a softmax once m = max(x) is known.
func ExpSub(x []float32, m float32) float32 { return expSubImpl(x, m) }

// Max returns the largest element of x (−Inf when x is empty).
func Max(x []float32) float32 { return maxImpl(x) }

// Argmax returns the index of the largest element of x, the first of
// several equal ones (−0 equals +0), skipping NaNs: greedy decoding's
// choice of token. It returns 0 when x is empty or all NaN.
func Argmax(x []float32) int {
	if !hasArgmaxLanes || len(x) < 16 || len(x) > math.MaxInt32 {
		return argmaxGo(x)
	}
	var vals [64]float32
	var idx [64]int32
	argmaxLanesAVX512(x, &vals, &idx)
	// The largest lane maximum; of equal ones, the earliest index.
	best := -1
	for l, i := range idx {
		if i >= 0 && (best < 0 || vals[l] > vals[best] || vals[l] == vals[best] && i < idx[best]) {
			best = l
		}
	}
	if best < 0 {
		return argmaxGo(x) // nothing above −Inf: every element NaN or −Inf
	}
	return int(idx[best])
}

func argmaxGo(x []float32) int {
	best := 0
	for best < len(x) && x[best] != x[best] { // skip leading NaNs
		best++
	}
	if best == len(x) {
		return 0
	}
	bv, off := x[best], best+1
	for i, v := range x[off:] {
		if v > bv { // false for a NaN
			best, bv = off+i, v
		}
	}
	return best
}

// RoPERow rotates the heads of one row, each 2·len(c) values, by the
// angles whose cosines and sines are c and s (rotate-half pairing):
//
//	x[i]     = x[i]·c[i] − x[i+h]·s[i]
//	x[i+h]   = x[i+h]·c[i] + x[i]·s[i]          h = len(c), i < h
//
// Each product is rounded before the sum (no fused multiply-add), so
// every kernel gives the same bits.
func RoPERow(row []float32, heads int, c, s []float32) {
	if len(s) < len(c) || len(row) < 2*len(c)*heads {
		panic("asm: RoPERow: row or s too short")
	}
	ropeRowImpl(row, c, s, heads)
}

func ropeRowGo(row, c, s []float32, heads int) {
	half := len(c)
	for h := range heads {
		lo, hi := row[2*h*half:(2*h+1)*half], row[(2*h+1)*half:(2*h+2)*half]
		for i, x0 := range lo {
			x1 := hi[i]
			// The conversions forbid fusing: float32(a*b) is rounded.
			lo[i] = float32(x0*c[i]) - float32(x1*s[i])
			hi[i] = float32(x1*c[i]) + float32(x0*s[i])
		}
	}
}

func dotGo(a, b []float32) float32 {
	var s float32
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func axpyGo(alpha float32, x, y []float32) {
	for i, v := range x {
		y[i] += alpha * v
	}
}

func addGo(dst, src []float32) {
	for i, v := range src {
		dst[i] += v
	}
}

func bf16ToF32Go(dst []float32, src []uint16) {
	for i, h := range src {
		dst[i] = math.Float32frombits(uint32(h) << 16)
	}
}

func f16ToF32Go(dst []float32, src []uint16) {
	for i, h := range src {
		dst[i] = f16ToF32(h)
	}
}

// f16ToF32 widens one binary16 exactly.
func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp, man := uint32(h>>10)&0x1f, uint32(h&0x3ff)
	switch {
	case exp == 0x1f && man != 0: // NaN: quiet, payload kept
		return math.Float32frombits(sign | 0x7fc00000 | man<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000)
	case exp == 0: // zero or subnormal: man · 2⁻²⁴, exact in binary32
		return math.Float32frombits(sign | math.Float32bits(float32(man)*0x1p-24))
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

func f32ToF16Go(dst []uint16, src []float32) {
	for i, f := range src {
		dst[i] = f32ToF16(f)
	}
}

// f32ToF16 rounds one binary32 to the nearest binary16, ties to even.
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp, man := int(b>>23)&0xff, b&0x7fffff
	e := exp - 127
	switch {
	case exp == 0xff && man != 0:
		return sign | 0x7e00 | uint16(man>>13)
	case e > 15: // beyond the largest finite binary16, and ∞
		return sign | 0x7c00
	case e >= -14: // normal: drop 13 bits; a carry may reach ∞, correctly
		h := uint32(e+15)<<10 | man>>13
		if rem := man & 0x1fff; rem > 0x1000 || rem == 0x1000 && h&1 == 1 {
			h++
		}
		return sign | uint16(h)
	case e < -25: // below half the smallest subnormal (binary32 subnormals too)
		return sign
	}
	// Subnormal: the 24-bit significand times 2^(e-23) in units of 2⁻²⁴.
	m, s := man|0x800000, uint(-1-e)
	h, rem, half := m>>s, m&(1<<s-1), uint32(1)<<(s-1)
	if rem > half || rem == half && h&1 == 1 {
		h++ // 0x400 is the smallest normal: the carry encodes it
	}
	return sign | uint16(h)
}

func sumSqGo(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += v * v
	}
	return s
}

func scaleMulGo(out, x []float32, s float32, w []float32) {
	for i, v := range x {
		out[i] = v * s * w[i]
	}
}

func scaleGo(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

func siluMulGo(out, gate, up []float32) {
	for i, g := range gate {
		out[i] = g / (1 + Exp(-g)) * up[i]
	}
}

func expSubGo(x []float32, m float32) float32 {
	var s float32
	for i, v := range x {
		e := Exp(v - m)
		x[i] = e
		s += e
	}
	return s
}

func maxGo(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

// Constants of Exp: 2^n·p(r) with n = round(x·log2 e), r = x − n·ln 2
// (ln 2 split in a high part exact in float32 and a low remainder), and p
// the degree-6 Taylor polynomial of e^r on |r| ≤ ln2/2 (relative error
// below 2e-7 there).
const (
	expHi    = 88.0              // above this 2^n would need n = 128: return +Inf
	expLo    = -87.3365447505531 // below this e^x is under the smallest normal: flush to 0
	log2e    = 1.44269504088896341
	ln2Hi    = 0.693359375
	ln2Lo    = -2.12194440e-4
	expC2    = 1.0 / 2
	expC3    = 1.0 / 6
	expC4    = 1.0 / 24
	expC5    = 1.0 / 120
	expC6    = 1.0 / 720
	expRound = 12582912 // 1.5·2^23: adding it rounds a float32 to an integer
)

// Exp is the float32 exponential the SiLU and softmax kernels use, the
// same steps in every lane: range reduction to r = x − n·ln 2 and a
// polynomial, scaled by 2^n through the exponent bits. Relative error is a
// few ulp; x > 88 gives +Inf, x < −87.34 gives 0, NaN stays NaN.
func Exp(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > expHi:
		return float32(math.Inf(1))
	case x < expLo:
		return 0
	}
	n := (x*log2e + expRound) - expRound
	r := x - n*ln2Hi
	r -= n * ln2Lo
	p := float32(expC6)
	p = p*r + expC5
	p = p*r + expC4
	p = p*r + expC3
	p = p*r + expC2
	p = p*r + 1
	p = p*r + 1
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// Sum returns Σ x[i]; cmd/bench streams a large buffer through it to
// measure the read bandwidth.
func Sum(x []float32) float32 { return sumImpl(x) }

// FMALoop runs n rounds of twelve independent 16-lane fused multiply-adds
// (z = z·0.99999 + 1 from z = 1) and returns the sum of all lanes: 384·n
// floating-point operations, the machine's FMA peak when timed.
func FMALoop(n int) float32 { return fmaLoopImpl(n) }

// FMALoopFlops is the number of floating-point operations in one round of FMALoop.
const FMALoopFlops = 12 * 16 * 2

var (
	sumImpl     = sumGo
	fmaLoopImpl = fmaLoopGo
)

func sumGo(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += v
	}
	return s
}

func fmaLoopGo(n int) float32 {
	z := float32(1)
	for range n {
		z = z*0.99999 + 1
	}
	return 12 * 16 * z
}

// Pause spends about n spin-wait hints (the PAUSE instruction on amd64,
// which yields the core's issue slots to its SMT sibling); the pool's
// workers call it while they wait for the next loop. n must be ≥ 1.
func Pause(n int) { pauseImpl(n) }

var pauseImpl = pauseGo

func pauseGo(n int) {
	for range n {
	}
}

// Cache is the element type of the KV-cache rows the attention kernels
// read: float32, or IEEE binary16 bits (a half-precision cache, half the
// bytes per position). Binary16 elements are widened exactly as they are
// loaded, so every result over them is, bit for bit, the float32 one over
// the widened rows.
type Cache interface{ float32 | uint16 }

// DotRows computes the dot products of q with n rows of k spaced stride
// apart, the scores of one attention head:
//
//	out[t] = Σ_i q[i] · k[t·stride + i]      t < n, i < len(q)
func DotRows[T Cache](out, q []float32, k []T, stride, n int) {
	if n <= 0 {
		return
	}
	if len(out) < n || stride < len(q) || len(k) < (n-1)*stride+len(q) {
		panic("asm: DotRows: slices too short")
	}
	dotRows(out, q, k, stride, n)
}

// AxpyRows adds to o the rows of v (spaced stride apart) weighted by p, the
// output of one attention head:
//
//	o[i] += Σ_t p[t] · v[t·stride + i]      t < len(p), i < len(o)
func AxpyRows[T Cache](o, p []float32, v []T, stride int) {
	if len(p) == 0 {
		return
	}
	if stride < len(o) || len(v) < (len(p)-1)*stride+len(o) {
		panic("asm: AxpyRows: slices too short")
	}
	axpyRows(o, p, v, stride)
}

// DotRows4 is DotRows for four queries of the same length over the same
// rows of k (the query heads that share a key head, or the rows of a
// verify): out[j][t] = q[j] · k[t·stride:], t < n. The kernel shares each
// load of k among the four and keeps sixteen sums in flight; every score
// is bit for bit the one DotRows computes.
func DotRows4[T Cache](out, q *[4][]float32, k []T, stride, n int) {
	dotRowsTile("asm: DotRows4", out[:], q[:], k, stride, n)
}

// DotRows2 is DotRows4 for two queries (a decode step's tile where two
// query heads share a key/value head, which DotRows4 would pad to four):
// eight cache rows at a time share each query load.
func DotRows2[T Cache](out, q *[2][]float32, k []T, stride, n int) {
	dotRowsTile("asm: DotRows2", out[:], q[:], k, stride, n)
}

// AxpyRows4 is AxpyRows for four outputs of the same length and four
// weight vectors of the same length over the same rows of v:
// o[j][i] += Σ_t p[j][t] · v[t·stride + i]. Each output is bit for bit the
// one AxpyRows computes: the sums run in the same order.
func AxpyRows4[T Cache](o, p *[4][]float32, v []T, stride int) {
	axpyRowsTile("asm: AxpyRows4", o[:], p[:], v, stride)
}

// AxpyRows2 is AxpyRows4 for two outputs.
func AxpyRows2[T Cache](o, p *[2][]float32, v []T, stride int) {
	axpyRowsTile("asm: AxpyRows2", o[:], p[:], v, stride)
}

// dotRowsTile is DotRows4 (len(q) = 4) or DotRows2 (2): the multi-query
// kernel on the whole steps of rows it takes (4 or 8), the one-query
// kernel on the rest.
func dotRowsTile[T Cache](name string, out, q [][]float32, k []T, stride, n int) {
	if n <= 0 {
		return
	}
	hd := len(q[0])
	for j := range q {
		if len(q[j]) != hd || len(out[j]) < n {
			panic(name + ": query lengths differ or an output is short")
		}
	}
	if stride < hd || len(k) < (n-1)*stride+hd {
		panic(name + ": slices too short")
	}
	done := 0
	if hasRows4 && hd%16 == 0 && hd > 0 {
		step := 4
		if len(q) == 2 {
			step = 8
		}
		if done = n / step * step; done > 0 {
			var op, qp [4]*float32
			for j := range q {
				op[j], qp[j] = &out[j][0], &q[j][0]
			}
			dotRowsQ(len(q), &op, &qp, &k[0], stride, done, hd)
		}
	}
	if done < n {
		for j := range q {
			dotRows(out[j][done:], q[j], k[done*stride:], stride, n-done)
		}
	}
}

// axpyRowsTile is AxpyRows4 (len(o) = 4) or AxpyRows2 (2).
func axpyRowsTile[T Cache](name string, o, p [][]float32, v []T, stride int) {
	n, hd := len(p[0]), len(o[0])
	for j := range o {
		if len(p[j]) != n || len(o[j]) != hd {
			panic(name + ": lengths differ")
		}
	}
	if n == 0 {
		return
	}
	if stride < hd || len(v) < (n-1)*stride+hd {
		panic(name + ": slices too short")
	}
	if hasRows4 && hd%64 == 0 && hd > 0 {
		var op, pp [4]*float32
		for j := range o {
			op[j], pp[j] = &o[j][0], &p[j][0]
		}
		axpyRowsQ(len(o), &op, &pp, &v[0], stride, n, hd)
		return
	}
	for j := range o {
		axpyRows(o[j], p[j], v, stride)
	}
}

// The kernels by element type (and, for the multi-query ones, by the
// number of queries w, 2 or 4). The multi-query kernels are called
// directly, not through function values, so that the pointer arrays stay
// on the stack (a decode step must not allocate).

func dotRows[T Cache](out, q []float32, k []T, stride, n int) {
	switch k := any(k).(type) {
	case []float32:
		dotRowsImpl(out, q, k, stride, n)
	case []uint16:
		dotRowsF16Impl(out, q, k, stride, n)
	}
}

func axpyRows[T Cache](o, p []float32, v []T, stride int) {
	switch v := any(v).(type) {
	case []float32:
		axpyRowsImpl(o, p, v, stride)
	case []uint16:
		axpyRowsF16Impl(o, p, v, stride)
	}
}

func dotRowsQ[T Cache](w int, op, qp *[4]*float32, k *T, stride, n, hd int) {
	op2, qp2 := (*[2]*float32)(op[:2]), (*[2]*float32)(qp[:2])
	switch k := any(k).(type) {
	case *float32:
		if w == 2 {
			dotRowsQ2AVX512(op2, qp2, k, stride, n, hd)
		} else {
			dotRowsQ4AVX512(op, qp, k, stride, n, hd)
		}
	case *uint16:
		if w == 2 {
			dotRowsQ2F16AVX512(op2, qp2, k, stride, n, hd)
		} else {
			dotRowsQ4F16AVX512(op, qp, k, stride, n, hd)
		}
	}
}

func axpyRowsQ[T Cache](w int, op, pp *[4]*float32, v *T, stride, n, hd int) {
	op2, pp2 := (*[2]*float32)(op[:2]), (*[2]*float32)(pp[:2])
	switch v := any(v).(type) {
	case *float32:
		if w == 2 {
			axpyRowsQ2AVX512(op2, pp2, v, stride, n, hd)
		} else {
			axpyRowsQ4AVX512(op, pp, v, stride, n, hd)
		}
	case *uint16:
		if w == 2 {
			axpyRowsQ2F16AVX512(op2, pp2, v, stride, n, hd)
		} else {
			axpyRowsQ4F16AVX512(op, pp, v, stride, n, hd)
		}
	}
}

var (
	dotRowsImpl     = dotRowsGo
	axpyRowsImpl    = axpyRowsGo
	dotRowsF16Impl  = dotRowsF16Go
	axpyRowsF16Impl = axpyRowsF16Go
	// hasRows4 is whether the multi-query kernels (AVX-512) run; without
	// them DotRows4, DotRows2, AxpyRows4 and AxpyRows2 run the one-query
	// kernels once per query.
	hasRows4 bool
)

func dotRowsGo(out, q, k []float32, stride, n int) {
	for t := 0; t < n; t++ {
		out[t] = dot4(q, k[t*stride:t*stride+len(q)])
	}
}

// dot4 is Σ a[i]·b[i] (len(b) ≥ len(a)) in four independent chains (i mod
// 4) where a's length is a multiple of 4, so that the additions overlap
// (the attention kernel wherever there is no assembly); one chain for the
// rest.
func dot4(a, b []float32) float32 {
	b = b[:len(a)]
	if len(a)%4 != 0 {
		var s float32
		for i, v := range a {
			s += v * b[i]
		}
		return s
	}
	var s0, s1, s2, s3 float32
	for i := 0; i+3 < len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	return (s0 + s1) + (s2 + s3)
}

// dotRowsF16Go and axpyRowsF16Go are dotRowsGo and axpyRowsGo with each
// cache element widened where it is read.
func dotRowsF16Go(out, q []float32, k []uint16, stride, n int) {
	for t := 0; t < n; t++ {
		out[t] = dot4F16(q, k[t*stride:t*stride+len(q)])
	}
}

// dot4F16 is dot4 with b's binary16 elements widened as they are read:
// the same sums in the same order, so the same bits as dot4 over b widened.
func dot4F16(a []float32, b []uint16) float32 {
	b = b[:len(a)]
	if len(a)%4 != 0 {
		var s float32
		for i, v := range a {
			s += v * f16ToF32(b[i])
		}
		return s
	}
	var s0, s1, s2, s3 float32
	for i := 0; i+3 < len(a); i += 4 {
		s0 += a[i] * f16ToF32(b[i])
		s1 += a[i+1] * f16ToF32(b[i+1])
		s2 += a[i+2] * f16ToF32(b[i+2])
		s3 += a[i+3] * f16ToF32(b[i+3])
	}
	return (s0 + s1) + (s2 + s3)
}

func axpyRowsF16Go(o, p []float32, v []uint16, stride int) {
	for t, pt := range p {
		row := v[t*stride : t*stride+len(o)]
		for i, x := range row {
			o[i] += pt * f16ToF32(x)
		}
	}
}

func axpyRowsGo(o, p, v []float32, stride int) {
	for t, pt := range p {
		row := v[t*stride : t*stride+len(o)]
		for i, x := range row {
			o[i] += pt * x
		}
	}
}

// Prefetch asks the CPU to bring b into its L2 cache, one cache line at a
// time in address order, without waiting: MatMul issues it for a block of
// weight rows before the four-row kernels read the rows interleaved, a
// pattern the hardware prefetchers follow poorly. It has no effect on
// results (the twin does nothing).
func Prefetch(b []byte) { prefetchImpl(b) }

var prefetchImpl = func([]byte) {}

// Evict writes back and drops b's cache lines from every level of the
// cache hierarchy (CLFLUSH on amd64; nothing elsewhere), so that a
// benchmark can time a kernel whose data comes from memory, as a
// forward's KV cache does once the forward's weights have streamed
// through. It has no effect on b's contents.
func Evict(b []byte) { evictImpl(b) }

var evictImpl = func([]byte) {}
