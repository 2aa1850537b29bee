package postgres_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/pgx"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/tabledef"
)

// arrayPools are the ways an array argument reaches the server: lib/pq
// as Open opens it (binary array format), lib/pq without the statement
// cache, lib/pq with binary_parameters off, with Open's cache and as
// sql.Open opens it (text literals), and pgx (Go slices).
func arrayPools(t *testing.T, names ...string) map[string]*sql.DB {
	t.Helper()
	dsn := testDSN(t)
	open := map[string]func() (*sql.DB, error){
		"pq":         func() (*sql.DB, error) { return postgres.Open(dsn) },
		"pq_nocache": func() (*sql.DB, error) { return postgres.OpenWith(dsn, postgres.StatementCache(0)) },
		"pq_text": func() (*sql.DB, error) {
			sep := "?"
			if strings.Contains(dsn, "?") {
				sep = "&"
			}
			return postgres.Open(dsn + sep + "binary_parameters=no")
		},
		"pq_plain": func() (*sql.DB, error) { // lib/pq as sql.Open opens it: two round trips, text parameters
			sep := "?"
			if strings.Contains(dsn, "?") {
				sep = "&"
			}
			return sql.Open("postgres", dsn+sep+"binary_parameters=no")
		},
		"pgx": func() (*sql.DB, error) { return pgx.Open(dsn) },
	}
	pools := map[string]*sql.DB{}
	for name, f := range open {
		if len(names) > 0 && !slices.Contains(names, name) {
			continue
		}
		db, err := f()
		if err != nil {
			t.Fatal(name, err)
		}
		t.Cleanup(func() { db.Close() })
		pools[name] = db
	}
	return pools
}

// arrayTexts are text values that a text array literal must quote and
// escape, and ones a binary array must carry as they are.
var arrayTexts = []string{"", "plain", "NULL", "null", `\N`, `"`, `\`, `\\`, `"\"`, "{}", "{a,b}", "}", "{", ",", " ", "  padded  ",
	"tab\there", "new\nline", "\r\n", "héllo ✓ 日本語 🎉", "\u00a0", "\x7f", "\x01\x02", `'single'`, strings.Repeat("x", 10000)}

// TestArrayBinder binds every kind's edge values as one array on each
// driver and reads each element back, in order, as the value bound.
func TestArrayBinder(t *testing.T) {
	ctx := context.Background()
	col := func(k tabledef.Kind) *tabledef.Column { return &tabledef.Column{Name: "c", Kind: k, Nullable: true} }
	blob := make([]byte, 256)
	for i := range blob {
		blob[i] = byte(i)
	}
	textVals := []any{nil}
	for _, s := range arrayTexts {
		textVals = append(textVals, s, nil)
	}
	cases := []struct {
		name string
		col  *tabledef.Column
		vals []any
		read string // the SQL that reads an element back as text
	}{
		{"text", col(tabledef.KindText), textVals, "x"},
		{"crdt", col(tabledef.KindCounter), []any{`{"a":1}`, nil, `{ "b" : 2 }`}, "x"},
		{"encrypted int", &tabledef.Column{Name: "c", Kind: tabledef.KindInt, Encrypted: true}, []any{`{"v":1}`, `"\u0000 escaped"`}, "x"},
		{"json", col(tabledef.KindJSON), []any{`{"a": [1, 2.50, "x\"y"], "b": null}`, `"NULL"`, nil, `"\\"`, `"\u00e9 ✓"`, `1e400`, `[]`, `"a,b}"`}, "x::text"},
		{"int", col(tabledef.KindInt), []any{int64(0), int64(math.MaxInt32), nil, int64(math.MinInt32), int64(-1)}, "x::text"},
		{"bigint", col(tabledef.KindBigInt), []any{int64(math.MaxInt64), int64(math.MinInt64), nil, int64(1<<53 + 1), int64(0)}, "x::text"},
		{"autoincrement", &tabledef.Column{Name: "c", Kind: tabledef.KindBigInt, AutoIncrement: true}, []any{int64(math.MaxInt64), int64(1)}, "x::text"},
		{"bool", col(tabledef.KindBool), []any{true, false, nil, true}, "x::text"},
		{"blob", col(tabledef.KindBlob), []any{blob, []byte{}, nil, []byte(nil), []byte{0}, []byte(`\x00"{},`)}, "encode(x, 'hex')"},
	}
	for name, db := range arrayPools(t) {
		binder := postgres.Dialect.(dialect.ArrayInserter).ArrayBinder(db.Driver())
		if binder == nil {
			t.Fatalf("%s: no array binder for %T", name, db.Driver())
		}
		for _, c := range cases {
			typ, ok := binder.ArrayType(c.col)
			if !ok {
				t.Fatalf("%s/%s: no array type", name, c.name)
			}
			// Every second value, from the second: the binder reads a
			// column out of row-major values.
			vals := make([]any, 0, 2*len(c.vals))
			for _, v := range c.vals {
				vals = append(vals, "other", v)
			}
			arg, ok := binder.BindArray(c.col, vals, 1, 2, len(c.vals))
			if !ok {
				t.Fatalf("%s/%s: BindArray declined", name, c.name)
			}
			rows, err := db.QueryContext(ctx, `SELECT `+c.read+`, x IS NULL FROM unnest($1::`+typ+`) WITH ORDINALITY AS u(x, i) ORDER BY i`, arg)
			if err != nil {
				t.Fatalf("%s/%s: %v", name, c.name, err)
			}
			i := 0
			for ; rows.Next(); i++ {
				var got sql.NullString
				var null bool
				if err := rows.Scan(&got, &null); err != nil {
					t.Fatal(err)
				}
				if i >= len(c.vals) {
					continue
				}
				want := c.vals[i]
				if b, ok := want.([]byte); ok && b == nil {
					want = nil // a nil []byte binds as NULL
				}
				if want == nil {
					if !null {
						t.Errorf("%s/%s[%d] = %q, want NULL", name, c.name, i, got.String)
					}
					continue
				}
				if null {
					t.Errorf("%s/%s[%d] is NULL, want %v", name, c.name, i, want)
					continue
				}
				var single sql.NullString // the value as a parameter of its own reads back as
				if b, ok := want.([]byte); ok {
					single = sql.NullString{String: hex.EncodeToString(b), Valid: true}
				} else if err := db.QueryRowContext(ctx, `SELECT `+c.read+` FROM (SELECT $1::`+strings.TrimSuffix(typ, "[]")+` AS x) s`, want).Scan(&single); err != nil {
					t.Fatalf("%s/%s[%d] alone: %v", name, c.name, i, err)
				}
				if got != single {
					t.Errorf("%s/%s[%d] = %.60q, want %.60q", name, c.name, i, got.String, single.String)
				}
			}
			if err := rows.Close(); err != nil || rows.Err() != nil {
				t.Fatal(err, rows.Err())
			}
			if i != len(c.vals) {
				t.Errorf("%s/%s: %d elements, want %d", name, c.name, i, len(c.vals))
			}
		}
	}
}

// TestArrayBinderDeclines checks that BindArray refuses what it cannot
// encode exactly, so that the insert runs as VALUES and fails, or
// succeeds, as it would have: NUL in text, an int out of 32 bits for
// INTEGER, values of another Go type (a driver.Valuer included).
func TestArrayBinderDeclines(t *testing.T) {
	pqDriver := func() driver.Driver {
		db, err := sql.Open("postgres", "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		return db.Driver()
	}()
	binder := postgres.Dialect.(dialect.ArrayInserter).ArrayBinder(pqDriver)
	if binder == nil {
		t.Fatal("no binder for lib/pq")
	}
	col := func(k tabledef.Kind) *tabledef.Column { return &tabledef.Column{Name: "c", Kind: k, Nullable: true} }
	for _, c := range []struct {
		col *tabledef.Column
		v   any
	}{
		{col(tabledef.KindText), "nul\x00inside"},
		{col(tabledef.KindJSON), `"\u0000"` + "\x00"},
		{col(tabledef.KindText), []byte("bytes")},
		{col(tabledef.KindText), sql.NullString{String: "valuer", Valid: true}},
		{col(tabledef.KindInt), int64(math.MaxInt32 + 1)},
		{col(tabledef.KindInt), int64(math.MinInt32 - 1)},
		{col(tabledef.KindInt), 7}, // an int, not the int64 plasma binds
		{col(tabledef.KindBigInt), "7"},
		{col(tabledef.KindBigInt), 1.5},
		{col(tabledef.KindBool), int64(1)},
		{col(tabledef.KindBlob), "text"},
	} {
		if _, ok := binder.BindArray(c.col, []any{c.v}, 0, 1, 1); ok {
			t.Errorf("%s: bound %#v", c.col.Kind, c.v)
		}
	}
	if b := postgres.Dialect.(dialect.ArrayInserter).ArrayBinder(nil); b != nil {
		t.Errorf("a binder for no driver")
	}
}

// FuzzArrayText checks that any valid UTF-8 text without NUL, in an array
// with NULLs around it, reads back exactly through the text literal
// (lib/pq without the statement cache) and the binary form (lib/pq as
// Open opens it).
func FuzzArrayText(f *testing.F) {
	for _, s := range arrayTexts {
		f.Add(s, "x")
	}
	f.Add(`a\"b`, `"`)
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a+b) || strings.ContainsRune(a+b, 0) {
			t.Skip()
		}
		pools := arrayPools(t, "pq", "pq_nocache")
		col := &tabledef.Column{Name: "c", Kind: tabledef.KindText, Nullable: true}
		vals := []any{a, nil, b, ""}
		for name, db := range pools {
			binder := postgres.Dialect.(dialect.ArrayInserter).ArrayBinder(db.Driver())
			arg, ok := binder.BindArray(col, vals, 0, 1, len(vals))
			if !ok {
				t.Fatalf("%s: declined", name)
			}
			var got []byte
			if err := db.QueryRow(`SELECT convert_to(string_agg(coalesce(x, '<null>'), '|' ORDER BY i), 'UTF8') FROM unnest($1::text[]) WITH ORDINALITY AS u(x, i)`, arg).Scan(&got); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if want := a + "|<null>|" + b + "|"; !bytes.Equal(got, []byte(want)) {
				t.Fatalf("%s: %q, want %q", name, got, want)
			}
		}
	})
}
