package realtime

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// room is the set of connections that share presence.
type room struct {
	key       string
	members   map[*conn]struct{}
	lastSent  time.Time
	timer     *time.Timer
	truncated bool // the last snapshot said "truncated"
}

// The keys of rooms: a client group's own room and a named one never
// share a key.
func groupRoom(group string) string { return "g:" + group }

func namedRoom(name string) string { return "r:" + name }

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
