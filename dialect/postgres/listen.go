package postgres

import (
	"context"

	"github.com/lib/pq"

	"github.com/plasma-go/plasma/dialect"
)

// The listener's types are dialect's, which links no driver; these
// names keep them where PostgreSQL code looks for them.
type (
	// Notification is one NOTIFY received by a Listener.
	Notification = dialect.Notification
	// Listener receives notifications on a dedicated connection; see
	// dialect.Listener.
	Listener = dialect.Listener
	// ListenerEvent is a change in a Listener's connection.
	ListenerEvent = dialect.ListenerEvent
	// ListenerOptions configure a Listener.
	ListenerOptions = dialect.ListenerOptions
)

// The events a Listener reports through ListenerOptions.OnEvent.
const (
	ListenerConnected               = dialect.ListenerConnected
	ListenerDisconnected            = dialect.ListenerDisconnected
	ListenerReconnected             = dialect.ListenerReconnected
	ListenerConnectionAttemptFailed = dialect.ListenerConnectionAttemptFailed
)

// OpenListener opens a lib/pq Listener (NewListener): PostgreSQL's
// dialect is a dialect.ListenerOpener.
func (pgDialect) OpenListener(dsn string, opts ListenerOptions) (Listener, error) {
	return NewListener(dsn, opts), nil
}

// NewListener returns a Listener on lib/pq (pq.Listener) for dsn. It
// connects in the background: the first Listen waits for the connection.
//
// The Listeners NewListener returns for one dsn share one connection
// (dialect.ShareListener): a process holds one LISTEN connection per
// database, however many hubs and live-query engines listen on it. The
// first one's backoffs apply to it; it closes with the last one.
func NewListener(dsn string, opts ListenerOptions) Listener {
	l, _ := dialect.ShareListener("lib/pq "+dsn, opts, func(o ListenerOptions) (Listener, error) {
		return newListener(dsn, o), nil // never fails: it connects in the background
	})
	return l
}

// newListener is one lib/pq listening connection.
func newListener(dsn string, opts ListenerOptions) Listener {
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
