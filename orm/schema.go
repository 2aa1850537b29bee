package orm

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/tabledef"
)

// Row is a row as a map from column name to value, for writes and for
// scanning without a struct.
type Row map[string]any

// Schema is a versioned set of tables, checked by DefineSchema.
type Schema struct {
	version string
	tables  []*Table
	byName  map[string]*Table
}

// Version returns the schema's version string, which sync clients must
// match.
func (s *Schema) Version() string { return s.version }

// Tables returns the tables in declaration order.
func (s *Schema) Tables() []*Table { return s.tables }

// Table returns the named table, or nil.
func (s *Schema) Table(name string) *Table { return s.byName[name] }

// ReservedPrefix starts the names of plasma's own tables and columns;
// declared names may not use it.
const ReservedPrefix = "_plasma_"

// maxNameBytes is PostgreSQL's identifier limit: longer names are silently
// truncated there, which could make two names collide.
const maxNameBytes = 63

// The definition problems DefineSchema reports. Each error it returns is a
// *SchemaError wrapping one of them, so errors.Is tells them apart.
var (
	ErrEmptyName         = errors.New("empty name")
	ErrBadName           = errors.New("invalid name")
	ErrReservedName      = errors.New("name uses a reserved prefix")
	ErrDuplicateTable    = errors.New("duplicate table")
	ErrDuplicateColumn   = errors.New("duplicate column")
	ErrSyncedTableID     = errors.New("a synced table needs exactly one primary key: the id column, orm.ID()")
	ErrIDName            = errors.New(`an id column must be named "id"`)
	ErrNoPrimaryKey      = errors.New("table has no primary key")
	ErrUnknownReference  = errors.New("reference to an unknown table or column")
	ErrUnknownRefTable   = fmt.Errorf("%w: no such table", ErrUnknownReference)  // errors.Is ErrUnknownReference too
	ErrUnknownRefColumn  = fmt.Errorf("%w: no such column", ErrUnknownReference) // errors.Is ErrUnknownReference too
	ErrDuplicateIndex    = errors.New("duplicate index name")
	ErrDefaultKind       = errors.New("default of the wrong kind")
	ErrInvalidColumnSpec = errors.New("invalid column declaration")
	ErrEmptySchema       = errors.New("schema has no tables")
)

// SchemaError is one problem in a schema definition.
type SchemaError struct {
	Table  string // the table, if the problem is in one
	Column string // the column, if the problem is in one
	Err    error  // one of the Err* definition problems
	Detail string // what exactly is wrong
}

func (e *SchemaError) Error() string {
	var b strings.Builder
	b.WriteString("plasma: schema: ")
	if e.Table != "" {
		fmt.Fprintf(&b, "table %q: ", e.Table)
	}
	if e.Column != "" {
		fmt.Fprintf(&b, "column %q: ", e.Column)
	}
	b.WriteString(e.Err.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func (e *SchemaError) Unwrap() error { return e.Err }

// DefineSchema checks the tables and resolves their references. Every
// problem is reported, each as a *SchemaError, joined into one error;
// nothing is half-defined on error.
func DefineSchema(version string, tables ...*Table) (*Schema, error) {
	c := &schemaCheck{
		byName:  make(map[string]*Table, len(tables)),
		folded:  make(map[string]bool, len(tables)),
		indexes: make(map[string]string),
	}
	if version == "" {
		c.add("", "", ErrEmptyName, "the schema version is empty")
	}
	if len(tables) == 0 {
		c.add("", "", ErrEmptySchema, "")
	}
	for _, t := range tables {
		c.table(t)
	}
	c.indexesVsTables(tables)
	defs := make([]*tabledef.Table, len(tables))
	for i, t := range tables {
		if t != nil {
			defs[i] = c.resolve(t)
		}
	}
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	for i, t := range tables {
		t.def = defs[i]
		t.forgetAliases()
	}
	return &Schema{version: version, tables: tables, byName: c.byName}, nil
}

// MustDefineSchema is DefineSchema for package-level declarations: it
// panics on a definition error, at program start rather than at query time.
func MustDefineSchema(version string, tables ...*Table) *Schema {
	s, err := DefineSchema(version, tables...)
	if err != nil {
		panic(err)
	}
	return s
}

type schemaCheck struct {
	byName  map[string]*Table
	folded  map[string]bool   // table names, ASCII case folded
	indexes map[string]string // index name, ASCII case folded -> its table
	errs    []error
}

// foldName folds ASCII case, as SQLite compares identifiers even when they
// are quoted: two names that differ only so would be one table (or
// column) on SQLite and two on PostgreSQL, so they count as duplicates.
func foldName(n string) string {
	for i := 0; i < len(n); i++ {
		if c := n[i]; 'A' <= c && c <= 'Z' {
			b := []byte(n)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return n
}

func (c *schemaCheck) add(table, column string, err error, detail string) {
	c.errs = append(c.errs, &SchemaError{Table: table, Column: column, Err: err, Detail: detail})
}

// name reports what is wrong with a table or column name, if anything.
func (c *schemaCheck) name(table, column, n string) bool {
	switch {
	case n == "":
		c.add(table, column, ErrEmptyName, "")
	case strings.HasPrefix(strings.ToLower(n), ReservedPrefix):
		c.add(table, column, ErrReservedName, fmt.Sprintf("%q starts with %q, which plasma keeps for its own tables and columns", n, ReservedPrefix))
	case !utf8.ValidString(n) || strings.IndexByte(n, 0) >= 0:
		c.add(table, column, ErrBadName, "names must be valid UTF-8 without NUL bytes")
	case len(n) > maxNameBytes:
		c.add(table, column, ErrBadName, fmt.Sprintf("%d bytes, over the limit of %d", len(n), maxNameBytes))
	default:
		return true
	}
	return false
}

// engineReserved are prefixes the engines keep for their own tables and
// indexes: SQLite refuses to create them, and PostgreSQL looks pg_catalog
// up before the current schema, so a table named like a catalog table
// would be shadowed by it.
var engineReserved = []string{"sqlite_", "pg_"}

// relationName reports a table or index name that an engine reserves.
func (c *schemaCheck) relationName(table, what, n string) bool {
	for _, p := range engineReserved {
		if strings.HasPrefix(foldName(n), p) {
			c.add(table, "", ErrReservedName, fmt.Sprintf("%s name %q starts with %q, which the database engines reserve", what, n, p))
			return false
		}
	}
	return true
}

func (c *schemaCheck) table(t *Table) {
	if t == nil {
		c.add("", "", ErrInvalidColumnSpec, "nil table")
		return
	}
	if !c.name(t.name, "", t.name) || !c.relationName(t.name, "table", t.name) {
		return
	}
	if _, dup := c.byName[t.name]; dup || c.folded[foldName(t.name)] {
		c.add(t.name, "", ErrDuplicateTable, "")
		return
	}
	c.byName[t.name] = t
	c.folded[foldName(t.name)] = true
	seen := make(map[string]bool, len(t.columns))
	folded := make(map[string]bool, len(t.columns))
	for _, col := range t.columns {
		n := col.def.Name
		if !c.name(t.name, n, n) {
			continue
		}
		if folded[foldName(n)] {
			c.add(t.name, n, ErrDuplicateColumn, "")
		}
		seen[n] = true
		folded[foldName(n)] = true
		c.column(t, col)
	}
	c.primaryKey(t)
	c.syncScope(t)
	for _, ix := range t.opts.Indexes {
		if c.name(t.name, "", ix.Name) && c.relationName(t.name, "index", ix.Name) {
			if len(ix.Columns) == 0 {
				c.add(t.name, "", ErrInvalidColumnSpec, fmt.Sprintf("index %q has no columns", ix.Name))
			}
			// Index names share one namespace per database (SQLite) or
			// schema (PostgreSQL); CREATE INDEX IF NOT EXISTS would
			// silently skip the second.
			if other, dup := c.indexes[foldName(ix.Name)]; dup {
				c.add(t.name, "", ErrDuplicateIndex, fmt.Sprintf("index %q is also declared on table %q", ix.Name, other))
			} else {
				c.indexes[foldName(ix.Name)] = t.name
			}
		}
		for _, n := range ix.Columns {
			if !seen[n] {
				c.add(t.name, n, ErrUnknownRefColumn, fmt.Sprintf("index %q names a column the table does not have", ix.Name))
			}
		}
	}
}

// syncScope checks the table's SyncScope: a text or integer column of
// its own, on a synced table.
func (c *schemaCheck) syncScope(t *Table) {
	n := t.opts.SyncScope
	if n == "" {
		return
	}
	if !t.Synced() {
		c.add(t.name, n, ErrInvalidColumnSpec, "SyncScope on a table that is not synced")
		return
	}
	col, ok := t.Column(n)
	if !ok {
		c.add(t.name, n, ErrUnknownRefColumn, "SyncScope names a column the table does not have")
		return
	}
	switch col.def.Kind {
	case tabledef.KindID, tabledef.KindText, tabledef.KindInt, tabledef.KindBigInt:
	default:
		c.add(t.name, n, ErrInvalidColumnSpec, "SyncScope must be a text or integer column")
	}
	if col.def.Encrypted {
		c.add(t.name, n, ErrInvalidColumnSpec, "SyncScope cannot be encrypted: the change log would record the value in clear")
	}
}

// indexesVsTables reports an index named like a table: they share one
// namespace, and CREATE INDEX IF NOT EXISTS would silently skip the index.
func (c *schemaCheck) indexesVsTables(tables []*Table) {
	for _, t := range tables {
		if t == nil || c.byName[t.name] != t {
			continue // reported already
		}
		for _, ix := range t.opts.Indexes {
			if f := foldName(ix.Name); c.folded[f] && c.indexes[f] == t.name {
				c.add(t.name, "", ErrDuplicateIndex, fmt.Sprintf("index %q has the name of a table", ix.Name))
			}
		}
	}
}

func (c *schemaCheck) column(t *Table, col Column) {
	d := col.def
	if d.Kind < tabledef.KindID || d.Kind > tabledef.KindORSet {
		c.add(t.name, d.Name, ErrInvalidColumnSpec, "unknown kind")
		return
	}
	if d.Kind == tabledef.KindID && d.Name != "id" {
		c.add(t.name, d.Name, ErrIDName, "")
	}
	if d.Encrypted && (d.Kind == tabledef.KindID || col.primaryKey) {
		c.add(t.name, d.Name, ErrInvalidColumnSpec, "a primary key cannot be encrypted")
	}
	if d.Encrypted && col.ref != nil {
		c.add(t.name, d.Name, ErrInvalidColumnSpec, "an encrypted column holds envelopes, which never match a referenced key")
	}
	if col.primaryKey && d.Nullable {
		// PostgreSQL forbids NULL in a primary key; SQLite allows it.
		c.add(t.name, d.Name, ErrInvalidColumnSpec, "a primary key column cannot be nullable")
	}
	if d.AutoIncrement && d.HasDefault {
		c.add(t.name, d.Name, ErrInvalidColumnSpec, "an auto-increment key cannot have a default")
	}
	if d.HasDefault && !d.AutoIncrement {
		if detail := checkDefault(d); detail != "" {
			c.add(t.name, d.Name, ErrDefaultKind, detail)
		}
	}
}

func (c *schemaCheck) primaryKey(t *Table) {
	pk := t.PrimaryKey()
	if t.Synced() {
		ids := 0
		for _, col := range t.columns {
			if col.def.Kind == tabledef.KindID {
				ids++
			}
		}
		// A misnamed id column is reported as ErrIDName alone.
		if ids != 1 || len(pk) != 1 || !isIDKey(t, pk[0]) {
			c.add(t.name, "", ErrSyncedTableID,
				"mark the table ChangeLogSuppressed or External to map another key")
		}
		return
	}
	if len(pk) == 0 {
		c.add(t.name, "", ErrNoPrimaryKey, "")
	}
	for _, col := range t.columns {
		if col.def.AutoIncrement && len(pk) > 1 {
			c.add(t.name, col.def.Name, ErrInvalidColumnSpec, "an auto-increment key cannot be part of a composite key")
		}
	}
}

// crdtKind maps a CRDT column kind to the crdt package's kind.
func crdtKind(k tabledef.Kind) crdt.Kind {
	switch k {
	case tabledef.KindCounter:
		return crdt.KindCounter
	case tabledef.KindPNCounter:
		return crdt.KindPNCounter
	case tabledef.KindLWWRegister:
		return crdt.KindLWWRegister
	case tabledef.KindORSet:
		return crdt.KindORSet
	}
	return 0
}

func isIDKey(t *Table, name string) bool {
	c, ok := t.Column(name)
	return ok && c.def.Kind == tabledef.KindID
}

// checkDefault says what is wrong with a column's default, or "".
func checkDefault(d tabledef.Column) string {
	_, detail := normalDefault(d)
	return detail
}

// normalDefault returns the column's default as DDL renders it, or says
// what is wrong with it. JSON-valued kinds take their default as inserts
// take a value (see bindValue): for json a string is a JSON string and
// []byte or json.RawMessage is JSON text; for file and CRDT kinds a string
// is JSON text too. A file default must be a JSON object, and a CRDT
// default a valid state of its kind, stored in canonical form.
func normalDefault(d tabledef.Column) (any, string) {
	v := d.Default
	if v == nil {
		if !d.Nullable {
			return nil, "DEFAULT NULL on a NOT NULL column"
		}
		return nil, ""
	}
	if d.Encrypted {
		return nil, "an encrypted column cannot have a default"
	}
	if d.Kind.IsJSONText() {
		text, err := jsonText(v, d.Kind != tabledef.KindJSON)
		if err != nil {
			return nil, fmt.Sprintf("%s is not a %s value: %v", preview(v), d.Kind, err)
		}
		raw := json.RawMessage(text.(string))
		switch {
		case d.Kind == tabledef.KindFile:
			var obj map[string]json.RawMessage
			if json.Unmarshal(raw, &obj) != nil || obj == nil {
				return nil, fmt.Sprintf("%s is not a file reference (a JSON object)", preview(v))
			}
		case d.Kind.IsCRDT():
			canon, err := crdt.Canonical(crdtKind(d.Kind), raw, crdt.Limits{})
			if err != nil {
				return nil, fmt.Sprintf("%s is not a %s state: %v", preview(v), d.Kind, err)
			}
			raw = canon
		}
		return raw, ""
	}
	ok := false
	switch d.Kind {
	case tabledef.KindID, tabledef.KindText:
		s, isStr := v.(string)
		ok = isStr && strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
	case tabledef.KindInt:
		n, isInt := dialect.AsInt64(v)
		ok = isInt && n >= -1<<31 && n < 1<<31
	case tabledef.KindBigInt:
		_, ok = dialect.AsInt64(v)
	case tabledef.KindBool:
		_, ok = v.(bool)
	case tabledef.KindBlob:
		_, ok = v.([]byte)
	}
	if ok {
		return v, ""
	}
	return nil, fmt.Sprintf("%#v is not a %s value", v, d.Kind)
}

// resolve builds t's engine-neutral definition, resolving references by
// name against the whole schema.
func (c *schemaCheck) resolve(t *Table) *tabledef.Table {
	def := &tabledef.Table{Name: t.name, PrimaryKey: t.PrimaryKey()}
	for _, col := range t.columns {
		d := col.def
		if col.ref != nil {
			d.References = c.reference(t, col)
		}
		if d.HasDefault {
			d.Default, _ = normalDefault(d) // problems were reported by column
		}
		def.Columns = append(def.Columns, d)
	}
	for _, ix := range t.opts.Indexes {
		def.Indexes = append(def.Indexes, tabledef.Index{Name: ix.Name, Columns: ix.Columns, Unique: ix.Unique})
	}
	return def
}

func (c *schemaCheck) reference(t *Table, col Column) *tabledef.ForeignKey {
	r := col.ref
	target, ok := c.byName[r.table]
	if !ok {
		c.add(t.name, col.def.Name, ErrUnknownRefTable, fmt.Sprintf("references %q", r.table))
		return nil
	}
	tc, ok := target.Column(r.column)
	if !ok {
		c.add(t.name, col.def.Name, ErrUnknownRefColumn, fmt.Sprintf("table %q has no column %q", r.table, r.column))
		return nil
	}
	if !tc.def.Unique && !(tc.primaryKey && len(target.PrimaryKey()) == 1) {
		c.add(t.name, col.def.Name, ErrInvalidColumnSpec,
			fmt.Sprintf("references %s.%s, which is neither the primary key nor unique", r.table, r.column))
	}
	if r.onDelete == tabledef.SetNull && !col.def.Nullable {
		c.add(t.name, col.def.Name, ErrInvalidColumnSpec, "ON DELETE SET NULL needs a nullable column")
	}
	if storage(tc.def) != storage(col.def) {
		c.add(t.name, col.def.Name, ErrInvalidColumnSpec,
			fmt.Sprintf("references %s.%s of kind %s with a %s column", r.table, r.column, tc.def.Kind, col.def.Kind))
	}
	return &tabledef.ForeignKey{Table: r.table, Column: r.column, OnDelete: r.onDelete}
}

// storage groups kinds that can reference each other: an id is text, and
// int and bigint are both integers.
func storage(d tabledef.Column) string {
	switch d.Kind {
	case tabledef.KindID, tabledef.KindText:
		return "text"
	case tabledef.KindInt, tabledef.KindBigInt:
		return "integer"
	}
	return d.Kind.String()
}
