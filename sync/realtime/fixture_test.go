package realtime_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/realtime"
	"github.com/plasma-go/plasma/sync/server"
	"github.com/plasma-go/plasma/tabledef"
)

// The test schema: notes readable by their owner; lists shared through
// members, whose todos are readable by the list's members; public rows
// readable by everyone.
var (
	tNotes   = orm.NewTable("notes", orm.ID(), orm.Text("owner_id"), orm.Text("body"))
	tLists   = orm.NewTable("lists", orm.ID(), orm.Text("name"), orm.Text("owner_id"))
	tMembers = orm.NewTable("members", orm.ID(),
		orm.Text("list_id").References("lists", "id", tabledef.Cascade), orm.Text("user_id"))
	tTodos = orm.NewTable("todos", orm.ID(),
		orm.Text("list_id").References("lists", "id", tabledef.Cascade), orm.Text("title"))
	tPublic = orm.NewTable("public", orm.ID(), orm.Text("body"))

	testSchema = orm.MustDefineSchema("1", tNotes, tLists, tMembers, tTodos, tPublic)
)

func init() {
	owner := rowauth.Owner(tNotes.Col("owner_id")).Rule()
	tNotes.With(orm.TableOptions{Auth: orm.TableAuth{Read: owner, Write: owner}})
	member := func(col *expr.Column) orm.AuthFunc {
		return rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
			m := tMembers.As("m")
			return expr.InArray(col, orm.Select(m.Col("list_id")).From(m).Where(expr.Eq(m.Col("user_id"), id.UserID))), nil
		}).Rule()
	}
	tLists.With(orm.TableOptions{Auth: orm.TableAuth{Read: member(tLists.Col("id"))}})
	tMembers.With(orm.TableOptions{Auth: orm.TableAuth{Read: member(tMembers.Col("list_id"))}})
	tTodos.With(orm.TableOptions{Auth: orm.TableAuth{Read: member(tTodos.Col("list_id"))}})
}

// testAuth reads "Bearer <user>"; anything else is refused.
func testAuth(r *http.Request) (rowauth.Identity, error) {
	user, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || user == "" || user == "bad" {
		return rowauth.Identity{}, errors.New("no valid credentials")
	}
	return rowauth.Identity{UserID: user}, nil
}

// env is one hub (one "process") on one database, served over HTTP.
type env struct {
	t   *testing.T
	tg  *ormtest.Target
	db  *orm.DB // the ServerDB writes go through
	hub *realtime.Hub
	srv *httptest.Server
	// sync is the sync handler pull uses, made on first use.
	sync *server.Handler[struct{}]
}

// pull makes user's client group group pull from scratch (a null
// cookie), through a sync handler on the env's database, so that the
// group's latest client view record holds what user may read now.
func (e *env) pull(user, group string) {
	e.t.Helper()
	if e.sync == nil {
		h, err := server.NewHandler(server.Options[struct{}]{
			Schema: testSchema, DB: e.tg.DB, Mutators: mutatorsForTest[struct{}](),
			Auth: func(r *http.Request) (rowauth.Identity, struct{}, error) {
				id, err := testAuth(r)
				return id, struct{}{}, err
			},
		})
		if err != nil {
			e.t.Fatal(err)
		}
		e.t.Cleanup(func() { h.Close(context.Background()) })
		e.sync = h
	}
	body := fmt.Sprintf(`{"pullVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":%q,"cookie":null}`, group)
	req := httptest.NewRequest(http.MethodPost, "/sync/pull", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+user)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	e.sync.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		e.t.Fatalf("pull %s/%s: %d %s", user, group, w.Code, w.Body.String())
	}
}

// listenerDSN returns the PostgreSQL connection string for a listener,
// tagged with an application name that identifies its connection.
func listenerDSN(t *testing.T, appName string) string {
	base := os.Getenv(ormtest.EnvPostgres)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", appName)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// newEnv starts a hub on base (tg.DB, or another pool from tg.Open for a
// second process). On PostgreSQL it listens, unless tweak clears
// Options.Listener.
func newEnv(t *testing.T, tg *ormtest.Target, base *orm.DB, tweak func(*realtime.Options)) *env {
	t.Helper()
	ctx := context.Background()
	db, err := serverdb.New(ctx, testSchema, base)
	if err != nil {
		t.Fatal(err)
	}
	opts := realtime.Options{
		DB: base, Schema: testSchema, Auth: testAuth,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		AuthorizeRoom: func(_ context.Context, id rowauth.Identity, room string) error {
			if strings.HasPrefix(room, "secret") {
				return errors.New("not for you")
			}
			return nil
		},
	}
	if tg.Name == "postgres" {
		opts.Listener = listenerDSN(t, randomName("plasma_rt_"))
	}
	if tweak != nil {
		tweak(&opts)
	}
	hub, err := realtime.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/sync/ws", hub)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hub.Close(ctx); err != nil {
			t.Errorf("hub.Close: %v", err)
		}
		srv.Close()
	})
	return &env{t: t, tg: tg, db: db, hub: hub, srv: srv}
}

// as returns a context acting for user.
func as(user string) context.Context {
	return rowauth.WithIdentity(context.Background(), rowauth.Identity{UserID: user})
}

func (e *env) insert(ctx context.Context, t *orm.Table, row orm.Row) {
	e.t.Helper()
	if _, err := e.db.Insert(t).Values(row).Exec(ctx); err != nil {
		e.t.Fatalf("insert into %s: %v", t.Name(), err)
	}
}

// wsURL returns the endpoint's URL with the given query.
func (e *env) wsURL(q url.Values) string {
	return "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/sync/ws?" + q.Encode()
}

// client is a test WebSocket client: a goroutine reads every message.
type client struct {
	t        *testing.T
	ws       *websocket.Conn
	pokes    chan struct{}
	presence chan presence
	closed   chan struct{}
}

type presence struct {
	Entries []struct {
		ClientID string          `json:"clientID"`
		UserInfo json.RawMessage `json:"userInfo"`
	} `json:"entries"`
	Truncated bool `json:"truncated"`
}

// String renders the snapshot compactly: c1=info,c2=info.
func (p presence) String() string {
	var parts []string
	for _, e := range p.Entries {
		parts = append(parts, e.ClientID+"="+string(e.UserInfo))
	}
	return strings.Join(parts, ",")
}

// params are a connection's query parameters.
type params struct {
	user, group, client, room, userInfo string
	viaQuery                            bool // auth in the query, not the header
}

// dial connects and returns the client, or the refused handshake's
// status.
func (e *env) dial(p params) (*client, int, error) {
	e.t.Helper()
	q := url.Values{}
	if p.group != "" {
		q.Set("clientGroupID", p.group)
	}
	if p.client != "" {
		q.Set("clientID", p.client)
	}
	if p.room != "" {
		q.Set("room", p.room)
	}
	if p.userInfo != "" {
		q.Set("userInfo", p.userInfo)
	}
	hdr := http.Header{}
	if p.user != "" {
		if p.viaQuery {
			q.Set("auth", "Bearer "+p.user)
		} else {
			hdr.Set("Authorization", "Bearer "+p.user)
		}
	}
	ws, resp, err := websocket.DefaultDialer.Dial(e.wsURL(q), hdr)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		return nil, status, err
	}
	return e.start(ws), http.StatusSwitchingProtocols, nil
}

func (e *env) start(ws *websocket.Conn) *client {
	c := &client{t: e.t, ws: ws, pokes: make(chan struct{}, 1000), presence: make(chan presence, 1000), closed: make(chan struct{})}
	go func() {
		defer close(c.closed)
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var m struct {
				Type string `json:"type"`
			}
			if err := json.Unmarshal(msg, &m); err != nil {
				e.t.Errorf("unreadable message %s: %v", msg, err)
				return
			}
			switch m.Type {
			case "poke":
				c.pokes <- struct{}{}
			case "presence":
				var p presence
				if err := json.Unmarshal(msg, &p); err != nil {
					e.t.Errorf("unreadable presence %s: %v", msg, err)
					return
				}
				c.presence <- p
			default:
				e.t.Errorf("unexpected message %s", msg)
			}
		}
	}()
	e.t.Cleanup(func() { ws.Close() })
	return c
}

// connect dials and fails the test on error; it waits for the poke every
// connection gets on connecting.
func (e *env) connect(p params) *client {
	e.t.Helper()
	c, status, err := e.dial(p)
	if err != nil {
		e.t.Fatalf("dial %+v: %d %v", p, status, err)
	}
	c.expectPoke("the poke on connecting", 5*time.Second)
	return c
}

func (c *client) close() {
	c.ws.Close()
	<-c.closed
}

// expectPoke waits for a poke.
func (c *client) expectPoke(what string, timeout time.Duration) {
	c.t.Helper()
	select {
	case <-c.pokes:
	case <-c.closed:
		c.t.Fatalf("%s: connection closed before the poke", what)
	case <-time.After(timeout):
		c.t.Fatalf("%s: no poke within %v", what, timeout)
	}
}

// expectNoPoke checks that no poke arrives within d.
func (c *client) expectNoPoke(what string, d time.Duration) {
	c.t.Helper()
	select {
	case <-c.pokes:
		c.t.Fatalf("%s: unexpected poke", what)
	case <-time.After(d):
	}
}

// drain discards the pokes received so far and returns their number.
func (c *client) drain() int {
	n := 0
	for {
		select {
		case <-c.pokes:
			n++
		default:
			return n
		}
	}
}

// expectPresence waits for a snapshot equal to want (c=info,...), skipping
// earlier ones, and returns the snapshots seen.
func (c *client) expectPresence(want string, timeout time.Duration) []presence {
	c.t.Helper()
	var seen []presence
	deadline := time.After(timeout)
	for {
		select {
		case p := <-c.presence:
			seen = append(seen, p)
			if p.String() == want {
				return seen
			}
		case <-deadline:
			c.t.Fatalf("no presence snapshot %q within %v; saw %v", want, timeout, seen)
		}
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dialRaw connects without reading: a stalled client.
func (e *env) dialRaw(p params) *websocket.Conn {
	e.t.Helper()
	q := url.Values{"clientGroupID": {p.group}, "clientID": {p.client}}
	hdr := http.Header{"Authorization": {"Bearer " + p.user}}
	ws, _, err := websocket.DefaultDialer.Dial(e.wsURL(q), hdr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { ws.Close() })
	return ws
}

// pushBody is a push request of one mutation.
func pushBody(group, client string, id int64, name, args string) string {
	return fmt.Sprintf(`{"pushVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":%q,"mutations":[{"clientID":%q,"id":%d,"name":%q,"args":%s,"timestamp":1}]}`,
		group, client, id, name, args)
}

type noteArgs struct {
	ID   string `json:"id"`
	Body string `json:"body"`
}

// mutatorsForTest are the push test's mutators: note writes a note of
// the pusher's, fail fails permanently.
func mutatorsForTest[Ctx any]() mutator.Set[Ctx] {
	return mutator.Set[Ctx]{
		"note": mutator.New(func(ctx context.Context, c mutator.Call[Ctx], a noteArgs) error {
			id, _ := rowauth.IdentityFrom(ctx)
			_, err := c.DB.Insert(tNotes).Values(orm.Row{"id": a.ID, "owner_id": id.UserID, "body": a.Body}).Exec(ctx)
			return err
		}),
		"fail": mutator.New(func(ctx context.Context, c mutator.Call[Ctx], a struct{}) error {
			return errors.New("refused")
		}),
	}
}

func rowID(prefix string, i int) string { return fmt.Sprintf("%s%03d", prefix, i) }
