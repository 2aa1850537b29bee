package schemagen

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate"
	"github.com/plasma-go/plasma/tabledef"
)

// gen is one Generate: the declarations built from the live tables, each
// as an orm value (to check) and as Go source (to write), built together
// so that the two say the same.
type gen struct {
	d        dialect.Dialect
	live     *migrate.Database
	opts     Options
	tables   []*tableDecl
	problems []Problem
}

type tableDecl struct {
	live     *migrate.TableInfo
	cols     []*colDecl
	synced   bool
	indexes  []orm.Index
	notes    []string // comments on the table
	skip     bool     // left out: notes say why
	tableVal *orm.Table
}

type colDecl struct {
	name  string
	col   orm.Column
	src   string // the Go expression declaring col
	ref   string // the Go source of its References modifier, if any
	refFn func(orm.Column) orm.Column
	notes []string // comments before it
	skip  bool     // left out: notes say why
}

// problem records p and notes it on the table, or on column c of it.
func (g *gen) problem(td *tableDecl, c *colDecl, column, what string) {
	g.problems = append(g.problems, Problem{Table: td.live.Name, Column: column, What: what})
	if c != nil {
		c.notes = append(c.notes, what)
	} else if column != "" {
		td.notes = append(td.notes, fmt.Sprintf("column %q: %s", column, what))
	} else {
		td.notes = append(td.notes, what)
	}
}

func (g *gen) find(table string) *tableDecl {
	for _, td := range g.tables {
		if td.live.Name == table {
			return td
		}
	}
	return nil
}

// table declares one live table.
func (g *gen) table(t *migrate.TableInfo) *tableDecl {
	td := &tableDecl{live: t}
	if len(t.PrimaryKey) == 0 {
		td.skip = true
		g.problem(td, nil, "", "it has no primary key, and plasma declares only tables with one")
		return td
	}
	if len(t.Unsupported) > 0 {
		td.notes = append(td.notes, "The table also has what a plasma schema cannot declare: "+strings.Join(t.Unsupported, ", ")+
			". The database keeps it: migrate leaves it in place, and on SQLite never rebuilds this table.")
	}
	for i := range t.Columns {
		td.cols = append(td.cols, g.column(td, &t.Columns[i]))
	}
	for _, c := range td.cols {
		if c.col.Kind() == tabledef.KindID && !c.skip && slices.Equal(t.PrimaryKey, []string{c.name}) {
			td.synced = true
		}
	}
	for _, ix := range t.Indexes {
		if ix.Partial || ix.Expression {
			what := "partial"
			if ix.Expression {
				what = "on expressions"
			}
			td.notes = append(td.notes, fmt.Sprintf("Index %q is %s, which a plasma schema cannot declare: it is not declared, and migrate leaves it alone.", ix.Name, what))
			continue
		}
		td.indexes = append(td.indexes, orm.Index{Name: ix.Name, Columns: slices.Clone(ix.Columns), Unique: ix.Unique})
	}
	return td
}

// ctors are the column constructors by kind.
var ctors = map[tabledef.Kind]struct {
	name string
	fn   func(string) orm.Column
}{
	tabledef.KindText:        {"Text", orm.Text},
	tabledef.KindInt:         {"Int", orm.Int},
	tabledef.KindBigInt:      {"BigInt", orm.BigInt},
	tabledef.KindBool:        {"Boolean", orm.Boolean},
	tabledef.KindBlob:        {"Blob", orm.Blob},
	tabledef.KindJSON:        {"JSON", orm.JSON},
	tabledef.KindFile:        {"File", orm.File},
	tabledef.KindCounter:     {"CRDTCounter", orm.CRDTCounter},
	tabledef.KindPNCounter:   {"CRDTPNCounter", orm.CRDTPNCounter},
	tabledef.KindLWWRegister: {"CRDTLWWRegister", orm.CRDTLWWRegister},
	tabledef.KindORSet:       {"CRDTORSet", orm.CRDTORSet},
}

// column declares one live column of td.
func (g *gen) column(td *tableDecl, c *migrate.ColumnInfo) *colDecl {
	t := td.live
	cd := &colDecl{name: c.Name}
	pk := slices.Contains(t.PrimaryKey, c.Name)
	soleKey := pk && len(t.PrimaryKey) == 1
	idKey := soleKey && !c.Encrypted && (c.Kind == tabledef.KindID ||
		c.Kind == tabledef.KindText && !c.KindRecorded && c.Name == "id" && !c.AutoIncrement)
	switch {
	case c.Kind == 0:
		cd.skip = true
		g.problem(td, cd, c.Name, fmt.Sprintf("no plasma kind has its type %q", c.Type))
		return cd
	case idKey:
		cd.col, cd.src = orm.ID(), "orm.ID()"
	case c.AutoIncrement && soleKey:
		cd.col, cd.src = orm.AutoIncrement(c.Name), "orm.AutoIncrement("+strconv.Quote(c.Name)+")"
		g.typeNote(cd, c)
		return cd // the database assigns it: no nullability, default or reference to declare
	default:
		if c.AutoIncrement {
			g.problem(td, cd, c.Name, fmt.Sprintf("the database assigns it (%s), but it is not the table's only key column, as orm.AutoIncrement is; it is declared as a plain column, without its default", c.Type))
		}
		k := c.Kind
		if k == tabledef.KindID {
			k = tabledef.KindText
		}
		ct := ctors[k]
		cd.col, cd.src = ct.fn(c.Name), "orm."+ct.name+"("+strconv.Quote(c.Name)+")"
	}
	mod := func(src string, f func(orm.Column) orm.Column) {
		cd.col, cd.src = f(cd.col), cd.src+"."+src
	}
	if c.Encrypted {
		mod("Encrypted()", orm.Column.Encrypted)
	}
	if pk && !idKey {
		mod("PrimaryKey()", orm.Column.PrimaryKey)
	}
	switch {
	case c.Nullable && pk:
		g.problem(td, cd, c.Name, "the database lets this key column hold NULL (SQLite does unless it says NOT NULL); it is declared NOT NULL, as plasma requires, so migrate would tighten it")
	case c.Nullable:
		mod("Nullable()", orm.Column.Nullable)
	}
	if c.Unique {
		mod("Unique()", orm.Column.Unique)
	}
	if !c.AutoIncrement { // an identity's default is its sequence
		g.columnDefault(td, cd, c)
	}
	g.reference(td, cd, c)
	if !cd.skip {
		g.typeNote(cd, c)
		if g.d.Name() == "sqlite" && soleKey && strings.EqualFold(c.Type, "INTEGER") && !c.AutoIncrement {
			cd.notes = append(cd.notes, "SQLite assigns this INTEGER PRIMARY KEY (the rowid) when an insert leaves it out. "+
				"orm.AutoIncrement would declare AUTOINCREMENT too, which the table lacks, so it is declared as a plain key.")
		}
	}
	return cd
}

// typeNote notes a live type spelled otherwise than plasma creates the
// declared kind: the same type to migrate (VARCHAR(50) and TEXT), but a
// length or precision the declaration does not carry.
func (g *gen) typeNote(cd *colDecl, c *migrate.ColumnInfo) {
	def := cd.col.Kind()
	want := dialect.BaseType(g.d, &tabledef.Column{Kind: def, Encrypted: c.Encrypted, AutoIncrement: c.AutoIncrement})
	if !strings.EqualFold(strings.Join(strings.Fields(c.Type), " "), want) {
		cd.notes = append(cd.notes, fmt.Sprintf("The database's type is %q, which migrate takes for %s, the type plasma gives a %s column, and leaves as it is.", c.Type, want, def))
	}
}

// columnDefault declares c's default, if it has one the DSL can say.
func (g *gen) columnDefault(td *tableDecl, cd *colDecl, c *migrate.ColumnInfo) {
	v, ok, err := g.live.DefaultValue(c)
	if err != nil {
		g.problem(td, cd, c.Name, err.Error()+"; plasma declares literal defaults only, so the column is declared without one and migrate would drop it")
		return
	}
	if !ok {
		return
	}
	src, ok := goValue(c.Kind, v)
	if !ok {
		g.problem(td, cd, c.Name, fmt.Sprintf("its default %q cannot be written in Go, so the column is declared without one", c.Default))
		return
	}
	cd.col, cd.src = cd.col.Default(v), cd.src+".Default("+src+")"
}

// reference declares c's foreign key, if the DSL can say it.
func (g *gen) reference(td *tableDecl, cd *colDecl, c *migrate.ColumnInfo) {
	r := c.References
	if r == nil {
		return
	}
	action, ok := actions[r.OnDelete]
	if !ok {
		g.problem(td, cd, c.Name, fmt.Sprintf("its reference to %q (%q) is ON DELETE %s, an action plasma cannot declare, so the column is declared without the reference", r.Table, r.Column, r.OnDelete))
		return
	}
	cd.ref = fmt.Sprintf(".References(%s, %s, tabledef.%s)", strconv.Quote(r.Table), strconv.Quote(r.Column), action.name)
	cd.refFn = func(col orm.Column) orm.Column { return col.References(r.Table, r.Column, action.a) }
	if r.OnUpdate != "" && r.OnUpdate != "NO ACTION" {
		cd.notes = append(cd.notes, fmt.Sprintf("The database's reference also has ON UPDATE %s, which a plasma schema cannot declare; the database keeps it.", r.OnUpdate))
	}
}

var actions = map[string]struct {
	name string
	a    tabledef.Action
}{
	"NO ACTION": {"NoAction", tabledef.NoAction},
	"CASCADE":   {"Cascade", tabledef.Cascade},
	"RESTRICT":  {"Restrict", tabledef.Restrict},
	"SET NULL":  {"SetNull", tabledef.SetNull},
}

// goValue writes a default value, as DefaultValue returns it, in Go.
func goValue(k tabledef.Kind, v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return goString(v), true
	case int64:
		if k == tabledef.KindInt {
			return strconv.FormatInt(v, 10), true
		}
		return "int64(" + strconv.FormatInt(v, 10) + ")", true
	case bool:
		return strconv.FormatBool(v), true
	case []byte:
		var b strings.Builder
		b.WriteString("[]byte{")
		for i, c := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "0x%02x", c)
		}
		b.WriteString("}")
		return b.String(), true
	case json.RawMessage:
		return "json.RawMessage(" + goString(string(v)) + ")", true
	}
	return "", false
}

// define builds the orm tables and defines the schema. What DefineSchema
// refuses is a problem: a reference is left out first, then the column,
// then the table, until the rest defines.
func (g *gen) define() (*orm.Schema, error) {
	for range 3 * (len(g.tables) + g.columns() + 1) {
		var tables []*orm.Table
		for _, td := range g.tables {
			if !td.skip {
				td.tableVal = td.build()
				tables = append(tables, td.tableVal)
			}
		}
		if len(tables) == 0 {
			return nil, &UnsupportedError{Dialect: g.live.Dialect, Problems: g.problems}
		}
		s, err := orm.DefineSchema(g.opts.Version, tables...)
		if err == nil {
			return s, nil
		}
		if !g.refused(err) {
			return nil, fmt.Errorf("plasma: schemagen: the declaration does not define: %w", err)
		}
	}
	return nil, errors.New("plasma: schemagen: the declaration does not define") // unreachable: each round leaves something out
}

func (g *gen) columns() int {
	n := 0
	for _, td := range g.tables {
		n += len(td.cols)
	}
	return n
}

// refused leaves out what each of DefineSchema's errors names, and
// reports whether it named anything it could leave out.
func (g *gen) refused(err error) bool {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	progress := false
	for _, e := range errs {
		var se *orm.SchemaError
		if !errors.As(e, &se) {
			continue
		}
		td := g.find(se.Table)
		if td == nil || td.skip {
			continue
		}
		if cd := td.column(se.Column); cd != nil && !cd.skip {
			if cd.refFn != nil {
				g.problem(td, cd, cd.name, "plasma cannot declare its reference ("+se.Error()+"); declared without it")
				cd.ref, cd.refFn = "", nil
			} else {
				g.problem(td, cd, cd.name, "plasma cannot declare it ("+se.Error()+"); left out")
				cd.skip = true
			}
			progress = true
			continue
		}
		if se.Column == "" || td.column(se.Column) == nil {
			g.problem(td, nil, "", "plasma cannot declare it ("+se.Error()+"); left out")
			td.skip = true
			progress = true
		}
	}
	return progress
}

func (td *tableDecl) column(name string) *colDecl {
	for _, c := range td.cols {
		if c.name == name {
			return c
		}
	}
	return nil
}

// build returns the table as declared.
func (td *tableDecl) build() *orm.Table {
	var cols []orm.Column
	for _, c := range td.cols {
		if c.skip {
			continue
		}
		col := c.col
		if c.refFn != nil {
			col = c.refFn(col)
		}
		cols = append(cols, col)
	}
	t := orm.NewTable(td.live.Name, cols...)
	if opts := td.options(); opts.External || len(opts.Indexes) > 0 {
		t.With(opts)
	}
	return t
}

func (td *tableDecl) options() orm.TableOptions {
	var ixs []orm.Index
	for _, ix := range td.indexes {
		if td.hasColumns(ix.Columns) {
			ixs = append(ixs, ix)
		}
	}
	return orm.TableOptions{External: !td.synced, Indexes: ixs}
}

// hasColumns reports whether every one of names is declared.
func (td *tableDecl) hasColumns(names []string) bool {
	for _, n := range names {
		if c := td.column(n); c == nil || c.skip {
			return false
		}
	}
	return true
}

// goString writes s as a Go string literal: a raw one when s has double
// quotes and can be one, for reading.
func goString(s string) string {
	if strings.Contains(s, `"`) && strconv.CanBackquote(s) {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}
