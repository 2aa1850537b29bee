package orm

import (
	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/tabledef"
)

// Column declares one column. Constructors (ID, Text, Int, ...) return a
// Column and modifiers return it changed, so a declaration reads as one
// expression: Text("email").Unique().Nullable().
type Column struct {
	def        tabledef.Column
	primaryKey bool
	ref        *reference
}

type reference struct {
	table, column string
	onDelete      tabledef.Action
}

func newColumn(name string, kind tabledef.Kind) Column {
	return Column{def: tabledef.Column{Name: name, Kind: kind}}
}

// ID is the "id" column of a synced table: a UUID text primary key.
func ID() Column {
	c := newColumn("id", tabledef.KindID)
	c.primaryKey = true
	return c
}

// IDNamed declares an id-kind column with another name. Only "id" is
// valid; the constructor exists so the mistake is reported by
// DefineSchema rather than hidden.
func IDNamed(name string) Column {
	c := newColumn(name, tabledef.KindID)
	c.primaryKey = true
	return c
}

// Text is a text column.
func Text(name string) Column { return newColumn(name, tabledef.KindText) }

// Int is a 32-bit integer column.
func Int(name string) Column { return newColumn(name, tabledef.KindInt) }

// BigInt is a 64-bit integer column, read as int64.
func BigInt(name string) Column { return newColumn(name, tabledef.KindBigInt) }

// Boolean is a boolean column.
func Boolean(name string) Column { return newColumn(name, tabledef.KindBool) }

// Blob is a bytes column, read as []byte.
func Blob(name string) Column { return newColumn(name, tabledef.KindBlob) }

// JSON is a column holding any JSON value.
func JSON(name string) Column { return newColumn(name, tabledef.KindJSON) }

// File is a column holding a content-addressed file reference.
func File(name string) Column { return newColumn(name, tabledef.KindFile) }

// CRDTCounter is a grow-only counter column.
func CRDTCounter(name string) Column { return newColumn(name, tabledef.KindCounter) }

// CRDTPNCounter is a counter column that can go up and down.
func CRDTPNCounter(name string) Column { return newColumn(name, tabledef.KindPNCounter) }

// CRDTLWWRegister is a last-writer-wins register column.
func CRDTLWWRegister(name string) Column { return newColumn(name, tabledef.KindLWWRegister) }

// CRDTORSet is an observed-remove (add-wins) set column.
func CRDTORSet(name string) Column { return newColumn(name, tabledef.KindORSet) }

// AutoIncrement is an integer primary key assigned by the database, for
// mapping an existing table. Only unsynced tables may use it.
func AutoIncrement(name string) Column {
	c := newColumn(name, tabledef.KindBigInt)
	c.def.AutoIncrement = true
	c.primaryKey = true
	return c
}

// Nullable lets the column hold NULL; columns are NOT NULL by default.
func (c Column) Nullable() Column { c.def.Nullable = true; return c }

// Default sets the value the database uses when an insert omits the
// column. It must be a value of the column's kind: a string for text, an
// integer for int and bigint, a bool for boolean, []byte for blob, and for
// JSON-valued kinds a json.RawMessage or any value that encodes to JSON.
// nil means DEFAULT NULL and needs Nullable.
func (c Column) Default(v any) Column {
	c.def.HasDefault = true
	c.def.Default = v
	return c
}

// Unique adds a UNIQUE constraint.
func (c Column) Unique() Column { c.def.Unique = true; return c }

// Encrypted marks the column as holding field-encryption envelopes: the
// server stores them as text and never sees plaintext.
func (c Column) Encrypted() Column { c.def.Encrypted = true; return c }

// PrimaryKey makes the column part of the primary key. Only unsynced
// tables may declare primary keys other than ID(); several PrimaryKey
// columns make a composite key.
func (c Column) PrimaryKey() Column { c.primaryKey = true; return c }

// References adds a foreign key to column of table, resolved by name when
// the schema is defined, so tables may reference each other (and
// themselves) in any declaration order. onDelete is one of the tabledef
// actions: tabledef.NoAction, Cascade, Restrict or SetNull.
func (c Column) References(table, column string, onDelete tabledef.Action) Column {
	c.ref = &reference{table: table, column: column, onDelete: onDelete}
	return c
}

// Name returns the column's name.
func (c Column) Name() string { return c.def.Name }

// Kind returns the column's kind.
func (c Column) Kind() tabledef.Kind { return c.def.Kind }

// CRDTKind returns the crdt package's kind for a CRDT column (CRDTCounter,
// CRDTPNCounter, CRDTLWWRegister, CRDTORSet), and 0 for any other column.
func (c Column) CRDTKind() crdt.Kind { return crdtKind(c.def.Kind) }

// storedKind is the kind a column's values are read and compared as: an
// encrypted column holds its envelope as JSON text, whatever its kind.
func storedKind(d *tabledef.Column) tabledef.Kind {
	if d.Encrypted {
		return tabledef.KindText
	}
	return d.Kind
}
