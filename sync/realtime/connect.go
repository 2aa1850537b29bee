package realtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/olahol/melody"

	"github.com/plasma-go/plasma/plugin/rowauth"
)

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
	c.session = s
	c.seq = joinSeq.Add(1)
	key := identityKey(c.id)
	fresh := h.analysedIdentity(c, key)
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
	created := h.register(c, key, fresh)
	replaced := h.joinRoom(c)
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

// analysedIdentity returns a new identity for c, with its read rules
// analysed, when the hub holds no identity of key yet; else nil.
func (h *Hub) analysedIdentity(c *conn, key string) *identity {
	h.mu.Lock()
	_, known := h.idents[key]
	h.mu.Unlock()
	if known {
		return nil
	}
	// A new identity's read rules are analysed here, not by the
	// first round that needs them (10,000 new identities cost that
	// round ≈ 30 ms). Once it is published only the pump reads them.
	// It runs on the connection's goroutine: see onOwnStack.
	fresh := &identity{key: key, id: c.id, conns: map[*conn]struct{}{}}
	onOwnStack(func() { h.deps(fresh) })
	return fresh
}

// register records c among the connections, of its identity (key) and
// of its group. Without an identity of key it publishes fresh, or a
// new one whose rules the pump analyses when needed, and reports
// created. Called with h.mu held.
func (h *Hub) register(c *conn, key string, fresh *identity) (created bool) {
	ide := h.idents[key]
	created = ide == nil
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
	return created
}

// joinRoom makes c a member of its room and returns the connections of
// the same clientID it replaces, for the caller to close. Called with
// h.mu held.
func (h *Hub) joinRoom(c *conn) (replaced []*conn) {
	rm := h.rooms[c.roomKey]
	if rm == nil {
		rm = &room{key: c.roomKey, members: map[*conn]struct{}{}}
		h.rooms[c.roomKey] = rm
	}
	// A client that reconnects replaces its old connection, which may
	// linger until a write or a ping finds it dead.
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
	return replaced
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
