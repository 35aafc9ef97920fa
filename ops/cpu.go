package ops

import (
	"fmt"

	"github.com/gopard/gopard/ops/asm"

	"github.com/gopard/gopard/tensor"
)

// CPU is the nn.Backend that runs the kernels of this package on a Pool.
// It is not safe for concurrent use: one model forward at a time (several
// models may share it, as a target and its draft do, one after the other).
type CPU struct {
	pool    *Pool
	scratch [][]float32 // one buffer per worker: attention scores

	// The kernels in flight, kept so that no call allocates.
	mm     matMulTask
	multi  multiMatMul
	swiglu swiGLUTask
	silu   siluMulTask
	att    attentionTask[float32]
	att16  attentionTask[uint16] // over a binary16 cache (SetF16KVCache)
	norm   normTask
	up     []float32 // LinearSwiGLU's up projection

	f16KV bool // AllocKV hands out binary16 caches (SetF16KVCache)
}

// swiGLUTask is LinearSwiGLU up to 16 rows in one pool dispatch: each
// thread multiplies a stretch of gate rows and the same stretch of up
// rows, then applies SiLU·mul to those columns of every row itself, so
// that no thread idles through a serial pass over the M·N products.
type swiGLUTask struct {
	mm      *multiMatMul // gate (task 0) and up (task 1), prepared
	out, up []float32
	M, N    int
}

// Run implements Task over intermediate columns [lo, hi).
func (t *swiGLUTask) Run(worker, lo, hi int) {
	t.mm.tasks[0].Run(worker, lo, hi)
	t.mm.tasks[1].Run(worker, lo, hi)
	for m := range t.M {
		o := t.out[m*t.N+lo : m*t.N+hi]
		SiLUMul(o, o, t.up[m*t.N+lo:m*t.N+hi])
	}
}

// siluMulTask is SiLUMul over rows [lo, hi) of (rows, n) inputs.
type siluMulTask struct {
	out, up []float32
	n       int
}

// Run implements Task.
func (t *siluMulTask) Run(_, lo, hi int) {
	SiLUMul(t.out[lo*t.n:hi*t.n], t.out[lo*t.n:hi*t.n], t.up[lo*t.n:hi*t.n])
}

// normTask is RMSNorm over rows [lo, hi) of a (rows, len(w)) input.
type normTask struct {
	out, x, w []float32
	eps       float32
}

// Run implements Task.
func (t *normTask) Run(_, lo, hi int) {
	d := len(t.w)
	RMSNorm(t.out[lo*d:hi*d], t.x[lo*d:hi*d], t.w, t.eps)
}

// NewCPU returns a CPU backend running on threads goroutines (≤ 0: all cores).
func NewCPU(threads int) *CPU {
	p := NewPool(threads)
	return &CPU{pool: p, scratch: make([][]float32, p.Threads())}
}

// Sibling returns a CPU backend on the same pool with kernels in flight
// and settings of its own (the KV-cache dtype copied), so that two models
// taking turns on the pool can compute differently: a speculative draft
// with bf16 activations beside an exact target, for instance (see
// SetBF16Activations). Like the CPU it came from, it runs one forward at
// a time and never at the same time as its sibling.
func (c *CPU) Sibling() *CPU {
	return &CPU{pool: c.pool, scratch: make([][]float32, c.pool.Threads()), f16KV: c.f16KV}
}

// SetBF16Activations makes Linear round activations to bfloat16 when the
// weights are bfloat16 and the CPU has AVX512-BF16 (asm.MatDot, VDPBF16PS:
// twice the multiply-adds per instruction, as llama.cpp computes bf16
// models), and reports whether that path is available. It is off by
// default: on the tiny random Qwen3 checkpoints of the conformance suite
// it moves log-probabilities by up to 2e-2, beyond the 2e-3 tolerance.
func (c *CPU) SetBF16Activations(on bool) bool {
	c.mm.bf16Act = on
	for i := range c.multi.tasks {
		c.multi.tasks[i].bf16Act = on
	}
	return asm.HasMatDot()
}

// Name implements nn.Backend.
func (c *CPU) Name() string { return fmt.Sprintf("cpu (%d threads)", c.pool.Threads()) }

// Pool returns the backend's worker pool.
func (c *CPU) Pool() *Pool { return c.pool }

// Alloc implements nn.Backend.
func (c *CPU) Alloc(shape ...int) *tensor.Tensor { return tensor.New(tensor.F32, shape...) }

// Load implements nn.Backend. Matrices are used in place (memory-mapped,
// in their stored dtype); vectors (norm weights, biases: a few KB) are
// widened to F32 once because the elementwise kernels read float32.
func (c *CPU) Load(w *tensor.Tensor) (*tensor.Tensor, error) {
	if w.Place != tensor.Host {
		return nil, fmt.Errorf("cpu backend: tensor %v is not in host memory", w)
	}
	switch w.DType {
	case tensor.F32, tensor.BF16, tensor.F16:
	default:
		return nil, fmt.Errorf("cpu backend: unsupported dtype %v", w.DType)
	}
	if len(w.Shape) <= 1 && w.DType != tensor.F32 {
		return tensor.FromF32(w.ToF32(), w.Shape...), nil
	}
	return w, nil
}

// grow makes every worker's scratch at least n floats long.
func (c *CPU) grow(n int) {
	for i, s := range c.scratch {
		if len(s) < n {
			c.scratch[i] = make([]float32, n)
		}
	}
}

// Embedding implements nn.Backend.
func (c *CPU) Embedding(out, table *tensor.Tensor, ids []int32) {
	o, d := out.F32(), table.Cols()
	for m, id := range ids {
		dst := o[m*d : (m+1)*d]
		if row := WidenRow(dst, table, int(id)); table.DType == tensor.F32 {
			copy(dst, row)
		}
	}
}

// Linear implements nn.Backend.
func (c *CPU) Linear(out, x, w, bias *tensor.Tensor) {
	var b []float32
	if bias != nil {
		b = bias.F32()
	}
	c.mm.run(c.pool, out.F32(), x.F32(), x.Rows(), w, b)
}

// LinearQKV implements nn.Fused: the three projections as Linear computes
// them, in one pool dispatch up to 16 rows (multiMatMul).
func (c *CPU) LinearQKV(q, k, v, x, wq, wk, wv, bq, bk, bv *tensor.Tensor) {
	if x.Rows() > 16 {
		c.Linear(q, x, wq, bq)
		c.Linear(k, x, wk, bk)
		c.Linear(v, x, wv, bv)
		return
	}
	for _, p := range [3][3]*tensor.Tensor{{q, wq, bq}, {k, wk, bk}, {v, wv, bv}} {
		var b []float32
		if p[2] != nil {
			b = p[2].F32()
		}
		c.multi.add(p[0].F32(), x.F32(), x.Rows(), p[1], b, c.pool.Threads())
	}
	c.multi.run(c.pool)
}

// LinearSwiGLU implements nn.Fused: out = silu(x·gateᵀ)·(x·upᵀ), the two
// projections and the SiLU·mul in one pool dispatch up to 16 rows
// (swiGLUTask).
func (c *CPU) LinearSwiGLU(out, x, gate, up *tensor.Tensor) {
	M, N := x.Rows(), gate.Rows()
	if len(c.up) < M*N {
		c.up = make([]float32, M*N)
	}
	u := c.up[:M*N]
	if M > 16 {
		c.mm.run(c.pool, out.F32(), x.F32(), M, gate, nil)
		c.mm.run(c.pool, u, x.F32(), M, up, nil)
		c.silu = siluMulTask{out: out.F32(), up: u, n: N}
		c.pool.RunTask(M, max(1, 4096/N), &c.silu)
		c.silu = siluMulTask{}
		return
	}
	c.multi.add(out.F32(), x.F32(), M, gate, nil, c.pool.Threads())
	c.multi.add(u, x.F32(), M, up, nil, c.pool.Threads())
	c.swiglu = swiGLUTask{mm: &c.multi, out: out.F32(), up: u, M: M, N: N}
	c.pool.RunTask(N, 4, &c.swiglu)
	c.swiglu = swiGLUTask{}
	c.multi.release()
}

// AddRMSNorm implements nn.Fused: Add, then RMSNorm.
func (c *CPU) AddRMSNorm(out, x, delta, w *tensor.Tensor, eps float32) {
	c.Add(x, delta)
	c.RMSNorm(out, x, w, eps)
}

// RoPEQK implements nn.Fused: RoPE of q, then of k.
func (c *CPU) RoPEQK(q, k *tensor.Tensor, heads, kvHeads, headDim, start int, cos, sin *tensor.Tensor) {
	c.RoPE(q, heads, headDim, start, cos, sin)
	c.RoPE(k, kvHeads, headDim, start, cos, sin)
}

// RMSNorm implements nn.Backend.
func (c *CPU) RMSNorm(out, x, w *tensor.Tensor, eps float32) {
	wf := w.F32()
	rows, d := x.Len()/len(wf), len(wf)
	xo, oo := x.F32(), out.F32()
	// Rows are independent; split them when there are many (prefill, q/k norm).
	c.norm = normTask{out: oo, x: xo, w: wf, eps: eps}
	c.pool.RunTask(rows, max(1, 4096/d), &c.norm)
	c.norm = normTask{}
}

// RoPE implements nn.Backend.
func (c *CPU) RoPE(x *tensor.Tensor, heads, headDim, start int, cos, sin *tensor.Tensor) {
	RoPE(x.F32(), heads, headDim, start, cos.F32(), sin.F32())
}

// Attention implements nn.Backend.
func (c *CPU) Attention(out, q, k, v *tensor.Tensor, start, heads, kvHeads, headDim int) {
	M := q.Rows()
	c.grow(AttentionScratch(M, start, headDim))
	layout := RowMajor(kvHeads, headDim)
	if len(k.Shape) == 3 { // from AllocKV
		layout = HeadMajor(k.Shape[1], headDim)
	}
	if k.DType == tensor.F16 {
		c.att16.run(c.pool, out.F32(), q.F32(), k.U16(), v.U16(), M, start, heads, kvHeads, headDim, layout, c.scratch)
		return
	}
	c.att.run(c.pool, out.F32(), q.F32(), k.F32(), v.F32(), M, start, heads, kvHeads, headDim, layout, c.scratch)
}

// SetF16KVCache makes the KV caches allocated from now on (by the next
// nn.NewDecoder on this backend) hold IEEE binary16 instead of float32:
// half the memory, and half the bytes attention reads per position, which
// come from memory once a forward's weights have evicted them. Keys and
// values are rounded to nearest when stored (within 2⁻¹¹ relative; beyond
// ±65504 they would become infinities), as in llama.cpp's default f16
// cache; everything else is unchanged. On the conformance models it moves
// log-probabilities by up to 3e-2 (models.TestConformanceF16KVCache).
// Speculative decoding stays exact against the target run with the same
// setting. Caches already allocated keep their dtype.
func (c *CPU) SetF16KVCache(on bool) { c.f16KV = on }

// AllocKV implements nn.KVStore: a zeroed (kvHeads, rows, headDim) cache,
// each head's positions together (HeadMajor), in binary16 after
// SetF16KVCache(true), else float32. Attention reads one head's positions
// at a time; in rows of positions (RowMajor) it would read a 64-wide
// head's quarter of each 1 KB row (the embedded target's four float32
// heads), which memory serves far more slowly than a run of whole rows:
// the target's attention with its cache out of every cache level took
// 17–33% less time this way (go test -bench 'Attention/.*/cold=flushed'),
// and its AR decoding 7% (README, "Long contexts").
func (c *CPU) AllocKV(rows, kvHeads, headDim int) *tensor.Tensor {
	if c.f16KV {
		return tensor.New(tensor.F16, kvHeads, rows, headDim)
	}
	return tensor.New(tensor.F32, kvHeads, rows, headDim)
}

// StoreKV implements nn.KVStore: it puts the float32 rows of k and v,
// positions start.., into each head's positions of kCache and vCache,
// rounded to binary16 in a binary16 cache.
func (c *CPU) StoreKV(kCache, vCache *tensor.Tensor, start int, k, v *tensor.Tensor) {
	storeKV(kCache, start, k)
	storeKV(vCache, start, v)
}

// storeKV is StoreKV for one cache.
func storeKV(cache *tensor.Tensor, start int, src *tensor.Tensor) {
	kvHeads, rows, hd := cache.Shape[0], cache.Shape[1], cache.Shape[2]
	M, s := src.Rows(), src.F32()
	if src.Cols() != kvHeads*hd || start < 0 || start+M > rows {
		panic(fmt.Sprintf("ops: StoreKV: %d rows of %d at position %d into a cache %v", M, src.Cols(), start, cache.Shape))
	}
	var f32 []float32
	var f16 []uint16
	if cache.DType == tensor.F16 {
		f16 = cache.U16()
	} else {
		f32 = cache.F32()
	}
	for g := range kvHeads {
		for m := range M {
			row := s[m*kvHeads*hd+g*hd:][:hd]
			at := (g*rows + start + m) * hd
			if f16 != nil {
				asm.F32ToF16(f16[at:at+hd], row)
			} else {
				copy(f32[at:at+hd], row)
			}
		}
	}
}

// SiLUMul implements nn.Backend.
func (c *CPU) SiLUMul(out, gate, up *tensor.Tensor) { SiLUMul(out.F32(), gate.F32(), up.F32()) }

// Add implements nn.Backend.
func (c *CPU) Add(dst, src *tensor.Tensor) { Add(dst.F32(), src.F32()) }

// Read implements nn.Backend.
func (c *CPU) Read(dst []float32, src *tensor.Tensor) { copy(dst, src.F32()) }
