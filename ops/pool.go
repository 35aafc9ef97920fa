package ops

import (
	"runtime"
	"sync"
)

// Pool is a fixed set of worker goroutines that run data-parallel loops.
// One pool serves a whole process: kernels hand it a range and a body, the
// caller's goroutine takes the first part itself, and Run returns when all
// parts are done. Workers persist, so no goroutine is started per operation.
type Pool struct {
	threads int
	tasks   []chan poolTask // tasks[i] feeds worker i+1; worker 0 is the caller
	mu      sync.Mutex      // Run is not reentrant: one loop at a time
}

type poolTask struct {
	body   func(worker, lo, hi int)
	lo, hi int
	done   *sync.WaitGroup
}

// NewPool starts a pool of the given number of threads (≤ 0: all cores).
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	p := &Pool{threads: threads, tasks: make([]chan poolTask, threads-1)}
	for i := range p.tasks {
		ch := make(chan poolTask, 1)
		p.tasks[i] = ch
		go func(worker int) {
			for t := range ch {
				t.body(worker, t.lo, t.hi)
				t.done.Done()
			}
		}(i + 1)
	}
	return p
}

// Threads is the number of goroutines (the caller included) a Run uses.
func (p *Pool) Threads() int { return p.threads }

// Run calls body(worker, lo, hi) on disjoint ranges covering [0, n), at most
// one range per worker, each a multiple of grain long (except the last).
// worker is in [0, Threads()) and lets bodies use per-worker scratch space.
func (p *Pool) Run(n, grain int, body func(worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	chunks := (n + grain - 1) / grain
	parts := min(p.threads, chunks)
	if parts <= 1 {
		body(0, 0, n)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var done sync.WaitGroup
	done.Add(parts - 1)
	// Spread whole grains as evenly as possible: the first `extra` parts get one more.
	per, extra := chunks/parts, chunks%parts
	bounds := func(i int) int {
		c := i*per + min(i, extra)
		return min(c*grain, n)
	}
	for i := 1; i < parts; i++ {
		p.tasks[i-1] <- poolTask{body: body, lo: bounds(i), hi: bounds(i + 1), done: &done}
	}
	body(0, 0, bounds(1))
	done.Wait()
}

// Close stops the workers. The pool must not be used afterwards.
func (p *Pool) Close() {
	for _, ch := range p.tasks {
		close(ch)
	}
}
