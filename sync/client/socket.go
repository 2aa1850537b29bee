package client

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Presence is a snapshot of the members of the client's room.
type Presence struct {
	Room    string
	Entries []PresenceEntry
	// Truncated is set when the room is over the server's presence
	// limit: Entries is then empty.
	Truncated bool
}

// PresenceEntry is one member of a room.
type PresenceEntry struct {
	ClientID string          `json:"clientID"`
	UserInfo json.RawMessage `json:"userInfo"`
}

// presenceState holds the room to join and the current socket.
type presenceState struct {
	mu       sync.Mutex
	room     string
	userInfo json.RawMessage
	conn     *websocket.Conn
	updates  chan Presence
	wake     chan struct{} // a refused socket waits for it
}

func (p *presenceState) init(room string, userInfo any) {
	p.room = room
	p.userInfo, _ = json.Marshal(userInfo)
	if userInfo == nil {
		p.userInfo = nil
	}
	p.updates = make(chan Presence, 1)
	p.wake = make(chan struct{}, 1)
}

// reconnect closes the current socket; the socket loop dials again (with
// the current room) unless offline.
func (p *presenceState) reconnect() {
	poke(p.wake)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// JoinRoom makes the client a member of room (room "" is its client
// group's own room) with userInfo (any JSON value): the socket
// reconnects with them, and the room's snapshots arrive on OnPresence
// and PresenceUpdates.
func (c *Client[C]) JoinRoom(room string, userInfo any) error {
	b, err := json.Marshal(userInfo)
	if err != nil {
		return fmt.Errorf("plasma: client: JoinRoom: userInfo: %w", err)
	}
	c.presence.mu.Lock()
	c.presence.room, c.presence.userInfo = room, b
	c.presence.mu.Unlock()
	c.presence.reconnect()
	return nil
}

// PresenceUpdates returns a channel that holds the latest presence
// snapshot not yet received (older ones are dropped).
func (c *Client[C]) PresenceUpdates() <-chan Presence { return c.presence.updates }

// Connected reports whether the poke socket is up.
func (c *Client[C]) Connected() bool { return c.socketUp.Load() }

func (c *Client[C]) wsURL() (string, http.Header, error) {
	u := "ws" + strings.TrimPrefix(c.opts.Server, "http") + "/ws"
	q := url.Values{}
	q.Set("clientGroupID", c.ClientGroupID())
	q.Set("clientID", c.ClientID())
	c.presence.mu.Lock()
	if c.presence.room != "" {
		q.Set("room", c.presence.room)
	}
	if c.presence.userInfo != nil {
		q.Set("userInfo", string(c.presence.userInfo))
	}
	c.presence.mu.Unlock()
	h := http.Header{}
	if c.opts.Auth != nil {
		auth, err := c.opts.Auth(context.Background())
		if err != nil {
			return "", nil, err
		}
		if auth != "" {
			h.Set("Authorization", auth)
		}
	}
	return u + "?" + q.Encode(), h, nil
}

// runSocket keeps the poke socket up while the client is online.
func (c *Client[C]) runSocket(ctx context.Context) {
	if c.opts.NoWebSocket {
		return
	}
	wait := c.opts.MinBackoff
	for ctx.Err() == nil {
		if c.offline.Load() {
			select {
			case <-ctx.Done():
				return
			case <-c.onlineCh():
			}
			continue
		}
		up, refused := c.serveSocket(ctx)
		if refused {
			// A 4xx is not retried: the loop pulls on its interval
			// until JoinRoom, ResetLocalState or going online again.
			select {
			case <-ctx.Done():
				return
			case <-c.presence.wake:
			}
			continue
		}
		if up {
			wait = c.opts.MinBackoff
		} else {
			wait = min(2*wait, max(c.opts.MaxBackoff, c.opts.MinBackoff))
		}
		d := wait/2 + time.Duration(rand.Int64N(int64(wait/2)+1))
		select {
		case <-ctx.Done():
			return
		case <-c.presence.wake:
		case <-c.opts.Clock.After(d):
		}
	}
}

// serveSocket dials once and reads messages until the socket ends; it
// reports whether the dial succeeded, and whether the server refused it
// with a 4xx.
func (c *Client[C]) serveSocket(ctx context.Context) (up, refused bool) {
	u, h, err := c.wsURL()
	if err != nil {
		c.report(fmt.Errorf("plasma: client: ws: auth: %w", err))
		return false, false
	}
	d := c.opts.WebSocketDialer
	if d == nil {
		d = websocket.DefaultDialer
	}
	conn, resp, err := d.DialContext(ctx, u, h)
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 && resp.StatusCode < 500 {
			se := &ServerError{Endpoint: "ws", Status: resp.StatusCode}
			c.report(se)
			return false, !se.Temporary()
		}
		return false, false
	}
	conn.SetReadLimit(1 << 20)
	c.presence.mu.Lock()
	c.presence.conn = conn
	room := c.presence.room
	c.presence.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c.socketUp.Store(true)
	defer c.socketUp.Store(false)
	defer conn.Close()
	poke(c.kickPull) // what was missed while no socket was up
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return true, false
		}
		c.onMessage(room, data)
	}
}

type wsMessage struct {
	Type      string          `json:"type"`
	Entries   []PresenceEntry `json:"entries"`
	Truncated bool            `json:"truncated"`
}

func (c *Client[C]) onMessage(room string, data []byte) {
	var m wsMessage
	if json.Unmarshal(data, &m) != nil {
		return // not for us; the protocol may grow
	}
	switch m.Type {
	case "poke":
		poke(c.kickPull)
	case "presence":
		p := Presence{Room: room, Entries: m.Entries, Truncated: m.Truncated}
		if c.opts.OnPresence != nil {
			c.opts.OnPresence(p)
		}
		select { // keep the latest only
		case <-c.presence.updates:
		default:
		}
		select {
		case c.presence.updates <- p:
		default:
		}
	}
}
