package tabledef

// ForeignKey is a column's reference to a column of another table.
type ForeignKey struct {
	Table    string
	Column   string
	OnDelete Action
}

// Column is one column as the DDL sees it.
type Column struct {
	Name          string
	Kind          Kind
	Nullable      bool
	HasDefault    bool
	Default       any // a Go value of the kind: string, int64, bool, []byte or JSON text
	Unique        bool
	Encrypted     bool // stored as an envelope (JSON text) whatever the kind
	AutoIncrement bool // integer primary key assigned by the database
	// AlwaysGenerated, with AutoIncrement, asks that no statement may
	// write the key, where the engine can refuse one (a dialect that is a
	// dialect.GeneratedKeyer); elsewhere the column is a plain AutoIncrement.
	AlwaysGenerated bool
	References      *ForeignKey
}

// Index is a secondary index.
type Index struct {
	Name    string
	Columns []string
	Unique  bool
	// WhereNull makes a partial index: it holds only the rows where
	// every one of these columns is NULL. Both engines have them.
	WhereNull []string
}

// Table is a table as the DDL sees it: the engine-neutral result of a
// schema declaration.
type Table struct {
	Name       string
	Columns    []Column
	PrimaryKey []string
	Indexes    []Index
}

// Column returns the named column, or nil.
func (t *Table) Column(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}
