// Package otelsync is the sync server's OpenTelemetry instrumentation:
// an Observer (server.Options.Observer) that opens a span around every
// push, pull and mutation and records the server's metrics.
//
//	obs, err := otelsync.New(otelsync.Options{})
//	h, err := server.NewHandler(server.Options[App]{..., Observer: obs})
//
// With plugin/otelorm installed on the handler's DB, one push is one
// trace: the push span ("plasma.sync push"), a span per run of each
// mutation ("plasma.sync mutation <name>") and under it a span per SQL
// statement. Spans carry the user, the client group and, for a mutation,
// its client, id and mutator name; never arguments or row values.
//
// Metrics (names as a Prometheus exporter shows them):
//
//	plasma_sync_push_duration_seconds      histogram, by outcome ("ok" or the error kind)
//	plasma_sync_pull_duration_seconds      histogram, by outcome
//	plasma_sync_mutations_total            counter, by status (applied, failed, skipped, out_of_order, not_processed) and kind
//	plasma_sync_errors_total               counter of failed requests, by endpoint and kind
//	plasma_sync_pull_rows_total            counter of patch operations sent
//	plasma_sync_pull_bytes_total           counter of pull response bytes
//	plasma_sync_pull_resets_total          counter of pulls answered with a reset
//	plasma_sync_collect_runs_total         counter of Handler.Collect runs, by outcome
//	plasma_changelog_compaction_runs_total counter of compactions (RecordCompaction), by outcome
//	plasma_changelog_compacted_changes_total counter of changes compaction removed
//	plasma_files_gc_runs_total             counter of blob garbage collections (RecordBlobGC), by outcome
//	plasma_files_gc_deleted_blobs_total    counter of blobs they deleted
//	plasma_sync_websocket_connections      gauge (WatchHub)
//	plasma_sync_pokes_total                counter (WatchHub)
//	plasma_changelog_rows                  gauge (WatchChangeLog)
//
// The package links only OpenTelemetry's API: the application picks the
// SDK and the exporter (cmd/plasma's demo serves /metrics with the
// Prometheus exporter). OpenTelemetry's metrics rather than
// prometheus/client_golang, because traces need OpenTelemetry anyway,
// and with its API alone a library leaves the choice of backend
// (Prometheus, OTLP) to the application.
package otelsync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/sync/server"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/plasma-go/plasma/sync/otelsync"

// Options configures New.
type Options struct {
	// TracerProvider provides the tracer; nil uses the global one.
	TracerProvider trace.TracerProvider
	// MeterProvider provides the meter; nil uses the global one.
	MeterProvider metric.MeterProvider
}

// Observer is the OpenTelemetry server.Observer. It is safe for
// concurrent use; one Observer may watch several handlers.
type Observer struct {
	tracer trace.Tracer
	meter  metric.Meter

	pushDur, pullDur             metric.Float64Histogram
	mutations, errs              metric.Int64Counter
	pullRows, pullBytes, resets  metric.Int64Counter
	collects, compactions, folds metric.Int64Counter
	blobGCs, blobsDeleted        metric.Int64Counter
}

var _ server.Observer = (*Observer)(nil)

// maxUnknownName caps the length of an unregistered mutator name in a
// span attribute.
const maxUnknownName = 64

// latencyBuckets are the histograms' bucket bounds in seconds: from a
// pull answered from the fast path (a millisecond) to a push that waited
// for locks (seconds).
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// New returns an Observer recording to opts' providers.
func New(opts Options) (*Observer, error) {
	tp, mp := opts.TracerProvider, opts.MeterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	o := &Observer{tracer: tp.Tracer(ScopeName), meter: mp.Meter(ScopeName)}
	m := o.meter
	var errs []error
	hist := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(latencyBuckets...))
		errs = append(errs, err)
		return h
	}
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	o.pushDur = hist("plasma.sync.push.duration", "Time to serve a push request.")
	o.pullDur = hist("plasma.sync.pull.duration", "Time to serve a pull request.")
	o.mutations = counter("plasma.sync.mutations", "{mutation}", "Mutations pushed, by what became of them.")
	o.errs = counter("plasma.sync.errors", "{request}", "Push and pull requests answered with an error, by kind.")
	o.pullRows = counter("plasma.sync.pull.rows", "{operation}", "Patch operations (puts and dels) sent by pulls.")
	o.pullBytes = counter("plasma.sync.pull.bytes", "By", "Bytes of pull responses.")
	o.resets = counter("plasma.sync.pull.resets", "{pull}", "Pulls answered with a reset (a clear and every row).")
	o.collects = counter("plasma.sync.collect.runs", "{run}", "Runs of Handler.Collect (idle group collection), by outcome.")
	o.compactions = counter("plasma.changelog.compaction.runs", "{run}", "Change-log compactions, by outcome.")
	o.folds = counter("plasma.changelog.compacted.changes", "{change}", "Changes removed by change-log compaction.")
	o.blobGCs = counter("plasma.files.gc.runs", "{run}", "Garbage collections of orphaned blobs, by outcome.")
	o.blobsDeleted = counter("plasma.files.gc.deleted_blobs", "{blob}", "Orphaned blobs deleted.")
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("plasma: otelsync: %w", err)
	}
	return o, nil
}

// Start opens the span of ev.
func (o *Observer) Start(ctx context.Context, ev *server.Event) context.Context {
	name := "plasma.sync " + ev.Kind.String()
	kind := trace.SpanKindServer
	switch ev.Kind {
	case server.EventMutation:
		// A client may send any name: only a registered one goes into the
		// span's name, and an unknown one is cut short.
		mutatorName := ev.Mutator
		if ev.Registered {
			name += " " + ev.Mutator
		} else if len(mutatorName) > maxUnknownName {
			mutatorName = strings.ToValidUTF8(mutatorName[:maxUnknownName], "")
		}
		kind = trace.SpanKindInternal
		ctx, _ = o.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(
			attribute.String("plasma.client_id", ev.ClientID),
			attribute.Int64("plasma.mutation_id", ev.MutationID),
			attribute.String("plasma.mutator", mutatorName)))
		return ctx
	case server.EventCollect:
		kind = trace.SpanKindInternal
	}
	ctx, _ = o.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithTimestamp(ev.Started))
	return ctx
}

// End closes ev's span and records its metrics.
func (o *Observer) End(ctx context.Context, ev *server.Event) {
	span := trace.SpanFromContext(ctx)
	if ev.UserID != "" {
		span.SetAttributes(attribute.String("plasma.user_id", ev.UserID))
	}
	if ev.ClientGroupID != "" {
		span.SetAttributes(attribute.String("plasma.client_group_id", ev.ClientGroupID))
	}
	outcome := "ok"
	if ev.Err != nil {
		outcome = string(ev.Err.Kind)
		span.SetAttributes(attribute.String("plasma.error_kind", outcome))
		span.SetStatus(codes.Error, outcome)
	}
	secs := time.Since(ev.Started).Seconds()
	by := metric.WithAttributes(attribute.String("outcome", outcome))
	switch ev.Kind {
	case server.EventPush:
		span.SetAttributes(attribute.Int("plasma.mutations", len(ev.Mutations)))
		o.pushDur.Record(ctx, secs, by)
		o.countMutations(ctx, ev)
		o.countError(ctx, ev, "push")
	case server.EventPull:
		span.SetAttributes(attribute.Int("plasma.patch_ops", ev.PatchOps), attribute.Bool("plasma.reset", ev.Reset))
		o.pullDur.Record(ctx, secs, by)
		o.pullRows.Add(ctx, int64(ev.PatchOps))
		o.pullBytes.Add(ctx, ev.Bytes)
		if ev.Reset {
			o.resets.Add(ctx, 1)
		}
		o.countError(ctx, ev, "pull")
	case server.EventCollect:
		span.SetAttributes(attribute.Int64("plasma.collected_groups", ev.Collect.Groups))
		o.collects.Add(ctx, 1, by)
	}
	span.End()
}

func (o *Observer) countError(ctx context.Context, ev *server.Event, endpoint string) {
	if ev.Err != nil {
		o.errs.Add(ctx, 1, metric.WithAttributes(attribute.String("endpoint", endpoint),
			attribute.String("kind", string(ev.Err.Kind))))
	}
}

// statusNames are the mutations counter's status labels.
var statusNames = map[server.MutationStatus]string{
	server.StatusNotProcessed: "not_processed",
	server.StatusApplied:      "applied",
	server.StatusSkipped:      "skipped",
	server.StatusFailed:       "failed",
	server.StatusOutOfOrder:   "out_of_order",
}

// countMutations counts a push's mutations by status, with the kind of
// error that stopped each one that did not apply: MutatorFailed,
// MutationOutOfOrder, or the kind of the push's own failure for the ones
// it left unprocessed.
func (o *Observer) countMutations(ctx context.Context, ev *server.Event) {
	type key struct {
		status server.MutationStatus
		kind   string
	}
	counts := map[key]int64{}
	for _, m := range ev.Mutations {
		k := key{status: m.Status}
		switch m.Status {
		case server.StatusFailed:
			k.kind = string(server.KindMutatorFailed)
		case server.StatusOutOfOrder:
			k.kind = string(server.KindMutationOutOfOrder)
		case server.StatusNotProcessed:
			if ev.Err != nil {
				k.kind = string(ev.Err.Kind)
			}
		}
		counts[k]++
	}
	for k, n := range counts {
		attrs := []attribute.KeyValue{attribute.String("status", statusNames[k.status])}
		if k.kind != "" {
			attrs = append(attrs, attribute.String("kind", k.kind))
		}
		o.mutations.Add(ctx, n, metric.WithAttributes(attrs...))
	}
}

// RecordCompaction records one run of changelog.CompactChangeLog:
//
//	res, err := changelog.CompactChangeLog(ctx, db, region, bound)
//	obs.RecordCompaction(ctx, res, err)
func (o *Observer) RecordCompaction(ctx context.Context, res changelog.CompactionResult, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	o.compactions.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcome)))
	o.folds.Add(ctx, res.Removed)
}

// RecordBlobGC records one garbage collection of orphaned blobs
// (files.Service.GCOrphans) that deleted deleted blobs:
//
//	rep, err := fsvc.GCOrphans(ctx, opts)
//	obs.RecordBlobGC(ctx, int64(rep.Deleted), err)
func (o *Observer) RecordBlobGC(ctx context.Context, deleted int64, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	o.blobGCs.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcome)))
	o.blobsDeleted.Add(ctx, deleted)
}

// HubStats is what WatchHub reads of a realtime hub: *realtime.Hub
// implements it.
type HubStats interface {
	// Connections is the number of open WebSocket connections.
	Connections() int
	// PokesSent is the number of pokes written to connections.
	PokesSent() uint64
}

// WatchHub reports hub's open WebSocket connections and the pokes it
// sent, read at each collection. It returns a function that stops
// watching.
func (o *Observer) WatchHub(hub HubStats) (stop func() error, err error) {
	conns, err := o.meter.Int64ObservableGauge("plasma.sync.websocket.connections", metric.WithUnit("{connection}"),
		metric.WithDescription("Open WebSocket connections (pokes and presence)."))
	if err != nil {
		return nil, err
	}
	pokes, err := o.meter.Int64ObservableCounter("plasma.sync.pokes", metric.WithUnit("{poke}"),
		metric.WithDescription("Pokes written to WebSocket connections."))
	if err != nil {
		return nil, err
	}
	reg, err := o.meter.RegisterCallback(func(_ context.Context, ob metric.Observer) error {
		ob.ObserveInt64(conns, int64(hub.Connections()))
		ob.ObserveInt64(pokes, int64(hub.PokesSent()))
		return nil
	}, conns, pokes)
	if err != nil {
		return nil, err
	}
	return reg.Unregister, nil
}

// PullCounter is what WatchPulls reads of a sync handler:
// *server.Handler implements it.
type PullCounter interface {
	PullStats() server.PullStats
}

// WatchPulls reports how h computed its pulls, read at each collection:
// plasma.sync.pulls by way ("unchanged", "incremental", "rescan") and,
// for the rescans, by the reason the incremental path was not taken
// (server.PullStats.Fallbacks: "reset", "fingerprint", "rule",
// "uncaptured", "changes", "cheaper"). A steady stream of rescans for a
// reason other than "reset" is worth a look. It returns a function that
// stops watching.
func (o *Observer) WatchPulls(h PullCounter) (stop func() error, err error) {
	pulls, err := o.meter.Int64ObservableCounter("plasma.sync.pulls", metric.WithUnit("{pull}"),
		metric.WithDescription("Pulls answered, by how they were computed (way) and why a pull read every row the user may read (reason)."))
	if err != nil {
		return nil, err
	}
	way := func(w string) attribute.KeyValue { return attribute.String("way", w) }
	unchanged := metric.WithAttributes(way("unchanged"))
	incremental := metric.WithAttributes(way("incremental"))
	reg, err := o.meter.RegisterCallback(func(_ context.Context, ob metric.Observer) error {
		st := h.PullStats()
		ob.ObserveInt64(pulls, int64(st.Unchanged), unchanged)
		ob.ObserveInt64(pulls, int64(st.Incremental), incremental)
		for reason, n := range st.Fallbacks {
			ob.ObserveInt64(pulls, int64(n), metric.WithAttributes(way("rescan"), attribute.String("reason", reason)))
		}
		return nil
	}, pulls)
	if err != nil {
		return nil, err
	}
	return reg.Unregister, nil
}

// changeLogTimeout bounds the count WatchChangeLog runs at a collection.
const changeLogTimeout = 5 * time.Second

// WatchChangeLog reports the number of rows of db's change log, counted
// at each collection (one COUNT(*) per scrape: on a very large log,
// scrape less often). It returns a function that stops watching.
func (o *Observer) WatchChangeLog(db *orm.DB) (stop func() error, err error) {
	rows, err := o.meter.Int64ObservableGauge("plasma.changelog.rows", metric.WithUnit("{change}"),
		metric.WithDescription("Rows of the change log (every region)."))
	if err != nil {
		return nil, err
	}
	reg, err := o.meter.RegisterCallback(func(ctx context.Context, ob metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, changeLogTimeout)
		defer cancel()
		n, err := countChanges(ctx, db)
		if err != nil {
			return err
		}
		ob.ObserveInt64(rows, n)
		return nil
	}, rows)
	if err != nil {
		return nil, err
	}
	return reg.Unregister, nil
}

func countChanges(ctx context.Context, db *orm.DB) (int64, error) {
	r, err := db.Query(ctx, `SELECT COUNT(*) FROM "`+changelog.LogTable+`"`)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var n int64
	if r.Next() {
		if err := r.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, r.Err()
}
