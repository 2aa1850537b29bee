package realtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/realtime"
)

// The environment that makes this test binary a second process that
// writes one statement to a database and exits (see TestMain).
const (
	childEngine = "PLASMA_CAPTURE_CHILD_ENGINE"
	childDSN    = "PLASMA_CAPTURE_CHILD_DSN"
	childSQL    = "PLASMA_CAPTURE_CHILD_SQL"
)

func TestMain(m *testing.M) {
	if engine := os.Getenv(childEngine); engine != "" {
		os.Exit(childWrite(engine, os.Getenv(childDSN), os.Getenv(childSQL)))
	}
	os.Exit(m.Run())
}

// childWrite runs text on the database with database/sql alone, as
// another program would.
func childWrite(engine, dsn, text string) int {
	open := sqlite.Open
	if engine == "postgres" {
		open = postgres.Open
	}
	db, err := open(dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), text); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// writeFromChild runs text in a second process on tg's database.
func writeFromChild(t *testing.T, tg *ormtest.Target, text string) {
	t.Helper()
	ctx := context.Background()
	var dsn string
	if tg.Name == "sqlite" {
		rows, err := tg.SQL.QueryContext(ctx, `SELECT "file" FROM pragma_database_list WHERE "name" = 'main'`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			if err := rows.Scan(&dsn); err != nil {
				t.Fatal(err)
			}
		}
		rows.Close()
	} else {
		var schema string
		if err := tg.SQL.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(os.Getenv(ormtest.EnvPostgres))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		dsn = u.String()
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEngine+"="+tg.Name, childDSN+"="+dsn, childSQL+"="+text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the second process: %v\n%s", err, out)
	}
}

// pullFrom pulls for user's group from cookie through the env's sync
// handler and returns the response.
func (e *env) pullFrom(user, group string, cookie json.RawMessage) (resp struct {
	Cookie json.RawMessage `json:"cookie"`
	Patch  []struct {
		Op    string          `json:"op"`
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"patch"`
}) {
	e.t.Helper()
	if cookie == nil {
		cookie = json.RawMessage("null")
	}
	body := fmt.Sprintf(`{"pullVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":%q,"cookie":%s}`, group, cookie)
	req := httptest.NewRequest(http.MethodPost, "/sync/pull", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+user)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	e.sync.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		e.t.Fatalf("pull %s/%s: %d %s", user, group, w.Code, w.Body.String())
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		e.t.Fatalf("pull %s: %v", w.Body.String(), err)
	}
	return resp
}

// TestOutsideWritesReachSync: a write made with database/sql alone, and
// one made by a second process, to a synced table each poke the
// connected clients that may read the row, and no one else, and appear
// in the next pull from the client's cookie, which the fast path would
// otherwise answer unchanged; the pull after that takes the fast path.
func TestOutsideWritesReachSync(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, func(o *realtime.Options) { o.PollInterval = 50 * time.Millisecond })
		e.insert(as("ann"), tNotes, orm.Row{"id": "n1", "owner_id": "ann", "body": "a"})
		e.insert(as("bob"), tNotes, orm.Row{"id": "b1", "owner_id": "bob", "body": "b"})
		e.pull("ann", "ga") // makes e.sync
		cookies := map[string]json.RawMessage{
			"ann": e.pullFrom("ann", "ga", nil).Cookie,
			"bob": e.pullFrom("bob", "gb", nil).Cookie,
		}
		clients := map[string]*client{
			"ann": e.connect(params{user: "ann", group: "ga", client: "ca"}),
			"bob": e.connect(params{user: "bob", group: "gb", client: "cb"}),
		}
		// Let the hub's rounds for the inserts above pass.
		time.Sleep(300 * time.Millisecond)
		for _, c := range clients {
			c.drain()
		}
		for _, step := range []struct {
			name, reader, other, id, body string
			write                         func(text string)
		}{
			{"a database/sql write", "ann", "bob", "n1", "raw", func(text string) {
				if _, err := tg.SQL.ExecContext(context.Background(), text); err != nil {
					t.Fatal(err)
				}
			}},
			{"a second process's write", "bob", "ann", "b1", "child", func(text string) { writeFromChild(t, tg, text) }},
		} {
			step.write(fmt.Sprintf(`UPDATE "notes" SET "body" = '%s' WHERE "id" = '%s'`, step.body, step.id))
			clients[step.reader].expectPoke(step.name, 10*time.Second)
			clients[step.other].expectNoPoke(step.name, 500*time.Millisecond)
			r := e.pullFrom(step.reader, "g"+step.reader[:1], cookies[step.reader])
			if len(r.Patch) != 1 || r.Patch[0].Key != "notes/"+step.id || !bytes.Contains(r.Patch[0].Value, []byte(`"body":"`+step.body+`"`)) {
				t.Fatalf("%s: the next pull: %+v", step.name, r)
			}
			if bytes.Equal(r.Cookie, cookies[step.reader]) {
				t.Fatalf("%s: the cookie did not move", step.name)
			}
			cookies[step.reader] = r.Cookie
			if again := e.pullFrom(step.reader, "g"+step.reader[:1], r.Cookie); len(again.Patch) != 0 || !bytes.Equal(again.Cookie, r.Cookie) {
				t.Fatalf("%s: the pull after: %+v", step.name, again)
			}
		}
	})
}
