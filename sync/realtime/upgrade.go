package realtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"

	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/internal/store"
	"github.com/plasma-go/plasma/sync/server"
)

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
	err := h.melody.HandleRequestWithKeys(connRecorder{ResponseWriter: w, c: c}, r, map[string]any{connKey: c})
	if errors.Is(err, melody.ErrClosed) {
		httpError(w, http.StatusServiceUnavailable, "shutting down")
	} else if err != nil {
		h.log.Debug("plasma: realtime: upgrade failed", "err", err)
	}
}

// onOwnStack runs fn on a goroutine of its own and waits for it. The
// handler's goroutine serves its connection for as long as it lasts,
// and a goroutine's stack, once grown, shrinks only by half per garbage
// collection: the stack grown by the work before the upgrade (Auth,
// AuthorizeRoom, BindGroup's queries, a new identity's rule analysis)
// would otherwise stay on every connection. BenchmarkFanout measured
// the server's stacks at +20 KiB per connection without this, +8 KiB
// with it.
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
	if h.corsAny || h.corsOrigins[strings.TrimRight(origin, "/")] {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// bindGroup is the default Options.BindGroup: store.BindGroup, after a
// read that spares a write when the group is bound already.
func (h *Hub) bindGroup(ctx context.Context, groupID, userID string) error {
	owner, known, err := store.GroupOwner(ctx, h.db, groupID)
	if err != nil {
		return err
	}
	if !known {
		if !h.perRegion {
			select {
			case h.bindTurn <- struct{}{}:
				defer func() { <-h.bindTurn }()
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return store.BindGroup(ctx, h.db, groupID, userID)
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
	case h.opts.MaxConnsPerUser > 0 && h.connsPerUser[c.id.UserID] >= h.opts.MaxConnsPerUser:
		httpError(w, http.StatusTooManyRequests, "user has %d WebSocket connections open, the limit", h.opts.MaxConnsPerUser)
		return false
	case h.roomFull(c):
		httpError(w, http.StatusTooManyRequests, "room is full: %d connections, the limit", h.opts.MaxRoomMembers)
		return false
	}
	h.connsPerUser[c.id.UserID]++
	c.reserved.Store(true)
	h.handlers.Add(1)
	return true
}

// release gives c's place among its user's connections back, once.
func (h *Hub) release(c *conn) {
	if !c.reserved.CompareAndSwap(true, false) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.connsPerUser[c.id.UserID]--; h.connsPerUser[c.id.UserID] <= 0 {
		delete(h.connsPerUser, c.id.UserID)
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
