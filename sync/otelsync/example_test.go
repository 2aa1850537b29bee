package otelsync_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/prometheus/client_golang/prometheus"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/otelsync"
	"github.com/plasma-go/plasma/sync/server"
	"github.com/plasma-go/plasma/sync/synctest"
)

// The Observer on a sync handler: spans around pushes and their
// mutations, and metrics, here for a Prometheus registry.
func ExampleNew() {
	ctx := context.Background()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		log.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))

	obs, err := otelsync.New(otelsync.Options{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		log.Fatal(err)
	}
	db, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	h, err := todo.NewServer(ctx, db, server.Options[todo.AppCtx]{Observer: obs})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)
	mux := http.NewServeMux()
	mux.Handle("/sync/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := synctest.NewClient(srv.Client(), srv.URL+"/sync", "Bearer ann", "g-ann")
	status, _, err := c.Push(synctest.Mutation{ClientID: "c1", ID: 1, Name: todo.MutCreateList, Args: `{"id":"l1","name":"home"}`})
	fmt.Println(status, err)
	for _, s := range spans.Ended() {
		fmt.Println(s.Name())
	}
	mfs, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "plasma_sync_mutations_total" {
			fmt.Println(mf.GetName(), mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	// Output:
	// 200 <nil>
	// plasma.sync mutation createList
	// plasma.sync push
	// plasma_sync_mutations_total 1
}
