package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/gorilla/websocket"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/plasma-go/plasma/dialect"
	pgdialect "github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlitedialect"
	"github.com/plasma-go/plasma/sync/synctest"
)

// both runs body on the app over SQLite (glebarez) and, when
// PLASMA_TEST_POSTGRES names a server, PostgreSQL (in a fresh schema).
func both(t *testing.T, body func(t *testing.T, gdb *gorm.DB, srv *httptest.Server)) {
	t.Run("sqlite", func(t *testing.T) {
		run(t, sqlite.Open(sqlitedialect.DSN(filepath.Join(t.TempDir(), "notes.db"))), body)
	})
	t.Run("postgres", func(t *testing.T) {
		run(t, postgres.Open(postgresSchema(t)), body)
	})
}

func run(t *testing.T, d gorm.Dialector, body func(t *testing.T, gdb *gorm.DB, srv *httptest.Server)) {
	gdb, err := gorm.Open(d, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := gdb.DB()
	if err != nil {
		t.Fatal(err)
	}
	pool.SetMaxOpenConns(4)
	defer pool.Close()
	app, err := New(t.Context(), gdb)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	srv := httptest.NewServer(app.Routes())
	defer srv.Close()
	body(t, gdb, srv)
}

func postgresSchema(t *testing.T) string {
	base := os.Getenv("PLASMA_TEST_POSTGRES")
	if base == "" {
		t.Skip("PostgreSQL half skipped: set PLASMA_TEST_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run it")
	}
	admin, err := pgdialect.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "plasma_gormapp_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE SCHEMA " + dialect.QuoteIdent(schema)); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + dialect.QuoteIdent(schema) + " CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// post sends a REST request as user ("" for none) and returns its status.
func post(t *testing.T, srv *httptest.Server, user, body string) int {
	t.Helper()
	req, err := http.NewRequest("POST", srv.URL+"/api/notes", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+user)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// activity returns user's activity as the REST API lists it.
func activity(t *testing.T, srv *httptest.Server, user string) []Activity {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/api/activity", nil)
	req.Header.Set("Authorization", "Bearer "+user)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var acts []Activity
	if err := json.NewDecoder(resp.Body).Decode(&acts); err != nil {
		t.Fatal(err)
	}
	return acts
}

// A note pushed by a synced client and one posted to the old REST
// endpoint both reach the owner's next pull, and nobody else's; GORM
// records the activity of each in the same transaction, and keeps
// writing its own tables.
func TestNotesSyncWhileGORMWrites(t *testing.T) {
	both(t, func(t *testing.T, gdb *gorm.DB, srv *httptest.Server) {
		if err := gdb.Create(&User{Name: "ann"}).Error; err != nil {
			t.Fatal(err)
		}
		ann := synctest.NewClient(srv.Client(), srv.URL+"/sync", "Bearer ann", "g-ann")
		bob := synctest.NewClient(srv.Client(), srv.URL+"/sync", "Bearer bob", "g-bob")
		status, body, err := ann.Push(synctest.Mutation{ClientID: "c1", ID: 1, Name: "createNote", Args: `{"id":"n1","body":"pushed"}`})
		if err != nil || status != 200 {
			t.Fatalf("push: %d %s %v", status, body, err)
		}
		if _, err := ann.Pull(); err != nil {
			t.Fatal(err)
		}
		if got := ann.Row("notes/n1"); got["body"] != "pushed" || got["owner_id"] != "ann" {
			t.Errorf("ann's pull: %v", got)
		}
		if st := post(t, srv, "ann", `{"id":"n2","body":"posted"}`); st != http.StatusCreated {
			t.Fatalf("POST /api/notes: %d", st)
		}
		r, err := ann.Pull()
		if err != nil {
			t.Fatal(err)
		}
		if !r.Changed || ann.Row("notes/n2")["body"] != "posted" {
			t.Errorf("the REST note is not in ann's next pull: %+v %v", r, ann.Row("notes/n2"))
		}
		if _, err := bob.Pull(); err != nil {
			t.Fatal(err)
		}
		if bob.Row("notes/n1") != nil || bob.Row("notes/n2") != nil {
			t.Error("bob pulled ann's notes")
		}
		acts := activity(t, srv, "ann")
		if len(acts) != 2 || acts[0].NoteID != "n1" || acts[1].NoteID != "n2" {
			t.Errorf("ann's activity: %+v", acts)
		}
		var users int64
		if err := gdb.Model(&User{}).Count(&users).Error; err != nil || users != 1 {
			t.Errorf("GORM's users: %d %v", users, err)
		}
	})
}

// Hostile REST requests are refused with a clear status and write
// nothing: no note, no activity. Another user cannot take over a note's
// id, through REST or a push.
func TestHostileRequestsWriteNothing(t *testing.T) {
	both(t, func(t *testing.T, gdb *gorm.DB, srv *httptest.Server) {
		if st := post(t, srv, "ann", `{"id":"n1","body":"ann's"}`); st != http.StatusCreated {
			t.Fatalf("setup: %d", st)
		}
		for name, tc := range map[string]struct {
			user, body string
			want       int
		}{
			"no credentials":    {"", `{"id":"x1","body":"b"}`, http.StatusUnauthorized},
			"spaces in user":    {"a b", `{"id":"x1","body":"b"}`, http.StatusUnauthorized},
			"not JSON":          {"mal", `{"id":`, http.StatusBadRequest},
			"unknown field":     {"mal", `{"id":"x1","body":"b","ownerID":"ann"}`, http.StatusBadRequest},
			"empty body":        {"mal", `{"id":"x1","body":"  "}`, http.StatusBadRequest},
			"oversized":         {"mal", `{"id":"x1","body":"` + strings.Repeat("a", maxRequest) + `"}`, http.StatusBadRequest},
			"long note":         {"mal", `{"id":"x1","body":"` + strings.Repeat("a", maxBody+1) + `"}`, http.StatusBadRequest},
			"no id":             {"mal", `{"body":"b"}`, http.StatusBadRequest},
			"another's note id": {"mal", `{"id":"n1","body":"mine now"}`, http.StatusConflict},
		} {
			if st := post(t, srv, tc.user, tc.body); st != tc.want {
				t.Errorf("%s: status %d, want %d", name, st, tc.want)
			}
		}
		mal := synctest.NewClient(srv.Client(), srv.URL+"/sync", "Bearer mal", "g-mal")
		if status, body, err := mal.Push(synctest.Mutation{ClientID: "m1", ID: 1, Name: "createNote", Args: `{"id":"n1","body":"mine now"}`}); err != nil || status != 200 {
			t.Fatalf("push: %d %s %v", status, body, err)
		}
		var notes []Note
		if err := gdb.Order("id").Find(&notes).Error; err != nil {
			t.Fatal(err)
		}
		if len(notes) != 1 || notes[0].OwnerID != "ann" || notes[0].Body != "ann's" {
			t.Errorf("notes after the attempts: %+v", notes)
		}
		var acts int64
		if err := gdb.Model(&Activity{}).Count(&acts).Error; err != nil || acts != 1 {
			t.Errorf("activity rows after the attempts: %d %v; want ann's one", acts, err)
		}
	})
}

// A note ann can read changed by plain GORM, outside plasma: the capture
// triggers log the write, so the hub pokes ann, who can read the note,
// and not bob, and ann's next pull from her cookie carries the new body;
// the pull after that is unchanged.
func TestGORMWritePokesReaders(t *testing.T) {
	both(t, func(t *testing.T, gdb *gorm.DB, srv *httptest.Server) {
		ann := synctest.NewClient(srv.Client(), srv.URL+"/sync", "Bearer ann", "g-ann")
		bob := synctest.NewClient(srv.Client(), srv.URL+"/sync", "Bearer bob", "g-bob")
		for _, c := range []struct {
			client *synctest.Client
			args   string
		}{{ann, `{"id":"n-ann","body":"ann's"}`}, {bob, `{"id":"n-bob","body":"bob's"}`}} {
			if status, body, err := c.client.Push(synctest.Mutation{ClientID: c.client.GroupID + "-c", ID: 1, Name: "createNote", Args: c.args}); err != nil || status != 200 {
				t.Fatalf("push %s: %d %s %v", c.args, status, body, err)
			}
			if _, err := c.client.Pull(); err != nil {
				t.Fatal(err)
			}
		}
		if ann.Row("notes/n-ann") == nil || bob.Row("notes/n-bob") == nil {
			t.Fatalf("the pulls miss the notes: ann %v, bob %v", ann.View, bob.View)
		}
		annWS := connectWS(t, srv, "ann", ann.GroupID, "ann-c")
		bobWS := connectWS(t, srv, "bob", bob.GroupID, "bob-c")
		// Let the hub's rounds for the pushes above pass.
		time.Sleep(500 * time.Millisecond)
		annWS.drain()
		bobWS.drain()

		if err := gdb.Model(&Note{}).Where("id = ?", "n-ann").Update("body", "from gorm").Error; err != nil {
			t.Fatal(err)
		}
		annWS.expectPoke(t, "ann, after GORM's write", 5*time.Second)
		bobWS.expectNoPoke(t, "bob, after GORM's write to ann's note", 500*time.Millisecond)

		cookie := ann.Cookie
		r, err := ann.Pull()
		if err != nil {
			t.Fatal(err)
		}
		if p := r.Response.Patch; !r.Changed || len(p) != 1 || p[0].Op != "put" || p[0].Key != "notes/n-ann" ||
			!bytes.Contains(p[0].Value, []byte(`"body":"from gorm"`)) {
			t.Fatalf("ann's pull after GORM's write, from cookie %s: %s", cookie, r.Raw)
		}
		again, err := ann.Pull()
		if err != nil {
			t.Fatal(err)
		}
		if again.Changed || len(again.Response.Patch) != 0 || !bytes.Equal(again.Response.Cookie, r.Response.Cookie) {
			t.Fatalf("the pull after that: %s", again.Raw)
		}
	})
}

// wsClient is a WebSocket connection to /sync/ws that counts pokes.
type wsClient struct {
	pokes  chan struct{}
	closed chan struct{}
}

// connectWS connects client clientID of group as user and waits for the
// poke every connection gets on connecting.
func connectWS(t *testing.T, srv *httptest.Server, user, group, clientID string) *wsClient {
	t.Helper()
	q := url.Values{"clientGroupID": {group}, "clientID": {clientID}}
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/sync/ws?" + q.Encode()
	ws, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Authorization": {"Bearer " + user}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		t.Fatalf("dial %s as %s: %d %v", u, user, status, err)
	}
	c := &wsClient{pokes: make(chan struct{}, 100), closed: make(chan struct{})}
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
			if json.Unmarshal(msg, &m) == nil && m.Type == "poke" {
				c.pokes <- struct{}{}
			}
		}
	}()
	t.Cleanup(func() {
		ws.Close()
		<-c.closed
	})
	c.expectPoke(t, user+"'s poke on connecting", 5*time.Second)
	return c
}

// expectPoke waits up to timeout for a poke.
func (c *wsClient) expectPoke(t *testing.T, what string, timeout time.Duration) {
	t.Helper()
	select {
	case <-c.pokes:
	case <-c.closed:
		t.Fatalf("%s: the connection closed before the poke", what)
	case <-time.After(timeout):
		t.Fatalf("%s: no poke within %v", what, timeout)
	}
}

// expectNoPoke checks that no poke arrives within d.
func (c *wsClient) expectNoPoke(t *testing.T, what string, d time.Duration) {
	t.Helper()
	select {
	case <-c.pokes:
		t.Fatalf("%s: unexpected poke", what)
	case <-time.After(d):
	}
}

// drain discards the pokes received so far.
func (c *wsClient) drain() {
	for {
		select {
		case <-c.pokes:
		default:
			return
		}
	}
}
