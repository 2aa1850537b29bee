package realtime

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lib/pq"
	"github.com/olahol/melody"

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
	opts     Options
	db       *orm.DB // Options.DB
	authDB   *orm.DB // db with row auth: "may identity X read row R"
	postgres bool
	log      *slog.Logger
	m        *melody.Melody
	id       string // tells this hub's messages on ChannelPokes from others'
	pokeMsg  []byte

	mu       sync.Mutex
	closed   bool
	conns    map[*conn]struct{}
	groups   map[string]map[*conn]struct{}
	idents   map[string]*identity
	rooms    map[string]*room
	toLoad   []*identity      // identities published since the pump last loaded binds
	users    map[string]int   // connections per user, reserved before the upgrade
	told     map[string]int64 // see Hub.tell; deleted with the group's last connection
	handlers sync.WaitGroup   // connections past the closed check, until served

	// binding queues the default BindGroup's writes on SQLite, whose one
	// writer would otherwise answer a burst of first connections with
	// SQLITE_BUSY once the busy timeout passes.
	binding chan struct{}

	cors    map[string]bool // Options.CORSOrigins, without trailing slashes
	corsAny bool            // Options.CORSOrigins holds "*"
	stats   hubStats

	pmu  sync.Mutex
	pend pending       // work for the next round, under pmu
	kick chan struct{} // a round is wanted (capacity 1)

	ctx      context.Context // cancelled by Close
	cancel   context.CancelFunc
	done     chan struct{}
	bg       sync.WaitGroup // the pump and the listener loop
	listener *pq.Listener
	ps       pumpState // owned by the pump goroutine
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

// conn is one WebSocket connection.
type conn struct {
	s        *melody.Session
	netConn  net.Conn // the hijacked connection, to close it at once
	id       rowauth.Identity
	ident    *identity
	group    string
	clientID string
	roomKey  string
	userInfo json.RawMessage // nil: none
	seq      uint64          // join order, to break clientID ties
	poke     atomic.Int32    // pokeIdle, pokeQueued, pokeDirty
	reserved atomic.Bool     // holds a place in Hub.users
}

// The poke states of a connection: a poke waiting to be written covers
// every later one, so at most one is queued; one asked for meanwhile is
// remembered (dirty) and sent once the queued one has been written.
const (
	pokeIdle int32 = iota
	pokeQueued
	pokeDirty
)

// room is the set of connections that share presence.
type room struct {
	key       string
	members   map[*conn]struct{}
	lastSent  time.Time
	timer     *time.Timer
	truncated bool // the last snapshot said "truncated"
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
		opts:     opts,
		db:       opts.DB,
		postgres: opts.DB.Dialect().Name() == "postgres",
		log:      opts.Logger,
		id:       randomID(),
		pokeMsg:  []byte(`{"type":"poke"}`),
		conns:    map[*conn]struct{}{},
		groups:   map[string]map[*conn]struct{}{},
		idents:   map[string]*identity{},
		rooms:    map[string]*room{},
		users:    map[string]int{},
		told:     map[string]int64{},
		cors:     map[string]bool{},
		binding:  make(chan struct{}, 1),
		kick:     make(chan struct{}, 1),
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	h.authDB = opts.DB.Use(rowauth.Middleware())
	if opts.BindGroup == nil {
		h.opts.BindGroup = h.bindGroup
	}
	for _, o := range opts.CORSOrigins {
		if o == "*" {
			h.corsAny = true
		}
		h.cors[strings.TrimRight(o, "/")] = true
	}
	if !opts.SkipEnsure {
		// The client groups (BindGroup) and the client view records
		// (whom a change pokes) are the sync server's tables.
		if err := server.EnsureTables(ctx, opts.DB); err != nil {
			cancel()
			return nil, err
		}
		if err := Ensure(ctx, opts.DB); err != nil {
			cancel()
			return nil, err
		}
	}
	if h.postgres && opts.Listener != "" {
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

	m := melody.New()
	m.Config.WriteWait = opts.WriteTimeout
	m.Config.PongWait = opts.PongTimeout
	m.Config.PingPeriod = opts.PingInterval
	m.Config.MaxMessageSize = 4096
	m.Config.MessageBufferSize = opts.SendQueue
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
	h.m = m

	h.bg.Add(1)
	go h.run()
	return h, nil
}

// Connections returns the number of open connections.
func (h *Hub) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// ServeHTTP upgrades GET
// {basePath}/ws?clientGroupID=<g>&clientID=<c>[&room=<r>][&userInfo=<json>][&auth=<credentials>]
// to a WebSocket, binding the client group to the user if no one holds
// it yet. Before the upgrade, without binding or storing anything, it
// answers 400 for a missing clientGroupID or clientID, an id over
// MaxIDBytes, a userInfo that is not JSON or is too large, or a request
// that asks for no WebSocket upgrade; 401 when Auth refuses the
// Authorization header (or, without one, the auth parameter); 403 for
// an origin CheckOrigin refuses, someone else's client group or a room
// AuthorizeRoom refuses; 409 when the room already has a connection of
// another user with that clientID; 429 over MaxConnsPerUser or
// MaxRoomMembers; 503 once the hub is closed. The upgrader (melody's)
// then checks the rest of the handshake, once the group is bound: a
// wrong Sec-WebSocket-Version or a missing Sec-WebSocket-Key gets 400,
// with the same JSON body as the refusals above.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var c *conn
	onOwnStack(func() { c = h.accept(w, r) })
	if c == nil {
		return
	}
	defer h.handlers.Done()
	defer h.release(c)
	// HandleRequestWithKeys upgrades (answering a failed upgrade itself,
	// through upgradeError) and returns when the connection has ended.
	err := h.m.HandleRequestWithKeys(connRecorder{ResponseWriter: w, c: c}, r, map[string]any{connKey: c})
	if errors.Is(err, melody.ErrClosed) {
		httpError(w, http.StatusServiceUnavailable, "shutting down")
	} else if err != nil {
		h.log.Debug("plasma: realtime: upgrade failed", "err", err)
	}
}

// onOwnStack runs fn on a goroutine of its own and waits for it. The
// handler's goroutine serves its connection for as long as it lasts,
// and a goroutine's stack, once grown, shrinks only by half per garbage
// collection: the work before the upgrade (Auth, AuthorizeRoom,
// BindGroup's queries; modernc's SQLite alone grows a stack well past
// 8 KiB) would otherwise stay on every connection. BenchmarkFanout
// measured 8 KiB per connection saved.
func onOwnStack(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// accept makes the checks before the upgrade, in the order ServeHTTP's
// doc gives, and answers a refusal itself (nil). A connection it
// returns is admitted and its group bound: the caller must call
// h.release(c) and h.handlers.Done() once the connection has ended.
func (h *Hub) accept(w http.ResponseWriter, r *http.Request) *conn {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		httpError(w, http.StatusMethodNotAllowed, "method %s; want GET", r.Method)
		return nil
	}
	c, no := h.request(r)
	if no != nil {
		httpError(w, no.status, "%s", no.msg)
		return nil
	}
	// The upgrader checks these too, but only after the group is bound.
	if !websocket.IsWebSocketUpgrade(r) {
		httpError(w, http.StatusBadRequest, "not a WebSocket handshake")
		return nil
	}
	if !h.checkOrigin(r) {
		httpError(w, http.StatusForbidden, "origin %q not allowed", r.Header.Get("Origin"))
		return nil
	}
	if !h.admit(w, c) {
		return nil
	}
	// The group is bound last, so that a refused connection binds
	// nothing.
	if !h.bind(r.Context(), w, c) {
		h.release(c)
		h.handlers.Done()
		return nil
	}
	return c
}

// refusal is an answer before the upgrade: an HTTP status and the
// error message of its JSON body.
type refusal struct {
	status int
	msg    string
}

func refuse(status int, format string, args ...any) *refusal {
	return &refusal{status: status, msg: fmt.Sprintf(format, args...)}
}

// request reads the connection r asks for from its query parameters,
// authenticates it and authorizes its room.
func (h *Hub) request(r *http.Request) (*conn, *refusal) {
	q := r.URL.Query()
	group, clientID := q.Get("clientGroupID"), q.Get("clientID")
	maxID := h.opts.MaxIDBytes
	switch {
	case group == "" || clientID == "":
		return nil, refuse(http.StatusBadRequest, "clientGroupID and clientID are required")
	case len(group) > maxID:
		return nil, refuse(http.StatusBadRequest, "clientGroupID of %d bytes, over the limit of %d", len(group), maxID)
	case len(clientID) > maxID:
		return nil, refuse(http.StatusBadRequest, "clientID of %d bytes, over the limit of %d", len(clientID), maxID)
	}
	id, err := h.authenticate(r, q)
	if err != nil {
		h.log.Debug("plasma: realtime: connection refused", "status", http.StatusUnauthorized, "err", err)
		return nil, refuse(http.StatusUnauthorized, "unauthorized")
	}
	c := &conn{id: id, group: group, clientID: clientID, roomKey: groupRoom(group)}
	if q.Has("userInfo") {
		if c.userInfo, err = h.userInfo(q.Get("userInfo")); err != nil {
			return nil, refuse(http.StatusBadRequest, "%v", err)
		}
	}
	if name := q.Get("room"); name != "" && name != group {
		if no := h.authorizeRoom(r.Context(), id, name); no != nil {
			return nil, no
		}
		c.roomKey = namedRoom(name)
	}
	return c, nil
}

// userInfo checks the userInfo parameter and compacts it.
func (h *Hub) userInfo(raw string) (json.RawMessage, error) {
	if len(raw) > h.opts.MaxUserInfoBytes {
		return nil, fmt.Errorf("userInfo of %d bytes, over the limit of %d", len(raw), h.opts.MaxUserInfoBytes)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(raw)); err != nil {
		return nil, fmt.Errorf("userInfo is not JSON: %v", err)
	}
	return buf.Bytes(), nil
}

// authorizeRoom checks the room a connection names.
func (h *Hub) authorizeRoom(ctx context.Context, id rowauth.Identity, name string) *refusal {
	if len(name) > h.opts.MaxIDBytes {
		return refuse(http.StatusBadRequest, "room of %d bytes, over the limit of %d", len(name), h.opts.MaxIDBytes)
	}
	if h.opts.AuthorizeRoom == nil {
		return refuse(http.StatusForbidden, "room %q refused", name)
	}
	if err := h.opts.AuthorizeRoom(ctx, id, name); err != nil {
		h.log.Debug("plasma: realtime: room refused", "room", name, "user", id.UserID, "err", err)
		return refuse(http.StatusForbidden, "room %q refused", name)
	}
	return nil
}

// bind binds c's client group to its user (Options.BindGroup) and
// answers a refusal itself.
func (h *Hub) bind(ctx context.Context, w http.ResponseWriter, c *conn) bool {
	err := h.opts.BindGroup(ctx, c.group, c.id.UserID)
	switch {
	case err == nil:
		return true
	case errors.Is(err, server.ErrForbiddenGroup):
		h.log.Debug("plasma: realtime: client group refused", "group", c.group, "user", c.id.UserID)
		httpError(w, http.StatusForbidden, "client group %q belongs to another user", c.group)
	default:
		h.log.Warn("plasma: realtime: binding the client group", "group", c.group, "err", err)
		httpError(w, http.StatusInternalServerError, "internal error")
	}
	return false
}

// upgradeError is the upgrader's Error: it answers a handshake the
// upgrader refuses (a wrong Sec-WebSocket-Version or a missing key, an
// origin CheckOrigin refuses) as the hub answers its own refusals.
func upgradeError(w http.ResponseWriter, _ *http.Request, status int, reason error) {
	w.Header().Set("Sec-WebSocket-Version", "13")
	httpError(w, status, "%v", reason)
}

// connRecorder is the ResponseWriter the upgrader takes the connection
// over from: it is w itself, and it records the connection on c, so
// that the hub can close it at once (conn.kill). melody's Session can
// only queue a close frame, and a full send queue takes none.
type connRecorder struct {
	http.ResponseWriter
	c *conn
}

// Hijack takes the connection over from net/http and records it.
func (w connRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.c.netConn = nc
	}
	return nc, brw, err
}

// Unwrap returns the ResponseWriter for http.ResponseController.
func (w connRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// checkOrigin runs Options.CheckOrigin or, without one, accepts no
// Origin, the request's own origin, and Options.CORSOrigins.
func (h *Hub) checkOrigin(r *http.Request) bool {
	if h.opts.CheckOrigin != nil {
		return h.opts.CheckOrigin(r)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a browser: nothing to protect it from
	}
	if h.corsAny || h.cors[strings.TrimRight(origin, "/")] {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// bindGroup is the default Options.BindGroup: server.BindGroup, after a
// read that spares a write when the group is bound already.
func (h *Hub) bindGroup(ctx context.Context, groupID, userID string) error {
	owner, known, err := server.GroupOwner(ctx, h.db, groupID)
	if err != nil {
		return err
	}
	if !known {
		if !h.postgres {
			select {
			case h.binding <- struct{}{}:
				defer func() { <-h.binding }()
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return server.BindGroup(ctx, h.db, groupID, userID)
	}
	if owner != userID {
		return fmt.Errorf("%w: group %q", server.ErrForbiddenGroup, groupID)
	}
	return nil
}

// admit checks, before the upgrade, that the hub is open, that c's
// clientID is not another user's in its room and that c stays within
// the caps, and reserves c's place among its user's connections; it
// answers the refusal itself. After true, the caller must call
// h.release(c) and h.handlers.Done() once the connection has ended.
func (h *Hub) admit(w http.ResponseWriter, c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		httpError(w, http.StatusServiceUnavailable, "shutting down")
		return false
	case h.clash(c) != nil:
		httpError(w, http.StatusConflict, "clientID %q is connected to this room by another user", c.clientID)
		return false
	case h.opts.MaxConnsPerUser > 0 && h.users[c.id.UserID] >= h.opts.MaxConnsPerUser:
		httpError(w, http.StatusTooManyRequests, "user has %d WebSocket connections open, the limit", h.opts.MaxConnsPerUser)
		return false
	case h.roomFull(c):
		httpError(w, http.StatusTooManyRequests, "room is full: %d connections, the limit", h.opts.MaxRoomMembers)
		return false
	}
	h.users[c.id.UserID]++
	c.reserved.Store(true)
	h.handlers.Add(1)
	return true
}

// roomFull reports whether c's room holds MaxRoomMembers connections
// already, none of which c replaces. Called with h.mu held.
func (h *Hub) roomFull(c *conn) bool {
	rm := h.rooms[c.roomKey]
	if h.opts.MaxRoomMembers < 0 || rm == nil || len(rm.members) < h.opts.MaxRoomMembers {
		return false
	}
	for o := range rm.members {
		if o.clientID == c.clientID {
			return false
		}
	}
	return true
}

// release gives c's place among its user's connections back, once.
func (h *Hub) release(c *conn) {
	if !c.reserved.CompareAndSwap(true, false) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.users[c.id.UserID]--; h.users[c.id.UserID] <= 0 {
		delete(h.users, c.id.UserID)
	}
}

// authenticate runs Options.Auth with the Authorization header, or the
// auth parameter in its place.
func (h *Hub) authenticate(r *http.Request, q url.Values) (rowauth.Identity, error) {
	if r.Header.Get("Authorization") == "" {
		if a := q.Get("auth"); a != "" {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", a)
		}
	}
	id, err := h.opts.Auth(r)
	if err == nil && id.UserID == "" {
		err = errors.New("the Auth function returned no user id")
	}
	return id, err
}

func httpError(w http.ResponseWriter, status int, format string, args ...any) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{fmt.Sprintf(format, args...)})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// The keys of rooms: a client group's own room and a named one never
// share a key.
func groupRoom(group string) string { return "g:" + group }
func namedRoom(name string) string  { return "r:" + name }

// clash returns the member of c's room that holds c's clientID for
// another user, if any. Called with h.mu held.
func (h *Hub) clash(c *conn) *conn {
	if rm := h.rooms[c.roomKey]; rm != nil {
		for o := range rm.members {
			if o.clientID == c.clientID && o.id.UserID != c.id.UserID {
				return o
			}
		}
	}
	return nil
}

var joinSeq atomic.Uint64

func (h *Hub) onConnect(s *melody.Session) {
	c := sessionConn(s)
	if c == nil {
		return
	}
	c.s = s
	c.seq = joinSeq.Add(1)
	key := identityKey(c.id)
	h.mu.Lock()
	_, known := h.idents[key]
	h.mu.Unlock()
	var fresh *identity
	if !known {
		// A new identity's read rules are analysed here, not by the
		// first round that needs them (10,000 new identities cost that
		// round ≈ 30 ms). Once it is published only the pump reads them.
		// It runs on the connection's goroutine: see onOwnStack.
		fresh = &identity{key: key, id: c.id, conns: map[*conn]struct{}{}}
		onOwnStack(func() { h.deps(fresh) })
	}
	h.mu.Lock()
	if h.closed || h.clash(c) != nil {
		h.mu.Unlock()
		c.kill()
		return
	}
	if h.roomFull(c) {
		// Connections that raced past admit: this one is stored nowhere.
		h.mu.Unlock()
		c.close(melody.ClosePolicyViolation, "room is full")
		return
	}
	// The group is c's user's now (BindGroup said so): a connection of
	// another user to it, from before the group was bound again, goes.
	squatters := h.othersInGroup(c.group, c.id.UserID)
	ide := h.idents[key]
	created := ide == nil
	if created {
		ide = fresh
		if ide == nil { // analysed by the pump when needed
			ide = &identity{key: key, id: c.id, conns: map[*conn]struct{}{}}
		}
		h.idents[key] = ide
		h.toLoad = append(h.toLoad, ide)
	}
	ide.conns[c] = struct{}{}
	c.ident = ide
	h.conns[c] = struct{}{}
	g := h.groups[c.group]
	if g == nil {
		g = map[*conn]struct{}{}
		h.groups[c.group] = g
	}
	g[c] = struct{}{}
	rm := h.rooms[c.roomKey]
	if rm == nil {
		rm = &room{key: c.roomKey, members: map[*conn]struct{}{}}
		h.rooms[c.roomKey] = rm
	}
	// A client that reconnects replaces its old connection, which may
	// linger until a write or a ping finds it dead.
	var replaced []*conn
	for o := range rm.members {
		if o.clientID == c.clientID {
			delete(rm.members, o)
			replaced = append(replaced, o)
		}
	}
	rm.members[c] = struct{}{}
	if rm.truncated && len(rm.members) > h.opts.MaxPresenceMembers {
		c.write(truncatedMsg) // the room said so before c joined
	}
	h.presenceChanged(rm)
	h.mu.Unlock()
	for _, o := range replaced {
		o.close(melody.ClosePolicyViolation, "replaced by a newer connection of the client")
	}
	closeSquatters(squatters)
	// A client may have missed changes before it was registered: one
	// pull brings it up to date.
	c.sendPoke(h.pokeMsg)
	if created {
		// Load the rows its rules depend on before a change needs them.
		h.signal(func(p *pending) { p.load = true })
	}
}

func (h *Hub) onDisconnect(s *melody.Session) {
	c := sessionConn(s)
	if c == nil {
		return
	}
	// Its place is free by the time it is gone from Connections.
	h.release(c)
	if c.ident == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.conns[c]; !ok {
		return
	}
	delete(h.conns, c)
	if g := h.groups[c.group]; g != nil {
		delete(g, c)
		if len(g) == 0 {
			delete(h.groups, c.group)
			delete(h.told, c.group)
		}
	}
	delete(c.ident.conns, c)
	if len(c.ident.conns) == 0 && h.idents[c.ident.key] == c.ident {
		delete(h.idents, c.ident.key)
	}
	if rm := h.rooms[c.roomKey]; rm != nil {
		if _, ok := rm.members[c]; ok {
			delete(rm.members, c)
			if len(rm.members) == 0 {
				if rm.timer != nil {
					rm.timer.Stop()
				}
				delete(h.rooms, c.roomKey)
			} else {
				h.presenceChanged(rm)
			}
		}
	}
}

// othersInGroup returns the connections to group of users other than
// userID. Called with h.mu held.
func (h *Hub) othersInGroup(group, userID string) []*conn {
	var out []*conn
	for o := range h.groups[group] {
		if o.id.UserID != userID {
			out = append(out, o)
		}
	}
	return out
}

// closeSquatters closes connections to a client group that belongs to
// another user: they must not receive its pokes or sit in its room.
func closeSquatters(conns []*conn) {
	for _, o := range conns {
		o.close(melody.ClosePolicyViolation, "client group belongs to another user")
	}
}

func (h *Hub) onError(s *melody.Session, err error) {
	if errors.Is(err, melody.ErrMessageBufferFull) {
		if c := sessionConn(s); c != nil {
			h.log.Debug("plasma: realtime: send queue full; closing the connection", "clientID", c.clientID)
			c.kill()
		}
	}
}

func (h *Hub) onSent(s *melody.Session, msg []byte) {
	if len(msg) > 0 && &msg[0] == &h.pokeMsg[0] {
		h.stats.pokes.Add(1)
		if c := sessionConn(s); c != nil {
			c.pokeSent(h.pokeMsg)
		}
	}
}

func sessionConn(s *melody.Session) *conn {
	v, _ := s.Get(connKey)
	c, _ := v.(*conn)
	return c
}

// identityKey identifies an identity: its user and claims.
func identityKey(id rowauth.Identity) string {
	if len(id.Claims) == 0 {
		return id.UserID
	}
	b, err := json.Marshal(id.Claims)
	if err != nil {
		b = fmt.Appendf(nil, "%v", id.Claims)
	}
	return id.UserID + "\x00" + string(b)
}

// write queues msg for c; a full queue closes c (onError).
func (c *conn) write(msg []byte) {
	if c.s != nil {
		_ = c.s.Write(msg)
	}
}

// sendPoke queues a poke unless one is queued already.
func (c *conn) sendPoke(msg []byte) {
	for {
		switch c.poke.Load() {
		case pokeIdle:
			if c.poke.CompareAndSwap(pokeIdle, pokeQueued) {
				c.write(msg)
				return
			}
		case pokeQueued:
			if c.poke.CompareAndSwap(pokeQueued, pokeDirty) {
				return
			}
		default:
			return
		}
	}
}

// pokeSent records that the queued poke was written, and queues the
// poke asked for meanwhile, if any.
func (c *conn) pokeSent(msg []byte) {
	for {
		switch c.poke.Load() {
		case pokeDirty:
			if c.poke.CompareAndSwap(pokeDirty, pokeQueued) {
				c.write(msg)
				return
			}
		case pokeQueued:
			if c.poke.CompareAndSwap(pokeQueued, pokeIdle) {
				return
			}
		default:
			return
		}
	}
}

// close sends a close frame, or closes c at once when its queue is full.
func (c *conn) close(code int, reason string) {
	if c.s == nil || c.s.CloseWithMsg(melody.FormatCloseMessage(code, reason)) != nil {
		c.kill()
	}
}

// kill closes c's network connection: its read and write loops fail and
// the hub forgets it.
func (c *conn) kill() {
	if c.netConn != nil {
		_ = c.netConn.Close()
	}
}

// presence

type presenceEntry struct {
	ClientID string          `json:"clientID"`
	UserInfo json.RawMessage `json:"userInfo"`
}

type presenceMsg struct {
	Type      string          `json:"type"`
	Entries   []presenceEntry `json:"entries"`
	Truncated bool            `json:"truncated,omitempty"`
}

var truncatedMsg = mustJSON(presenceMsg{Type: "presence", Entries: []presenceEntry{}, Truncated: true})

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// presenceChanged sends rm's snapshot now, or when the throttle interval
// since the last one ends. Called with h.mu held.
func (h *Hub) presenceChanged(rm *room) {
	if h.opts.MaxPresenceMembers < 0 || rm.timer != nil {
		return // off, or a trailing snapshot is due and will be current
	}
	wait := h.opts.PresenceThrottle - time.Since(rm.lastSent)
	if wait <= 0 {
		h.sendPresence(rm)
		return
	}
	rm.timer = time.AfterFunc(wait, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.rooms[rm.key] != rm || h.closed {
			return
		}
		rm.timer = nil
		h.sendPresence(rm)
	})
}

// sendPresence sends rm's snapshot to its members. Called with h.mu
// held.
func (h *Hub) sendPresence(rm *room) {
	rm.lastSent = time.Now()
	var msg []byte
	if len(rm.members) > h.opts.MaxPresenceMembers {
		if rm.truncated {
			return
		}
		rm.truncated = true
		msg = truncatedMsg
	} else {
		rm.truncated = false
		members := make([]*conn, 0, len(rm.members))
		for c := range rm.members {
			members = append(members, c)
		}
		slices.SortFunc(members, func(a, b *conn) int {
			if c := strings.Compare(a.clientID, b.clientID); c != 0 {
				return c
			}
			return cmp.Compare(a.seq, b.seq)
		})
		p := presenceMsg{Type: "presence", Entries: make([]presenceEntry, len(members))}
		for i, c := range members {
			p.Entries[i] = presenceEntry{ClientID: c.clientID, UserInfo: c.userInfo}
		}
		msg = mustJSON(p)
	}
	for c := range rm.members {
		c.write(msg)
	}
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
	_ = h.m.Close()
	return err
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
