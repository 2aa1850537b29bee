package main

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/files"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
	"github.com/plasma-go/plasma/sync/otelsync"
	"github.com/plasma-go/plasma/sync/realtime"
	"github.com/plasma-go/plasma/sync/server"
)

func init() {
	commands["demo"] = command{
		summary: "serve the example todo app's sync endpoints on embedded SQLite",
		run:     runDemo,
	}
}

const demoUsage = `usage: plasma demo [-addr HOST:PORT] [-data DIR] [-cors ORIGINS] [-maintain INTERVAL] [-web DIR] [-devtools]

Serves the example todo app (examples/todo) on an embedded SQLite database
in DIR: the Replicache v1 endpoints POST /sync/push and POST /sync/pull, the
WebSocket /sync/ws that pokes clients to pull after commits, and a page at /
that explains them and exercises them from the browser. Requests act for
the user named by "Authorization: Bearer <userID>", a stand-in for real
authentication: anyone may claim any user id. Stop it with Ctrl-C (SIGINT)
or SIGTERM; every mutation it acknowledged is on disk, even if the process
is killed without warning. Every INTERVAL (default 1h) it compacts the change
log and deletes the sync state of client groups idle for 30 days. With
-web DIR it also serves the files in DIR at /web/, e.g. examples/web (a
page on the replicache npm client; run npm ci there first). GET /metrics
serves the sync server's metrics in the Prometheus format. With -devtools
it serves the devtools page at /sync/devtools/, to requests that carry the
admin token it prints (a new one at each start).

flags:
`

// demoShutdownTimeout bounds the wait for requests in flight at shutdown.
const demoShutdownTimeout = 10 * time.Second

func runDemo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("demo", demoUsage, stdout)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	data := fs.String("data", "./plasma-data", "directory for the SQLite database file (plasma.db)")
	cors := fs.String("cors", "", "comma-separated origins browsers may call the endpoints from, e.g. http://localhost:5173 (* for any)")
	maintain := fs.Duration("maintain", time.Hour, "how often to compact the change log and collect idle client groups (0: never)")
	web := fs.String("web", "", "a folder of static files to serve at "+demoWebPath+", e.g. examples/web")
	devtools := fs.Bool("devtools", false, "serve the devtools page at /sync/devtools/ to requests with the admin token it prints")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	var origins []string
	for o := range strings.SplitSeq(*cors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}

	if err := os.MkdirAll(*data, 0o755); err != nil {
		return err
	}
	path := filepath.Join(*data, "plasma.db")
	// WAL journal, synchronous commits: a mutation is acknowledged only
	// once its transaction is in the WAL file, so it survives the process
	// being killed.
	db, err := orm.Open(sqlite.Dialect, path)
	if err != nil {
		return err
	}
	defer db.Close()

	// Attachments' bytes live in a directory beside the database,
	// content-addressed; the rows hold refs (examples/todo, attachments.go).
	store, err := files.Dir(filepath.Join(*data, "blobs"))
	if err != nil {
		return err
	}
	fsvc, err := todo.NewFiles(ctx, db, store)
	if err != nil {
		return err
	}

	log := slog.New(slog.NewTextHandler(stdout, nil))
	// The hub is the handler's Notifier, so it is made first; it binds
	// client groups through the handler (set below, before anything is
	// served), by the same rules and caps as pushes and pulls.
	var h *server.Handler[todo.AppCtx]
	// The WebSocket hub pokes clients after commits so that they pull;
	// it is also the sync handler's Notifier.
	hub, err := realtime.New(realtime.Options{
		DB:     db,
		Schema: todo.Schema,
		Auth: func(r *http.Request) (rowauth.Identity, error) {
			id, _, err := todo.BearerAuth(r)
			return id, err
		},
		// Browsers may open the WebSocket from the page's own origin and
		// from the origins the sync handler allows.
		CORSOrigins: origins,
		BindGroup: func(ctx context.Context, groupID, userID string) error {
			return h.BindGroup(ctx, groupID, userID)
		},
		Logger: log,
	})
	if err != nil {
		return err
	}
	// Metrics through OpenTelemetry, served at /metrics for Prometheus.
	obs, metrics, stopMetrics, err := demoMetrics(db, hub)
	if err != nil {
		_ = hub.Close(context.Background())
		return err
	}
	devOpts, devToken, err := demoDevtools(*devtools)
	if err != nil {
		_ = errors.Join(hub.Close(context.Background()), stopMetrics())
		return err
	}
	h, err = todo.NewServer(ctx, db, server.Options[todo.AppCtx]{
		Notifier: hub,
		Files:    fsvc,
		Observer: obs,
		Devtools: devOpts,
		// Errors are logged with the request's user and client group.
		Logger: log,
	})
	if err != nil {
		_ = errors.Join(hub.Close(context.Background()), stopMetrics())
		return err
	}
	// How pulls were computed (unchanged, incremental, rescans by reason).
	stopPulls, err := obs.WatchPulls(h)
	if err != nil {
		_ = errors.Join(hub.Close(context.Background()), h.Close(context.Background()), stopMetrics())
		return err
	}
	stopMaintenance := startMaintenance(db, h, fsvc, obs, *maintain, log)
	closeAll := func(ctx context.Context) error {
		stopMaintenance()
		return errors.Join(hub.Close(ctx), h.Close(ctx), stopPulls(), stopMetrics())
	}
	// Each endpoint on its own method pattern; mux.Handle("/sync/", h)
	// would serve push and pull in one line.
	mux := http.NewServeMux()
	mux.Handle("POST /sync/push", h.PushHandler())
	mux.Handle("POST /sync/pull", h.PullHandler())
	mux.Handle("GET /sync/ws", hub)
	mux.Handle("/sync/files/", h.FilesHandler())       // PUT upload, GET/HEAD download
	mux.Handle("/sync/devtools", h.DevtoolsHandler())  // 404 without -devtools
	mux.Handle("/sync/devtools/", h.DevtoolsHandler()) // the page and its API
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("/{$}", demoIndex)
	// A live query on the page: open todos per list, as server-sent events.
	ldb, err := serverdb.New(ctx, todo.Schema, db, serverdb.SkipEnsure())
	if err != nil {
		_ = closeAll(context.Background())
		return err
	}
	mux.Handle("GET /live/open-counts", demoOpenCounts(ldb))
	if *web != "" {
		if err := serveWebDir(mux, *web); err != nil {
			_ = closeAll(context.Background())
			return err
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		_ = closeAll(context.Background())
		return err
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "plasma demo: serving the todo example (schema version %s) on %s/\n", todo.SchemaVersion, base)
	fmt.Fprintf(stdout, "  push: POST %s/sync/push\n", base)
	fmt.Fprintf(stdout, "  pull: POST %s/sync/pull\n", base)
	fmt.Fprintf(stdout, "  file: PUT  %s/sync/files/sha256:<hex>?table=attachments&column=file, GET to download\n", base)
	fmt.Fprintf(stdout, "  poke: GET  ws://%s/sync/ws?clientGroupID=G&clientID=C&auth=Bearer%%20USER\n", ln.Addr())
	fmt.Fprintf(stdout, "  auth: Authorization: Bearer <userID> (a stand-in: anyone may claim any id)\n")
	fmt.Fprintf(stdout, "  data: %s\n", path)
	if len(origins) > 0 {
		fmt.Fprintf(stdout, "  cors: %s\n", strings.Join(origins, ", "))
	}
	if *web != "" {
		fmt.Fprintf(stdout, "  web:  %s%s (files in %s)\n", base, demoWebPath, *web)
	}
	fmt.Fprintf(stdout, "  metrics: GET %s/metrics\n", base)
	if devOpts != nil {
		fmt.Fprintf(stdout, "  devtools: %s/sync/devtools/?token=%s\n", base, devToken)
	}

	// Read, write and idle timeouts and a header cap: a client sending a
	// body slowly is cut off (server.DefaultReadTimeout).
	// CORS wraps the whole mux so that preflights (OPTIONS) reach it
	// before the POST-only patterns would refuse them.
	srv := server.HTTPServer(server.CORS(origins...)(mux))
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	var serveErr error // Serve only returns early on a failure
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "plasma demo: shutting down")
	case serveErr = <-served:
	}
	// Stop accepting, let requests in flight finish (their transactions
	// commit or roll back), close the WebSockets (which Shutdown does not
	// track) and drain the handler's background tasks; the deferred
	// db.Close then checkpoints the WAL.
	sctx, cancel := context.WithTimeout(context.Background(), demoShutdownTimeout)
	defer cancel()
	err = errors.Join(serveErr, srv.Shutdown(sctx), closeAll(sctx))
	if err == nil {
		fmt.Fprintln(stdout, "plasma demo: stopped")
	}
	return err
}

// startMaintenance runs demoMaintain every interval, on a goroutine,
// until the returned function is called; that function waits for a run
// in progress to stop (its context is cancelled). Errors are logged: the
// next run tries again.
func startMaintenance(db *orm.DB, h *server.Handler[todo.AppCtx], fsvc *files.Service, obs *otelsync.Observer, every time.Duration, log *slog.Logger) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		var bound int64 // the change-log head at the previous run
		if head, err := changelog.Head(ctx, db, changelog.DefaultRegion); err == nil {
			bound = head
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			bound = demoMaintain(ctx, db, h, obs, bound, log)
			demoFiles(ctx, h, fsvc, obs, log)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// demoMaintain compacts the change log up to bound, the head read at the
// previous run, so that changes younger than one interval are never
// folded (the realtime hub reads them within milliseconds, and folding
// is safe for any reader anyway: see changelog.CompactChangeLog), then
// collects idle client groups (server.Handler.Collect). It returns the
// head to compact up to next time.
func demoMaintain(ctx context.Context, db *orm.DB, h *server.Handler[todo.AppCtx], obs *otelsync.Observer, bound int64, log *slog.Logger) int64 {
	head, err := changelog.Head(ctx, db, changelog.DefaultRegion)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("maintenance: reading the change-log head", "err", err)
		}
		return bound
	}
	if bound > 0 {
		res, err := changelog.CompactChangeLog(ctx, db, changelog.DefaultRegion, bound)
		if ctx.Err() != nil {
			return bound // shutting down: what committed stays, the rest waits
		}
		obs.RecordCompaction(ctx, res, err)
		if err != nil {
			log.Error("maintenance: compacting the change log", "upTo", bound, "removed", res.Removed, "err", err)
		} else {
			log.Info("maintenance: compacted the change log", "upTo", bound, "scanned", res.Scanned, "removed", res.Removed, "took", res.Duration)
		}
	}
	res, err := h.Collect(ctx)
	if ctx.Err() != nil {
		return bound
	}
	if err != nil {
		log.Error("maintenance: collecting idle client groups", "groups", res.Groups, "err", err)
	} else {
		log.Info("maintenance: collected idle client groups", "groups", res.Groups, "clients", res.Clients,
			"cvrs", res.CVRs+res.Pruned, "took", res.Duration)
	}
	return head
}

// demoBlobGrace is how long an uploaded attachment may stay unreferenced
// before GC deletes it: an upload's ref is committed within seconds.
const demoBlobGrace = 24 * time.Hour

// demoFiles deletes blobs no attachment references (files.GCOrphans)
// and reports attachments whose blob is gone (files.ReconcileRefs).
func demoFiles(ctx context.Context, h *server.Handler[todo.AppCtx], fsvc *files.Service, obs *otelsync.Observer, log *slog.Logger) {
	rep, err := fsvc.GCOrphans(ctx, files.GCOptions{Grace: demoBlobGrace})
	if ctx.Err() != nil {
		return
	}
	obs.RecordBlobGC(ctx, int64(rep.Deleted), err)
	if err != nil {
		log.Error("maintenance: collecting orphaned blobs", "deleted", rep.Deleted, "err", err)
	} else {
		log.Info("maintenance: collected orphaned blobs", "scanned", rep.Scanned, "deleted", rep.Deleted, "bytes", rep.Bytes, "records", rep.Records)
	}
	// attachments.file is NOT NULL: broken refs are reported, not cleared.
	broken, err := fsvc.ReconcileRefs(ctx, files.ReconcileOptions{DB: h.DB()})
	if err != nil && ctx.Err() == nil {
		log.Error("maintenance: reconciling file refs", "err", err)
	} else if len(broken) > 0 {
		log.Warn("maintenance: refs to missing blobs", "rows", len(broken))
	}
}

var demoPage = template.Must(template.New("demo").Parse(demoHTML))

// demoIndex serves the page at /: the endpoints, a curl example, and a
// small browser client of them.
func demoIndex(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = demoPage.Execute(w, struct{ Base, WS, SchemaVersion string }{"http://" + r.Host, "ws://" + r.Host, todo.SchemaVersion})
}

// demoHTML is the page at /. It builds its DOM with textContent, never
// innerHTML, since the rows it shows are anyone's input.
const demoHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>plasma demo: todo lists</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
code, pre { font: 13px ui-monospace, monospace; background: #f4f4f4; }
pre { padding: .6rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; } td, th { padding: .2rem .6rem; text-align: left; border-bottom: 1px solid #ddd; }
.list { border: 1px solid #ccc; border-radius: 6px; padding: .5rem 1rem; margin: .8rem 0; }
.muted { color: #777; } button { margin-left: .3rem; } #log { max-height: 14rem; overflow-y: auto; }
</style>
</head>
<body>
<h1>plasma demo: shared todo lists</h1>
<p>This server speaks the <a href="https://doc.replicache.dev/reference/server-push">Replicache v1</a>
push/pull protocol for the example app in <code>examples/todo</code>, on embedded SQLite.
Schema version <code>{{.SchemaVersion}}</code>.</p>

<h2>Endpoints</h2>
<table>
<tr><th>method</th><th>URL</th><th>body</th></tr>
<tr><td>POST</td><td><code>{{.Base}}/sync/push</code></td><td>a push request: mutations to apply</td></tr>
<tr><td>POST</td><td><code>{{.Base}}/sync/pull</code></td><td>a pull request: a patch since your cookie</td></tr>
<tr><td>GET</td><td><code>{{.WS}}/sync/ws?clientGroupID=&lt;g&gt;&amp;clientID=&lt;c&gt;&amp;auth=Bearer%20&lt;userID&gt;</code></td>
<td>a WebSocket: <code>{"type":"poke"}</code> when something you may read changed (then pull), and presence</td></tr>
</table>
<p>Every request needs <code>Authorization: Bearer &lt;userID&gt;</code>; without it the answer is 401.
This is a stand-in for real authentication: anyone may claim any user id.</p>

<h2>Mutators</h2>
<table>
<tr><td><code>createList {id, name}</code></td><td>you own the list and are its first member</td></tr>
<tr><td><code>addMember {id, listID, userID}</code></td><td>owner only</td></tr>
<tr><td><code>removeMember {listID, userID}</code></td><td>owner only; the list leaves that user's next pull</td></tr>
<tr><td><code>createTodo {id, listID, title}</code></td><td>members only</td></tr>
<tr><td><code>updateTodo {id, title?, done?}</code></td><td>members only</td></tr>
<tr><td><code>deleteTodo {id}</code></td><td>members only</td></tr>
</table>
<p>Lists are readable by their members, members by the list's members, todos by the list's members.</p>

<h2>With curl</h2>
<pre>curl -s {{.Base}}/sync/push -H 'Authorization: Bearer ann' -H 'Content-Type: application/json' \
  -d '{"pushVersion":1,"schemaVersion":"{{.SchemaVersion}}","profileID":"p1","clientGroupID":"g-ann","mutations":[
       {"clientID":"c-ann","id":1,"name":"createList","args":{"id":"L1","name":"groceries"},"timestamp":1},
       {"clientID":"c-ann","id":2,"name":"createTodo","args":{"id":"t1","listID":"L1","title":"milk"},"timestamp":2}]}'

curl -s {{.Base}}/sync/pull -H 'Authorization: Bearer ann' -H 'Content-Type: application/json' \
  -d '{"pullVersion":1,"schemaVersion":"{{.SchemaVersion}}","profileID":"p1","clientGroupID":"g-ann","cookie":null}'</pre>
<p class="muted">Mutation ids count from 1 per clientID; a re-pushed id is skipped. Send the pull response's
<code>cookie</code> back to get only what changed since.</p>

<h2>Try it</h2>
<p>Acting as <input id="user" value="ann" size="12"> <button id="pull">pull</button>
<span class="muted">(open a second tab as another user and add them to a list: the WebSocket pokes each tab to pull)</span>
<span id="live" class="muted"></span></p>
<p><input id="listName" placeholder="new list name"> <button id="createList">create list</button></p>
<div id="lists"></div>
<h3>Requests</h3>
<pre id="log"></pre>

<script>
"use strict";
const SV = {{.SchemaVersion}};
const states = {};
const $ = (id) => document.getElementById(id);
const rand = () => Math.random().toString(36).slice(2, 10);
const user = () => $("user").value.trim();

function state() {
  const u = user();
  if (!states[u]) states[u] = {group: "g-" + rand(), client: "c-" + rand(), next: 1, cookie: null, view: new Map(), pending: []};
  return states[u];
}

function log(line) {
  const l = $("log");
  l.textContent = line + "\n" + l.textContent.slice(0, 20000);
}

async function post(path, body) {
  const r = await fetch(path, {method: "POST", body: JSON.stringify(body),
    headers: {"Content-Type": "application/json", "Authorization": "Bearer " + user()}});
  const text = await r.text();
  log("POST " + path + " as " + user() + " -> " + r.status + " " + text.slice(0, 400));
  if (!r.ok) throw new Error(r.status + " " + text);
  return text ? JSON.parse(text) : {};
}

async function push() {
  const s = state();
  if (s.pending.length === 0) return;
  await post("/sync/push", {pushVersion: 1, schemaVersion: SV, profileID: "demo", clientGroupID: s.group, mutations: s.pending});
}

// Pulls run one at a time, so responses apply in order.
let pulling = Promise.resolve();
function pull() {
  const p = pulling.then(pullOnce);
  pulling = p.catch(() => {});
  return p;
}

async function pullOnce() {
  const s = state();
  const r = await post("/sync/pull", {pullVersion: 1, schemaVersion: SV, profileID: "demo", clientGroupID: s.group, cookie: s.cookie});
  for (const op of r.patch) {
    if (op.op === "clear") s.view.clear();
    else if (op.op === "put") s.view.set(op.key, op.value);
    else if (op.op === "del") s.view.delete(op.key);
  }
  const lmid = r.lastMutationIDChanges[s.client];
  if (lmid !== undefined) s.pending = s.pending.filter((m) => m.id > lmid);
  s.cookie = r.cookie;
  render();
}

async function mutate(name, args) {
  const s = state();
  s.pending.push({clientID: s.client, id: s.next++, name: name, args: args, timestamp: performance.now()});
  try { await push(); await pull(); } catch (e) { log(String(e)); }
}

function rows(table) {
  const out = [];
  for (const [k, v] of state().view) if (k.startsWith(table + "/")) out.push(v);
  return out;
}

function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  Object.assign(e, attrs || {});
  return e;
}

function button(text, fn) { return el("button", text, {onclick: fn}); }

function render() {
  const box = $("lists");
  box.replaceChildren();
  const lists = rows("lists").sort((a, b) => a.name.localeCompare(b.name));
  if (lists.length === 0) box.append(el("p", "No lists visible to " + user() + " yet.", {className: "muted"}));
  for (const l of lists) {
    const d = el("div", "", {className: "list"});
    d.append(el("h3", l.name + " · " + (openCounts.get(l.id) || 0) + " open (live query)"), el("p", "owner " + l.owner_id + " · list " + l.id, {className: "muted"}));
    const members = rows("members").filter((m) => m.list_id === l.id);
    const mp = el("p", "members: ");
    for (const m of members) {
      mp.append(el("span", m.user_id + " "));
      if (l.owner_id === user()) mp.append(button("remove", () => mutate("removeMember", {listID: l.id, userID: m.user_id})));
    }
    d.append(mp);
    if (l.owner_id === user()) {
      const who = el("input", "", {placeholder: "user id", size: 10});
      d.append(el("p", "", {}), who, button("add member", () => who.value.trim() &&
        mutate("addMember", {id: "m-" + rand(), listID: l.id, userID: who.value.trim()})));
    }
    const ul = el("ul");
    for (const t of rows("todos").filter((t) => t.list_id === l.id).sort((a, b) => a.id.localeCompare(b.id))) {
      const li = el("li");
      const cb = el("input", "", {type: "checkbox", checked: !!t.done});
      cb.onchange = () => mutate("updateTodo", {id: t.id, done: cb.checked});
      li.append(cb, el("span", " " + t.title + " "), el("span", "by " + t.created_by, {className: "muted"}),
        button("delete", () => mutate("deleteTodo", {id: t.id})));
      for (const a of rows("attachments").filter((a) => a.todo_id === t.id)) li.append(" ", fileLink(a.file));
      const pick = el("input", "", {type: "file"});
      li.append(" ", pick, button("attach", () => pick.files[0] && attach(t.id, pick.files[0])));
      ul.append(li);
    }
    const title = el("input", "", {placeholder: "new todo"});
    d.append(ul, title, button("add", () => title.value.trim() &&
      mutate("createTodo", {id: "t-" + Date.now().toString(36) + rand(), listID: l.id, title: title.value.trim()})));
    box.append(d);
  }
}

// Files travel by upload, then ref: PUT the bytes under their SHA-256,
// then run attachFile with the ref the server answers.
async function attach(todoID, file) {
  const buf = await file.arrayBuffer();
  const hex = [...new Uint8Array(await crypto.subtle.digest("SHA-256", buf))].map((b) => b.toString(16).padStart(2, "0")).join("");
  const r = await fetch("/sync/files/sha256:" + hex + "?table=attachments&column=file&name=" + encodeURIComponent(file.name), {
    method: "PUT", body: buf, headers: {"Content-Type": file.type || "application/octet-stream", "Authorization": "Bearer " + user()}});
  const text = await r.text();
  log("PUT /sync/files/sha256:" + hex.slice(0, 12) + "… as " + user() + " -> " + r.status + " " + text.slice(0, 300));
  if (!r.ok) return;
  await mutate("attachFile", {id: "a-" + rand(), todoID: todoID, file: JSON.parse(text)});
}

// A download needs the Authorization header, so it is fetched and shown
// from a blob URL: images inline, anything else as a link.
function fileLink(ref) {
  const span = el("span", "");
  const a = el("a", "📎 " + (ref.name || ref.hash.slice(7, 19)), {href: "#"});
  a.onclick = async (ev) => {
    ev.preventDefault();
    const r = await fetch("/sync/files/" + ref.hash, {headers: {"Authorization": "Bearer " + user()}});
    log("GET /sync/files/" + ref.hash.slice(0, 19) + "… as " + user() + " -> " + r.status);
    if (!r.ok) return;
    const url = URL.createObjectURL(await r.blob());
    if (ref.mime.startsWith("image/")) span.replaceChildren(el("img", "", {src: url, style: "max-height:6em;vertical-align:middle"}));
    else { a.href = url; a.download = ref.name || "file"; a.onclick = null; a.click(); }
  };
  span.append(a);
  return span;
}

// The WebSocket: a poke means "pull now".
let ws = null;
function connect() {
  const s = state(), u = user();
  if (ws) { ws.onclose = null; ws.close(); }
  const url = location.origin.replace("http", "ws") + "/sync/ws?clientGroupID=" + encodeURIComponent(s.group) +
    "&clientID=" + encodeURIComponent(s.client) + "&auth=" + encodeURIComponent("Bearer " + u);
  const sock = new WebSocket(url);
  ws = sock;
  sock.onopen = () => { $("live").textContent = "live: connected as " + u; };
  sock.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === "poke") pull().catch((e) => log(String(e)));
  };
  sock.onclose = () => {
    $("live").textContent = "live: disconnected, retrying";
    if (ws === sock) setTimeout(() => { if (ws === sock) connect(); }, 2000);
  };
}

// A live query: the server pushes the open-todo count per list.
const openCounts = new Map();
let counts = null;
function watchCounts() {
  if (counts) counts.close();
  counts = new EventSource("/live/open-counts?auth=" + encodeURIComponent("Bearer " + user()));
  counts.onmessage = (ev) => {
    openCounts.clear();
    for (const c of JSON.parse(ev.data) || []) openCounts.set(c.list_id, c.n);
    render();
  };
}

$("pull").onclick = () => pull().catch((e) => log(String(e)));
$("user").onchange = () => { connect(); watchCounts(); pull().catch((e) => log(String(e))); };
$("createList").onclick = () => {
  const n = $("listName").value.trim();
  if (n) { $("listName").value = ""; mutate("createList", {id: "l-" + rand(), name: n}); }
};
connect();
watchCounts();
pull().catch((e) => log(String(e)));
</script>
</body>
</html>
`
