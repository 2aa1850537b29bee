package realtime

import (
	"cmp"
	"slices"
	"strings"

	"github.com/olahol/melody"

	"github.com/plasma-go/plasma/sync/protocol"
	"github.com/plasma-go/plasma/sync/server"
)

// A Hub is what the sync server's devtools look into.
var _ server.RealtimeInspector = (*Hub)(nil)

// DevtoolsRealtime lists up to max of the hub's connections (user,
// client group, client and room) and its presence rooms with their
// sizes, for the sync server's devtools. A client group's own room is
// named "group:<id>", a named room "room:<name>".
func (h *Hub) DevtoolsRealtime(max int) protocol.DevtoolsRealtime {
	h.mu.Lock()
	out := protocol.DevtoolsRealtime{Connections: []protocol.DevtoolsConn{}, Rooms: []protocol.DevtoolsRoom{}}
	for c := range h.conns {
		if len(out.Connections) >= max {
			out.ConnectionsTruncated = true
			break
		}
		out.Connections = append(out.Connections, protocol.DevtoolsConn{
			UserID: c.id.UserID, ClientGroupID: c.group, ClientID: c.clientID, Room: roomName(c.roomKey)})
	}
	for key, rm := range h.rooms {
		out.Rooms = append(out.Rooms, protocol.DevtoolsRoom{Name: roomName(key), Members: len(rm.members)})
	}
	h.mu.Unlock()
	slices.SortFunc(out.Connections, func(a, b protocol.DevtoolsConn) int {
		return cmp.Or(cmp.Compare(a.ClientGroupID, b.ClientGroupID), cmp.Compare(a.ClientID, b.ClientID))
	})
	slices.SortFunc(out.Rooms, func(a, b protocol.DevtoolsRoom) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// roomName is a room's key as the devtools show it.
func roomName(key string) string {
	if g, ok := strings.CutPrefix(key, "g:"); ok {
		return "group:" + g
	}
	if n, ok := strings.CutPrefix(key, "r:"); ok {
		return "room:" + n
	}
	return key
}

// DisconnectGroup closes the connections of a client group with a
// normal close frame ("disconnected by an administrator"); its clients
// reconnect by themselves, and pull. It returns how many it closed.
func (h *Hub) DisconnectGroup(group string) int {
	h.mu.Lock()
	conns := make([]*conn, 0, len(h.groups[group]))
	for c := range h.groups[group] {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.close(melody.CloseNormalClosure, "disconnected by an administrator")
	}
	return len(conns)
}
