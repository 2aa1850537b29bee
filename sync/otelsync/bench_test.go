package otelsync_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/plasma-go/plasma/examples/todo"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/otelorm"
	"github.com/plasma-go/plasma/sync/otelsync"
	"github.com/plasma-go/plasma/sync/server"
	"github.com/plasma-go/plasma/sync/synctest"
)

// BenchmarkPushObserved measures a push of 100 createTodo mutations on
// SQLite (the todo example) without instrumentation ("bare"), with the
// otelsync Observer, and with it and otelorm's span per statement, both
// recording to OpenTelemetry's SDK (spans to an in-memory recorder,
// metrics to a Prometheus registry).
func BenchmarkPushObserved(b *testing.B) {
	for _, mode := range []string{"bare", "observer", "observer+statements"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			tg := ormtest.SQLite(b)
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			reg := prometheus.NewRegistry()
			exp, err := otelprom.New(otelprom.WithRegisterer(reg))
			if err != nil {
				b.Fatal(err)
			}
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
			opts := server.Options[todo.AppCtx]{}
			db := tg.DB
			if mode != "bare" {
				if opts.Observer, err = otelsync.New(otelsync.Options{TracerProvider: tp, MeterProvider: mp}); err != nil {
					b.Fatal(err)
				}
			}
			if mode == "observer+statements" {
				db = db.Use(otelorm.Middleware(otelorm.Options{TracerProvider: tp}))
			}
			h, err := todo.NewServer(ctx, db, opts)
			if err != nil {
				b.Fatal(err)
			}
			srv := synctest.Serve(b, h)
			c := synctest.NewClient(srv.Client(), srv.URL+"/sync", "Bearer ann", "g")
			push := func(muts ...synctest.Mutation) {
				if status, body, err := c.Push(muts...); status != 200 || err != nil {
					b.Fatal(status, body, err)
				}
			}
			push(synctest.Mutation{ClientID: "c", ID: 1, Name: todo.MutCreateList, Args: `{"id":"L","name":"l"}`})
			id := int64(1)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				muts := make([]synctest.Mutation, 100)
				for k := range muts {
					id++
					muts[k] = synctest.Mutation{ClientID: "c", ID: id, Name: todo.MutCreateTodo,
						Args: fmt.Sprintf(`{"id":"t%d","listID":"L","title":"x"}`, id)}
				}
				push(muts...)
				b.StopTimer()
				rec.Reset()
				b.StartTimer()
			}
		})
	}
}
