package main

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// timedBackend is a backend that can time the work a function queues: a
// GPU with events (gpu.Device, also an nn.Argmaxer), or the CPU by the
// clock (cpuTimer).
type timedBackend interface {
	nn.Backend
	Time(f func()) (time.Duration, error)
	nn.Fused
}

// cpuTimer times the CPU backend's operations by the wall clock: each runs
// to its end (the pool's threads included) before it returns, so an
// operation's time is its dispatch, its work and the wait for the slowest
// thread.
type cpuTimer struct{ *ops.CPU }

func (c cpuTimer) Time(f func()) (time.Duration, error) {
	start := time.Now()
	f()
	return time.Since(start), nil
}

// opProfiler wraps a timed backend and times every operation alone on the
// device (each waits for the one before), adding the times up per
// operation and shape: where a forward's device time goes, launch latency
// on the device included. The sum exceeds a normal forward's time by the
// overlap that waiting removes.
type opProfiler struct {
	timedBackend
	total map[string]time.Duration
	calls map[string]int
	err   error
}

func newOpProfiler(b timedBackend) *opProfiler {
	return &opProfiler{timedBackend: b, total: map[string]time.Duration{}, calls: map[string]int{}}
}

func (p *opProfiler) time(name string, f func()) {
	d, err := p.Time(f)
	if err != nil && p.err == nil {
		p.err = err
	}
	p.total[name] += d
	p.calls[name]++
}

func (p *opProfiler) reset() { clear(p.total); clear(p.calls) }

func (p *opProfiler) Embedding(out, table *tensor.Tensor, ids []int32) {
	p.time("embedding", func() { p.timedBackend.Embedding(out, table, ids) })
}

func (p *opProfiler) Linear(out, x, w, bias *tensor.Tensor) {
	p.time(fmt.Sprintf("linear %d×%d", w.Rows(), w.Cols()), func() { p.timedBackend.Linear(out, x, w, bias) })
}

func (p *opProfiler) RMSNorm(out, x, w *tensor.Tensor, eps float32) {
	p.time("rmsnorm", func() { p.timedBackend.RMSNorm(out, x, w, eps) })
}

func (p *opProfiler) RoPE(x *tensor.Tensor, heads, headDim, start int, cos, sin *tensor.Tensor) {
	p.time("rope", func() { p.timedBackend.RoPE(x, heads, headDim, start, cos, sin) })
}

func (p *opProfiler) Attention(out, q, k, v *tensor.Tensor, start, heads, kvHeads, headDim int) {
	p.time("attention", func() { p.timedBackend.Attention(out, q, k, v, start, heads, kvHeads, headDim) })
}

func (p *opProfiler) SiLUMul(out, gate, up *tensor.Tensor) {
	p.time("silu·mul", func() { p.timedBackend.SiLUMul(out, gate, up) })
}

func (p *opProfiler) Add(dst, src *tensor.Tensor) {
	p.time("add", func() { p.timedBackend.Add(dst, src) })
}

func (p *opProfiler) AddRMSNorm(out, x, delta, w *tensor.Tensor, eps float32) {
	p.time("add+rmsnorm", func() { p.timedBackend.AddRMSNorm(out, x, delta, w, eps) })
}

func (p *opProfiler) RoPEQK(q, k *tensor.Tensor, heads, kvHeads, headDim, start int, cos, sin *tensor.Tensor) {
	p.time("rope q+k", func() { p.timedBackend.RoPEQK(q, k, heads, kvHeads, headDim, start, cos, sin) })
}

func (p *opProfiler) LinearSwiGLU(out, x, gate, up *tensor.Tensor) {
	p.time(fmt.Sprintf("linear+swiglu 2×%d×%d", gate.Rows(), gate.Cols()), func() { p.timedBackend.LinearSwiGLU(out, x, gate, up) })
}

func (p *opProfiler) LinearQKV(q, k, v, x, wq, wk, wv, bq, bk, bv *tensor.Tensor) {
	p.time(fmt.Sprintf("linear q,k,v %d+%d+%d×%d", wq.Rows(), wk.Rows(), wv.Rows(), wq.Cols()),
		func() { p.timedBackend.LinearQKV(q, k, v, x, wq, wk, wv, bq, bk, bv) })
}

// normFolder is a backend that can fold norms and residual adds into the
// linear layers (gpu.Device), and turn that on and off.
type normFolder interface {
	nn.NormFuser
	SetFuseNorm(on bool) bool
	FuseNormSetting() bool
}

// foldsNorm reports whether b folds norms into a forward of rows rows.
func foldsNorm(b nn.Backend, rows int) bool {
	f, ok := b.(nn.NormFuser)
	return ok && f.FusesNorm(rows)
}

// FusesNorm, LinearAdd, NormLinearQKV and NormLinearSwiGLU time the
// folded forms where the backend has them (the Decoder takes them only
// when FusesNorm says so).
func (p *opProfiler) FusesNorm(rows int) bool { return foldsNorm(p.timedBackend, rows) }

func (p *opProfiler) LinearAdd(x, in, w *tensor.Tensor) {
	p.time(fmt.Sprintf("linear+add %d×%d", w.Rows(), w.Cols()), func() { p.timedBackend.(nn.NormFuser).LinearAdd(x, in, w) })
}

func (p *opProfiler) NormLinearQKV(q, k, v, x, norm *tensor.Tensor, eps float32, wq, wk, wv, bq, bk, bv *tensor.Tensor, rot *nn.Rotation) {
	rope := ""
	if rot != nil {
		rope = "+rope"
	}
	p.time(fmt.Sprintf("rmsnorm+q,k,v%s %d+%d+%d×%d", rope, wq.Rows(), wk.Rows(), wv.Rows(), wq.Cols()),
		func() {
			p.timedBackend.(nn.NormFuser).NormLinearQKV(q, k, v, x, norm, eps, wq, wk, wv, bq, bk, bv, rot)
		})
}

func (p *opProfiler) NormLinearSwiGLU(out, x, norm *tensor.Tensor, eps float32, gate, up *tensor.Tensor) {
	p.time(fmt.Sprintf("rmsnorm+swiglu 2×%d×%d", gate.Rows(), gate.Cols()),
		func() { p.timedBackend.(nn.NormFuser).NormLinearSwiGLU(out, x, norm, eps, gate, up) })
}

// Argmax times the device's argmax. The Decoder calls it only for logits
// off the host, which only a GPU (an nn.Argmaxer) keeps; on the CPU it
// finds the argmax itself.
func (p *opProfiler) Argmax(t *tensor.Tensor, rows int) []int32 {
	var ids []int32
	p.time("argmax", func() { ids = p.timedBackend.(nn.Argmaxer).Argmax(t, rows) })
	return ids
}

// ArgmaxProb times the device's argmax with probabilities, as Argmax.
func (p *opProfiler) ArgmaxProb(t *tensor.Tensor, rows int) (ids []int32, probs []float32) {
	p.time("argmax+prob", func() { ids, probs = p.timedBackend.(nn.Argmaxer).ArgmaxProb(t, rows) })
	return ids, probs
}

// AllocKV and StoreKV are the backend's KV store (nn.KVStore), so that the
// profile's decoder keeps the cache the backend's own decoders keep (the
// CPU's heads apart, a binary16 one with --kv-cache f16): allocKV, or the
// default float32 rows where the backend keeps none. The stores are timed.
func (p *opProfiler) AllocKV(rows, kvHeads, headDim int) *tensor.Tensor {
	return allocKV(p.timedBackend, rows, kvHeads, headDim)
}

func (p *opProfiler) StoreKV(kCache, vCache *tensor.Tensor, start int, k, v *tensor.Tensor) {
	p.time(fmt.Sprintf("store kv %v", kCache.DType), func() { p.timedBackend.(nn.KVStore).StoreKV(kCache, vCache, start, k, v) })
}

// BulkRows, LinearBulk and AttentionBulk are the backend's tiled product
// and attention for a prefill's rows (nn.Bulker), timed: bulkRows is b's
// BulkRows where b is an nn.Bulker, else 0 (none), so that the decoder
// takes its usual path.
func (p *opProfiler) BulkRows() int { return bulkRows(p.timedBackend) }

func (p *opProfiler) LinearBulk(out, x, w, bias *tensor.Tensor) {
	p.time(fmt.Sprintf("linear bulk %d×%d", w.Rows(), w.Cols()), func() { p.timedBackend.(nn.Bulker).LinearBulk(out, x, w, bias) })
}

func (p *opProfiler) AttentionBulk(out, q, k, v *tensor.Tensor, start, heads, kvHeads, headDim int) {
	p.time("attention bulk", func() {
		p.timedBackend.(nn.Bulker).AttentionBulk(out, q, k, v, start, heads, kvHeads, headDim)
	})
}

func bulkRows(b timedBackend) int {
	if k, ok := b.(nn.Bulker); ok {
		return k.BulkRows()
	}
	return 0
}

// allocKV is b's AllocKV where b is an nn.KVStore, else nil: the default
// cache (nn.KVStore's protocol).
func allocKV(b timedBackend, rows, kvHeads, headDim int) *tensor.Tensor {
	if s, ok := b.(nn.KVStore); ok {
		return s.AllocKV(rows, kvHeads, headDim)
	}
	return nil
}

// profileOps times each operation of forwards of M tokens at context
// position ctx on a decoder sharing m's weights, and prints where the
// device time goes (on the CPU: the wall time; the greedy argmax of the
// last logits runs outside the backend there and is not listed).
func profileOps(b timedBackend, m *forwardRunner, sizes []int, ctx, runs int, say func(string, ...any)) error {
	p := newOpProfiler(b)
	rows := slices.Max(sizes)
	dec, err := nn.NewDecoder(p, m.cfg, m.dec.Weights(), ctx+rows+16, 256)
	if err != nil {
		return err
	}
	prompt := syntheticPrompt(ctx+rows, m.cfg.Vocab)
	if _, err := dec.Forward(prompt[:ctx], 0, 0); err != nil {
		return err
	}
	for _, M := range sizes {
		p.reset()
		for range runs {
			dec.Truncate(ctx)
			if _, err := dec.ForwardArgmax(prompt[ctx:ctx+M], ctx, forwardWant(M)); err != nil {
				return err
			}
		}
		if p.err != nil {
			return p.err
		}
		names := make([]string, 0, len(p.total))
		var sum time.Duration
		for n, d := range p.total {
			names = append(names, n)
			sum += d
		}
		slices.SortFunc(names, func(a, b string) int { return cmp.Compare(p.total[b], p.total[a]) })
		say("\noperations of a forward of %d token(s), each timed alone on the device (mean of %d forwards): %.3f ms in all\n",
			M, runs, float64(sum)/float64(runs)/1e6)
		say("%-38s %6s %10s %10s %7s\n", "operation", "calls", "total", "per call", "share")
		for _, n := range names {
			per := p.total[n] / time.Duration(runs)
			calls := p.calls[n] / runs
			say("%-38s %6d %8.3fms %8.1fµs %6.1f%%\n", n, calls, float64(per)/1e6, float64(per)/1e3/float64(calls), 100*float64(p.total[n])/float64(sum))
		}
	}
	return nil
}

// opKind is a class of operations that ablateOps leaves out.
type opKind uint8

const (
	kindAttention opKind = 1 << iota // Attention, AttentionBulk, and a KV store's StoreKV
	kindNorm                         // RMSNorm, AddRMSNorm and Add: the residual adds and norms (folded: their share of the linear layers)
	kindRotation                     // RoPE, RoPEQK
	kindLinear                       // Linear, LinearQKV, LinearSwiGLU, LinearBulk and the folded forms: the weights' reads
	kindPrefetch                     // nn.Prefetcher's PrefetchWeights
)

// ablation is a backend that drops the operations of the kinds in skip,
// so that a forward timed without them shows what they cost in place:
// queued among the others in the device's usual launch mode (a GPU's
// graphs and overlapping launches), which profileOps, timing each alone,
// cannot show. Its results are wrong; only its times mean anything. It
// hands argmax, prefetching and the KV store on to the backend when it has
// them, so that a decoder takes its usual path.
type ablation struct {
	timedBackend
	skip opKind
}

func (a *ablation) keeps(k opKind) bool { return a.skip&k == 0 }

func (a *ablation) Attention(out, q, k, v *tensor.Tensor, start, heads, kvHeads, headDim int) {
	if a.keeps(kindAttention) {
		a.timedBackend.Attention(out, q, k, v, start, heads, kvHeads, headDim)
	}
}

func (a *ablation) RMSNorm(out, x, w *tensor.Tensor, eps float32) {
	if a.keeps(kindNorm) {
		a.timedBackend.RMSNorm(out, x, w, eps)
	}
}

func (a *ablation) AddRMSNorm(out, x, delta, w *tensor.Tensor, eps float32) {
	if a.keeps(kindNorm) {
		a.timedBackend.AddRMSNorm(out, x, delta, w, eps)
	}
}

func (a *ablation) Add(dst, src *tensor.Tensor) {
	if a.keeps(kindNorm) {
		a.timedBackend.Add(dst, src)
	}
}

func (a *ablation) RoPE(x *tensor.Tensor, heads, headDim, start int, cos, sin *tensor.Tensor) {
	if a.keeps(kindRotation) {
		a.timedBackend.RoPE(x, heads, headDim, start, cos, sin)
	}
}

func (a *ablation) RoPEQK(q, k *tensor.Tensor, heads, kvHeads, headDim, start int, cos, sin *tensor.Tensor) {
	if a.keeps(kindRotation) {
		a.timedBackend.RoPEQK(q, k, heads, kvHeads, headDim, start, cos, sin)
	}
}

func (a *ablation) Linear(out, x, w, bias *tensor.Tensor) {
	if a.keeps(kindLinear) {
		a.timedBackend.Linear(out, x, w, bias)
	}
}

func (a *ablation) LinearQKV(q, k, v, x, wq, wk, wv, bq, bk, bv *tensor.Tensor) {
	if a.keeps(kindLinear) {
		a.timedBackend.LinearQKV(q, k, v, x, wq, wk, wv, bq, bk, bv)
	}
}

func (a *ablation) LinearSwiGLU(out, x, gate, up *tensor.Tensor) {
	if a.keeps(kindLinear) {
		a.timedBackend.LinearSwiGLU(out, x, gate, up)
	}
}

// FusesNorm is the backend's: the ablated forward folds norms where a
// normal one does.
func (a *ablation) FusesNorm(rows int) bool { return foldsNorm(a.timedBackend, rows) }

// LinearAdd, NormLinearQKV and NormLinearSwiGLU are linear layers; left
// without the residual adds and norms, they neither add nor normalize
// (LinearAdd writes x).
func (a *ablation) LinearAdd(x, in, w *tensor.Tensor) {
	switch {
	case !a.keeps(kindLinear):
	case a.keeps(kindNorm):
		a.timedBackend.(nn.NormFuser).LinearAdd(x, in, w)
	default:
		a.timedBackend.Linear(x, in, w, nil)
	}
}

// NormLinearQKV's rotation, when it has one, counts as a rotation: left
// out with them, and kept (by itself) when the rest is left out.
func (a *ablation) NormLinearQKV(q, k, v, x, norm *tensor.Tensor, eps float32, wq, wk, wv, bq, bk, bv *tensor.Tensor, rot *nn.Rotation) {
	if !a.keeps(kindRotation) {
		rot = nil
	}
	switch {
	case !a.keeps(kindLinear):
	case a.keeps(kindNorm):
		a.timedBackend.(nn.NormFuser).NormLinearQKV(q, k, v, x, norm, eps, wq, wk, wv, bq, bk, bv, rot)
		return
	default:
		a.timedBackend.LinearQKV(q, k, v, x, wq, wk, wv, bq, bk, bv)
	}
	if rot != nil {
		a.timedBackend.RoPEQK(q, k, rot.Heads, rot.KVHeads, rot.HeadDim, rot.Start, rot.Cos, rot.Sin)
	}
}

func (a *ablation) NormLinearSwiGLU(out, x, norm *tensor.Tensor, eps float32, gate, up *tensor.Tensor) {
	switch {
	case !a.keeps(kindLinear):
	case a.keeps(kindNorm):
		a.timedBackend.(nn.NormFuser).NormLinearSwiGLU(out, x, norm, eps, gate, up)
	default:
		a.timedBackend.LinearSwiGLU(out, x, gate, up)
	}
}

func (a *ablation) PrefetchWeights(ws []*tensor.Tensor) {
	if p, ok := a.timedBackend.(nn.Prefetcher); ok && a.keeps(kindPrefetch) {
		p.PrefetchWeights(ws)
	}
}

// BulkRows, LinearBulk and AttentionBulk are the backend's, as the
// profile's; the bulk products are linear layers, the bulk attention
// attention.
func (a *ablation) BulkRows() int { return bulkRows(a.timedBackend) }

func (a *ablation) LinearBulk(out, x, w, bias *tensor.Tensor) {
	if a.keeps(kindLinear) {
		a.timedBackend.(nn.Bulker).LinearBulk(out, x, w, bias)
	}
}

func (a *ablation) AttentionBulk(out, q, k, v *tensor.Tensor, start, heads, kvHeads, headDim int) {
	if a.keeps(kindAttention) {
		a.timedBackend.(nn.Bulker).AttentionBulk(out, q, k, v, start, heads, kvHeads, headDim)
	}
}

// AllocKV and StoreKV are the backend's KV store, as the profile's.
func (a *ablation) AllocKV(rows, kvHeads, headDim int) *tensor.Tensor {
	return allocKV(a.timedBackend, rows, kvHeads, headDim)
}

func (a *ablation) StoreKV(kCache, vCache *tensor.Tensor, start int, k, v *tensor.Tensor) {
	if a.keeps(kindAttention) {
		a.timedBackend.(nn.KVStore).StoreKV(kCache, vCache, start, k, v)
	}
}

// Argmax and ArgmaxProb are the backend's: the decoder calls them only
// for logits it keeps off the host, which only an nn.Argmaxer does.
func (a *ablation) Argmax(t *tensor.Tensor, rows int) []int32 {
	return a.timedBackend.(nn.Argmaxer).Argmax(t, rows)
}

func (a *ablation) ArgmaxProb(t *tensor.Tensor, rows int) ([]int32, []float32) {
	return a.timedBackend.(nn.Argmaxer).ArgmaxProb(t, rows)
}

// ablations are the rows of ablateOps's table. The row with flipFold
// times the forward with the folding of norms into the linear layers
// turned the other way (a normFolder only).
var ablations = []struct {
	name     string
	skip     opKind
	flipFold bool
}{
	{"every operation", 0, false},
	{"", 0, true}, // named by foldRowName
	{"without attention", kindAttention, false},
	{"without residual adds and norms", kindNorm, false},
	{"without rotations", kindRotation, false},
	{"without L2 prefetches", kindPrefetch, false},
	{"linear layers only", kindAttention | kindNorm | kindRotation | kindPrefetch, false},
	{"without linear layers", kindLinear, false},
}

// flipFold turns f's folding of norms the other way.
func flipFold(f normFolder) { f.SetFuseNorm(!f.FuseNormSetting()) }

// foldRowName names the flipFold row: what it turns folding to.
func foldRowName(foldingOn bool) string {
	if foldingOn {
		return "norms as kernels of their own"
	}
	return "norms folded into linear layers"
}

// ablateOps times forwards of M tokens at context position ctx (as
// timeForward: argmax ids on a GPU, medians of runs) on a decoder sharing
// m's weights, with each kind of operation left out in turn, and prints
// each time beside the full forward's: the difference is what that kind
// costs in place. "linear layers only" is compared with the roofline
// (m's weight bytes at bandwidth GB/s): what the weights' reads reach
// with nothing between them. On a backend that folds norms into the
// linear layers (GOPARD_GPU_FUSE_NORM) one more row times the forward
// with that turned the other way, where it changes the forward.
func ablateOps(b timedBackend, m *forwardRunner, sizes []int, ctx, runs int, bandwidth float64, ids bool, say func(string, ...any)) error {
	a := &ablation{timedBackend: b}
	rows := slices.Max(sizes)
	dec, err := nn.NewDecoder(a, m.cfg, m.dec.Weights(), ctx+rows+runs+16, 256)
	if err != nil {
		return err
	}
	prompt := syntheticPrompt(ctx+rows, m.cfg.Vocab)
	if _, err := dec.Forward(prompt[:ctx], 0, 0); err != nil {
		return err
	}
	prefetching := false
	if p, ok := b.(interface{ PrefetchBudget() int }); ok {
		prefetching = p.PrefetchBudget() > 0
	}
	folder, canFold := b.(normFolder)
	for _, M := range sizes {
		want := forwardWant(M)
		say("\nforwards of %d token(s) with a kind of operation left out (their results are wrong; medians of %d):\n", M, runs)
		say("%-34s %10s %10s %8s\n", "operations", "time", "Δ", "of bw")
		var full float64
		for _, row := range ablations {
			if row.skip == kindPrefetch && !prefetching {
				continue // prefetching is off: nothing to leave out
			}
			name := row.name
			if row.flipFold {
				if !canFold {
					continue
				}
				name = foldRowName(folder.FuseNormSetting())
				folded := folder.FusesNorm(M)
				flipFold(folder)
				if folder.FusesNorm(M) == folded {
					flipFold(folder)
					continue // forwards of M rows do not fold either way
				}
			}
			a.skip = row.skip
			sec, err := timeForward(dec, prompt[ctx:ctx+M], ctx, want, runs, ids)
			if row.flipFold {
				flipFold(folder)
			}
			if err != nil {
				return err
			}
			if row.skip == 0 && !row.flipFold {
				full = sec
			}
			ofBW := ""
			if row.skip&kindLinear == 0 && bandwidth > 0 {
				ofBW = fmt.Sprintf("%7.0f%%", 100*float64(m.weightBytes)/sec/1e9/bandwidth)
			}
			say("%-34s %8.3fms %+8.3fms %8s\n", name, sec*1e3, (sec-full)*1e3, ofBW)
		}
	}
	a.skip = 0
	return nil
}
