package otelorm_test

import (
	"context"
	"fmt"
	"log"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/otelorm"
)

// A span per statement, under the span of the request that ran it.
func ExampleMiddleware() {
	ctx := context.Background()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	db, err := orm.Open(sqlite.Dialect, ":memory:", otelorm.Middleware(otelorm.Options{TracerProvider: tp}))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := orm.EnsureSchema(ctx, schema, db); err != nil {
		log.Fatal(err)
	}

	ctx, request := tp.Tracer("app").Start(ctx, "GET /items")
	if _, err := db.Insert(items).Values(orm.Row{"id": "a", "secret": "never in a span"}).Exec(ctx); err != nil {
		log.Fatal(err)
	}
	n, err := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(items))
	fmt.Println(n, err)
	request.End()

	for _, s := range spans.Ended() {
		fmt.Print(s.Name())
		for _, a := range s.Attributes() {
			fmt.Printf(" %s=%s", a.Key, a.Value.String())
		}
		fmt.Println()
	}
	// Output:
	// 1 <nil>
	// INSERT items db.operation.name=INSERT db.system.name=sqlite db.collection.name=items db.response.affected_rows=1
	// SELECT items db.operation.name=SELECT db.system.name=sqlite db.collection.name=items db.response.returned_rows=1
	// GET /items
}
