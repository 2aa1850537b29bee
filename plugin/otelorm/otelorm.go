// Package otelorm traces the ORM's statements with OpenTelemetry: a
// middleware that opens a span per statement, as a child of the span in
// the statement's context (a sync push's mutation, an HTTP request), so
// that a trace goes down to the SQL.
//
//	db, err := orm.Open(sqlite.Dialect, dsn, otelorm.Middleware(otelorm.Options{}))
//
// Each span is named "<operation> <table>" ("INSERT todos", "SELECT
// todos", "RAW" for raw SQL without a table) and carries the operation,
// the table, the engine and the rows the statement returned or changed,
// following OpenTelemetry's database conventions:
// db.system.name, db.operation.name, db.collection.name,
// db.response.returned_rows (reads, counted as the caller reads them; the
// span ends when the rows are closed) and db.response.affected_rows
// (writes). It never records the SQL text or a bound value: they may
// hold personal data, and a raw statement's text may hold literals.
//
// Install it first, on the DB given to the sync server (its own
// middlewares, row auth and the change log, come after): each statement
// an application or a mutator runs gets a span, and the change rows and
// bookkeeping statements plasma adds inside it get spans of their own,
// nested in it.
//
// The package links only OpenTelemetry's API; the application picks the
// SDK and exporter.
package otelorm

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/plasma-go/plasma/orm"
)

// ScopeName is the instrumentation scope of the tracer.
const ScopeName = "github.com/plasma-go/plasma/plugin/otelorm"

// Options configures Middleware.
type Options struct {
	// TracerProvider provides the tracer; nil uses the global one
	// (otel.GetTracerProvider).
	TracerProvider trace.TracerProvider
	// WithoutParent, if set, traces statements whose context holds no
	// span too, each as the root of its own trace. By default they are
	// not traced: a background job's every statement would otherwise be
	// a trace of one span.
	WithoutParent bool
}

// Middleware returns the tracing middleware.
func Middleware(opts Options) orm.Middleware {
	tp := opts.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	tr := tp.Tracer(ScopeName)
	return func(next orm.Handler) orm.Handler {
		return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
			if !opts.WithoutParent && !trace.SpanContextFromContext(ctx).IsValid() {
				return next(ctx, st)
			}
			op, table := operation(st), ""
			if st.Table != nil {
				table = st.Table.Name()
			}
			name := op
			if table != "" {
				name += " " + table
			}
			attrs := make([]attribute.KeyValue, 0, 3)
			attrs = append(attrs, attribute.String("db.operation.name", op))
			if st.DB != nil {
				attrs = append(attrs, attribute.String("db.system.name", system(st.DB.Dialect().Name())))
			}
			if table != "" {
				attrs = append(attrs, attribute.String("db.collection.name", table))
			}
			ctx, span := tr.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
			res, err := next(ctx, st)
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, "statement failed")
				span.End()
				return res, err
			}
			if res != nil && res.Rows != nil {
				res.Rows = &countedRows{Rows: res.Rows, span: span}
				return res, nil // the span ends when the rows are closed
			}
			if res != nil && st.Op.IsWrite() {
				span.SetAttributes(attribute.Int64("db.response.affected_rows", res.RowsAffected))
			}
			span.End()
			return res, nil
		}
	}
}

// operation names what st does: its Op, or for raw SQL the text's first
// keyword (letters only: never a value).
func operation(st *orm.Statement) string {
	if st.Op != orm.OpRaw {
		return st.Op.String()
	}
	s := strings.TrimLeft(st.SQL, " \t\r\n(")
	n := 0
	for n < len(s) && n < 16 && (s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z') {
		n++
	}
	if n == 0 || n < len(s) && s[n] != ' ' && s[n] != '\n' && s[n] != '\t' && s[n] != '\r' && s[n] != '(' {
		return "RAW"
	}
	return strings.ToUpper(s[:n])
}

// system maps a dialect's name to OpenTelemetry's db.system.name.
func system(dialect string) string {
	if dialect == "postgres" {
		return "postgresql"
	}
	return dialect
}

// countedRows counts the rows read and ends the statement's span when
// the rows are closed.
type countedRows struct {
	orm.Rows
	span   trace.Span
	n      int64
	closed bool
}

func (r *countedRows) Next() bool {
	ok := r.Rows.Next()
	if ok {
		r.n++
	}
	return ok
}

func (r *countedRows) Close() error {
	err := r.Rows.Close()
	if !r.closed {
		r.closed = true
		r.span.SetAttributes(attribute.Int64("db.response.returned_rows", r.n))
		if rerr := r.Rows.Err(); rerr != nil {
			r.span.RecordError(rerr)
			r.span.SetStatus(codes.Error, "reading the rows failed")
		}
		r.span.End()
	}
	return err
}
