package plasmatest

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/internal/rowjson"
	"github.com/plasma-go/plasma/sync/client"
	"github.com/plasma-go/plasma/sync/synctest"
)

// ClientOptions configure a test client.
type ClientOptions[C any] struct {
	// User is the identity the client authenticates as.
	User string
	// Ctx is the mutators' application context on the client.
	Ctx C
	// Persistent keeps the replica in a file in t's temp directory, so
	// that Restart reopens it; otherwise it is in memory.
	Persistent bool
	// Clock, when set, drives the client's timers (see NewClock).
	Clock *Clock
	// Start runs the sync loop at once.
	Start bool
	// Tweak may change the client's options before Open.
	Tweak func(*client.Options[C])
}

// Client is a sync client of a test Server, on its own Network.
type Client[C any] struct {
	*client.Client[C]
	User    string
	Net     *Network
	Replica string // the replica file ("" in memory)
	server  *Server[C]
	opts    client.Options[C]
	started bool
	// Errors counts the errors the client reported to OnError.
	Errors  atomic.Int64
	mu      sync.Mutex
	lastErr error
}

var clientSeq atomic.Int64

// NewClient opens a client of s; it is closed when the test ends.
func (s *Server[C]) NewClient(o ClientOptions[C]) *Client[C] {
	s.t.Helper()
	tc := &Client[C]{User: o.User, Net: newNetwork(), server: s, started: o.Start}
	if o.Persistent {
		tc.Replica = filepath.Join(s.t.TempDir(), fmt.Sprintf("replica-%d.db", clientSeq.Add(1)))
	}
	header := s.opts.Header(o.User)
	tc.opts = client.Options[C]{
		Server: s.URL, Schema: s.opts.Schema, Mutators: s.opts.Mutators, Replica: tc.Replica, Ctx: o.Ctx,
		Auth:            func(context.Context) (string, error) { return header, nil },
		Transport:       tc.Net,
		WebSocketDialer: tc.Net.WebSocketDialer(),
		NoWebSocket:     s.Hub == nil,
		MinBackoff:      5 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		PullInterval: 500 * time.Millisecond,
		OnError: func(err error) {
			tc.mu.Lock()
			tc.lastErr = err
			tc.mu.Unlock()
			tc.Errors.Add(1)
		},
	}
	if o.Clock != nil {
		tc.opts.Clock = o.Clock
	}
	if o.Tweak != nil {
		o.Tweak(&tc.opts)
	}
	tc.open()
	s.t.Cleanup(func() { tc.Close() })
	return tc
}

func (c *Client[C]) open() {
	c.server.t.Helper()
	cl, err := client.Open(context.Background(), c.opts)
	if err != nil {
		c.server.t.Fatalf("plasmatest: open client of %s: %v", c.User, err)
	}
	c.Client = cl
	if c.started {
		if err := cl.Start(context.Background()); err != nil {
			c.server.t.Fatal(err)
		}
	}
}

// LastError returns the latest error the client reported to OnError.
func (c *Client[C]) LastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Partition cuts or restores the client's network: unlike SetOffline,
// the client does not know and keeps trying.
func (c *Client[C]) Partition(down bool) { c.Net.Partition(down) }

// Restart closes the client as a crash would leave it (no flush: only
// what the replica file holds survives) and opens it again from its
// replica file. It needs a Persistent client.
func (c *Client[C]) Restart() {
	c.server.t.Helper()
	if c.Replica == "" {
		c.server.t.Fatal("plasmatest: Restart needs a Persistent client")
	}
	_ = c.Client.Close()
	c.open()
}

// View returns the client's replica as patch keys and row JSON, encoded
// as the server encodes rows (cells sealed at rest are opened).
func (c *Client[C]) View(ctx context.Context) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for _, t := range c.server.opts.Schema.Tables() {
		if !t.Synced() {
			continue
		}
		plan := rowjson.For(t)
		encrypted := map[int]bool{}
		for i, col := range t.Def().Columns {
			encrypted[i] = col.Encrypted
		}
		cols := make([]string, len(plan.Columns))
		for i, col := range plan.Columns {
			cols[i] = dialect.QuoteIdent(col.Name)
		}
		rows, err := c.DB().Executor().QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+dialect.QuoteIdent(t.Name()))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, err
			}
			id := rowjson.IDString(vals[plan.ID])
			for i := range vals {
				if encrypted[i] && vals[i] != nil { // at rest, the cell may be sealed
					plain, err := c.Unseal(t.Name(), id, plan.Columns[i].Name, vals[i])
					if err != nil {
						rows.Close()
						return nil, err
					}
					vals[i] = string(plain)
				}
			}
			b, err := plan.AppendRow(nil, vals)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out[t.Name()+"/"+id] = b
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Readable returns what the server says user may read now: a full pull
// (null cookie) of an oracle client group of user's.
func (s *Server[C]) Readable(user string) (map[string]json.RawMessage, error) {
	o := synctest.NewClient(s.HTTP.Client(), s.URL, s.opts.Header(user), "plasmatest-oracle-"+user)
	o.SchemaVersion = s.opts.Schema.Version()
	if _, err := o.Pull(); err != nil {
		return nil, err
	}
	return o.View, nil
}

// Diff compares c's replica with what the server says c's user may read,
// and describes the first differences ("" when equal).
func (c *Client[C]) Diff(ctx context.Context) (string, error) {
	want, err := c.server.Readable(c.User)
	if err != nil {
		return "", err
	}
	got, err := c.View(ctx)
	if err != nil {
		return "", err
	}
	return diffViews(want, got), nil
}

func diffViews(want, got map[string]json.RawMessage) string {
	var out []string
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		w, inW := want[k]
		g, inG := got[k]
		switch {
		case !inW:
			out = append(out, "extra "+k+" = "+string(g))
		case !inG:
			out = append(out, "missing "+k+" = "+string(w))
		case !jsonEqual(w, g):
			out = append(out, "differs "+k+": server "+string(w)+", replica "+string(g))
		}
		if len(out) >= 10 {
			out = append(out, "…")
			break
		}
	}
	return strings.Join(out, "\n")
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(x, y)
}

// WaitConverged flushes every client (they must be online and not
// partitioned), pulls, and waits until each replica equals what the
// server says its user may read, or the timeout passes.
func WaitConverged[C any](ctx context.Context, timeout time.Duration, clients ...*Client[C]) error {
	deadline := time.Now().Add(timeout)
	for {
		var last string
		for _, c := range clients {
			if err := c.Flush(ctx); err != nil {
				last = fmt.Sprintf("%s (%s): flush: %v", c.User, c.ClientID(), err)
				break
			}
		}
		if last == "" {
			for _, c := range clients {
				if _, err := c.PullOnce(ctx); err != nil {
					last = fmt.Sprintf("%s: pull: %v", c.User, err)
					break
				}
				d, err := c.Diff(ctx)
				if err != nil {
					return err
				}
				if d != "" {
					last = fmt.Sprintf("%s (%s):\n%s", c.User, c.ClientID(), d)
					break
				}
			}
		}
		if last == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("plasmatest: not converged after %v: %s", timeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Eventually polls cond until it holds or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("plasmatest: timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
