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
// ListenerConnected. A Listener that stops reading Notify holds up the
// others on its connection, as it would hold up a connection of its own.
func ShareListener(key string, opts ListenerOptions, open func(ListenerOptions) (Listener, error)) (Listener, error) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	c, opened := shared[key], false
	if c == nil {
		c = &sharedConn{key: key, sem: make(chan struct{}, 1), refs: map[string]int{}, handles: map[*sharedListener]struct{}{}}
		opened = true
	}
	h := &sharedListener{c: c, opts: opts, channels: map[string]bool{},
		out: make(chan *Notification, 32), done: make(chan struct{})}
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

// dispatch hands each notification to the Listeners listening on its
// channel, and a nil one to all, until the connection is closed.
func (c *sharedConn) dispatch() {
	for n := range c.l.Notify() {
		for _, h := range c.snapshot() {
			if n == nil || h.listens(n.Channel) {
				h.send(n)
			}
		}
	}
	for _, h := range c.snapshot() { // closed under them: end their streams too
		h.end()
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

// sharedListener is one user of a sharedConn.
type sharedListener struct {
	c    *sharedConn
	opts ListenerOptions

	// channels are those this Listener listens on; guarded by c.mu.
	channels map[string]bool

	out  chan *Notification
	done chan struct{} // closed by Close
	// sendMu is held while a notification is sent on out, so that out is
	// closed only between sends.
	sendMu    sync.Mutex
	outClosed bool
	closeOnce sync.Once
}

func (h *sharedListener) listens(channel string) bool {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return h.channels[channel]
}

// send hands n to h's reader, unless h is closing.
func (h *sharedListener) send(n *Notification) {
	h.sendMu.Lock()
	defer h.sendMu.Unlock()
	if h.outClosed {
		return
	}
	select {
	case h.out <- n:
	case <-h.done:
	}
}

// end closes h's stream.
func (h *sharedListener) end() {
	h.sendMu.Lock()
	defer h.sendMu.Unlock()
	if !h.outClosed {
		h.outClosed = true
		close(h.out)
	}
}

func (h *sharedListener) closed() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
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
	var err error
	h.closeOnce.Do(func() { err = h.close() })
	return err
}

func (h *sharedListener) close() error {
	c := h.c
	close(h.done) // a send to h in progress gives up
	sharedMu.Lock()
	c.mu.Lock()
	delete(c.handles, h)
	last := len(c.handles) == 0
	c.mu.Unlock()
	if last {
		delete(shared, c.key) // the next ShareListener opens a new connection
	}
	sharedMu.Unlock()
	var err error
	if last {
		err = c.l.Close()
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), unlistenTimeout)
		if err = c.lock(ctx); err == nil {
			c.mu.Lock()
			chans := make([]string, 0, len(h.channels))
			for ch := range h.channels {
				chans = append(chans, ch)
			}
			c.mu.Unlock()
			for _, ch := range chans {
				err = errors.Join(err, h.unlisten(ctx, ch))
			}
			c.unlock()
		}
		cancel()
	}
	h.end()
	return err
}
