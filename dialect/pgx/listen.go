package pgx

import (
	"context"
	"errors"
	"sync"
	"time"

	pgxv5 "github.com/jackc/pgx/v5"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
)

// NewListener returns a postgres.Listener on a dedicated pgx connection
// to dsn, waiting with pgx's WaitForNotification. It connects in the
// background (the first Listen waits for the connection) and, when the
// connection is lost, reconnects with backoff, listens again on every
// channel and sends a nil Notification.
//
// The Listeners NewListener returns for one dsn share one connection
// (dialect.ShareListener): a process holds one LISTEN connection per
// database, however many hubs and live-query engines listen on it. The
// first one's backoffs apply to it; it closes with the last one.
func NewListener(dsn string, opts postgres.ListenerOptions) (postgres.Listener, error) {
	cfg, err := pgxv5.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	return dialect.ShareListener("pgx "+dsn, opts, func(o postgres.ListenerOptions) (postgres.Listener, error) {
		return newListener(cfg, o), nil
	})
}

// newListener is one pgx listening connection.
func newListener(cfg *pgxv5.ConnConfig, opts postgres.ListenerOptions) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{
		cfg:      cfg,
		opts:     opts,
		ctx:      ctx,
		cancel:   cancel,
		reqs:     make(chan *request, 16),
		wake:     make(chan struct{}, 1),
		out:      make(chan *postgres.Notification, 32),
		channels: make(map[string]bool),
		done:     make(chan struct{}),
	}
	go l.run()
	return l
}

type listener struct {
	cfg    *pgxv5.ConnConfig
	opts   postgres.ListenerOptions
	ctx    context.Context
	cancel context.CancelFunc
	reqs   chan *request
	wake   chan struct{} // a request is waiting: stop waiting for notifications
	out    chan *postgres.Notification
	done   chan struct{} // run has returned

	// channels are those listened on, owned by run.
	channels map[string]bool
	once     sync.Once
}

type reqKind int

const (
	reqListen reqKind = iota
	reqUnlisten
	reqPing
)

type request struct {
	kind    reqKind
	channel string
	ctx     context.Context
	result  chan error
}

// ErrListenerClosed is returned by a closed listener's methods.
var ErrListenerClosed = errors.New("plasma: pgx listener is closed")

func (l *listener) do(ctx context.Context, kind reqKind, channel string) error {
	r := &request{kind: kind, channel: channel, ctx: ctx, result: make(chan error, 1)}
	// Queue the request, then wake run: run serves the queue before it
	// waits, so a request queued before the wake-up is never missed.
	select {
	case l.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		return ErrListenerClosed
	}
	select {
	case l.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
	select {
	case err := <-r.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		return ErrListenerClosed
	}
}

func (l *listener) Listen(ctx context.Context, channel string) error {
	return l.do(ctx, reqListen, channel)
}

func (l *listener) Unlisten(ctx context.Context, channel string) error {
	return l.do(ctx, reqUnlisten, channel)
}

func (l *listener) Ping(ctx context.Context) error { return l.do(ctx, reqPing, "") }

func (l *listener) Notify() <-chan *postgres.Notification { return l.out }

func (l *listener) Close() error {
	l.once.Do(l.cancel)
	<-l.done
	return nil
}

// run owns the connection: it connects, serves requests and waits for
// notifications until Close.
func (l *listener) run() {
	defer close(l.done)
	defer close(l.out)
	var conn *pgxv5.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	}()
	minB, maxB := l.opts.Backoffs()
	backoff := minB
	connected := false
	for {
		if conn == nil {
			c, err := l.connect()
			if err != nil {
				if l.ctx.Err() != nil {
					return
				}
				l.opts.Event(postgres.ListenerConnectionAttemptFailed, err)
				select {
				case <-time.After(backoff):
				case <-l.ctx.Done():
					return
				}
				backoff = min(2*backoff, maxB)
				continue
			}
			conn, backoff = c, minB
			if !connected {
				connected = true
				l.opts.Event(postgres.ListenerConnected, nil)
			} else {
				l.opts.Event(postgres.ListenerReconnected, nil)
				if !l.send(nil) {
					return
				}
			}
		}
		// Serve the requests waiting, then wait for a notification until
		// the next request wakes us.
		select {
		case r := <-l.reqs:
			r.result <- l.serve(conn, r)
			if conn.IsClosed() {
				l.lost(&conn, errors.New("connection closed"))
			}
			continue
		default:
		}
		waitCtx, cancel := context.WithCancel(l.ctx)
		stop := make(chan struct{})
		go func() {
			select {
			case <-l.wake:
				cancel()
			case <-stop:
			}
		}()
		n, err := conn.WaitForNotification(waitCtx)
		close(stop)
		cancel()
		switch {
		case err == nil:
			if !l.send(&postgres.Notification{Channel: n.Channel, Payload: n.Payload, PID: int(n.PID)}) {
				return
			}
		case l.ctx.Err() != nil:
			return
		case waitCtx.Err() != nil && !conn.IsClosed():
			// woken for a request: serve it on the next turn
		default:
			l.lost(&conn, err)
		}
	}
}

// lost drops a broken connection; run reconnects.
func (l *listener) lost(conn **pgxv5.Conn, err error) {
	l.opts.Event(postgres.ListenerDisconnected, err)
	_ = (*conn).Close(context.Background())
	*conn = nil
}

// send hands n to the receiver; false if the listener is closing.
func (l *listener) send(n *postgres.Notification) bool {
	select {
	case l.out <- n:
		return true
	case <-l.ctx.Done():
		return false
	}
}

// connect opens the connection and listens on every channel.
func (l *listener) connect() (*pgxv5.Conn, error) {
	conn, err := pgxv5.ConnectConfig(l.ctx, l.cfg)
	if err != nil {
		return nil, err
	}
	for ch := range l.channels {
		if _, err := conn.Exec(l.ctx, "LISTEN "+dialect.QuoteIdent(ch)); err != nil {
			_ = conn.Close(context.Background())
			return nil, err
		}
	}
	return conn, nil
}

// serve runs one request on conn.
func (l *listener) serve(conn *pgxv5.Conn, r *request) error {
	ctx := r.ctx
	if err := ctx.Err(); err != nil {
		return err
	}
	switch r.kind {
	case reqListen:
		if l.channels[r.channel] {
			return nil
		}
		if _, err := conn.Exec(ctx, "LISTEN "+dialect.QuoteIdent(r.channel)); err != nil {
			return err
		}
		l.channels[r.channel] = true
	case reqUnlisten:
		if !l.channels[r.channel] {
			return nil
		}
		if _, err := conn.Exec(ctx, "UNLISTEN "+dialect.QuoteIdent(r.channel)); err != nil {
			return err
		}
		delete(l.channels, r.channel)
	case reqPing:
		return conn.Ping(ctx)
	}
	return nil
}
