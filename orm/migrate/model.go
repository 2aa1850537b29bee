package migrate

import (
	"encoding/json"
	"fmt"

	"github.com/plasma-go/plasma/tabledef"
)

// Database is a live database's schema as Introspect found it: the tables
// of the SQLite database, or of the PostgreSQL connection's current
// schema.
type Database struct {
	// Dialect is "sqlite" or "postgres".
	Dialect string `json:"dialect"`
	// Tables are sorted by name. plasma's own tables (named with
	// orm.ReservedPrefix) are included; diffs ignore them.
	Tables []*TableInfo `json:"tables"`
	// Version is the schema version the last Run recorded in MetaTable,
	// or "" if none did.
	Version string `json:"version,omitempty"`
}

// Table returns the named table, or nil.
func (db *Database) Table(name string) *TableInfo {
	for _, t := range db.Tables {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// TableInfo is one live table.
type TableInfo struct {
	Name string `json:"name"`
	// Columns are in the table's column order.
	Columns []ColumnInfo `json:"columns"`
	// PrimaryKey names the primary key columns in key order.
	PrimaryKey []string `json:"primaryKey,omitempty"`
	// PrimaryKeyName is the primary key constraint's name (PostgreSQL).
	PrimaryKeyName string `json:"primaryKeyName,omitempty"`
	// Indexes are the secondary indexes: not those that back a primary
	// key or UNIQUE constraint.
	Indexes []IndexInfo `json:"indexes,omitempty"`
	// Unsupported lists what the table has that a plasma schema cannot
	// declare (a CHECK constraint, a multi-column UNIQUE constraint or
	// foreign key, an ON UPDATE action, a generated column, WITHOUT
	// ROWID, ...). Such a table is never rebuilt, since a rebuild would
	// lose these. Generated columns are not among Columns.
	Unsupported []string `json:"unsupported,omitempty"`

	sql string // SQLite: the CREATE TABLE text
}

// Column returns the named column, or nil.
func (t *TableInfo) Column(name string) *ColumnInfo {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// Index returns the named secondary index, or nil.
func (t *TableInfo) Index(name string) *IndexInfo {
	for i := range t.Indexes {
		if t.Indexes[i].Name == name {
			return &t.Indexes[i]
		}
	}
	return nil
}

// ColumnInfo is one live column.
type ColumnInfo struct {
	Name string `json:"name"`
	// Type is the SQL type as the database reports it, such as "BIGINT"
	// (SQLite keeps the declared spelling) or "character varying(20)".
	Type string `json:"type"`
	// Kind is the normalised kind: the kind recorded for the column by
	// the last Run if its type still fits that kind, otherwise the kind
	// whose type Type is (text, int, bigint, boolean, blob, or json on
	// PostgreSQL). It is 0 for a type no kind maps to.
	Kind tabledef.Kind `json:"kind"`
	// Encrypted is true when the last Run recorded the column as
	// encrypted.
	Encrypted bool `json:"encrypted,omitempty"`
	// KindRecorded is true when Kind and Encrypted come from what the
	// last Run recorded rather than from Type alone.
	KindRecorded bool `json:"kindRecorded,omitempty"`
	// Nullable is true when the column accepts NULL.
	Nullable bool `json:"nullable"`
	// Default is the default expression as the database reports it, such
	// as "'x'::text"; HasDefault tells an absent default from any other.
	Default    string `json:"default,omitempty"`
	HasDefault bool   `json:"hasDefault,omitempty"`
	// Unique is true when a single-column UNIQUE constraint covers the
	// column; UniqueName is the constraint's name (PostgreSQL).
	Unique     bool   `json:"unique,omitempty"`
	UniqueName string `json:"uniqueName,omitempty"`
	// AutoIncrement is true for an identity or serial column
	// (PostgreSQL) or an INTEGER PRIMARY KEY AUTOINCREMENT (SQLite).
	AutoIncrement bool `json:"autoIncrement,omitempty"`
	// References is the column's single-column foreign key, or nil.
	References *ForeignKeyInfo `json:"references,omitempty"`
}

// ForeignKeyInfo is a live single-column foreign key.
type ForeignKeyInfo struct {
	// Name is the constraint's name (PostgreSQL).
	Name string `json:"name,omitempty"`
	// Table and Column are what the key references.
	Table  string `json:"table"`
	Column string `json:"column"`
	// OnDelete is the action's SQL spelling: "NO ACTION", "CASCADE",
	// "RESTRICT", "SET NULL" or "SET DEFAULT".
	OnDelete string `json:"onDelete"`
	// OnUpdate is the ON UPDATE action, spelled as OnDelete. A plasma
	// schema cannot declare one: any other than "NO ACTION" is listed
	// in the table's Unsupported too.
	OnUpdate string `json:"onUpdate,omitempty"`
}

// IndexInfo is a live secondary index.
type IndexInfo struct {
	Name string `json:"name"`
	// Columns are the indexed columns in index order.
	Columns []string `json:"columns"`
	// Unique is true for a unique index.
	Unique bool `json:"unique,omitempty"`
	// Partial is true for an index with a WHERE clause; Expression for
	// one on an expression rather than columns (its Columns hold "" for
	// each expression). A declared index never equals either.
	Partial    bool `json:"partial,omitempty"`
	Expression bool `json:"expression,omitempty"`

	sql string // SQLite: the CREATE INDEX text, to recreate it after a rebuild
}

// columnJSON is ColumnInfo with its kind as a name.
type columnJSON struct {
	plainColumn
	Kind string `json:"kind,omitempty"`
}

type plainColumn ColumnInfo

// MarshalJSON writes the column with its kind by name, such as "bigint".
func (c ColumnInfo) MarshalJSON() ([]byte, error) {
	j := columnJSON{plainColumn: plainColumn(c)}
	if c.Kind != 0 {
		j.Kind = c.Kind.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *ColumnInfo) UnmarshalJSON(p []byte) error {
	var j columnJSON
	if err := json.Unmarshal(p, &j); err != nil {
		return err
	}
	*c = ColumnInfo(j.plainColumn)
	c.Kind = 0
	if j.Kind != "" {
		k, ok := kindByName(j.Kind)
		if !ok {
			return fmt.Errorf("plasma: migrate: unknown kind %q", j.Kind)
		}
		c.Kind = k
	}
	return nil
}
