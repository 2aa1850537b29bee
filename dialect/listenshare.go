package dialect

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrListenerClosed is returned by the methods of a Listener that
// ShareListener returned, once it is closed.
var ErrListenerClosed = errors.New("plasma: listener is closed")

// maxQueued bounds the notifications waiting for one shared Listener's
// reader; past it they are dropped for a nil Notification.
const maxQueued = 4096

// unlistenTimeout bounds the UNLISTENs a closing shared Listener sends
// for the channels only it listened on.
const unlistenTimeout = 5 * time.Second

// ShareListener returns a Listener that shares one connection with every
// other Listener ShareListener returned for the same key and that is
// still open: a process whose hubs and live-query engines each listen on
// one database holds one LISTEN connection for them all, not one each.
// key names the connection (its driver and DSN); open makes it when no
// open Listener has key, with the options of that first caller, and it
// is closed with the last of them.
//
// Each Listener sharing the connection receives the notifications of the
// channels it listens on (the connection listens on the union, and
// unlistens a channel when no Listener wants it any more), every nil
// Notification that reports a reconnection, and every ListenerEvent from
// then on: one that joins a connection already made is not told
// ListenerConnected. One Listener reading slowly holds up no other: past
// 4,096 notifications waiting for it, it loses them and is sent a nil
// Notification instead, as after a reconnection, to catch up.
func ShareListener(key string, opts ListenerOptions, open func(ListenerOptions) (Listener, error)) (Listener, error) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	c, opened := shared[key], false
	if c == nil {
		c = &sharedConn{key: key, sem: make(chan struct{}, 1), refs: map[string]int{}, handles: map[*sharedListener]struct{}{}}
		opened = true
	}
	h := &sharedListener{c: c, opts: opts, channels: map[string]bool{}, out: make(chan *Notification),
		wake: make(chan struct{}, 1), quit: make(chan struct{}), finished: make(chan struct{})}
	c.mu.Lock()
	c.handles[h] = struct{}{} // before open: the first events are h's too
	c.mu.Unlock()
	if opened {
		l, err := open(ListenerOptions{MinBackoff: opts.MinBackoff, MaxBackoff: opts.MaxBackoff, OnEvent: c.event})
		if err != nil {
			return nil, err
		}
		c.l = l
		shared[key] = c
		go c.dispatch()
	}
	go h.forward()
	return h, nil
}

var (
	sharedMu sync.Mutex
	shared   = map[string]*sharedConn{} // by key, while a Listener on it is open
)

// sharedConn is one listening connection and the Listeners that share it.
type sharedConn struct {
	key string
	l   Listener
	// sem serialises Listen and Unlisten on l, so that the channel
	// counts match what the connection listens on.
	sem chan struct{}

	mu      sync.Mutex
	refs    map[string]int // how many Listeners listen on each channel
	handles map[*sharedListener]struct{}
}

// event passes a connection event on to every Listener sharing it.
func (c *sharedConn) event(ev ListenerEvent, err error) {
	for _, h := range c.snapshot() {
		h.opts.Event(ev, err)
	}
}

func (c *sharedConn) snapshot() []*sharedListener {
	c.mu.Lock()
	defer c.mu.Unlock()
	hs := make([]*sharedListener, 0, len(c.handles))
	for h := range c.handles {
		hs = append(hs, h)
	}
	return hs
}

// dispatch queues each notification for the Listeners listening on its
// channel, and a nil one for all, until the connection is closed.
func (c *sharedConn) dispatch() {
	for n := range c.l.Notify() {
		for _, h := range c.snapshot() {
			if n == nil || h.listens(n.Channel) {
				h.queue(n)
			}
		}
	}
	for _, h := range c.snapshot() { // closed under them: end their streams too
		h.stop()
	}
}

// lock takes c.sem, or fails with ctx's error.
func (c *sharedConn) lock(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *sharedConn) unlock() { <-c.sem }

// sharedListener is one user of a sharedConn. Its notifications wait in
// a queue of its own, which forward empties into out, so that the
// connection's dispatch never waits for its reader.
type sharedListener struct {
	c    *sharedConn
	opts ListenerOptions

	// channels are those this Listener listens on; guarded by c.mu.
	channels map[string]bool

	qmu     sync.Mutex
	pending []*Notification
	lost    bool // notifications were dropped: a nil goes first

	out      chan *Notification
	wake     chan struct{} // something was queued
	quit     chan struct{} // closed by stop: forward ends
	finished chan struct{} // closed by forward once out is closed
	stopOnce sync.Once
	closeMu  sync.Mutex
	isClosed bool
}

func (h *sharedListener) listens(channel string) bool {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return h.channels[channel]
}

// queue adds n to h's queue without waiting; a full queue is dropped for
// a nil Notification, which tells the reader to catch up.
func (h *sharedListener) queue(n *Notification) {
	h.qmu.Lock()
	if len(h.pending) >= maxQueued {
		h.pending, h.lost = h.pending[:0], true
	}
	h.pending = append(h.pending, n)
	h.qmu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// next takes the next notification to deliver: nil after a loss.
func (h *sharedListener) next() (n *Notification, ok bool) {
	h.qmu.Lock()
	defer h.qmu.Unlock()
	if h.lost {
		h.lost = false
		return nil, true
	}
	if len(h.pending) == 0 {
		return nil, false
	}
	n = h.pending[0]
	h.pending[0] = nil
	h.pending = h.pending[1:]
	if len(h.pending) == 0 {
		h.pending = nil // let the array go
	}
	return n, true
}

// forward delivers h's queue to its reader until h stops, then closes out.
func (h *sharedListener) forward() {
	defer close(h.finished)
	defer close(h.out)
	for {
		n, ok := h.next()
		if !ok {
			select {
			case <-h.wake:
				continue
			case <-h.quit:
				return
			}
		}
		select {
		case h.out <- n:
		case <-h.quit:
			return
		}
	}
}

// stop ends h's stream.
func (h *sharedListener) stop() { h.stopOnce.Do(func() { close(h.quit) }) }

func (h *sharedListener) closed() bool {
	h.closeMu.Lock()
	defer h.closeMu.Unlock()
	return h.isClosed
}

// Listen listens on channel: the connection's LISTEN when no other
// Listener sharing it listens there already.
func (h *sharedListener) Listen(ctx context.Context, channel string) error {
	c := h.c
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.unlock()
	if h.closed() {
		return ErrListenerClosed
	}
	c.mu.Lock()
	have, n := h.channels[channel], c.refs[channel]
	c.mu.Unlock()
	if have {
		return nil
	}
	if n == 0 {
		if err := c.l.Listen(ctx, channel); err != nil {
			return err
		}
	}
	c.mu.Lock()
	h.channels[channel] = true
	c.refs[channel]++
	c.mu.Unlock()
	return nil
}

// Unlisten stops listening on channel: the connection's UNLISTEN when no
// other Listener sharing it listens there.
func (h *sharedListener) Unlisten(ctx context.Context, channel string) error {
	c := h.c
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.unlock()
	if h.closed() {
		return ErrListenerClosed
	}
	return h.unlisten(ctx, channel)
}

// unlisten is Unlisten with c.sem held.
func (h *sharedListener) unlisten(ctx context.Context, channel string) error {
	c := h.c
	c.mu.Lock()
	if !h.channels[channel] {
		c.mu.Unlock()
		return nil
	}
	delete(h.channels, channel)
	c.refs[channel]--
	last := c.refs[channel] == 0
	if last {
		delete(c.refs, channel)
	}
	c.mu.Unlock()
	if last {
		return c.l.Unlisten(ctx, channel)
	}
	return nil
}

func (h *sharedListener) Notify() <-chan *Notification { return h.out }

func (h *sharedListener) Ping(ctx context.Context) error {
	if h.closed() {
		return ErrListenerClosed
	}
	return h.c.l.Ping(ctx)
}

// Close stops h's share: it unlistens the channels no other Listener
// wants, closes the connection if h was the last on it, and closes
// Notify's channel.
func (h *sharedListener) Close() error {
	h.closeMu.Lock()
	if h.isClosed {
		h.closeMu.Unlock()
		return nil
	}
	h.isClosed = true
	h.closeMu.Unlock()
	h.stop()
	err := h.leave()
	<-h.finished
	return err
}

// leave takes h off its connection, closing the connection if h was the
// last on it.
func (h *sharedListener) leave() error {
	c := h.c
	sharedMu.Lock()
	c.mu.Lock()
	delete(c.handles, h)
	last := len(c.handles) == 0
	c.mu.Unlock()
	if last {
		delete(shared, c.key) // the next ShareListener opens a new connection
	}
	sharedMu.Unlock()
	if last {
		return c.l.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), unlistenTimeout)
	defer cancel()
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.unlock()
	c.mu.Lock()
	chans := make([]string, 0, len(h.channels))
	for ch := range h.channels {
		chans = append(chans, ch)
	}
	c.mu.Unlock()
	var err error
	for _, ch := range chans {
		err = errors.Join(err, h.unlisten(ctx, ch))
	}
	return err
}
