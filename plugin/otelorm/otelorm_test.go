package otelorm_test

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/otelorm"
)

var (
	items  = orm.NewTable("items", orm.ID(), orm.Text("secret"))
	schema = orm.MustDefineSchema("1", items)
)

func attrs(s sdktrace.ReadOnlySpan) map[string]string {
	out := map[string]string{}
	for _, a := range s.Attributes() {
		out[string(a.Key)] = a.Value.String()
	}
	return out
}

// TestStatementSpans: on both engines, each statement under a span gets
// a child span with its operation, table and rows (read as the caller
// reads them; changed for writes), a failed one an error status, raw
// SQL its first keyword; no span carries a bound value; a statement
// without a parent span is not traced unless WithoutParent.
func TestStatementSpans(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		db := tg.DB.Use(otelorm.Middleware(otelorm.Options{TracerProvider: tp}))
		if err := orm.EnsureSchema(ctx, schema, tg.DB); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Insert(items).Values(orm.Row{"id": "a", "secret": "hunter2"}, orm.Row{"id": "b", "secret": "hunter2"}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(rec.Ended()); n != 0 {
			t.Fatalf("%d spans without a parent span", n)
		}
		pctx, parent := tp.Tracer("test").Start(ctx, "request")
		if _, err := db.Update(items).Set(orm.Row{"secret": "x"}).Where(expr.Eq(items.Col("id"), "a")).Exec(pctx); err != nil {
			t.Fatal(err)
		}
		ids, err := orm.All[string](pctx, db.Select(items.Col("id")).From(items).Where(expr.Eq(items.Col("secret"), "hunter2")))
		if err != nil || len(ids) != 1 {
			t.Fatalf("select: %v %v", ids, err)
		}
		rows, err := db.Query(pctx, "  select 1 union all select 2")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
		}
		rows.Close()
		_, err = db.Exec(pctx, `INSERT INTO "no_such_table" VALUES (1)`)
		if err == nil {
			t.Fatal("insert into a missing table worked")
		}
		parent.End()

		want := []struct {
			name string
			kv   map[string]string
		}{
			{"UPDATE items", map[string]string{"db.operation.name": "UPDATE", "db.collection.name": "items", "db.response.affected_rows": "1"}},
			{"SELECT items", map[string]string{"db.operation.name": "SELECT", "db.collection.name": "items", "db.response.returned_rows": "1"}},
			{"SELECT", map[string]string{"db.operation.name": "SELECT", "db.response.returned_rows": "2"}},
			{"INSERT", map[string]string{"db.operation.name": "INSERT"}},
			{"request", nil},
		}
		got := rec.Ended()
		if len(got) != len(want) {
			t.Fatalf("%d spans, want %d", len(got), len(want))
		}
		for i, w := range want {
			s := got[i]
			if s.Name() != w.name {
				t.Errorf("span %d: %q, want %q", i, s.Name(), w.name)
			}
			a := attrs(s)
			for k, v := range w.kv {
				if a[k] != v {
					t.Errorf("%s: %s=%q, want %q (%v)", s.Name(), k, a[k], v, a)
				}
			}
			for k, v := range a {
				if v == "hunter2" || v == "x" || v == "a" {
					t.Errorf("%s carries a bound value: %s=%s", s.Name(), k, v)
				}
			}
			if w.kv != nil && s.Parent().SpanID() != parent.SpanContext().SpanID() {
				t.Errorf("%s is not a child of the request", s.Name())
			}
		}
		if got[3].Status().Code != codes.Error || len(got[3].Events()) == 0 {
			t.Errorf("failed statement: status %v, events %v", got[3].Status(), got[3].Events())
		}

		// WithoutParent: every statement is a root span.
		rec2 := tracetest.NewSpanRecorder()
		tp2 := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec2))
		db2 := tg.DB.Use(otelorm.Middleware(otelorm.Options{TracerProvider: tp2, WithoutParent: true}))
		if _, err := db2.Delete(items).AllRows().Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if s := rec2.Ended(); len(s) != 1 || s[0].Name() != "DELETE items" || s[0].Parent().IsValid() || attrs(s[0])["db.response.affected_rows"] != "2" {
			t.Errorf("WithoutParent: %v", s)
		}
	})
}

// A span ends when the rows are closed, even if the caller stops early.
func TestSpanEndsOnClose(t *testing.T) {
	tg := ormtest.SQLite(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	db := tg.DB.Use(otelorm.Middleware(otelorm.Options{TracerProvider: tp}))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	defer parent.End()
	rows, err := db.Query(ctx, "SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3")
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans ended before Close", n)
	}
	if err := errors.Join(rows.Close(), rows.Close()); err != nil {
		t.Fatal(err)
	}
	if s := rec.Ended(); len(s) != 1 || attrs(s[0])["db.response.returned_rows"] != "1" {
		t.Fatalf("after Close: %v", s)
	}
}
