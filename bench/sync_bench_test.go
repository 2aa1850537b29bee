package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/server"
)

// The sync benchmarks run the example app (examples/todo: its schema, row
// auth rules and mutators) on a SQLite file database opened as plasma
// opens it (WAL, synchronous commits). Requests go to the handler's
// ServeHTTP with an httptest.ResponseRecorder: the handler's whole HTTP
// path (auth, body limit, decoding, response encoding) without a TCP
// round trip.

// syncPushMutations is the number of createTodo mutations per push.
const syncPushMutations = 100

// syncPullRows is the number of todos a first pull returns.
const syncPullRows = 10_000

// syncEnv is the example app on a fresh database, with ann's list L1.
type syncEnv struct {
	sql *sql.DB
	db  *orm.DB
	h   *server.Handler[todo.AppCtx]
}

func newSyncEnv(b *testing.B, tweak func(*server.Options[todo.AppCtx])) *syncEnv {
	b.Helper()
	ctx := context.Background()
	sqldb, err := sqlite.Open(filepath.Join(b.TempDir(), "sync.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sqldb.Close() })
	db := orm.New(sqldb, sqlite.Dialect)
	opts := server.Options[todo.AppCtx]{
		OnError: func(_ context.Context, e *server.Error) { b.Errorf("sync error: %v", e) },
	}
	if tweak != nil {
		tweak(&opts)
	}
	h, err := todo.NewServer(ctx, db, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Close(context.Background()) })
	e := &syncEnv{sql: sqldb, db: db, h: h}
	e.mustPush(b, syncPushBody("setup", "c-setup", 1, 1, func(dst []byte, _ int64) []byte {
		return append(dst, `"name":"createList","args":{"id":"L1","name":"bench"}`...)
	}))
	return e
}

// serve runs one request through the handler.
func (e *syncEnv) serve(path string, body []byte) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.serveTo(w, path, body)
	return w
}

// serveTo runs one request through the handler, answering to w.
func (e *syncEnv) serveTo(w http.ResponseWriter, path string, body []byte) {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer ann")
	e.h.ServeHTTP(w, req)
}

// discardWriter is an http.ResponseWriter that counts the body's bytes
// and keeps none, as a connection that sends them on would.
type discardWriter struct {
	header http.Header
	code   int
	n      int
}

func (d *discardWriter) Header() http.Header {
	if d.header == nil {
		d.header = http.Header{}
	}
	return d.header
}

func (d *discardWriter) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}

func (d *discardWriter) Write(p []byte) (int, error) {
	if d.code == 0 {
		d.code = http.StatusOK
	}
	d.n += len(p)
	return len(p), nil
}

func (e *syncEnv) mustPush(b *testing.B, body []byte) {
	if w := e.serve("/sync/push", body); w.Code != http.StatusOK || w.Body.String() != "{}" {
		b.Fatalf("push: %d %s", w.Code, w.Body)
	}
}

// syncPushBody is a push of mutations first..first+n-1 of client, each
// written by mut (the name and args fields).
func syncPushBody(group, client string, first, n int64, mut func(dst []byte, id int64) []byte) []byte {
	dst := make([]byte, 0, 128*n+128)
	dst = append(dst, `{"pushVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":`...)
	dst = strconv.AppendQuote(dst, group)
	dst = append(dst, `,"mutations":[`...)
	for id := first; id < first+n; id++ {
		if id > first {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"clientID":`...)
		dst = strconv.AppendQuote(dst, client)
		dst = append(dst, `,"id":`...)
		dst = strconv.AppendInt(dst, id, 10)
		dst = append(dst, ',')
		dst = mut(dst, id)
		dst = append(dst, `,"timestamp":1234.5}`...)
	}
	return append(dst, "]}"...)
}

func createTodoMut(dst []byte, id int64) []byte {
	dst = append(dst, `"name":"createTodo","args":{"id":"t`...)
	dst = strconv.AppendInt(dst, id, 10)
	dst = append(dst, `","listID":"L1","title":"todo number `...)
	dst = strconv.AppendInt(dst, id, 10)
	return append(dst, `"}`...)
}

// BenchmarkPush: one op is a push of 100 createTodo mutations of one
// client into ann's list.
//
//   - plasma: through the handler with its default options: the whole
//     push in one transaction.
//   - plasma_tx1: the same with Options.MutationsPerTransaction 1: each
//     mutation commits alone, so 100 commits, each a WAL sync.
//   - raw: what the push leaves in the database written directly with
//     database/sql in one transaction and prepared statements: the client
//     row read, 100 todo rows, 100 change rows (the row's JSON image) and
//     the lastMutationID update. No decoding, no auth.
func BenchmarkPush(b *testing.B) {
	plasma := func(perTx int) func(b *testing.B) {
		return func(b *testing.B) {
			e := newSyncEnv(b, func(o *server.Options[todo.AppCtx]) { o.MutationsPerTransaction = perTx })
			next := int64(1)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				body := syncPushBody("g-ann", "c-ann", next, syncPushMutations, createTodoMut)
				next += syncPushMutations
				e.mustPush(b, body)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*syncPushMutations)/b.Elapsed().Seconds(), "mutations/s")
			var n int64
			if err := e.sql.QueryRow(`SELECT "last_mutation_id" FROM "` + server.ClientsTable + `" WHERE "id" = 'c-ann'`).Scan(&n); err != nil || n != next-1 {
				b.Fatalf("lastMutationID %d, %v; want %d", n, err, next-1)
			}
		}
	}
	b.Run("plasma", plasma(0)) // 0: the default
	b.Run("plasma_tx1", plasma(1))
	b.Run("raw", benchPushRaw)
}

// benchPushRaw writes what a push of 100 createTodo mutations leaves in
// the database directly, in one transaction, with two prepared statements
// for the 200 inserts, as hand-written code would. (Running each insert
// unprepared measures the same on this driver.)
func benchPushRaw(b *testing.B) {
	e := newSyncEnv(b, nil)
	ctx := context.Background()
	// The client and its group exist, as after its first push.
	e.mustPush(b, syncPushBody("g-ann", "c-ann", 1, 1, createTodoMut))
	next := int64(2)
	type todoImage struct {
		ID        string `json:"id"`
		ListID    string `json:"list_id"`
		Title     string `json:"title"`
		Done      bool   `json:"done"`
		CreatedBy string `json:"created_by"`
	}
	const (
		insTodoSQL   = `INSERT INTO "todos" ("id", "list_id", "title", "done", "created_by") VALUES (?, ?, ?, ?, ?)`
		insChangeSQL = `INSERT INTO "` + changelog.LogTable + `" ("region", "table_name", "row_id", "op", "data", "client_id", "mutation_id") VALUES (?, 'todos', ?, 'put', ?, ?, ?)`
	)
	push := func() error {
		tx, err := e.sql.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var group string
		var lmid int64
		if err := tx.QueryRowContext(ctx, `SELECT "group_id", "last_mutation_id" FROM "`+server.ClientsTable+`" WHERE "id" = ?`, "c-ann").Scan(&group, &lmid); err != nil {
			return err
		}
		st1, err := tx.PrepareContext(ctx, insTodoSQL)
		if err != nil {
			return err
		}
		defer st1.Close()
		st2, err := tx.PrepareContext(ctx, insChangeSQL)
		if err != nil {
			return err
		}
		defer st2.Close()
		for id := next; id < next+syncPushMutations; id++ {
			row := todoImage{ID: "t" + strconv.FormatInt(id, 10), ListID: "L1",
				Title: "todo number " + strconv.FormatInt(id, 10), CreatedBy: "ann"}
			if _, err := st1.ExecContext(ctx, row.ID, row.ListID, row.Title, row.Done, row.CreatedBy); err != nil {
				return err
			}
			image, err := json.Marshal(row)
			if err != nil {
				return err
			}
			if _, err := st2.ExecContext(ctx, changelog.DefaultRegion, row.ID, string(image), "c-ann", id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE "`+server.ClientsTable+`" SET "last_mutation_id" = ?, "updated_at" = ? WHERE "id" = ?`,
			next+syncPushMutations-1, time.Now().UnixMilli(), "c-ann"); err != nil {
			return err
		}
		return tx.Commit()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := push(); err != nil {
			b.Fatal(err)
		}
		next += syncPushMutations
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*syncPushMutations)/b.Elapsed().Seconds(), "mutations/s")
}

// BenchmarkPull: one op is a first pull (cookie null) by ann of a client
// group she has not pulled with before, which sees her list, her
// membership and the list's 10,000 todos.
//
//   - plasma: through the handler: the group and identity checks, the
//     change-log heads, a read of every table under row auth, the patch
//     and its JSON, and the client view record it stores.
//   - plasma_100k: the same with 100,000 todos, written to a
//     ResponseWriter that counts the body and keeps none of it, as a
//     socket would: B/op is the pull's own memory, and resp-B the size
//     of the response it sent (the goal is B/op at most twice that).
//   - raw: the same three SELECTs with the same membership filter, written
//     by hand with database/sql, scanned into structs, and the response
//     (a clear and 10,002 puts keyed table/id) encoded with json.Marshal.
func BenchmarkPull(b *testing.B) {
	setupN := func(b *testing.B, n int) *syncEnv {
		e := newSyncEnv(b, nil)
		seedTodos(b, e, n)
		return e
	}
	setup := func(b *testing.B) *syncEnv { return setupN(b, syncPullRows) }
	pullBody := func(group int) []byte {
		return fmt.Appendf(nil, `{"pullVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g-pull-%d","cookie":null}`, group)
	}

	b.Run("plasma", func(b *testing.B) {
		e := setup(b)
		// Check once that the pull is what it should be.
		w := e.serve("/sync/pull", pullBody(-1))
		var resp struct{ Patch []json.RawMessage }
		if err := json.Unmarshal(w.Body.Bytes(), &resp); w.Code != 200 || err != nil || len(resp.Patch) != syncPullRows+3 {
			b.Fatalf("pull: %d, %d patch ops, %v", w.Code, len(resp.Patch), err)
		}
		b.SetBytes(int64(w.Body.Len()))
		group := 0
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			group++
			if w := e.serve("/sync/pull", pullBody(group)); w.Code != http.StatusOK {
				b.Fatalf("pull: %d %s", w.Code, w.Body)
			}
		}
	})

	b.Run("plasma_100k", func(b *testing.B) {
		const n = 100_000
		e := setupN(b, n)
		w := e.serve("/sync/pull", pullBody(-1))
		var resp struct{ Patch []json.RawMessage }
		if err := json.Unmarshal(w.Body.Bytes(), &resp); w.Code != 200 || err != nil || len(resp.Patch) != n+3 {
			b.Fatalf("pull: %d, %d patch ops, %v", w.Code, len(resp.Patch), err)
		}
		size := w.Body.Len()
		w = nil
		resp.Patch = nil
		b.SetBytes(int64(size))
		group := 0
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			group++
			d := &discardWriter{}
			e.serveTo(d, "/sync/pull", pullBody(group))
			if d.code != http.StatusOK || d.n != size {
				b.Fatalf("pull: %d, %d bytes; want 200, %d", d.code, d.n, size)
			}
		}
		b.ReportMetric(float64(size), "resp-B")
	})

	b.Run("raw", func(b *testing.B) {
		e := setup(b)
		ctx := context.Background()
		type listRow struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			OwnerID string `json:"owner_id"`
		}
		type memberRow struct {
			ID     string `json:"id"`
			ListID string `json:"list_id"`
			UserID string `json:"user_id"`
		}
		type todoRow struct {
			ID        string `json:"id"`
			ListID    string `json:"list_id"`
			Title     string `json:"title"`
			Done      bool   `json:"done"`
			CreatedBy string `json:"created_by"`
		}
		type op struct {
			Op    string `json:"op"`
			Key   string `json:"key,omitempty"`
			Value any    `json:"value,omitempty"`
		}
		type response struct {
			Cookie                json.RawMessage  `json:"cookie"`
			LastMutationIDChanges map[string]int64 `json:"lastMutationIDChanges"`
			Patch                 []op             `json:"patch"`
		}
		const mine = `SELECT "list_id" FROM "members" WHERE "user_id" = ?`
		pull := func() ([]byte, error) {
			tx, err := e.sql.BeginTx(ctx, nil)
			if err != nil {
				return nil, err
			}
			defer tx.Rollback()
			resp := response{Cookie: json.RawMessage(`{"order":1}`), LastMutationIDChanges: map[string]int64{},
				Patch: make([]op, 0, syncPullRows+3)}
			resp.Patch = append(resp.Patch, op{Op: "clear"})
			rows, err := tx.QueryContext(ctx, `SELECT "id", "name", "owner_id" FROM "lists" WHERE "id" IN (`+mine+`)`, "ann")
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var r listRow
				if err := rows.Scan(&r.ID, &r.Name, &r.OwnerID); err != nil {
					return nil, err
				}
				resp.Patch = append(resp.Patch, op{Op: "put", Key: "lists/" + r.ID, Value: r})
			}
			if err := rows.Err(); err != nil {
				return nil, err
			}
			rows, err = tx.QueryContext(ctx, `SELECT "id", "list_id", "user_id" FROM "members" WHERE "list_id" IN (`+mine+`)`, "ann")
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var r memberRow
				if err := rows.Scan(&r.ID, &r.ListID, &r.UserID); err != nil {
					return nil, err
				}
				resp.Patch = append(resp.Patch, op{Op: "put", Key: "members/" + r.ID, Value: r})
			}
			if err := rows.Err(); err != nil {
				return nil, err
			}
			rows, err = tx.QueryContext(ctx, `SELECT "id", "list_id", "title", "done", "created_by" FROM "todos" WHERE "list_id" IN (`+mine+`)`, "ann")
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var r todoRow
				if err := rows.Scan(&r.ID, &r.ListID, &r.Title, &r.Done, &r.CreatedBy); err != nil {
					return nil, err
				}
				resp.Patch = append(resp.Patch, op{Op: "put", Key: "todos/" + r.ID, Value: r})
			}
			if err := rows.Err(); err != nil {
				return nil, err
			}
			return json.Marshal(resp)
		}
		out, err := pull()
		if err != nil {
			b.Fatal(err)
		}
		var check struct{ Patch []json.RawMessage }
		if err := json.Unmarshal(out, &check); err != nil || len(check.Patch) != syncPullRows+3 {
			b.Fatalf("raw pull: %d patch ops, %v", len(check.Patch), err)
		}
		b.SetBytes(int64(len(out)))
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := pull(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// seedTodos inserts n of ann's todos, t00000…, into list L1.
func seedTodos(b *testing.B, e *syncEnv, n int) {
	b.Helper()
	ctx := rowauth.WithIdentity(context.Background(), rowauth.Identity{UserID: "ann"})
	insertTodos(b, ctx, e.h.DB(), "L1", n, func(i int) string { return fmt.Sprintf("t%05d", i) })
}

// insertTodos inserts n todos created by ann into list, with the ids id
// gives, 500 to a statement, in one transaction.
func insertTodos(b *testing.B, ctx context.Context, db *orm.DB, list string, n int, id func(int) string) {
	b.Helper()
	err := db.Tx(ctx, func(tx *orm.Tx) error {
		rows := make([]orm.Row, 0, 500)
		for i := range n {
			rows = append(rows, orm.Row{"id": id(i), "list_id": list,
				"title": fmt.Sprintf("todo number %d", i), "done": i%3 == 0, "created_by": "ann"})
			if len(rows) == cap(rows) || i == n-1 {
				if _, err := tx.Insert(todo.Todos).Values(rows...).Exec(ctx); err != nil {
					return err
				}
				rows = rows[:0]
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
