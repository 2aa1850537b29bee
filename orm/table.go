package orm

import (
	"context"
	"sync"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/tabledef"
)

// AuthFunc returns the predicate a request may see or touch in a table,
// from values the request context carries (the user id, say). It may
// refer to other tables through subqueries.
type AuthFunc func(ctx context.Context) (expr.Expr, error)

// TableAuth holds a table's row-level rules; the rowauth plugin applies
// them. A nil rule leaves that access unrestricted.
type TableAuth struct {
	Read  AuthFunc
	Write AuthFunc
}

// ConflictResolver decides the row to keep when a synced write meets a
// row changed since the writer last saw it. The sync plugin calls it.
type ConflictResolver func(ctx context.Context, stored, incoming Row) (Row, error)

// Index declares a secondary index.
type Index struct {
	Name    string
	Columns []string
	Unique  bool
}

// TableOptions carries what plugins need to know about a table.
type TableOptions struct {
	// Auth holds the row-level read and write rules.
	Auth TableAuth
	// ResolveConflict, if set, merges concurrent writes to a row.
	ResolveConflict ConflictResolver
	// ChangeLogSuppressed keeps the table out of the change log, and so
	// out of sync: it may have any primary key.
	ChangeLogSuppressed bool
	// External marks a table that plasma maps but does not sync, such as
	// an existing table with an integer or composite key.
	External bool
	// Blobs names the file storage that the table's file columns use.
	Blobs string
	// Indexes are secondary indexes created with the table.
	Indexes []Index
	// SyncScope names the column that partitions the table's readers,
	// such as the list or tenant id its read rule tests
	// (list_id IN (SELECT …)). A text or integer column of a synced
	// table. On PostgreSQL the change log records each change's value
	// of it, and a pull whose rule for the table is that one test reads
	// only the changes in the values the rule admits, not every user's.
	// A write that may move a row to another value (an UPDATE or upsert
	// that sets the column, a write outside the ORM) is logged without
	// one, and every pull reads it. Empty: pulls read all of the
	// table's changes.
	SyncScope string
}

// Table is a declared table. Declare it once, as a package variable, and
// pass it to DefineSchema; a Table is read-only after that.
type Table struct {
	name    string
	alias   string
	columns []Column
	opts    TableOptions
	def     *tabledef.Table // the engine-neutral definition, set by DefineSchema
	// refs are Col's references, one per column in column order, so Col
	// returns the same *expr.Column for a name every time, and a statement
	// recognises its own table's references by address (refIndex). A
	// narrow table finds a name by scanning refs (faster than hashing it);
	// a wide one also has refByName.
	refs      []columnRef
	refByName map[string]int
	// sqlRef is the table in a FROM or JOIN clause: its quoted name, and
	// " AS " and its quoted alias when it has one.
	sqlRef string
	// self is the table as the only source of a SELECT, which the
	// SELECT's scope uses as it is rather than copying it.
	self [1]source
	// kinds are the columns' stored kinds in column order: the Kinds of
	// a SELECT of the whole table, shared, never to be written.
	kinds []tabledef.Kind
	// aliases holds the tables As made, shared by the table and its
	// aliases: a row-auth rule builds its aliases on every statement.
	aliases *aliasCache
	// memo holds what packages derive from this table value (Memo).
	memo *Memo
}

// aliasCache remembers As's results by alias.
type aliasCache struct {
	mu sync.Mutex
	m  map[string]*Table
}

// columnRef is one column's reference and what it resolves to, with its
// SQL text quoted and qualified once, so that rendering it is one copy.
type columnRef struct {
	col expr.Column
	res resolved
}

// maxScanRefs is the widest table whose Col scans refs instead of
// looking the name up in refByName.
const maxScanRefs = 16

// setRefs builds Col's references, qualified by the table's alias (or
// name), and the table's SQL text.
func (t *Table) setRefs() {
	alias := t.Alias()
	t.refs = make([]columnRef, len(t.columns))
	t.kinds = make([]tabledef.Kind, len(t.columns))
	for i := range t.columns {
		t.kinds[i] = storedKind(&t.columns[i].def)
	}
	t.refByName = nil
	for i := range t.columns {
		d := &t.columns[i].def
		col := expr.Column{Table: alias, Name: d.Name}
		t.refs[i] = columnRef{col: col, res: resolved{kind: storedKind(d), nullable: d.Nullable, sql: columnSQL(&col)}}
	}
	if len(t.refs) > maxScanRefs {
		t.refByName = make(map[string]int, len(t.refs))
		for i := range t.refs {
			t.refByName[t.refs[i].col.Name] = i
		}
	}
	t.self[0] = source{alias: alias, table: t, byRef: true}
	t.sqlRef = dialect.QuoteIdent(t.name)
	if t.alias != "" {
		t.sqlRef += " AS " + dialect.QuoteIdent(t.alias)
	}
}

// columnSQL is c as the dialect's Builder writes it: both engines quote
// identifiers alike, so the text suits either.
func columnSQL(c *expr.Column) string {
	if c.Table == "" {
		return dialect.QuoteIdent(c.Name)
	}
	return dialect.QuoteIdent(c.Table) + "." + dialect.QuoteIdent(c.Name)
}

// refIndex returns the position of c among t's references when c is one
// of them (a pointer Col returned), or -1 for a column built elsewhere.
// Nothing changes a node once built, so the reference still names what
// it did when setRefs made it.
func (t *Table) refIndex(c *expr.Column) int {
	if t.refByName != nil {
		if i, ok := t.refByName[c.Name]; ok && &t.refs[i].col == c {
			return i
		}
		return -1
	}
	for i := range t.refs {
		if &t.refs[i].col == c {
			return i
		}
	}
	return -1
}

// NewTable declares a table with its columns.
func NewTable(name string, columns ...Column) *Table {
	t := &Table{name: name, columns: columns, aliases: &aliasCache{}, memo: &Memo{}}
	t.setRefs()
	return t
}

// forgetAliases drops the aliases made so far, which copied the table as
// it was, and the values derived from it (Memo): for With and
// DefineSchema, which change it.
func (t *Table) forgetAliases() {
	if t.aliases != nil {
		t.aliases, t.memo = &aliasCache{}, &Memo{}
	}
}

// With sets the table's options and returns the table.
func (t *Table) With(opts TableOptions) *Table {
	t.opts = opts
	t.forgetAliases()
	return t
}

// Name returns the table's name.
func (t *Table) Name() string { return t.name }

// Alias returns the name the table goes by in a statement: its alias if it
// has one, else its name.
func (t *Table) Alias() string {
	if t.alias != "" {
		return t.alias
	}
	return t.name
}

// As returns the table under an alias, for joining a table twice or to
// itself. Its Col references are qualified by the alias.
func (t *Table) As(alias string) *Table {
	c := t.aliases
	if c == nil {
		return t.as(alias)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.m[alias]; ok {
		return a
	}
	a := t.as(alias)
	if c.m == nil {
		c.m = make(map[string]*Table)
	}
	if len(c.m) < maxAliases {
		c.m[alias] = a
	}
	return a
}

// maxAliases bounds the aliases a table remembers (an alias could come
// from data).
const maxAliases = 64

func (t *Table) as(alias string) *Table {
	a := *t
	a.alias = alias
	if t.memo != nil {
		a.memo = &Memo{}
	}
	a.setRefs()
	return &a
}

// Col refers to a column of the table (or of its alias). A name the table
// does not have is reported, naming the column, when a statement using it
// is built: never a panic here.
func (t *Table) Col(name string) *expr.Column {
	if t.refByName != nil {
		if i, ok := t.refByName[name]; ok {
			return &t.refs[i].col
		}
	} else {
		for i := range t.refs {
			if t.refs[i].col.Name == name {
				return &t.refs[i].col
			}
		}
	}
	return &expr.Column{Table: t.Alias(), Name: name}
}

// Options returns the table's options.
func (t *Table) Options() TableOptions { return t.opts }

// Synced reports whether the table's writes enter the change log.
func (t *Table) Synced() bool { return !t.opts.ChangeLogSuppressed && !t.opts.External }

// Columns returns the declared columns, in order.
func (t *Table) Columns() []Column { return t.columns }

// Column returns the named column's declaration.
func (t *Table) Column(name string) (Column, bool) {
	for _, c := range t.columns {
		if c.def.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// Def returns the engine-neutral definition DDL is rendered from. It is
// nil until the table has been through DefineSchema.
func (t *Table) Def() *tabledef.Table { return t.def }

// PrimaryKey returns the names of the primary key columns.
func (t *Table) PrimaryKey() []string {
	var pk []string
	for _, c := range t.columns {
		if c.primaryKey {
			pk = append(pk, c.def.Name)
		}
	}
	return pk
}
