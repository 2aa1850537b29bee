package migrate_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/tabledef"
)

// DefaultValue reads the engines' spellings of a default as the Go value
// a declaration takes, and says why for what is no value.
func TestDefaultValue(t *testing.T) {
	type want struct {
		v   any    // nil: no default
		err string // a part of the error
	}
	cases := map[string]struct {
		ddl   string
		wants map[string]want
	}{
		"sqlite": {
			ddl: `CREATE TABLE d (id TEXT PRIMARY KEY, s TEXT DEFAULT 'it''s', s_num TEXT DEFAULT 5, i INT DEFAULT (-1), i_str INTEGER DEFAULT '7',
				b BIGINT DEFAULT 9000000000, big_int INT DEFAULT 9000000000, t BOOLEAN DEFAULT TRUE, f BOOLEAN DEFAULT 0, bl BLOB DEFAULT x'00ff',
				n TEXT DEFAULT NULL, none TEXT, now TEXT DEFAULT CURRENT_TIMESTAMP, r REAL DEFAULT 1.5)`,
			wants: map[string]want{
				"s": {v: "it's"}, "s_num": {err: `the default "5" is no text value`}, "i": {v: int64(-1)}, "i_str": {v: int64(7)},
				"b": {v: int64(9000000000)}, "big_int": {err: `the default "9000000000" is no int value`}, "t": {v: true}, "f": {v: false},
				"bl": {v: []byte{0, 0xff}}, "n": {}, "none": {}, "now": {err: `the default "CURRENT_TIMESTAMP" is an expression`},
				"r": {err: `the default "1.5" is on a column of type "REAL", which no plasma kind has`},
			},
		},
		"postgres": {
			ddl: `CREATE TABLE d (id TEXT PRIMARY KEY, s TEXT DEFAULT E'it''s\n', i int4 DEFAULT -1, b int8 DEFAULT '9000000000'::bigint,
				t bool DEFAULT true, bl bytea DEFAULT '\x00ff'::bytea, j jsonb DEFAULT '{"b": 1.50, "a": [1]}'::jsonb,
				n text DEFAULT NULL::text, none text, now timestamptz DEFAULT now(), v varchar(9) DEFAULT 'x'::character varying)`,
			wants: map[string]want{
				"s": {v: "it's\n"}, "i": {v: int64(-1)}, "b": {v: int64(9000000000)}, "t": {v: true}, "bl": {v: []byte{0, 0xff}},
				"j": {v: json.RawMessage(`{"a": [1], "b": 1.50}`)}, "n": {}, "none": {}, "now": {err: "is an expression"}, "v": {v: "x"},
			},
		},
	}
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		skipRefusedExec(t, tg)
		c := cases[tg.Name]
		exec(t, tg.DB, c.ddl)
		live, err := migrate.Introspect(ctx, tg.DB)
		if err != nil {
			t.Fatal(err)
		}
		d := live.Table("d")
		for name, w := range c.wants {
			col := d.Column(name)
			v, ok, err := live.DefaultValue(col)
			switch {
			case w.err != "":
				if err == nil || !strings.Contains(err.Error(), w.err) {
					t.Errorf("%s: got %#v, %v; want an error with %q", name, v, err, w.err)
				}
			case err != nil || ok != (w.v != nil) || !reflect.DeepEqual(v, w.v) && !jsonEqual(v, w.v):
				t.Errorf("%s (%s): got %#v %v %v, want %#v", name, col.Default, v, ok, err, w.v)
			}
		}
	})
}

// jsonEqual compares JSON texts as PostgreSQL's jsonb keeps them (it
// reorders keys).
func jsonEqual(a, b any) bool {
	ra, ok1 := a.(json.RawMessage)
	rb, ok2 := b.(json.RawMessage)
	return ok1 && ok2 && bytes.Equal(ra, rb)
}

// Introspection reports what a plasma schema cannot declare: ON UPDATE
// actions, generated columns (which are not columns to declare), GENERATED
// ALWAYS identities and collations; and which kinds a Run recorded.
func TestIntrospectUndeclarable(t *testing.T) {
	each(t, func(t *testing.T, tg *ormtest.Target) {
		ddl := map[string][]string{
			"sqlite": {`CREATE TABLE p (id TEXT NOT NULL PRIMARY KEY)`,
				`CREATE TABLE c (id TEXT NOT NULL PRIMARY KEY, p_id TEXT REFERENCES p (id) ON DELETE CASCADE ON UPDATE SET NULL, n INT, twice INT GENERATED ALWAYS AS (n * 2))`},
			"postgres": {`CREATE TABLE p (id TEXT PRIMARY KEY)`,
				`CREATE TABLE c (id TEXT PRIMARY KEY, p_id TEXT REFERENCES p (id) ON DELETE CASCADE ON UPDATE SET NULL, n INT, twice INT GENERATED ALWAYS AS (n * 2) STORED)`,
				`CREATE TABLE g (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text COLLATE "C")`},
		}[tg.Name]
		for _, q := range ddl {
			exec(t, tg.DB, q)
		}
		live, err := migrate.Introspect(ctx, tg.DB)
		if err != nil {
			t.Fatal(err)
		}
		c := live.Table("c")
		if fk := c.Column("p_id").References; fk == nil || fk.OnDelete != "CASCADE" || fk.OnUpdate != "SET NULL" {
			t.Fatalf("reference %+v", fk)
		}
		if c.Column("twice") != nil {
			t.Error("a generated column is among the columns")
		}
		for _, u := range []string{"ON UPDATE action", "generated column"} {
			if !slices.Contains(c.Unsupported, u) {
				t.Errorf("Unsupported %q lacks %q", c.Unsupported, u)
			}
		}
		if fk := live.Table("p"); len(fk.Unsupported) != 0 {
			t.Errorf("p: %q", fk.Unsupported)
		}
		if g := live.Table("g"); g != nil && (!slices.Contains(g.Unsupported, "GENERATED ALWAYS identity") || !slices.Contains(g.Unsupported, "COLLATE")) {
			t.Errorf("g: %q", g.Unsupported)
		}
		// A declaration without the generated column diffs empty: migrate
		// leaves it alone rather than dropping it.
		s := schema(t, "1", orm.NewTable("p", orm.ID()),
			orm.NewTable("c", orm.ID(), orm.Text("p_id").Nullable().References("p", "id", tabledef.Cascade), orm.Int("n").Nullable()))
		diff := mustDiff(t, s, tg.DB)
		if !diff.Empty() {
			t.Fatalf("%s", diff)
		}

		if c.Column("n").KindRecorded || live.Version != "" {
			t.Fatal("nothing was recorded yet")
		}
		run(t, s, tg.DB)
		if live, err = migrate.Introspect(ctx, tg.DB); err != nil {
			t.Fatal(err)
		}
		if !live.Table("c").Column("n").KindRecorded || live.Version != "1" {
			t.Fatalf("after Run: %+v, version %q", live.Table("c").Column("n"), live.Version)
		}
	})
}
