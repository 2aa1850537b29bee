package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// loop is the running sync loop.
type loop struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start runs the sync loop in the background: it pushes after each local
// mutation, pulls after each push, on each poke from the WebSocket and,
// while no socket is up, every PullInterval; it retries network errors
// and 5xx answers with capped exponential backoff and jitter, and gives
// up on other 4xx answers (reported to OnError). Start on a running
// client does nothing.
func (c *Client[C]) Start(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	c.loopMu.Lock()
	defer c.loopMu.Unlock()
	if c.loop != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := &loop{cancel: cancel}
	c.loop = l
	l.wg.Add(2)
	go func() { defer l.wg.Done(); c.runLoop(ctx) }()
	go func() { defer l.wg.Done(); c.runSocket(ctx) }()
	poke(c.kickPush)
	poke(c.kickPull)
	return nil
}

// Stop stops the loop and waits for it; pending mutations stay queued.
func (c *Client[C]) Stop() {
	c.loopMu.Lock()
	l := c.loop
	c.loop = nil
	c.loopMu.Unlock()
	if l != nil {
		l.cancel()
		l.wg.Wait()
	}
}

// SetOffline takes the client offline (true) or back online (false).
// Offline, mutations apply locally and queue; nothing is sent and the
// socket is closed. Back online, the loop pushes and pulls at once.
func (c *Client[C]) SetOffline(offline bool) {
	if c.offline.Swap(offline) == offline {
		return
	}
	if offline {
		c.presence.reconnect() // drops the socket
		return
	}
	c.loopMu.Lock()
	close(c.online)
	c.online = make(chan struct{})
	c.loopMu.Unlock()
	poke(c.presence.wake)
	poke(c.kickPush)
	poke(c.kickPull)
}

// Offline reports whether the client is offline.
func (c *Client[C]) Offline() bool { return c.offline.Load() }

func (c *Client[C]) onlineCh() <-chan struct{} {
	c.loopMu.Lock()
	defer c.loopMu.Unlock()
	return c.online
}

func (c *Client[C]) runLoop(ctx context.Context) {
	for {
		var timer <-chan time.Time
		if !c.socketUp.Load() {
			timer = c.opts.Clock.After(c.opts.PullInterval)
		}
		select {
		case <-ctx.Done():
			return
		case <-c.kickPush:
			c.retry(ctx, func() error { return c.pushAll(ctx) })
		case <-c.kickPull:
			c.retry(ctx, func() error { _, err := c.PullOnce(ctx); return err })
		case <-timer:
			c.retry(ctx, func() error { _, err := c.PullOnce(ctx); return err })
		}
	}
}

// pushAll pushes a batch and pulls, until nothing is pending: a push
// always starts at the first unconfirmed mutation, so the pull that
// confirms a batch is what lets the next one go out. It stops when a
// round confirms nothing (the next kick or poke tries again).
func (c *Client[C]) pushAll(ctx context.Context) error {
	for {
		before := c.LastMutationID()
		n, err := c.PushOnce(ctx)
		if err != nil {
			return err
		}
		if _, err := c.PullOnce(ctx); err != nil {
			return err
		}
		if n == 0 || c.pendingCount() == 0 || c.LastMutationID() == before {
			return nil
		}
	}
}

// retry runs op until it succeeds, fails for good, or ctx ends; it
// reports whether op succeeded. Offline, it waits to be online again.
func (c *Client[C]) retry(ctx context.Context, op func() error) bool {
	wait := c.opts.MinBackoff
	for {
		err := op()
		switch {
		case err == nil:
			return true
		case errors.Is(err, ErrOffline):
			return false // SetOffline(false) kicks the loop
		case !retryable(err):
			return false
		}
		// Full jitter over the upper half keeps a herd of clients apart
		// while still backing off.
		d := wait/2 + time.Duration(rand.Int64N(int64(wait/2)+1))
		select {
		case <-ctx.Done():
			return false
		case <-c.opts.Clock.After(d):
		}
		wait = min(2*wait, c.opts.MaxBackoff)
	}
}
