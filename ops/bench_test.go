package ops

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
	"unsafe"

	"github.com/gopard/gopard/ops/asm"
	"github.com/gopard/gopard/tensor"
)

// BenchmarkMatMul times whole MatMuls on two threads at the Qwen2.5-0.5B
// MLP shapes: decode and verify rows with the weights coming from memory
// (32 matrices in turn, 279 MB), verify rows from L3 (one 8.7 MB matrix),
// and 64-row prefill of the up and down
// projections (the down projection's long rows are what the tile groups
// are for). It reports GFLOP/s and GB/s of weights.
func BenchmarkMatMul(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	pool := NewPool(2)
	defer pool.Close()
	for _, c := range []struct{ N, K, mats, M int }{
		{4864, 896, 32, 1}, {4864, 896, 32, 9}, {4864, 896, 1, 9}, {4864, 896, 1, 64}, {896, 4864, 1, 64},
	} {
		ws := make([]*tensor.Tensor, c.mats)
		for i := range ws {
			ws[i] = tensor.New(tensor.BF16, c.N, c.K)
			for j, u := 0, ws[i].U16(); j < len(u); j++ {
				u[j] = uint16(r.Uint32()>>20) | 0x3c00
			}
		}
		x := randSlice(r, c.M*c.K)
		out := make([]float32, c.M*c.N)
		b.Run(fmt.Sprintf("bf16/%dx%d/M=%d/mats=%d", c.N, c.K, c.M, c.mats), func(b *testing.B) {
			i := 0
			for b.Loop() {
				MatMul(pool, out, x, c.M, ws[i], nil, nil)
				i = (i + 1) % c.mats
			}
			s := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(2*c.M*c.N*c.K)/s/1e9, "GFLOP/s")
			b.ReportMetric(float64(2*c.N*c.K)/s/1e9, "GB/s")
		})
	}
}

// BenchmarkAttention times Attention on two threads at the embedded
// pair's shapes (head size 64): the target's decode step and K = 4 verify
// (8 heads over 4 key/value heads, 1 and 5 rows) and the draft's PARD
// forward (4 over 2, 7 rows), at positions 150 and 900. "cold" streams 40
// MB through both threads before each call, as a forward's weights do,
// so that the KV cache comes from memory; the reported µs/call times the
// attention alone. kv=f16 is Attention over the same cache in binary16.
func BenchmarkAttention(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	pool := NewPool(2)
	defer pool.Close()
	const hd = 64
	flush := make([]float32, 40<<20/4)
	stream := func(_, lo, hi int) {
		var s float32
		for j := lo; j < hi; j += 16 { // one read per cache line
			s += flush[j]
		}
		flush[lo] = s
	}
	for _, c := range []struct {
		name              string
		M, heads, kvHeads int
	}{{"decode", 1, 8, 4}, {"verify", 5, 8, 4}, {"draft", 7, 4, 2}} {
		for _, start := range []int{150, 900} {
			q := randSlice(r, c.M*c.heads*hd)
			k := randSlice(r, (start+c.M)*c.kvHeads*hd)
			v := randSlice(r, (start+c.M)*c.kvHeads*hd)
			k16, v16 := make([]uint16, len(k)), make([]uint16, len(v))
			asm.F32ToF16(k16, k)
			asm.F32ToF16(v16, v)
			out := make([]float32, len(q))
			scratch := make([][]float32, pool.Threads())
			for i := range scratch {
				scratch[i] = make([]float32, AttentionScratch(c.M, start, hd))
			}
			// The same cache with each head's positions together, as
			// CPU.AllocKV keeps it.
			n := start + c.M
			kh, vh := headMajor(k, n, n, c.kvHeads, hd, 0), headMajor(v, n, n, c.kvHeads, hd, 0)
			kh16, vh16 := headMajor(k16, n, n, c.kvHeads, hd, 0), headMajor(v16, n, n, c.kvHeads, hd, 0)
			// cold: false, the cache as the last call left it; true, after
			// 40 MB streamed through both threads; flushed, its lines out of
			// every cache level (asm.Evict), as a forward's weights leave it.
			for _, cold := range []string{"false", "true", "flushed"} {
				for _, kv := range []string{"f32", "f16"} {
					for _, layout := range []string{"rows", "heads"} {
						b.Run(fmt.Sprintf("%s/M=%d/pos=%d/cold=%s/kv=%s/layout=%s", c.name, c.M, start, cold, kv, layout), func(b *testing.B) {
							l := RowMajor(c.kvHeads, hd)
							if layout == "heads" {
								l = HeadMajor(n, hd)
							}
							var run func()
							var kb, vb []byte
							switch {
							case kv == "f16" && layout == "heads":
								run, kb, vb = func() { Attention(pool, out, q, kh16, vh16, c.M, start, c.heads, c.kvHeads, hd, l, scratch) }, bytesOf(kh16), bytesOf(vh16)
							case kv == "f16":
								run, kb, vb = func() { Attention(pool, out, q, k16, v16, c.M, start, c.heads, c.kvHeads, hd, l, scratch) }, bytesOf(k16), bytesOf(v16)
							case layout == "heads":
								run, kb, vb = func() { Attention(pool, out, q, kh, vh, c.M, start, c.heads, c.kvHeads, hd, l, scratch) }, bytesOf(kh), bytesOf(vh)
							default:
								run, kb, vb = func() { Attention(pool, out, q, k, v, c.M, start, c.heads, c.kvHeads, hd, l, scratch) }, bytesOf(k), bytesOf(v)
							}
							var spent time.Duration
							for b.Loop() {
								switch cold {
								case "true":
									pool.Run(len(flush), 1<<16, stream)
								case "flushed":
									asm.Evict(kb)
									asm.Evict(vb)
								}
								t0 := time.Now()
								run()
								spent += time.Since(t0)
							}
							b.ReportMetric(float64(spent.Nanoseconds())/1e3/float64(b.N), "µs/call")
						})
					}
				}
			}
		}
	}
}

// bytesOf is x's memory, for asm.Evict.
func bytesOf[T asm.Cache](x []T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(x))), len(x)*int(unsafe.Sizeof(x[0])))
}

// nopTask is a Task that does nothing: what a dispatch costs by itself.
type nopTask struct{}

func (nopTask) Run(worker, lo, hi int) {}

// BenchmarkPoolDispatch times a pool dispatch with nothing to do, on all
// the machine's threads: the fixed cost every kernel of a forward pays
// (a decode step of the embedded target makes 26, a PARD iteration 42).
func BenchmarkPoolDispatch(b *testing.B) {
	p := NewPool(0)
	defer p.Close()
	for b.Loop() {
		p.RunTask(p.Threads(), 1, nopTask{})
	}
}

// BenchmarkLinear times CPU.Linear from memory (the matrices taken in
// turn, more bytes than the L3 holds) at verify sizes, with float32 and
// bf16 activations, on one and two threads: the embedded target's MLP
// shape (1408×512, 24 matrices) and the Qwen2.5-0.5B down projection
// (896×4864, rows too long for a tile's packed activations to stay in L1;
// 12 matrices). "1408x512-cached" is one such matrix over and over, in the
// threads' L2 after the first call: the arithmetic alone, which the
// from-memory figures compare with.
func BenchmarkLinear(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 7))
	for _, sh := range []struct {
		name       string
		n, k, mats int
		ms         []int
	}{
		{"1408x512", 1408, 512, 24, []int{1, 2, 3, 4, 5}},
		{"1408x512-cached", 1408, 512, 1, []int{1, 5, 9}},
		{"896x4864", 896, 4864, 12, []int{1, 5, 9, 13}},
	} {
		ws := make([]*tensor.Tensor, sh.mats)
		for i := range ws {
			ws[i] = tensor.New(tensor.BF16, sh.n, sh.k)
			for j, u := 0, ws[i].U16(); j < len(u); j++ {
				u[j] = uint16(r.Uint32()>>20) | 0x3c00
			}
		}
		for _, threads := range []int{1, 2} {
			for _, act := range []string{"f32", "bf16"} {
				c := NewCPU(threads)
				if act == "bf16" && !c.SetBF16Activations(true) {
					c.Pool().Close()
					continue
				}
				for _, M := range sh.ms {
					x := tensor.FromF32(randSlice(r, M*sh.k), M, sh.k)
					out := c.Alloc(M, sh.n)
					b.Run(fmt.Sprintf("%s/threads=%d/act=%s/M=%d", sh.name, threads, act, M), func(b *testing.B) {
						i := 0
						for b.Loop() {
							c.Linear(out, x, ws[i], nil)
							i = (i + 1) % len(ws)
						}
					})
				}
				c.Pool().Close()
			}
		}
	}
}

// BenchmarkTopK: the 10 largest of a Qwen vocabulary's logits (what
// cmd/score prints a position), against the stable sort it replaces.
func BenchmarkTopK(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, 151936)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	b.Run("TopK", func(b *testing.B) {
		idx := make([]int, 10)
		for b.Loop() {
			TopK(idx, x)
		}
	})
	b.Run("SliceStable", func(b *testing.B) {
		order := make([]int, len(x))
		for b.Loop() {
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(p, q int) bool { return x[order[p]] > x[order[q]] })
		}
	})
}
