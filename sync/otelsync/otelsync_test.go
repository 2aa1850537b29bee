package otelsync_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/plasma-go/plasma/examples/todo"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/otelorm"
	"github.com/plasma-go/plasma/sync/otelsync"
	"github.com/plasma-go/plasma/sync/server"
	"github.com/plasma-go/plasma/sync/synctest"
)

// secret is in every mutation's arguments: no span may carry it.
const secret = "s3cret-title"

// rig is the todo example's handler, instrumented, on one engine, with
// /metrics served next to /sync/.
type rig struct {
	spans   *tracetest.SpanRecorder
	srv     *httptest.Server
	obs     *otelsync.Observer
	handler *server.Handler[todo.AppCtx]
}

func newRig(t *testing.T, tg *ormtest.Target) *rig {
	t.Helper()
	ctx := context.Background()
	r := &rig{spans: tracetest.NewSpanRecorder()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	t.Cleanup(func() { _ = tp.Shutdown(ctx) })
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	t.Cleanup(func() { _ = mp.Shutdown(ctx) })

	r.obs, err = otelsync.New(otelsync.Options{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	stop, err := r.obs.WatchChangeLog(tg.DB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	db := tg.DB.Use(otelorm.Middleware(otelorm.Options{TracerProvider: tp}))
	r.handler, err = todo.NewServer(ctx, db, server.Options[todo.AppCtx]{Observer: r.obs})
	if err != nil {
		t.Fatal(err)
	}
	stopPulls, err := r.obs.WatchPulls(r.handler)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stopPulls() })
	mux := http.NewServeMux()
	mux.Handle("/sync/", r.handler)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	r.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		r.srv.Close()
		_ = r.handler.Close(ctx)
	})
	return r
}

func (r *rig) push(t *testing.T, user, group string, muts ...synctest.Mutation) {
	t.Helper()
	status, body, err := synctest.Post(r.srv.Client(), r.srv.URL+"/sync/push", "Bearer "+user,
		synctest.PushBody(group, todo.SchemaVersion, muts...))
	if err != nil || status != 200 {
		t.Fatalf("push: %d %s %v", status, body, err)
	}
}

func engines(t *testing.T, body func(t *testing.T, tg *ormtest.Target)) {
	t.Run("sqlite", func(t *testing.T) { body(t, ormtest.SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { body(t, ormtest.Postgres(t)) })
}

// TestPushIsOneTraceDownToSQL: a push of two mutations is one trace:
// the push span, a span per mutation under it, and under each the
// spans of its statements (the app's INSERTs and the change rows);
// nothing carries the mutations' argument values.
func TestPushIsOneTraceDownToSQL(t *testing.T) {
	engines(t, func(t *testing.T, tg *ormtest.Target) {
		r := newRig(t, tg)
		r.push(t, "alice", "g1",
			synctest.Mutation{ClientID: "c1", ID: 1, Name: todo.MutCreateList, Args: `{"id":"l1","name":"` + secret + `"}`},
			synctest.Mutation{ClientID: "c1", ID: 2, Name: todo.MutCreateTodo, Args: `{"id":"t1","listID":"l1","title":"` + secret + `"}`},
			synctest.Mutation{ClientID: "c1", ID: 3, Name: strings.Repeat("x", 200), Args: `{}`})

		spans := r.spans.Ended()
		var push sdktrace.ReadOnlySpan
		for _, s := range spans {
			if s.Name() == "plasma.sync push" {
				push = s
			}
			for _, a := range s.Attributes() {
				if strings.Contains(a.Value.String(), secret) {
					t.Errorf("span %q carries an argument value: %s=%s", s.Name(), a.Key, a.Value.String())
				}
			}
		}
		if push == nil {
			t.Fatalf("no push span among %d spans", len(spans))
		}
		attrs := map[string]string{}
		for _, a := range push.Attributes() {
			attrs[string(a.Key)] = a.Value.String()
		}
		if attrs["plasma.user_id"] != "alice" || attrs["plasma.client_group_id"] != "g1" || attrs["plasma.mutations"] != "3" {
			t.Errorf("push span attributes %v", attrs)
		}
		trace := push.SpanContext().TraceID()
		children := func(parent sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
			var out []sdktrace.ReadOnlySpan
			for _, s := range spans {
				if s.Parent().SpanID() == parent.SpanContext().SpanID() {
					if s.SpanContext().TraceID() != trace {
						t.Errorf("span %q is in another trace", s.Name())
					}
					out = append(out, s)
				}
			}
			return out
		}
		var muts []sdktrace.ReadOnlySpan
		for _, s := range children(push) {
			if strings.HasPrefix(s.Name(), "plasma.sync mutation") {
				muts = append(muts, s)
			}
		}
		// The third mutation names no mutator: it fails, and its batch is
		// rolled back and replayed without it (see
		// server.Options.MutationsPerTransaction), so the first two run
		// twice. Its span is named without the name the client sent,
		// which is cut short in its attribute.
		want := []string{"plasma.sync mutation createList", "plasma.sync mutation createTodo", "plasma.sync mutation",
			"plasma.sync mutation createList", "plasma.sync mutation createTodo"}
		if got := names(muts); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("mutation spans under the push: %v, want %v", got, want)
		}
		for _, a := range muts[2].Attributes() {
			if a.Key == "plasma.mutator" && a.Value.AsString() != strings.Repeat("x", 64) {
				t.Errorf("unknown mutator's attribute: %q", a.Value.AsString())
			}
		}
		// createList inserts the list and its first member; each insert
		// logs a change row (on its own or in the batch's one INSERT).
		stmts := names(children(muts[0]))
		for _, want := range []string{"INSERT lists", "INSERT members"} {
			if !contains(stmts, want) {
				t.Errorf("statement spans under createList: %v; want %q", stmts, want)
			}
		}
		for _, s := range children(muts[0]) {
			if s.Name() != "INSERT lists" {
				continue
			}
			a := map[string]string{}
			for _, kv := range s.Attributes() {
				a[string(kv.Key)] = kv.Value.String()
			}
			want := map[string]string{"db.operation.name": "INSERT", "db.collection.name": "lists", "db.response.affected_rows": "1",
				"db.system.name": map[string]string{"sqlite": "sqlite", "postgres": "postgresql"}[tg.Name]}
			for k, v := range want {
				if a[k] != v {
					t.Errorf("INSERT lists span: %s=%q, want %q (all: %v)", k, a[k], v, a)
				}
			}
		}
		if got := names(children(muts[1])); !contains(got, "SELECT lists") && !contains(got, "INSERT todos") {
			t.Errorf("statement spans under createTodo: %v", got)
		}
	})
}

// TestMetricsMoveAfterPushAndPull scrapes /metrics after a push (one
// mutation applied, one failed) and a pull, and finds the counters and
// histograms moved.
func TestMetricsMoveAfterPushAndPull(t *testing.T) {
	engines(t, func(t *testing.T, tg *ormtest.Target) {
		r := newRig(t, tg)
		r.push(t, "bob", "g2",
			synctest.Mutation{ClientID: "c2", ID: 1, Name: todo.MutCreateList, Args: `{"id":"l2","name":"groceries"}`},
			synctest.Mutation{ClientID: "c2", ID: 2, Name: todo.MutCreateTodo, Args: `{"id":"t2","listID":"nope","title":"x"}`})
		c := synctest.NewClient(r.srv.Client(), r.srv.URL+"/sync", "Bearer bob", "g2")
		c.SchemaVersion = todo.SchemaVersion
		if _, err := c.Pull(); err != nil {
			t.Fatal(err)
		}
		// A request refused for its size counts as an error of its kind.
		status, _, err := synctest.Post(r.srv.Client(), r.srv.URL+"/sync/pull", "Bearer bob", `{`)
		if err != nil || status != 400 {
			t.Fatalf("bad pull: %d %v", status, err)
		}

		m := scrape(t, r.srv.URL+"/metrics")
		for series, want := range map[string]float64{
			`plasma_sync_mutations_total{status="applied"}`:                     1,
			`plasma_sync_mutations_total{kind="MutatorFailed",status="failed"}`: 1,
			`plasma_sync_push_duration_seconds_count{outcome="ok"}`:             1,
			`plasma_sync_pull_duration_seconds_count{outcome="ok"}`:             1,
			`plasma_sync_pull_duration_seconds_count{outcome="BadRequest"}`:     1,
			`plasma_sync_errors_total{endpoint="pull",kind="BadRequest"}`:       1,
			`plasma_sync_pull_resets_total`:                                     1,
			`plasma_changelog_rows`:                                             2, // the list and its member
			`plasma_sync_pulls_total{reason="reset",way="rescan"}`:              1, // a new group's first pull
			`plasma_sync_pulls_total{way="incremental"}`:                        0,
		} {
			if got, ok := m[series]; !ok || got != want {
				t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
			}
		}
		// The reset put the list and the member row, at least.
		if got := m[`plasma_sync_pull_rows_total`]; got < 2 {
			t.Errorf("plasma_sync_pull_rows_total = %v, want >= 2", got)
		}
		if got := m[`plasma_sync_pull_bytes_total`]; got < 100 {
			t.Errorf("plasma_sync_pull_bytes_total = %v", got)
		}

		if _, err := r.handler.Collect(context.Background()); err != nil {
			t.Fatal(err)
		}
		res, err := changelog.CompactChangeLog(context.Background(), tg.DB, changelog.DefaultRegion, 1<<40)
		if err != nil {
			t.Fatal(err)
		}
		r.obs.RecordCompaction(context.Background(), res, err)
		r.obs.RecordBlobGC(context.Background(), 3, nil)
		m = scrape(t, r.srv.URL+"/metrics")
		if m[`plasma_files_gc_runs_total{outcome="ok"}`] != 1 || m[`plasma_files_gc_deleted_blobs_total`] != 3 {
			t.Errorf("blob GC not counted: %v %v", m[`plasma_files_gc_runs_total{outcome="ok"}`], m[`plasma_files_gc_deleted_blobs_total`])
		}
		if m[`plasma_sync_collect_runs_total{outcome="ok"}`] != 1 || m[`plasma_changelog_compaction_runs_total{outcome="ok"}`] != 1 {
			t.Errorf("collect and compaction runs not counted: %v %v", m[`plasma_sync_collect_runs_total{outcome="ok"}`],
				m[`plasma_changelog_compaction_runs_total{outcome="ok"}`])
		}
	})
}

// seriesLine is one sample of the Prometheus text format, without the
// otel_scope labels the exporter adds.
var seriesLine = regexp.MustCompile(`^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$`)

// scrape reads the exposition at url into series (name plus its sorted
// labels other than otel_scope_* ones) and value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		m := seriesLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var labels []string
		if m[2] != "" {
			for _, l := range strings.Split(strings.Trim(m[2], "{}"), ",") {
				if !strings.HasPrefix(l, "otel_scope_") && l != "" {
					labels = append(labels, l)
				}
			}
		}
		key := m[1]
		if len(labels) > 0 {
			key += "{" + strings.Join(labels, ",") + "}"
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatal(err)
		}
		out[key] += v
	}
	return out
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name()
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
