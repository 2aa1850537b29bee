package server

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// background is the bounded task runner behind WaitUntil.
type background struct {
	queue   chan func(context.Context)
	ctx     context.Context // cancelled when Close gives up waiting
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.RWMutex
	closed  bool
	onPanic func(error)
}

func newBackground(workers, queue int, onPanic func(error)) *background {
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{queue: make(chan func(context.Context), queue), ctx: ctx, cancel: cancel, onPanic: onPanic}
	b.wg.Add(workers)
	for range workers {
		go b.work()
	}
	return b
}

func (b *background) work() {
	defer b.wg.Done()
	for fn := range b.queue {
		b.run(fn)
	}
}

func (b *background) run(fn func(context.Context)) {
	defer func() {
		if p := recover(); p != nil && b.onPanic != nil {
			b.onPanic(fmt.Errorf("background task panicked: %v\n%s", p, debug.Stack()))
		}
	}()
	fn(b.ctx)
}

// submit queues fn; false if the runner is closed or its queue is full.
func (b *background) submit(fn func(context.Context)) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return false
	}
	select {
	case b.queue <- fn:
		return true
	default:
		return false
	}
}

// close stops accepting tasks and waits for the queued and running ones
// until ctx is done; then it cancels their context and returns ctx.Err().
func (b *background) close(ctx context.Context) error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		b.cancel()
		return nil
	case <-ctx.Done():
		b.cancel()
		return ctx.Err()
	}
}
