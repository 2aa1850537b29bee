package plasmatest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// ErrPartitioned is the network error a partitioned client gets.
var ErrPartitioned = errors.New("plasmatest: network partitioned")

// Network is one client's link to the server: it can be cut
// (Partition) without the client knowing, unlike going offline.
type Network struct {
	down  atomic.Bool
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	base  http.RoundTripper
	// Fail, when set, answers requests instead of the server (return
	// nil to let a request through): hostile or failing servers.
	Fail func(r *http.Request) (*http.Response, error)
}

func newNetwork() *Network {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	n := &Network{conns: map[net.Conn]struct{}{}}
	d := &net.Dialer{}
	tr.DialContext = n.dialer(d.DialContext)
	n.base = tr
	return n
}

// Partition cuts (true) or restores (false) the link: while cut, every
// request and dial fails and open connections are closed.
func (n *Network) Partition(down bool) {
	n.down.Store(down)
	if !down {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for c := range n.conns {
		c.Close()
	}
	clear(n.conns)
}

// Partitioned reports whether the link is cut.
func (n *Network) Partitioned() bool { return n.down.Load() }

// RoundTrip implements http.RoundTripper.
func (n *Network) RoundTrip(r *http.Request) (*http.Response, error) {
	if n.down.Load() {
		return nil, ErrPartitioned
	}
	if n.Fail != nil {
		if resp, err := n.Fail(r); resp != nil || err != nil {
			return resp, err
		}
	}
	return n.base.RoundTrip(r)
}

func (n *Network) dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if n.down.Load() {
			return nil, ErrPartitioned
		}
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		n.mu.Lock()
		n.conns[c] = struct{}{}
		n.mu.Unlock()
		return &trackedConn{Conn: c, n: n}, nil
	}
}

type trackedConn struct {
	net.Conn
	n *Network
}

func (c *trackedConn) Close() error {
	c.n.mu.Lock()
	delete(c.n.conns, c.Conn)
	c.n.mu.Unlock()
	return c.Conn.Close()
}

// WebSocketDialer returns a dialer whose connections go through n.
func (n *Network) WebSocketDialer() *websocket.Dialer {
	d := &net.Dialer{}
	return &websocket.Dialer{NetDialContext: n.dialer(d.DialContext), HandshakeTimeout: websocket.DefaultDialer.HandshakeTimeout}
}
