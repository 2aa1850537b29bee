package realtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync"

	"github.com/olahol/melody"
	"github.com/plasma-go/plasma/dialect"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/server"
)

// connKey is the melody session key holding the *conn.
const connKey = "plasma.conn"

// Hub serves the WebSocket endpoint GET {basePath}/ws and pokes its
// connections after commits, and tells each room who is in it. Mount it
// at {basePath}/ws next to the sync handler, and give it to the sync
// handler as its Notifier. It is safe for concurrent use. Close it when
// the server shuts down.
type Hub struct {
	opts   Options
	db     *orm.DB // Options.DB
	authDB *orm.DB // db with row auth: "may identity X read row R"
	// perRegion: the change log numbers versions per region, as it does
	// where writers run concurrently (dialect.ConcurrentWrites); elsewhere
	// one sequence covers every region.
	perRegion bool
	log       *slog.Logger
	melody    *melody.Melody
	id        string // tells this hub's messages on ChannelPokes from others'
	scope     string // the PostgreSQL schema of the hub's tables: notices from hubs of other schemas are not ours
	pokeMsg   []byte

	mu           sync.Mutex
	closed       bool
	conns        map[*conn]struct{}
	groups       map[string]map[*conn]struct{}
	idents       map[string]*identity
	rooms        map[string]*room
	toLoad       []*identity      // identities published since the pump last loaded binds
	connsPerUser map[string]int   // connections per user, reserved before the upgrade
	told         map[string]int64 // see Hub.tell; deleted with the group's last connection
	handlers     sync.WaitGroup   // connections past the closed check, until served

	// bindTurn queues the default BindGroup's writes on SQLite, whose one
	// writer would otherwise answer a burst of first connections with
	// SQLITE_BUSY once the busy timeout passes.
	bindTurn chan struct{}

	corsOrigins map[string]bool // Options.CORSOrigins, without trailing slashes
	corsAny     bool            // Options.CORSOrigins holds "*"
	stats       hubStats

	pendingMu sync.Mutex
	pending   pending       // work for the next round, under pendingMu
	wake      chan struct{} // a round is wanted (capacity 1)

	ctx      context.Context // cancelled by Close
	cancel   context.CancelFunc
	done     chan struct{}
	bg       sync.WaitGroup // the pump and the listener loop
	listener dialect.Listener
	pump     pumpState // owned by the pump goroutine
}

// Compile-time check: a Hub is the sync server's Notifier.
var _ server.Notifier = (*Hub)(nil)

// identity is one distinct identity with connections: the unit of the
// read-access checks.
type identity struct {
	key   string
	id    rowauth.Identity
	conns map[*conn]struct{}
	rules map[string]*ruleInfo // per table; see deps
	deps  *depInfo             // set before the identity is published, or by the pump goroutine
}

// New checks opts, prepares the database (unless Options.SkipEnsure:
// the change log and, on PostgreSQL, the notification trigger, plus the
// sync server's tables), starts listening
// (PostgreSQL with Options.Listener: New returns once the LISTEN is in
// place, or fails if the first connection attempt does) and returns the
// hub.
func New(opts Options) (*Hub, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{
		opts:         opts,
		db:           opts.DB,
		perRegion:    opts.DB.Dialect().Features().Has(dialect.ConcurrentWrites),
		log:          opts.Logger,
		id:           randomID(),
		pokeMsg:      []byte(`{"type":"poke"}`),
		conns:        map[*conn]struct{}{},
		groups:       map[string]map[*conn]struct{}{},
		idents:       map[string]*identity{},
		rooms:        map[string]*room{},
		connsPerUser: map[string]int{},
		told:         map[string]int64{},
		corsOrigins:  map[string]bool{},
		bindTurn:     make(chan struct{}, 1),
		wake:         make(chan struct{}, 1),
		ctx:          ctx,
		cancel:       cancel,
		done:         make(chan struct{}),
	}
	h.authDB = opts.DB.Use(rowauth.Middleware())
	if opts.BindGroup == nil {
		h.opts.BindGroup = h.bindGroup
	}
	for _, o := range opts.CORSOrigins {
		if o == "*" {
			h.corsAny = true
		}
		h.corsOrigins[strings.TrimRight(o, "/")] = true
	}
	if !opts.SkipEnsure {
		// The client groups (BindGroup) and the client view records
		// (whom a change pokes) are the sync server's tables.
		if err := server.Ensure(ctx, opts.DB); err != nil {
			cancel()
			return nil, err
		}
		if err := Ensure(ctx, opts.DB); err != nil {
			cancel()
			return nil, err
		}
	}
	if h.perRegion {
		if err := h.readScope(ctx); err != nil {
			cancel()
			return nil, err
		}
	}
	if opts.DB.Dialect().Features().Has(dialect.NotifyListen) && opts.Listener != "" {
		if err := h.startListener(); err != nil {
			cancel()
			return nil, err
		}
	}
	// The cursors start at the heads read after the LISTEN is in place,
	// so no commit falls in between.
	if err := h.initCursors(ctx); err != nil {
		cancel()
		close(h.done)
		h.stopListener()
		h.bg.Wait()
		return nil, err
	}

	h.melody = h.newMelody()

	h.bg.Add(1)
	go h.run()
	return h, nil
}

// newMelody configures the melody instance that upgrades and serves
// the hub's connections.
func (h *Hub) newMelody() *melody.Melody {
	m := melody.New()
	m.Config.WriteWait = h.opts.WriteTimeout
	m.Config.PongWait = h.opts.PongTimeout
	m.Config.PingPeriod = h.opts.PingInterval
	m.Config.MaxMessageSize = 4096
	m.Config.MessageBufferSize = h.opts.SendQueue
	// No buffers of the upgrader's own: the connection reads and writes
	// through the buffers net/http allocated for it, which it holds for
	// as long as the handler runs, that is as long as the connection.
	m.Upgrader.ReadBufferSize = 0
	m.Upgrader.WriteBufferSize = 0
	m.Upgrader.CheckOrigin = h.checkOrigin
	m.Upgrader.Error = upgradeError
	m.HandleConnect(h.onConnect)
	m.HandleDisconnect(h.onDisconnect)
	m.HandleError(h.onError)
	m.HandleSentMessage(h.onSent)
	return m
}

// Connections returns the number of open connections.
func (h *Hub) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// Close shuts the hub down: it stops poking and listening, refuses new
// connections (503), sends every connection a close frame ("going
// away"; clients reconnect elsewhere and pull) and waits until they are
// gone or ctx is done, when it closes the remaining ones at once and
// returns ctx.Err(). It does not close Options.DB.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	for _, rm := range h.rooms {
		if rm.timer != nil {
			rm.timer.Stop()
		}
	}
	h.mu.Unlock()

	h.cancel()
	close(h.done)
	h.stopListener()
	h.bg.Wait()

	for _, c := range conns {
		c.close(melody.CloseGoingAway, "server shutting down")
	}
	drained := make(chan struct{})
	go func() {
		h.handlers.Wait()
		close(drained)
	}()
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = ctx.Err()
		h.mu.Lock()
		for c := range h.conns {
			c.kill()
		}
		h.mu.Unlock()
		for _, c := range conns {
			c.kill()
		}
		<-drained
	}
	_ = h.melody.Close()
	return err
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
