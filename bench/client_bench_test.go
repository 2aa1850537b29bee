package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/client"
)

// The client benchmarks run sync/client against the example app's
// handler (newSyncEnv: SQLite file, WAL) served over a loopback
// httptest server, with syncPullRows (10,000) todos in ann's list L1.
// The client's replica is a SQLite file in the benchmark's temp dir.

type clientEnv struct {
	*syncEnv
	url string
}

func newClientEnv(b *testing.B) *clientEnv {
	b.Helper()
	e := newSyncEnv(b, nil)
	seedTodos(b, e, syncPullRows)
	mux := http.NewServeMux()
	mux.Handle("/sync/", e.h)
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	return &clientEnv{syncEnv: e, url: srv.URL + "/sync"}
}

func (e *clientEnv) open(b *testing.B, replica string) *client.Client[todo.AppCtx] {
	b.Helper()
	c, err := client.Open(context.Background(), client.Options[todo.AppCtx]{
		Server: e.url, Schema: todo.Schema, Mutators: todo.Mutators, Replica: replica,
		Auth: client.Bearer(func(context.Context) (string, error) { return "ann", nil }),
		Ctx:  todo.AppCtx{UserID: "ann"}, NoWebSocket: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkClientMutate: one op is a local createTodo on a replica that
// holds the 10,002 rows of ann's first pull (file: a SQLite file in WAL
// mode, synchronous=NORMAL; memory: an in-memory replica): the mutator
// in a local transaction plus the outbox append. Reports p50 and p99 of
// the op (goal p99 < 1 ms).
func BenchmarkClientMutate(b *testing.B) {
	b.Run("file", func(b *testing.B) { benchMutate(b, filepath.Join(b.TempDir(), "replica.db")) })
	b.Run("memory", func(b *testing.B) { benchMutate(b, "") })
}

func benchMutate(b *testing.B, replica string) {
	e := newClientEnv(b)
	c := e.open(b, replica)
	ctx := context.Background()
	if _, err := c.PullOnce(ctx); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, 1<<16)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		start := time.Now()
		if err := c.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: fmt.Sprintf("n%d", i), ListID: "L1", Title: "new todo"}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(msOf(percentile(lat, 50)), "p50-ms")
	b.ReportMetric(msOf(percentile(lat, 99)), "p99-ms")
}

// BenchmarkClientRebase: one op is a PullOnce whose answer carries 100
// todos another client changed, applied under 100 pending local
// mutations (updateTodo of other rows) on the 10,002-row replica: the
// pull over loopback HTTP (server time included), the patch, the
// restore and the re-run of the 100 pending mutations in one local
// transaction. Between ops (untimed) the pending mutations are flushed
// and the next 100 changes are made.
func BenchmarkClientRebase(b *testing.B) {
	e := newClientEnv(b)
	c := e.open(b, filepath.Join(b.TempDir(), "replica.db"))
	ctx := context.Background()
	if _, err := c.PullOnce(ctx); err != nil {
		b.Fatal(err)
	}
	round := int64(0)
	for b.Loop() {
		b.StopTimer()
		if err := c.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		round++
		for i := range 100 {
			title := fmt.Sprintf("local %d/%d", round, i)
			if err := c.Mutate(ctx, todo.MutUpdateTodo, todo.UpdateTodo{ID: fmt.Sprintf("t%05d", 5000+i), Title: &title}); err != nil {
				b.Fatal(err)
			}
		}
		e.mustPush(b, syncPushBody("other", "c-other", 100*(round-1)+1, 100, func(dst []byte, id int64) []byte {
			return fmt.Appendf(dst, `"name":"updateTodo","args":{"id":"t%05d","title":"remote %d"}`, id%100, id)
		}))
		b.StartTimer()
		changed, err := c.PullOnce(ctx)
		if err != nil || !changed {
			b.Fatalf("pull: %v %v", changed, err)
		}
	}
	rows, err := orm.All[struct {
		Title string `db:"title"`
	}](ctx, c.DB().Select(todo.Todos.Col("title")).From(todo.Todos).Where(expr.Eq(todo.Todos.Col("id"), "t05000")))
	if err != nil || len(rows) != 1 || !strings.HasPrefix(rows[0].Title, "local ") {
		b.Fatalf("pending mutation not re-applied: %v %v", rows, err)
	}
}

// BenchmarkClientFirstSync: one op is a first pull of ann's 10,002 rows
// into an empty file replica, timed together (paired, in the same op)
// with its baseline: the server's own pull time for the same rows
// (through the handler, no network) plus a raw multi-row INSERT of the
// same rows into an empty SQLite file of the same schema, in one
// transaction. Reported: client-ms, pull-ms, insert-ms, and ratio =
// client / (pull + insert) (goal ≤ 1.5).
func BenchmarkClientFirstSync(b *testing.B) {
	e := newClientEnv(b)
	ctx := context.Background()
	body := []byte(`{"pullVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g-base","cookie":null}`)
	var tClient, tPull, tInsert time.Duration
	n := 0
	for b.Loop() {
		n++
		b.StopTimer()
		dir := b.TempDir()
		c := e.open(b, filepath.Join(dir, "replica.db"))
		base := rawReplica(b, filepath.Join(dir, "raw.db"))
		b.StartTimer()

		start := time.Now()
		if changed, err := c.PullOnce(ctx); err != nil || !changed {
			b.Fatalf("first pull: %v %v", changed, err)
		}
		tClient += time.Since(start)

		start = time.Now()
		w := e.serve("/sync/pull", body)
		tPull += time.Since(start)
		if w.Code != http.StatusOK {
			b.Fatalf("pull: %d", w.Code)
		}
		var resp struct{ Patch []patchOp }
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		rawInsert(b, base, resp.Patch)
		tInsert += time.Since(start)
		b.StopTimer()
		c.Close()
		base.Close()
		b.StartTimer()
	}
	b.ReportMetric(msOf(tClient)/float64(n), "client-ms")
	b.ReportMetric(msOf(tPull)/float64(n), "pull-ms")
	b.ReportMetric(msOf(tInsert)/float64(n), "insert-ms")
	b.ReportMetric(float64(tClient)/float64(tPull+tInsert), "ratio")
}

func rawReplica(b *testing.B, path string) *orm.DB {
	b.Helper()
	sqldb, err := sqlite.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	db := orm.New(sqldb, sqlite.Dialect)
	if err := orm.EnsureSchema(context.Background(), todo.Schema, db); err != nil {
		b.Fatal(err)
	}
	if _, err := sqldb.Exec(`PRAGMA foreign_keys = OFF`); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sqldb.Close() })
	return db
}

// patchOp is a decoded pull patch op, for the raw baseline.
type patchOp struct {
	Op    string
	Key   string
	Value map[string]any
}

// rawInsert writes the patch's rows with hand-written multi-row INSERTs
// (500 rows each) in one transaction: the floor a replica could reach.
func rawInsert(b *testing.B, db *orm.DB, patch []patchOp) {
	sqldb := db.Executor().(*sql.DB)
	tx, err := sqldb.Begin()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	byTable := map[string][][]any{}
	var order []string
	for _, op := range patch {
		if op.Op != "put" {
			continue
		}
		name, _, _ := strings.Cut(op.Key, "/")
		t := todo.Schema.Table(name)
		row := make([]any, 0, len(t.Columns()))
		for _, col := range t.Columns() {
			row = append(row, op.Value[col.Name()])
		}
		if byTable[name] == nil {
			order = append(order, name)
		}
		byTable[name] = append(byTable[name], row)
	}
	for _, name := range order {
		t := todo.Schema.Table(name)
		cols := make([]string, len(t.Columns()))
		for i, col := range t.Columns() {
			cols[i] = `"` + col.Name() + `"`
		}
		one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
		rows := byTable[name]
		for len(rows) > 0 {
			k := min(len(rows), 500)
			q := `INSERT INTO "` + name + `" (` + strings.Join(cols, ",") + `) VALUES ` + strings.TrimSuffix(strings.Repeat(one+",", k), ",")
			args := make([]any, 0, k*len(cols))
			for _, r := range rows[:k] {
				args = append(args, r...)
			}
			if _, err := tx.Exec(q, args...); err != nil {
				b.Fatal(err)
			}
			rows = rows[k:]
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
