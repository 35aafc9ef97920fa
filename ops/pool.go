package ops

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopard/gopard/ops/asm"
)

// Task is a data-parallel loop body: Run handles items [lo, hi) on the
// given worker (in [0, Threads())), which lets it use per-worker scratch.
// Kernels on the per-token path implement Task with a preallocated struct
// (a pointer in an interface does not allocate), so a Run costs no heap.
type Task interface {
	Run(worker, lo, hi int)
}

// funcTask adapts a plain function to Task.
type funcTask func(worker, lo, hi int)

func (f funcTask) Run(worker, lo, hi int) { f(worker, lo, hi) }

// spinTime is about how long a waiting thread polls before it parks: the
// gaps between the kernels of one forward are shorter than the wake-up of
// a parked goroutine. It is a time, not a count of polls, because a poll
// lasts as long as the CPU's spin-wait hint makes it (PAUSE: tens of
// cycles to over a hundred, by CPU; nothing in the Go twin): 1024 polls
// had been on the order of 100 µs with PAUSE (then installed with AVX-512
// only) and about 2 µs without it, so on the other CPUs (AVX2, arm64) a
// worker parked between kernels, every kernel waited for its wake-up, and
// two threads multiplied no faster than one (go test -run X -bench
// 'Linear/1408x512/threads=./act=f32' ./ops with GOPARD_ASM=avx2 on a Zen
// 4: M = 1 45.9 µs on one thread, 51.7 on two; 24.0 with the polls timed).
const spinTime = 150 * time.Microsecond

// spinning reports whether a thread that has polled spins+1 times since
// start should poll again; it reads the clock once every 64 polls, the
// first time to set start.
func spinning(spins int, start *time.Time) bool {
	switch {
	case spins&63 != 63:
		return true
	case spins == 63:
		*start = time.Now()
		return true
	}
	return time.Since(*start) < spinTime
}

// pauseBatch is the spin-wait hints between two polls.
const pauseBatch = 8

// Pool is a fixed set of worker goroutines that run data-parallel loops.
// One pool serves a whole process: kernels hand it a range and a Task, the
// caller's goroutine takes the first part itself, and RunTask returns when
// all parts are done. Workers persist, so no goroutine is started per
// operation, and a loop is published through atomics, not channels:
// workers spin briefly on the job counter before parking on their own
// one-slot channel, which is how a Run avoids both allocation and, in a
// forward's steady state, the latency of waking a goroutine.
type Pool struct {
	threads int
	mu      sync.Mutex // RunTask is not reentrant: one loop at a time

	// The published loop; written before gen is incremented.
	task              Task
	n, grain          int
	per, extra, parts int
	dynamic           bool          // parts are claimed from next, grain at a time
	next              atomic.Int64  // the next unclaimed item of a dynamic loop
	gen               atomic.Uint64 // loops published so far
	pending           atomic.Int32  // workers that have not finished the loop
	closed            atomic.Bool
	workers           []*poolWorker
	callerParked      atomic.Bool
	callerWake        chan struct{}
	_                 [64]byte // keep the hot counters off the workers' lines
}

type poolWorker struct {
	parked atomic.Bool
	wake   chan struct{}
	_      [64]byte
}

// NewPool starts a pool of the given number of threads (≤ 0: all cores).
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	p := &Pool{threads: threads, callerWake: make(chan struct{}, 1)}
	for i := 1; i < threads; i++ {
		w := &poolWorker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		go p.work(i, w)
	}
	return p
}

// Threads is the number of goroutines (the caller included) a Run uses.
func (p *Pool) Threads() int { return p.threads }

// bounds is the start of part i: whole grains spread as evenly as
// possible, the first `extra` parts one grain longer.
func (p *Pool) bounds(i int) int {
	c := i*p.per + min(i, p.extra)
	return min(c*p.grain, p.n)
}

func (p *Pool) work(id int, w *poolWorker) {
	var seen uint64
	for {
		// Wait for a new loop: spin, then park until woken.
		var start time.Time
		for spins := 0; p.gen.Load() == seen; spins++ {
			if spinning(spins, &start) {
				asm.Pause(pauseBatch)
				continue
			}
			w.parked.Store(true)
			if p.gen.Load() == seen {
				<-w.wake // a stale token only makes us look again
			}
			w.parked.Store(false)
			spins = 0
		}
		seen++ // the caller waits for every worker, so loops never overlap
		if p.closed.Load() {
			return
		}
		switch {
		case p.dynamic:
			p.claim(id)
		case id < p.parts:
			p.task.Run(id, p.bounds(id), p.bounds(id+1))
		}
		// Every worker acknowledges every loop, taking part or not, so the
		// caller may rewrite the loop fields as soon as pending is zero.
		if p.pending.Add(-1) == 0 && p.callerParked.Load() {
			select {
			case p.callerWake <- struct{}{}:
			default:
			}
		}
	}
}

// Run calls body(worker, lo, hi) on disjoint ranges covering [0, n), at most
// one range per worker, each a multiple of grain long (except the last).
// worker is in [0, Threads()) and lets bodies use per-worker scratch space.
// A closure passed here usually escapes to the heap; per-token kernels use
// RunTask with a preallocated Task instead.
func (p *Pool) Run(n, grain int, body func(worker, lo, hi int)) {
	p.RunTask(n, grain, funcTask(body))
}

// RunTask is Run for a Task; it does not allocate.
func (p *Pool) RunTask(n, grain int, t Task) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	chunks := (n + grain - 1) / grain
	parts := min(p.threads, chunks)
	if parts <= 1 {
		t.Run(0, 0, n)
		return
	}
	p.mu.Lock()
	p.task, p.n, p.grain, p.parts = t, n, grain, parts
	p.per, p.extra = chunks/parts, chunks%parts
	p.publish()
	t.Run(0, 0, p.bounds(1))
	p.wait()
	p.task = nil
	p.mu.Unlock()
}

// RunDynamic is RunTask with the work handed out as it goes: every thread
// claims the next grain items until none is left, so a thread that the OS
// slows down (other processes on its core) takes fewer instead of holding
// the others up. A worker may get several ranges. For compute-bound loops;
// a memory-bound stream is faster as one contiguous range per thread.
func (p *Pool) RunDynamic(n, grain int, t Task) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	if p.threads == 1 || n <= grain {
		t.Run(0, 0, n)
		return
	}
	p.mu.Lock()
	p.task, p.n, p.grain, p.dynamic = t, n, grain, true
	p.next.Store(0)
	p.publish()
	p.claim(0)
	p.wait()
	p.task, p.dynamic = nil, false
	p.mu.Unlock()
}

// claim runs chunks of the current dynamic loop until none is left.
func (p *Pool) claim(worker int) {
	for {
		lo := int(p.next.Add(int64(p.grain))) - p.grain
		if lo >= p.n {
			return
		}
		p.task.Run(worker, lo, min(lo+p.grain, p.n))
	}
}

// publish starts the current loop on every worker, waking parked ones.
func (p *Pool) publish() {
	p.pending.Store(int32(len(p.workers)))
	p.gen.Add(1)
	for _, w := range p.workers {
		if w.parked.Load() {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
}

// wait returns when every worker has finished the current loop.
func (p *Pool) wait() {
	var start time.Time
	for spins := 0; p.pending.Load() != 0; spins++ {
		if spinning(spins, &start) {
			asm.Pause(pauseBatch)
			continue
		}
		p.callerParked.Store(true)
		if p.pending.Load() != 0 {
			<-p.callerWake
		}
		p.callerParked.Store(false)
		spins = 0
	}
}

// Close stops the workers. The pool must not be used afterwards.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed.Store(true)
	p.gen.Add(1)
	for _, w := range p.workers {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}
