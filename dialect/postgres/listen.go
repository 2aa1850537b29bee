package postgres

import (
	"context"
	"time"

	"github.com/lib/pq"
)

// Notification is one NOTIFY received by a Listener.
type Notification struct {
	// Channel is the channel it was sent on.
	Channel string
	// Payload is its payload ("" when none was given).
	Payload string
	// PID is the process id of the server backend that sent it.
	PID int
}

// Listener receives PostgreSQL notifications (LISTEN/NOTIFY) on a
// dedicated connection that it re-establishes when it is lost, listening
// again on every channel. NewListener makes one on lib/pq, and
// dialect/pgx's NewListener one on pgx; they behave alike.
type Listener interface {
	// Listen starts listening on channel (an identifier, matched exactly
	// as NOTIFY and pg_notify name it). It returns once the server has
	// confirmed, or with ctx's error if ctx ends first.
	Listen(ctx context.Context, channel string) error
	// Unlisten stops listening on channel.
	Unlisten(ctx context.Context, channel string) error
	// Notify returns the channel notifications arrive on. A nil
	// *Notification says the connection was lost and established again:
	// notifications sent meanwhile are lost, so a receiver should catch
	// up by other means. It is closed by Close.
	Notify() <-chan *Notification
	// Ping checks that the connection answers.
	Ping(ctx context.Context) error
	// Close ends the connection and closes Notify's channel.
	Close() error
}

// ListenerEvent is a change in a Listener's connection.
type ListenerEvent int

// The events a Listener reports through ListenerOptions.OnEvent.
const (
	// ListenerConnected: the first connection is established.
	ListenerConnected ListenerEvent = iota + 1
	// ListenerDisconnected: the connection was lost (the error says why);
	// the listener reconnects.
	ListenerDisconnected
	// ListenerReconnected: a lost connection is established again and
	// listens on every channel; a nil Notification follows.
	ListenerReconnected
	// ListenerConnectionAttemptFailed: connecting failed (the error says
	// why); the listener tries again after a backoff.
	ListenerConnectionAttemptFailed
)

// String names the event.
func (e ListenerEvent) String() string {
	switch e {
	case ListenerConnected:
		return "connected"
	case ListenerDisconnected:
		return "disconnected"
	case ListenerReconnected:
		return "reconnected"
	case ListenerConnectionAttemptFailed:
		return "connection attempt failed"
	}
	return "unknown"
}

// ListenerOptions configure a Listener.
type ListenerOptions struct {
	// MinBackoff and MaxBackoff bound the wait between connection
	// attempts, which doubles after each failure (defaults 100ms and 10s).
	MinBackoff, MaxBackoff time.Duration
	// OnEvent, if set, is called on every connection event, from the
	// listener's own goroutine: it must not block.
	OnEvent func(ev ListenerEvent, err error)
}

// Backoffs returns o's backoff bounds with the defaults filled in.
func (o ListenerOptions) Backoffs() (minimum, maximum time.Duration) {
	minimum, maximum = o.MinBackoff, o.MaxBackoff
	if minimum <= 0 {
		minimum = 100 * time.Millisecond
	}
	if maximum < minimum {
		maximum = max(10*time.Second, minimum)
	}
	return minimum, maximum
}

// Event calls o.OnEvent if it is set.
func (o ListenerOptions) Event(ev ListenerEvent, err error) {
	if o.OnEvent != nil {
		o.OnEvent(ev, err)
	}
}

// NewListener returns a Listener on lib/pq (pq.Listener) for dsn. It
// connects in the background: the first Listen waits for the connection.
func NewListener(dsn string, opts ListenerOptions) Listener {
	minB, maxB := opts.Backoffs()
	l := &pqListener{out: make(chan *Notification, 32)}
	l.l = pq.NewListener(dsn, minB, maxB, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventConnected:
			opts.Event(ListenerConnected, err)
		case pq.ListenerEventDisconnected:
			opts.Event(ListenerDisconnected, err)
		case pq.ListenerEventReconnected:
			opts.Event(ListenerReconnected, err)
		case pq.ListenerEventConnectionAttemptFailed:
			opts.Event(ListenerConnectionAttemptFailed, err)
		}
	})
	go l.forward()
	return l
}

type pqListener struct {
	l   *pq.Listener
	out chan *Notification
}

func (l *pqListener) forward() {
	defer close(l.out)
	for n := range l.l.Notify {
		if n == nil {
			l.out <- nil
			continue
		}
		l.out <- &Notification{Channel: n.Channel, Payload: n.Extra, PID: n.BePid}
	}
}

// wait runs f, returning early with ctx's error if ctx ends first (f
// goes on in the background: lib/pq's calls take no context).
func wait(ctx context.Context, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *pqListener) Listen(ctx context.Context, channel string) error {
	return wait(ctx, func() error { return l.l.Listen(channel) })
}

func (l *pqListener) Unlisten(ctx context.Context, channel string) error {
	return wait(ctx, func() error { return l.l.Unlisten(channel) })
}

func (l *pqListener) Notify() <-chan *Notification { return l.out }

func (l *pqListener) Ping(ctx context.Context) error { return wait(ctx, l.l.Ping) }

func (l *pqListener) Close() error { return l.l.Close() }
