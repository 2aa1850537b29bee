package migrate

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/tabledef"
)

func TestTypeClass(t *testing.T) {
	cases := []struct{ dialect, typ, want string }{
		{"sqlite", "TEXT", classText},
		{"sqlite", "text", classText},
		{"sqlite", "VARCHAR(255)", classText},
		{"sqlite", "INTEGER", classInteger},
		{"sqlite", "INT", classInteger},
		{"sqlite", "BIGINT", classBigInt},
		{"sqlite", "boolean", classBool},
		{"sqlite", "BLOB", classBlob},
		{"sqlite", "JSONB", "jsonb"}, // not a plasma type on SQLite: only equals itself
		{"sqlite", "REAL", "real"},
		{"postgres", "text", classText},
		{"postgres", "character varying(20)", classText},
		{"postgres", "integer", classInteger},
		{"postgres", "bigint", classBigInt},
		{"postgres", "boolean", classBool},
		{"postgres", "bytea", classBlob},
		{"postgres", "jsonb", classJSONB},
		{"postgres", "json", classJSONB},
		{"postgres", "timestamp with time zone", "timestamp with time zone"},
		{"postgres", "smallint", "smallint"},
	}
	for _, c := range cases {
		if got := typeClass(c.dialect, c.typ); got != c.want {
			t.Errorf("typeClass(%s, %q) = %q, want %q", c.dialect, c.typ, got, c.want)
		}
	}
}

// Every kind's declared type must land in the class of the type the
// engine reports back for it.
func TestDeclaredClassMatchesReported(t *testing.T) {
	reported := map[string]map[string]string{
		"sqlite":   {"TEXT": "TEXT", "INTEGER": "INTEGER", "BIGINT": "BIGINT", "BOOLEAN": "BOOLEAN", "BLOB": "BLOB"},
		"postgres": {"TEXT": "text", "INTEGER": "integer", "BIGINT": "bigint", "BOOLEAN": "boolean", "BYTEA": "bytea", "JSONB": "jsonb"},
	}
	for _, d := range []dialect.Dialect{sqlite.Dialect, postgres.Dialect} {
		for k := tabledef.KindID; k.String() != "invalid"; k++ {
			for _, enc := range []bool{false, true} {
				c := &tabledef.Column{Kind: k, Encrypted: enc}
				typ := d.ColumnType(c)
				rep, ok := reported[d.Name()][typ]
				if !ok {
					t.Fatalf("%s: no reported type for %s", d.Name(), typ)
				}
				if declaredClass(d, c) != typeClass(d.Name(), rep) {
					t.Errorf("%s %s: declared class %q, reported class %q", d.Name(), k, declaredClass(d, c), typeClass(d.Name(), rep))
				}
			}
		}
		auto := &tabledef.Column{Kind: tabledef.KindBigInt, AutoIncrement: true}
		want := map[string]string{"sqlite": classInteger, "postgres": classBigInt}[d.Name()]
		if got := declaredClass(d, auto); got != want {
			t.Errorf("%s auto-increment class %q, want %q", d.Name(), got, want)
		}
	}
}

func TestParseDefault(t *testing.T) {
	cases := []struct {
		expr, class, want string
	}{
		{"'x''y\\z'::text", classText, `str:x'y\z`},
		{"'x''y\\z'", classText, `str:x'y\z`},
		{"E'a\\nb'", classText, "str:a\nb"},
		{"('abc'::character varying)", classText, "str:abc"},
		{"'-5'::integer", classBigInt, "int:-5"},
		{"-5", classBigInt, "int:-5"},
		{"(-5)", classInteger, "int:-5"},
		{"'9000000000'::bigint", classBigInt, "int:9000000000"},
		{"true", classBool, "bool:true"},
		{"1", classBool, "bool:true"},
		{"0", classBool, "bool:false"},
		{"FALSE", classBool, "bool:false"},
		{"X'00FF'", classBlob, "blob:00ff"},
		{"'\\x00ff'::bytea", classBlob, "blob:00ff"},
		{`'{"a": [1, 2.50], "b": 1}'::jsonb`, classJSONB, `json:{"a":[1,5/2],"b":1}`},
		{`'{"b":1,"a":[1,2.5]}'`, classJSONB, `json:{"a":[1,5/2],"b":1}`},
		{"NULL", classText, "null"},
		{"NULL::text", classText, "null"},
		{"", classText, "null"},
		{"nextval('\"we\"\"ird_i_seq\"'::regclass)", classBigInt, `expr:nextval('"we""ird_i_seq"'::regclass)`},
		{"now()", "timestamp with time zone", "expr:now()"},
		{"CURRENT_TIMESTAMP", classText, "expr:current_timestamp"},
		{"'a'::text || 'b'::text", classText, "expr:'a'::text || 'b'::text"},
	}
	for _, c := range cases {
		if got := canonicalDefault(parseDefault(c.expr), c.class); got != c.want {
			t.Errorf("canonical(%q, %s) = %q, want %q", c.expr, c.class, got, c.want)
		}
	}
}

func TestAllowanceRoundTrip(t *testing.T) {
	for _, a := range []Allowance{
		Allow(OpDropColumn, "todos", "note"),
		Allow(OpDropTable, "legacy", ""),
		AllowRenameColumn("todos", "title", "name"),
		AllowRenameTable("old", "new"),
		Allow(OpDropIndex, `we"ird ☃`, "ix.1 to x"),
		Allow(OpChangeForeignKey, "a.b", "c d"),
	} {
		got, err := ParseAllowance(a.String())
		if err != nil || got != a {
			t.Errorf("ParseAllowance(%q) = %+v, %v; want %+v", a.String(), got, err, a)
		}
	}
	if s := AllowRenameColumn("todos", "title", "name").String(); s != "rename column todos.title to name" {
		t.Errorf("got %q", s)
	}
	for _, bad := range []string{"", "explode table x", "drop table", `drop table "x`, "drop column a.b c"} {
		if _, err := ParseAllowance(bad); err == nil {
			t.Errorf("ParseAllowance(%q): want an error", bad)
		}
	}
}

func TestSQLiteKeywords(t *testing.T) {
	w := sqliteKeywords(`CREATE TABLE "CHECK AUTOINCREMENT" ('x' TEXT DEFAULT 'COLLATE', [STRICT] INT) -- WITHOUT ROWID`)
	for _, k := range []string{"CHECK", "AUTOINCREMENT", "COLLATE", "STRICT", "WITHOUT"} {
		if w[k] {
			t.Errorf("%s found inside quotes or a comment", k)
		}
	}
	if !sqliteKeywords(`CREATE TABLE t (a INT CHECK (a > 0))`)["CHECK"] {
		t.Error("CHECK not found")
	}
}

// FuzzTextDefault: any text default renders, parses back and compares
// equal on both engines' spellings, so no text default re-diffs.
func FuzzTextDefault(f *testing.F) {
	for _, s := range []string{"", "x", "it's", `a\b`, "☃ 'q' \"dq\"", "::text", "(x)", "E'x'", "1", "NULL", "\n\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		for i := 0; i < len(s); i++ {
			if s[i] == 0 {
				return
			}
		}
		for _, d := range []dialect.Dialect{sqlite.Dialect, postgres.Dialect} {
			c := &tabledef.Column{Name: "c", Kind: tabledef.KindText, HasDefault: true, Default: s}
			want := declaredDefault(d, c)
			if want != "str:"+s {
				t.Fatalf("%s: declared default of %q is %q", d.Name(), s, want)
			}
			lit, _ := dialect.AppendDefault(d, nil, c)
			reported := string(lit)
			if d.Name() == "postgres" {
				reported += "::text"
			}
			if got := liveDefault(d.Name(), &ColumnInfo{Type: d.ColumnType(c), HasDefault: true, Default: reported}); got != want {
				t.Fatalf("%s: %q reported as %q canonicalises to %q, want %q", d.Name(), s, reported, got, want)
			}
		}
	})
}

// FuzzJSONDefault: a JSON default compares equal to its jsonb rendering
// (keys sorted, spaces added).
func FuzzJSONDefault(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[1,2.50,"x"]}`, `null`, `"s"`, `[]`, `{"k":{"z":true,"a":null}}`, `1e2`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// jsonb keeps numbers exact, as json.Number does.
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var v any
		if !json.Valid([]byte(s)) || dec.Decode(&v) != nil {
			return
		}
		c := &tabledef.Column{Name: "j", Kind: tabledef.KindJSON, HasDefault: true, Default: json.RawMessage(s)}
		want := declaredDefault(postgres.Dialect, c)
		// What jsonb gives back: Go's re-encoding with spaces after separators.
		p, _ := json.MarshalIndent(v, "", "")
		reported := "'" + string(p) + "'::jsonb"
		reported = replaceQuotes(reported)
		if got := liveDefault("postgres", &ColumnInfo{Type: "jsonb", HasDefault: true, Default: reported}); got != want {
			t.Fatalf("%q: live %q canonicalises to %q, declared to %q", s, reported, got, want)
		}
	})
}

// replaceQuotes doubles the single quotes inside a quoted literal.
func replaceQuotes(lit string) string {
	inner := lit[1 : len(lit)-len("'::jsonb")]
	out := "'"
	for _, r := range inner {
		if r == '\'' {
			out += "''"
		} else {
			out += string(r)
		}
	}
	return out + "'::jsonb"
}

// FuzzAllowanceNames: any names survive the step ID round trip.
func FuzzAllowanceNames(f *testing.F) {
	f.Add("todos", "note")
	f.Add(`we"ird ☃`, `a.b to "c"`)
	f.Fuzz(func(t *testing.T, table, name string) {
		if table == "" || !utf8.ValidString(table) || !utf8.ValidString(name) {
			return
		}
		a := Allow(OpDropColumn, table, name)
		got, err := ParseAllowance(a.String())
		if err != nil || got != a {
			t.Fatalf("%q: got %+v, %v", a.String(), got, err)
		}
	})
}

// FuzzParseDefault: no default expression, however hostile, panics the
// parser, and parsing is deterministic.
func FuzzParseDefault(f *testing.F) {
	for _, s := range []string{"'x'::text", "E'\\'", "X'0'", "((1))", "'a'::t::u", "(", ")", "'", "::", "-", "1e", "nextval('s'::regclass)", "'\\x0g'::bytea"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, class := range []string{classText, classInteger, classBigInt, classBool, classBlob, classJSONB, "real"} {
			a := canonicalDefault(parseDefault(s), class)
			if b := canonicalDefault(parseDefault(s), class); a != b {
				t.Fatalf("%q: %q then %q", s, a, b)
			}
		}
	})
}

func TestColumnInfoJSON(t *testing.T) {
	c := ColumnInfo{Name: "n", Type: "BIGINT", Kind: tabledef.KindLWWRegister, Nullable: true}
	p, err := json.Marshal(c)
	if err != nil || !strings.Contains(string(p), `"kind":"crdtLwwRegister"`) {
		t.Fatalf("%s %v", p, err)
	}
	var back ColumnInfo
	if err := json.Unmarshal(p, &back); err != nil || back != c {
		t.Fatalf("%+v %v", back, err)
	}
}
