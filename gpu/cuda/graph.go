package cuda

import (
	"slices"

	"github.com/gopard/gopard/gpu"
)

// A forward is a hundred or more small kernels, and on a GPU as fast as an
// H100 each launch's fixed cost (the driver's, then the GPU's, before the
// first block runs) is a good part of a decode step. A CUDA graph launches
// a recorded sequence of kernels with one call and lets the GPU start each
// one sooner. The graphs here are made from what the Device launches: the
// recorder holds launches back until something needs their results (a
// copy, a synchronization, a timing), then launches the held run as a
// graph. A decode step launches the same kernels every time, with only a
// few arguments changed (positions, KV-cache rows), so a run whose kernels
// and grids match a cached graph updates just the changed nodes and
// relaunches it.

// graphOps is what the recorder needs from the driver.
type graphOps interface {
	// direct launches one kernel at once, as without graphs.
	direct(l *heldLaunch, args []uint64) error
	// build instantiates a graph of the launches, in order.
	build(ls []heldLaunch, args []uint64) (graphHandle, error)
	// launch sets the arguments of the changed nodes of g from ls and
	// args, then launches g.
	launch(g graphHandle, changed []int, ls []heldLaunch, args []uint64) error
	// destroy frees a graph.
	destroy(g graphHandle)
}

// graphHandle is a driver's instantiated graph.
type graphHandle any

// heldLaunch is a kernel launch the recorder has not issued yet; its
// arguments are args[off : off+n] of the recorder.
type heldLaunch struct {
	fn          uintptr
	grid, block gpu.Dim3
	off, n      int
}

// sameShape reports whether two launches run the same kernel on the same
// grid with the same number of arguments (so one can update the other's
// graph node).
func (l *heldLaunch) sameShape(o *heldLaunch) bool {
	return l.fn == o.fn && l.grid == o.grid && l.block == o.block && l.n == o.n
}

// cachedGraph is an instantiated graph and the launches it was last given.
type cachedGraph struct {
	h        graphHandle
	launches []heldLaunch
	args     []uint64
	used     uint64 // recorder clock at the last launch
}

// Recorder limits.
const (
	// graphSegment is the most launches held back: a longer run is
	// launched in segments so that the GPU starts on the first while the
	// host records the rest (a graph does not start until it is whole).
	graphSegment = 48
	// graphMinLaunches is the shortest run worth a graph.
	graphMinLaunches = 4
	// graphCacheSize is how many graphs are kept (LRU): a PARD iteration
	// alternates draft and target forwards of several shapes.
	graphCacheSize = 64
)

// graphRecorder holds launches back and issues them as graphs.
type graphRecorder struct {
	ops     graphOps
	held    []heldLaunch
	args    []uint64
	shape   uint64                  // hash of the held launches' shapes
	seen    map[uint64]bool         // shapes flushed once without a graph
	graphs  map[uint64]*cachedGraph // by shape hash
	clock   uint64
	changed []int

	// Counters for tests and cmd/bench's report.
	built, relaunched, direct int
	err                       error // a failed build: graphs are off from then on
}

func newGraphRecorder(ops graphOps) *graphRecorder {
	return &graphRecorder{ops: ops, seen: map[uint64]bool{}, graphs: map[uint64]*cachedGraph{}}
}

const fnvOffset, fnvPrime = 14695981039346656037, 1099511628211

func mix(h, v uint64) uint64 { return (h ^ v) * fnvPrime }

// record holds one launch back; it flushes first when a segment is full.
func (r *graphRecorder) record(fn uintptr, grid, block gpu.Dim3, args []uint64) error {
	if len(r.held) >= graphSegment {
		if err := r.flush(); err != nil {
			return err
		}
	}
	if len(r.held) == 0 {
		r.shape = fnvOffset
	}
	r.held = append(r.held, heldLaunch{fn: fn, grid: grid, block: block, off: len(r.args), n: len(args)})
	r.args = append(r.args, args...)
	h := mix(r.shape, uint64(fn))
	h = mix(h, uint64(grid.X)|uint64(grid.Y)<<32)
	h = mix(h, uint64(grid.Z)|uint64(block.X)<<32)
	h = mix(h, uint64(block.Y)|uint64(block.Z)<<32)
	r.shape = mix(h, uint64(len(args)))
	return nil
}

// flush issues the held launches: through a cached graph of the same
// shape, a new graph when this shape was seen before, or one by one.
func (r *graphRecorder) flush() error {
	if len(r.held) == 0 {
		return nil
	}
	defer func() { r.held, r.args = r.held[:0], r.args[:0] }()
	r.clock++
	if g := r.graphs[r.shape]; g != nil && r.matches(g) {
		r.changed = r.changed[:0]
		for i := range r.held {
			l, c := &r.held[i], &g.launches[i]
			if !slices.Equal(r.args[l.off:l.off+l.n], g.args[c.off:c.off+c.n]) {
				r.changed = append(r.changed, i)
			}
		}
		g.used = r.clock
		copy(g.args, r.args)
		r.relaunched++
		return r.ops.launch(g.h, r.changed, r.held, r.args)
	}
	if r.err != nil || len(r.held) < graphMinLaunches || !r.seen[r.shape] {
		// A run seen once (a prompt's prefill, the first decode step) is
		// not worth instantiating; the second time it probably recurs.
		if len(r.seen) > 4*graphCacheSize {
			clear(r.seen)
		}
		r.seen[r.shape] = true
		return r.issueDirect()
	}
	h, err := r.ops.build(r.held, r.args)
	if err != nil {
		r.err = err
		return r.issueDirect()
	}
	r.evict()
	r.graphs[r.shape] = &cachedGraph{h: h, launches: slices.Clone(r.held), args: slices.Clone(r.args), used: r.clock}
	r.built++
	return r.ops.launch(h, nil, r.held, r.args)
}

// matches reports whether g was built from launches of the held shapes.
func (r *graphRecorder) matches(g *cachedGraph) bool {
	if len(g.launches) != len(r.held) {
		return false
	}
	for i := range r.held {
		if !r.held[i].sameShape(&g.launches[i]) {
			return false
		}
	}
	return true
}

func (r *graphRecorder) issueDirect() error {
	for i := range r.held {
		l := &r.held[i]
		if err := r.ops.direct(l, r.args[l.off:l.off+l.n]); err != nil {
			return err
		}
		r.direct++
	}
	return nil
}

// evict makes room for one more graph, dropping the least recently used.
func (r *graphRecorder) evict() {
	if len(r.graphs) < graphCacheSize {
		return
	}
	var oldest uint64
	var victim *cachedGraph
	for k, g := range r.graphs {
		if victim == nil || g.used < victim.used {
			oldest, victim = k, g
		}
	}
	r.ops.destroy(victim.h)
	delete(r.graphs, oldest)
}

// close frees every graph; held launches are dropped.
func (r *graphRecorder) close() {
	for k, g := range r.graphs {
		r.ops.destroy(g.h)
		delete(r.graphs, k)
	}
	r.held, r.args = r.held[:0], r.args[:0]
}
