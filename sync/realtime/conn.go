package realtime

import (
	"encoding/json"
	"net"
	"sync/atomic"

	"github.com/olahol/melody"

	"github.com/plasma-go/plasma/plugin/rowauth"
)

// conn is one WebSocket connection.
type conn struct {
	session   *melody.Session
	netConn   net.Conn // the hijacked connection, to close it at once
	id        rowauth.Identity
	ident     *identity
	group     string
	clientID  string
	roomKey   string
	userInfo  json.RawMessage // nil: none
	seq       uint64          // join order, to break clientID ties
	pokeState atomic.Int32    // pokeIdle, pokeQueued, pokeDirty
	reserved  atomic.Bool     // holds a place in Hub.connsPerUser
}

// The poke states of a connection: a poke waiting to be written covers
// every later one, so at most one is queued; one asked for meanwhile is
// remembered (dirty) and sent once the queued one has been written.
const (
	pokeIdle int32 = iota
	pokeQueued
	pokeDirty
)

// write queues msg for c; a full queue closes c (onError).
func (c *conn) write(msg []byte) {
	if c.session != nil {
		_ = c.session.Write(msg)
	}
}

// sendPoke queues a poke unless one is queued already.
func (c *conn) sendPoke(msg []byte) {
	for {
		switch c.pokeState.Load() {
		case pokeIdle:
			if c.pokeState.CompareAndSwap(pokeIdle, pokeQueued) {
				c.write(msg)
				return
			}
		case pokeQueued:
			if c.pokeState.CompareAndSwap(pokeQueued, pokeDirty) {
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
		switch c.pokeState.Load() {
		case pokeDirty:
			if c.pokeState.CompareAndSwap(pokeDirty, pokeQueued) {
				c.write(msg)
				return
			}
		case pokeQueued:
			if c.pokeState.CompareAndSwap(pokeQueued, pokeIdle) {
				return
			}
		default:
			return
		}
	}
}

// close sends a close frame, or closes c at once when its queue is full.
func (c *conn) close(code int, reason string) {
	if c.session == nil || c.session.CloseWithMsg(melody.FormatCloseMessage(code, reason)) != nil {
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
