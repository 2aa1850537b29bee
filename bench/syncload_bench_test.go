package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/pgx"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/server"
)

// envSyncLoadDriver names the PostgreSQL driver BenchmarkSyncLoad's
// postgres half runs on: "pq" (postgres.Open, the default) or "pgx".
const envSyncLoadDriver = "PLASMA_BENCH_SYNCLOAD_DRIVER"

// BenchmarkSyncLoad is issue 23's load driver: N concurrent clients (each
// its own user, client group and list of the example app) go through the
// real HTTP handler on an httptest server, each pushing M createTodo
// mutations and then pulling with its last cookie, as fast as it is
// answered. One op is one client's round (a push of M, then a pull); the
// ops are shared among the N clients, so -benchtime sets the run's length
// (-benchtime=20s for issue 23's runs; the default 1s keeps it short). A
// push or pull answered with anything but 200 counts in errors, and its
// mutations are pushed again in the client's next round, as a Replicache
// client does. At the end the todos and every client's lastMutationID
// are checked against the pushes answered 200: nothing lost or doubled.
//
// Reported: mutations/s (mutations in pushes answered 200, over the run),
// push-p50-ms, push-p99-ms, pull-p50-ms, pull-p99-ms and errors.
// PostgreSQL runs when PLASMA_TEST_POSTGRES is set, on lib/pq or on the
// driver PLASMA_BENCH_SYNCLOAD_DRIVER names.
func BenchmarkSyncLoad(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			for _, n := range []int{1, 8, 32} {
				for _, m := range []int{1, 20} {
					b.Run(fmt.Sprintf("n%d_m%d", n, m), func(b *testing.B) { benchSyncLoad(b, engine, n, m) })
				}
			}
		})
	}
}

// loadDB opens a fresh database on engine: a SQLite file as plasma opens
// it, or a PostgreSQL schema only this run uses, dropped at the end.
func loadDB(b *testing.B, engine string) (*sql.DB, dialect.Dialect) {
	b.Helper()
	if engine == "sqlite" {
		sqldb, err := sqlite.Open(filepath.Join(b.TempDir(), "load.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { sqldb.Close() })
		return sqldb, sqlite.Dialect
	}
	base := os.Getenv(envPostgres)
	if base == "" {
		b.Skipf("set %s to run the PostgreSQL half", envPostgres)
	}
	admin, err := postgres.Open(base)
	if err != nil {
		b.Fatal(err)
	}
	rnd := make([]byte, 6)
	_, _ = rand.Read(rnd)
	schema := "plasma_load_" + hex.EncodeToString(rnd)
	if _, err := admin.Exec("CREATE SCHEMA " + dialect.QuoteIdent(schema)); err != nil {
		admin.Close()
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_, _ = admin.Exec("DROP SCHEMA " + dialect.QuoteIdent(schema) + " CASCADE")
		admin.Close()
	})
	open := postgres.Open
	if os.Getenv(envSyncLoadDriver) == "pgx" {
		open = pgx.Open
	}
	sqldb, err := open(withParam(base, "search_path", schema))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sqldb.Close() })
	return sqldb, postgres.Dialect
}

// loadClient is one client of the load: its user, group and client id
// are "u<i>", "g<i>", "c<i>"; next is its next mutation id, cookie the
// cookie of its last pull.
type loadClient struct {
	user   string
	next   int64
	cookie json.RawMessage
	pushes []time.Duration
	pulls  []time.Duration
	errors int
}

// loadRig is the example app behind an httptest server.
type loadRig struct {
	sql  *sql.DB
	d    dialect.Dialect
	srv  *httptest.Server
	http *http.Client
}

func newLoadRig(b *testing.B, engine string, n int) *loadRig {
	b.Helper()
	sqldb, d := loadDB(b, engine)
	opts := server.Options[todo.AppCtx]{
		OnError: func(_ context.Context, e *server.Error) {
			if e.Status >= 500 {
				b.Logf("sync error: %v", e)
			}
		},
	}
	h, err := todo.NewServer(context.Background(), orm.New(sqldb, d), opts)
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/sync/", h)
	srv := httptest.NewServer(mux)
	b.Cleanup(func() {
		srv.Close()
		_ = h.Close(context.Background())
	})
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = n + 1 // every client keeps its connection
	return &loadRig{sql: sqldb, d: d, srv: srv, http: &http.Client{Transport: tr}}
}

// post sends one request; it returns the status (0 on a transport error)
// and the body.
func (r *loadRig) post(path, user string, body []byte) (int, []byte) {
	req, err := http.NewRequest(http.MethodPost, r.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+user)
	resp, err := r.http.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil
	}
	return resp.StatusCode, out
}

// round is one op of client c: a push of m createTodo mutations, then a
// pull from its last cookie.
func (r *loadRig) round(c *loadClient, m int64) {
	group, client := "g"+c.user[1:], "c"+c.user[1:]
	body := syncPushBody(group, client, c.next, m, func(dst []byte, id int64) []byte {
		dst = append(dst, `"name":"createTodo","args":{"id":"t-`...)
		dst = append(dst, c.user...)
		dst = append(dst, '-')
		dst = strconv.AppendInt(dst, id, 10)
		dst = append(dst, `","listID":"L-`...)
		dst = append(dst, c.user...)
		return append(dst, `","title":"todo"}`...)
	})
	start := time.Now()
	status, _ := r.post("/sync/push", c.user, body)
	c.pushes = append(c.pushes, time.Since(start))
	if status == http.StatusOK {
		c.next += m
	} else {
		c.errors++
	}
	pull := []byte(`{"pullVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"` + group + `","cookie":` + string(c.cookieOrNull()) + `}`)
	start = time.Now()
	status, resp := r.post("/sync/pull", c.user, pull)
	c.pulls = append(c.pulls, time.Since(start))
	var pr struct {
		Cookie json.RawMessage `json:"cookie"`
	}
	if status != http.StatusOK || json.Unmarshal(resp, &pr) != nil {
		c.errors++
		return
	}
	c.cookie = pr.Cookie
}

func (c *loadClient) cookieOrNull() json.RawMessage {
	if c.cookie == nil {
		return json.RawMessage("null")
	}
	return c.cookie
}

func benchSyncLoad(b *testing.B, engine string, n, m int) {
	rig := newLoadRig(b, engine, n)
	clients := make([]*loadClient, n)
	for i := range clients {
		c := &loadClient{user: "u" + strconv.Itoa(i), next: 2}
		list := syncPushBody("g"+strconv.Itoa(i), "c"+strconv.Itoa(i), 1, 1, func(dst []byte, _ int64) []byte {
			return fmt.Appendf(dst, `"name":"createList","args":{"id":"L-%s","name":"load"}`, c.user)
		})
		if status, body := rig.post("/sync/push", c.user, list); status != http.StatusOK {
			b.Fatalf("setup push: %d %s", status, body)
		}
		clients[i] = c
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				rig.round(c, int64(m))
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	b.StopTimer()
	reportLoad(b, clients, took)
	checkLoad(b, rig.sql, rig.d, clients)
}

// reportLoad reports the run's metrics.
func reportLoad(b *testing.B, clients []*loadClient, took time.Duration) {
	var pushes, pulls []time.Duration
	var applied int64
	errs := 0
	for _, c := range clients {
		pushes, pulls = append(pushes, c.pushes...), append(pulls, c.pulls...)
		applied += c.next - 2
		errs += c.errors
	}
	slices.Sort(pushes)
	slices.Sort(pulls)
	b.ReportMetric(float64(applied)/took.Seconds(), "mutations/s")
	b.ReportMetric(msOf(percentile(pushes, 50)), "push-p50-ms")
	b.ReportMetric(msOf(percentile(pushes, 99)), "push-p99-ms")
	b.ReportMetric(msOf(percentile(pulls, 50)), "pull-p50-ms")
	b.ReportMetric(msOf(percentile(pulls, 99)), "pull-p99-ms")
	b.ReportMetric(float64(errs), "errors")
}

// checkLoad checks that the database holds exactly the todos of the
// pushes answered 200, and each client's lastMutationID matches: nothing
// lost, nothing doubled.
func checkLoad(b *testing.B, db *sql.DB, d dialect.Dialect, clients []*loadClient) {
	ph := "?"
	if d.Name() == postgres.Dialect.Name() {
		ph = "$1"
	}
	var want int64
	for _, c := range clients {
		want += c.next - 2
	}
	var got int64
	if err := db.QueryRow(`SELECT count(*) FROM "todos"`).Scan(&got); err != nil {
		b.Fatal(err)
	}
	if got != want {
		b.Fatalf("%d todos in the database, %d mutations answered 200", got, want)
	}
	for _, c := range clients {
		var lmid int64
		q := `SELECT "last_mutation_id" FROM "` + server.ClientsTable + `" WHERE "id" = `
		if err := db.QueryRow(q+ph, "c"+c.user[1:]).Scan(&lmid); err != nil {
			b.Fatal(err)
		}
		if lmid != c.next-1 {
			b.Fatalf("client %s: lastMutationID %d, want %d", c.user, lmid, c.next-1)
		}
	}
}
