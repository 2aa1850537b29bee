package realtime

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plasma-go/plasma/dialect"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
)

// The names of the objects Ensure creates on PostgreSQL.
const (
	// NotifyFunction is the trigger function that notifies
	// ChannelChanges.
	NotifyFunction = orm.ReservedPrefix + "notify_changes"
	// NotifyTrigger is the statement-level AFTER INSERT trigger on the
	// change log that runs NotifyFunction.
	NotifyTrigger = orm.ReservedPrefix + "changes_notify"
)

// notifyKey names NotifyTrigger and NotifyFunction for DB.EnsureOnce.
type notifyKey struct{}

// Ensure prepares db for hubs: it creates the change log where it does
// not exist (changelog.Ensure) and, on PostgreSQL, installs
// NotifyTrigger, which makes every transaction that logs changes notify
// ChannelChanges with each region it wrote when it commits. It is
// idempotent and cheap to call again (orm.DB.EnsureOnce); New calls it unless
// Options.SkipEnsure. On SQLite there is no trigger: one process holds
// the database and its hub polls.
//
// The cost on PostgreSQL: a NOTIFY takes a database-wide lock for a
// moment at commit, so committing transactions that log changes are
// serialised there.
func Ensure(ctx context.Context, db *orm.DB) error {
	if db == nil {
		return errors.New("plasma: realtime.Ensure: nil database")
	}
	if err := changelog.Ensure(ctx, db); err != nil {
		return err
	}
	n, ok := db.Dialect().(dialect.InsertNotifier)
	if !ok || !db.Dialect().Features().Has(dialect.NotifyListen) {
		return nil
	}
	// Each committed transaction that logged changes announces each
	// region it wrote once, whether it came from a push or from backend
	// code writing through a ServerDB.
	ddl := n.NotifyOnInsert(changelog.LogTable, "region", ChannelChanges, NotifyFunction, NotifyTrigger)
	err := db.EnsureOnce(ctx, notifyKey{}, func(tx *orm.DB) error {
		for _, stmt := range ddl {
			if err := tx.ExecDDL(ctx, nil, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("plasma: realtime.Ensure: %w", err)
	}
	return nil
}

// listenTimeout bounds New's wait for the first LISTEN.
const listenTimeout = 30 * time.Second

// listenerPing is how often the listener's connection is pinged, so
// that a connection that died silently is noticed and replaced.
const listenerPing = 30 * time.Second

// readScope reads the schema the hub's tables resolve to, which tells
// its poke notices from those of apps in other schemas of the database.
func (h *Hub) readScope(ctx context.Context) error {
	rows, err := h.db.Query(ctx, `SELECT current_schema()`)
	if err != nil {
		return fmt.Errorf("plasma: realtime: New: reading the current schema: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		var scope sql.NullString
		if err := rows.Scan(&scope); err != nil {
			return fmt.Errorf("plasma: realtime: New: reading the current schema: %w", err)
		}
		h.scope = scope.String
	}
	return rows.Err()
}

// startListener connects the listener and waits until it listens on
// both channels; the first failed connection attempt fails it.
func (h *Hub) startListener() error {
	if h.opts.NewListener == nil {
		return fmt.Errorf("plasma: realtime: New: Options.Listener is set, and the %s dialect opens no listener: set Options.NewListener", h.db.Dialect().Name())
	}
	ready := make(chan error, 1)
	var once sync.Once
	report := func(err error) { once.Do(func() { ready <- err }) }
	opts := dialect.ListenerOptions{
		MinBackoff: h.opts.ListenerMinBackoff,
		MaxBackoff: h.opts.ListenerMaxBackoff,
		OnEvent: func(ev dialect.ListenerEvent, err error) {
			switch ev {
			case dialect.ListenerConnectionAttemptFailed:
				report(err)
				h.log.Warn("plasma: realtime: listener connection attempt failed", "err", err)
			case dialect.ListenerDisconnected:
				h.log.Warn("plasma: realtime: listener disconnected; reconnecting", "err", err)
			case dialect.ListenerReconnected:
				h.log.Info("plasma: realtime: listener reconnected; poking every connection")
			}
		},
	}
	l, err := h.opts.NewListener(h.opts.Listener, opts)
	if err != nil {
		return fmt.Errorf("plasma: realtime: New: listening on PostgreSQL: %w", err)
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), listenTimeout)
		defer cancel()
		err := l.Listen(ctx, ChannelChanges)
		if err == nil {
			err = l.Listen(ctx, ChannelPokes)
		}
		report(err)
	}()
	if err = <-ready; err != nil {
		_ = l.Close()
		return fmt.Errorf("plasma: realtime: New: listening on PostgreSQL: %w", err)
	}
	h.listener = l
	h.bg.Add(1)
	go h.listen(l)
	return nil
}

func (h *Hub) stopListener() {
	if h.listener != nil {
		_ = h.listener.Close()
	}
}

// listen turns notifications into work for the pump.
func (h *Hub) listen(l dialect.Listener) {
	defer h.bg.Done()
	ping := time.NewTicker(listenerPing)
	defer ping.Stop()
	var pinging atomic.Bool
	for {
		select {
		case <-h.done:
			return
		case n, ok := <-l.Notify():
			if !ok {
				return
			}
			h.notified(n)
		case <-ping.C:
			// Not on this goroutine: Ping waits for the connection, which
			// may be waiting for us to take a notification.
			if pinging.CompareAndSwap(false, true) {
				go func() {
					defer pinging.Store(false)
					ctx, cancel := context.WithTimeout(context.Background(), listenerPing)
					defer cancel()
					if err := l.Ping(ctx); err != nil {
						h.log.Debug("plasma: realtime: listener ping failed", "err", err)
					}
				}()
			}
		}
	}
}

// notified handles one notification; nil means the connection was
// re-established and notifications may have been lost.
func (h *Hub) notified(n *dialect.Notification) {
	switch {
	case n == nil:
		h.signal(func(p *pending) { p.all, p.scan = true, true })
	case n.Channel == ChannelChanges:
		h.signal(func(p *pending) {
			p.scan = true
			if p.regions == nil {
				p.regions = map[string]struct{}{}
			}
			p.regions[n.Payload] = struct{}{}
		})
	case n.Channel == ChannelPokes:
		var msg pokeNotice
		if err := json.Unmarshal([]byte(n.Payload), &msg); err != nil {
			h.log.Debug("plasma: realtime: unreadable poke notification", "err", err)
			return
		}
		if msg.Hub == h.id || msg.Scope != h.scope || len(msg.Groups) == 0 {
			return
		}
		h.signal(func(p *pending) {
			for _, g := range msg.Groups {
				p.addGroup(g, false)
			}
		})
	}
}
