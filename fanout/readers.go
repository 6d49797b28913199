package fanout

import (
	"runtime"
	"sync"
)

// readers run the engine's reads (catch-up scans, status, tag lists,
// credentials, the admin API's lookups) off the callers' goroutines, so an
// event loop that asks never waits on storage. The queue is unbounded but
// holds at most one read per request an edge has outstanding (a
// connection waits for its RESUME's page before it asks again); reads run
// in the order asked, on as many goroutines as the process has cores.
type readers struct {
	mu struct {
		sync.Mutex
		queue  []func()
		closed bool
	}
	ready   *sync.Cond
	running sync.WaitGroup
}

func (r *readers) start() {
	r.ready = sync.NewCond(&r.mu)
	n := runtime.GOMAXPROCS(0)
	r.running.Add(n)
	for range n {
		go r.work()
	}
}

func (r *readers) work() {
	defer r.running.Done()
	for {
		r.mu.Lock()
		for len(r.mu.queue) == 0 && !r.mu.closed {
			r.ready.Wait()
		}
		if len(r.mu.queue) == 0 {
			r.mu.Unlock()
			return
		}
		fn := r.mu.queue[0]
		r.mu.queue[0] = nil
		r.mu.queue = r.mu.queue[1:]
		if len(r.mu.queue) == 0 {
			r.mu.queue = nil // let the array go once drained
		}
		r.mu.Unlock()
		fn()
	}
}

// run queues fn; it reports false once stop has begun.
func (r *readers) run(fn func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.closed {
		return false
	}
	r.mu.queue = append(r.mu.queue, fn)
	r.ready.Signal()
	return true
}

// stop lets the queued reads finish and waits for them.
func (r *readers) stop() {
	r.mu.Lock()
	r.mu.closed = true
	r.mu.Unlock()
	r.ready.Broadcast()
	r.running.Wait()
}

// read answers done with f's result, computed on a reader; ErrClosed once
// the engine is closing.
func read[R any](e *Engine, done func(R, error), f func() (R, error)) {
	if !e.readers.run(func() {
		r, err := f()
		done(r, contract(err))
	}) {
		var zero R
		done(zero, ErrClosed)
	}
}
