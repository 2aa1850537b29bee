package dialect

import (
	"context"
	"time"
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

// Listener receives notifications (PostgreSQL's LISTEN/NOTIFY) on a
// dedicated connection that it re-establishes when it is lost, listening
// again on every channel. The types live here, with no driver, so that a
// package that listens (sync/realtime) links none: dialect/postgres's
// NewListener makes one on lib/pq, and dialect/pgx's NewListener one on
// pgx; they behave alike.
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

// ListenerOpener is an optional interface of a Dialect with NotifyListen:
// it opens a Listener on a dedicated connection to dsn with the driver the
// dialect package links (for PostgreSQL, lib/pq; dialect/pgx has its own
// NewListener for pgx). The Listeners of one process on one dsn share
// that connection (ShareListener).
type ListenerOpener interface {
	OpenListener(dsn string, opts ListenerOptions) (Listener, error)
}
