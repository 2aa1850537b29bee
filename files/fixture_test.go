package files_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/files"
	"github.com/plasma-go/plasma/files/s3"
	"github.com/plasma-go/plasma/files/s3/s3test"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/server"
	"github.com/plasma-go/plasma/sync/synctest"
	"github.com/plasma-go/plasma/tabledef"
)

// The test schema: lists shared through members; attachments belong to
// a list and are read and written by its members; avatars are one per
// user, immutable, small images, kept in their own storage.
var (
	tLists   = orm.NewTable("lists", orm.ID(), orm.Text("name"), orm.Text("owner_id"))
	tMembers = orm.NewTable("members", orm.ID(),
		orm.Text("list_id").References("lists", "id", tabledef.Cascade), orm.Text("user_id"))
	tAttachments = orm.NewTable("attachments", orm.ID(),
		orm.Text("list_id").References("lists", "id", tabledef.Cascade), orm.File("file").Nullable())
	tAvatars = orm.NewTable("avatars", orm.ID(), orm.Text("owner_id"), orm.File("file"))

	testSchema = orm.MustDefineSchema("1", tLists, tMembers, tAttachments, tAvatars)
)

var columnOpts = map[string]files.ColumnOptions{
	"attachments.file": {MaxSize: 1 << 20},
	"avatars.file":     {MaxSize: 64, MIMEAllowList: []string{"image/*"}, Immutable: true},
}

func init() {
	member := func(col *expr.Column) orm.AuthFunc {
		return rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
			m := tMembers.As("m")
			return expr.InArray(col, orm.Select(m.Col("list_id")).From(m).Where(expr.Eq(m.Col("user_id"), id.UserID))), nil
		}).Rule()
	}
	tLists.With(orm.TableOptions{Auth: orm.TableAuth{Read: member(tLists.Col("id")), Write: rowauth.Owner(tLists.Col("owner_id")).Rule()}})
	tMembers.With(orm.TableOptions{Auth: orm.TableAuth{Read: member(tMembers.Col("list_id"))}})
	tAttachments.With(orm.TableOptions{Auth: orm.TableAuth{Read: member(tAttachments.Col("list_id")), Write: member(tAttachments.Col("list_id"))}})
	own := rowauth.Owner(tAvatars.Col("owner_id")).Rule()
	tAvatars.With(orm.TableOptions{Blobs: "avatars", Auth: orm.TableAuth{Read: own, Write: own}})
}

type appCtx struct{ UserID string }

type attachArgs struct {
	ID     string    `json:"id"`
	ListID string    `json:"listID"`
	File   files.Ref `json:"file"`
}

var testMutators = mutator.Set[appCtx]{
	"createList": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a struct{ ID string }) error {
		if _, err := c.DB.Insert(tLists).Values(orm.Row{"id": a.ID, "name": a.ID, "owner_id": c.Ctx.UserID}).Exec(ctx); err != nil {
			return err
		}
		_, err := c.DB.Insert(tMembers).Values(orm.Row{"id": a.ID + ":" + c.Ctx.UserID, "list_id": a.ID, "user_id": c.Ctx.UserID}).Exec(ctx)
		return err
	}),
	"addMember": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a struct{ ListID, UserID string }) error {
		_, err := c.DB.Insert(tMembers).Values(orm.Row{"id": a.ListID + ":" + a.UserID, "list_id": a.ListID, "user_id": a.UserID}).Exec(ctx)
		return err
	}),
	"attach": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a attachArgs) error {
		_, err := c.DB.Insert(tAttachments).Values(orm.Row{"id": a.ID, "list_id": a.ListID, "file": a.File}).Exec(ctx)
		return err
	}),
	// attachRaw writes whatever JSON it is given: the write check, not
	// the argument type, must refuse bytes.
	"attachRaw": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a struct {
		ID     string          `json:"id"`
		ListID string          `json:"listID"`
		File   json.RawMessage `json:"file"`
	}) error {
		_, err := c.DB.Insert(tAttachments).Values(orm.Row{"id": a.ID, "list_id": a.ListID, "file": a.File}).Exec(ctx)
		return err
	}),
	"removeAttachment": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a struct{ ID string }) error {
		_, err := c.DB.Delete(tAttachments).Where(expr.Eq(tAttachments.Col("id"), a.ID)).Exec(ctx)
		return err
	}),
	"setAvatar": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a struct {
		File files.Ref `json:"file"`
	}) error {
		n, err := c.DB.Update(tAvatars).Set(orm.Row{"file": a.File}).Where(expr.Eq(tAvatars.Col("id"), c.Ctx.UserID)).Exec(ctx)
		if err != nil || n > 0 {
			return err
		}
		_, err = c.DB.Insert(tAvatars).Values(orm.Row{"id": c.Ctx.UserID, "owner_id": c.Ctx.UserID, "file": a.File}).Exec(ctx)
		return err
	}),
}

func testAuth(r *http.Request) (rowauth.Identity, appCtx, error) {
	a := r.Header.Get("Authorization")
	if a == "" {
		return rowauth.Identity{}, appCtx{}, errors.New("no credentials")
	}
	return rowauth.Identity{UserID: a}, appCtx{UserID: a}, nil
}

// env is a sync handler with the files service on one database and one
// kind of storage, served over HTTP.
type env struct {
	t        testing.TB
	tg       *ormtest.Target
	fs       *files.Service
	h        *server.Handler[appCtx]
	srv      *httptest.Server
	store    files.Storage // "default"
	avatars  files.Storage // "avatars"
	errs     synctest.ErrorLog
	now      atomic.Int64 // the service's clock, Unix ms; 0 means real time
	mu       sync.Mutex
	mutIDs   map[string]int64 // the next mutation id per client
	fsWrites *orm.DB          // the handler's DB: row auth, change log, and the write check
}

// storageKinds are the adapters every flow test runs on.
var storageKinds = []string{"dir", "s3"}

func newStorage(t testing.TB, kind string) files.Storage {
	if kind == "s3" {
		return s3test.New(t, s3.MinPartSize)
	}
	st, err := files.Dir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// each runs body on both engines and both storages.
func each(t *testing.T, body func(t *testing.T, e *env)) {
	for _, kind := range storageKinds {
		t.Run(kind, func(t *testing.T) {
			ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) { body(t, newEnv(t, tg, kind, nil)) })
		})
	}
}

func newEnv(t testing.TB, tg *ormtest.Target, kind string, tweak func(*files.Options)) *env {
	t.Helper()
	// A server owns its pool: the service, like the sync handler, refuses
	// a transaction, and a single connection would deadlock its reads.
	tg.SkipExec(t, "the files service serves a pool", ormtest.ExecTx, ormtest.ExecConn)
	e := &env{t: t, tg: tg, store: newStorage(t, kind), avatars: newStorage(t, kind)}
	fopts := files.Options{
		Schema: testSchema, DB: tg.DB, Columns: columnOpts,
		Storages: map[string]files.Storage{files.DefaultStorage: e.store, "avatars": e.avatars},
		OnError:  func(_ context.Context, err error) { t.Errorf("files endpoint: %v", err) },
		Now: func() time.Time {
			if ms := e.now.Load(); ms != 0 {
				return time.UnixMilli(ms)
			}
			return time.Now()
		},
	}
	if tweak != nil {
		tweak(&fopts)
	}
	fs, err := files.New(context.Background(), fopts)
	if err != nil {
		t.Fatal(err)
	}
	h, err := server.NewHandler(server.Options[appCtx]{
		Schema: testSchema, DB: tg.DB.Use(fs.Middleware()), Mutators: testMutators, Auth: testAuth,
		Files: fs, OnError: e.errs.Record,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.fs, e.h, e.srv, e.fsWrites = fs, h, synctest.Serve(t, h), h.DB()
	return e
}

// push pushes one mutation for user and returns the error the mutator
// failed with (nil if it applied).
func (e *env) push(user, name string, args any) error {
	e.t.Helper()
	b, err := json.Marshal(args)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	if e.mutIDs == nil {
		e.mutIDs = map[string]int64{}
	}
	e.mutIDs[user]++
	id := e.mutIDs[user]
	e.mu.Unlock()
	body := synctest.PushBody("g-"+user, "1", synctest.Mutation{ClientID: "c-" + user, ID: id, Name: name, Args: string(b)})
	status, resp, err := synctest.Post(e.srv.Client(), e.srv.URL+"/sync/push", user, body)
	if err != nil || status != 200 {
		e.t.Fatalf("push %s: %d %s %v", name, status, resp, err)
	}
	for _, se := range e.errs.Take() {
		if se.Kind == server.KindMutatorFailed {
			return se
		}
		e.t.Fatalf("push %s: %v", name, se)
	}
	return nil
}

// mustPush pushes and fails the test if the mutator failed.
func (e *env) mustPush(user, name string, args any) {
	e.t.Helper()
	if err := e.push(user, name, args); err != nil {
		e.t.Fatalf("%s: %v", name, err)
	}
}

// upload PUTs data for table.column as user; it returns the status and
// the decoded ref (when 200 or 201) or the raw body.
func (e *env) upload(user, table, column, mime string, data []byte) (int, files.Ref, string) {
	e.t.Helper()
	h := files.HashOf(data)
	req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/sync/files/"+h.String()+"?table="+table+"&column="+column, bytes.NewReader(data))
	req.Header.Set("Authorization", user)
	req.Header.Set("Content-Type", mime)
	status, body := e.do(req)
	var ref files.Ref
	if status == 200 || status == 201 {
		if err := json.Unmarshal([]byte(body), &ref); err != nil {
			e.t.Fatalf("upload answer %s: %v", body, err)
		}
	}
	return status, ref, body
}

func (e *env) mustUpload(user, table, column, mime string, data []byte) files.Ref {
	e.t.Helper()
	status, ref, body := e.upload(user, table, column, mime, data)
	if status != 201 && status != 200 {
		e.t.Fatalf("upload: %d %s", status, body)
	}
	return ref
}

// download GETs a hash as user with extra headers ("Key: value").
func (e *env) download(user, hash string, headers ...string) (int, http.Header, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/sync/files/"+hash, nil)
	req.Header.Set("Authorization", user)
	for _, hv := range headers {
		k, v, _ := strings.Cut(hv, ": ")
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (e *env) do(req *http.Request) (int, string) {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// count returns the rows of t, read as trusted code.
func (e *env) count(t *orm.Table) int {
	e.t.Helper()
	rows, err := orm.Maps(rowauth.AsSystem(context.Background()), e.tg.DB.Select(t.Col("id")).From(t))
	if err != nil {
		e.t.Fatal(err)
	}
	return len(rows)
}

// share makes list L owned by alice with bob as a member.
func (e *env) share(list string) {
	e.mustPush("alice", "createList", map[string]string{"ID": list})
	e.mustPush("alice", "addMember", map[string]string{"ListID": list, "UserID": "bob"})
}

// noLostRefs fails t if a row references a blob no storage holds.
func noLostRefs(t testing.TB, e *env) {
	t.Helper()
	broken, err := e.fs.ReconcileRefs(context.Background(), files.ReconcileOptions{})
	must(t, err)
	if len(broken) != 0 {
		t.Fatalf("refs to lost blobs: %+v", broken)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// uploadAs PUTs body under hash h for attachments.file, as user.
func (e *env) uploadAs(user string, h files.Hash, body []byte) (int, string, error) {
	req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/sync/files/"+h.String()+"?table=attachments&column=file", bytes.NewReader(body))
	req.Header.Set("Authorization", user)
	req.Header.Set("Content-Type", "text/plain")
	status, resp := e.do(req)
	return status, resp, nil
}

func openSQLite(t testing.TB) *orm.DB {
	db, err := orm.Open(sqlite.Dialect, filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
