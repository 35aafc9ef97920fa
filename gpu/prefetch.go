package gpu

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/gopard/gopard/tensor"
)

// The nn.Prefetcher operation: between two linear layers a decoding step
// runs kernels that read little memory (rotations, attention, norms), and
// the memory, which bounds the linear layers, idles. PrefetchWeights asks
// the L2 cache for the next layers' weights meanwhile (l2_prefetch in
// gpu/kernels/prefetch.cu), so that those layers read part of them from
// L2. Written on 2026-11-28 without a GPU: off unless asked for
// (GOPARD_GPU_PREFETCH, SetPrefetch) until an H100 measures it.

// L2Cacher is implemented by drivers whose kernels' prefetch_l2_bulk
// reaches a device-wide cache (CUDA sm_90 and newer, where compat.h has
// it), and by the emulator, which records the prefetches; L2Bytes is that
// cache's size.
type L2Cacher interface {
	L2Bytes() int
}

// PrefetchHalfL2 is SetPrefetch's default budget: half the device's L2
// per call, the other half left to what the kernels in between use (the
// KV cache, activations) and to what is still being read.
const PrefetchHalfL2 = -1

// The l2_prefetch launch (prefetch.cu): up to prefetchMaxRanges ranges,
// each 16-byte aligned and a multiple of prefetchAlign bytes, asked for in
// chunks of prefetchChunk (PREFETCH_CHUNK) by blocks of one warp, at most
// prefetchBlocks of them. Each multiprocessor has one copy engine, so the
// chunks are spread over as many as there are warps to take them: a 25
// MiB budget is 1600 chunks, 50 one-warp blocks. maxPrefetchBudget keeps
// byte counts within the kernel's int.
const (
	prefetchMaxRanges = 4
	prefetchAlign     = 16
	prefetchChunk     = 16384
	prefetchBlocks    = 256
	maxPrefetchBudget = 1 << 30
)

// SetPrefetch sets the bytes each PrefetchWeights may ask the L2 cache for
// (PrefetchHalfL2: half of it; 0: none, the default) and returns the
// budget set, 0 where the driver cannot prefetch (see L2Cacher).
func (d *Device) SetPrefetch(bytes int) int {
	l2, ok := d.drv.(L2Cacher)
	switch {
	case !ok || l2.L2Bytes() <= 0 || bytes == 0:
		d.prefetchBudget = 0
	case bytes == PrefetchHalfL2:
		d.prefetchBudget = l2.L2Bytes() / 2
	default:
		d.prefetchBudget = min(max(0, bytes), maxPrefetchBudget)
	}
	return d.prefetchBudget
}

// PrefetchBudget is the budget SetPrefetch set, in bytes (0: off).
func (d *Device) PrefetchBudget() int { return d.prefetchBudget }

// PrefetchedBytes is the total that PrefetchWeights has asked for.
func (d *Device) PrefetchedBytes() int64 { return d.prefetched }

// PrefetchFromEnv reads GOPARD_GPU_PREFETCH, the budget NewDevice gives
// SetPrefetch: unset, "0" or "off" (no prefetching), "1" or "on" (half the
// L2 per call), or a budget in MiB ("24MiB"). See SettingsFromEnv.
func PrefetchFromEnv() (int, error) {
	v := strings.TrimSpace(os.Getenv("GOPARD_GPU_PREFETCH"))
	switch strings.ToLower(v) {
	case "", "0", "off":
		return 0, nil
	case "1", "on":
		return PrefetchHalfL2, nil
	}
	if n, ok := strings.CutSuffix(v, "MiB"); ok {
		if mib, err := strconv.Atoi(n); err == nil && mib >= 0 && mib<<20 <= maxPrefetchBudget {
			return mib << 20, nil
		}
	}
	return 0, fmt.Errorf("GOPARD_GPU_PREFETCH=%q: want off, on, or a budget such as 24MiB (at most %dMiB)", v, maxPrefetchBudget>>20)
}

// PrefetchWeights implements nn.Prefetcher: it queues one l2_prefetch for
// the first bytes of each of ws (at most four; device tensors; one not
// 16-byte aligned is left out), the budget shared out by prefetchPlan.
// With prefetching off it does nothing.
func (d *Device) PrefetchWeights(ws []*tensor.Tensor) {
	if len(ws) > prefetchMaxRanges {
		d.badShape("PrefetchWeights", "%d tensors, at most %d", len(ws), prefetchMaxRanges)
	}
	if d.prefetchBudget == 0 || len(ws) == 0 {
		return
	}
	var sizes, plan [prefetchMaxRanges]int
	for i, w := range ws {
		d.operand("PrefetchWeights", w, tensor.F32, tensor.BF16, tensor.F16)
		if w.Ptr%prefetchAlign == 0 {
			sizes[i] = w.Len() * w.DType.Size()
		}
	}
	prefetchPlan(sizes[:len(ws)], d.prefetchBudget, plan[:len(ws)])
	var args [2 * prefetchMaxRanges]uint64
	bytes, chunks := 0, 0
	for i, w := range ws {
		args[2*i], args[2*i+1] = ptr(w), i32(plan[i])
		bytes += plan[i]
		chunks += ceilDiv(plan[i], prefetchChunk)
	}
	if bytes == 0 {
		return
	}
	d.prefetched += int64(bytes)
	d.launch("l2_prefetch", Dim3{uint32(min(prefetchBlocks, ceilDiv(chunks, d.warp))), 1, 1}, Dim3{uint32(d.warp), 1, 1},
		args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7])
}

// prefetchPlan shares budget bytes out over ranges of the given sizes into
// plan: the smaller ranges whole where they fit their equal share, the
// rest split evenly among the others (a matrix read with another, gate
// with up, gets as much as it), each rounded down to a multiple of
// prefetchAlign.
func prefetchPlan(sizes []int, budget int, plan []int) {
	for i := range plan {
		plan[i] = -1 // not yet given
	}
	left, open := budget, len(sizes)
	for open > 0 {
		share := left / open
		// Give whole every range that fits its share; if none does, split.
		fitted := false
		for i, s := range sizes {
			if plan[i] < 0 && s <= share {
				plan[i], left, open, fitted = s/prefetchAlign*prefetchAlign, left-s, open-1, true
			}
		}
		if !fitted {
			share = share / prefetchAlign * prefetchAlign
			for i := range sizes {
				if plan[i] < 0 {
					plan[i] = share
				}
			}
			return
		}
	}
}
