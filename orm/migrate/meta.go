package migrate

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// MetaTable is plasma's key/value table of facts about the database,
// created by the first Run: key TEXT PRIMARY KEY, value TEXT NOT NULL.
// Run records the schema version under MetaVersionKey and a snapshot of
// the declared schema under MetaSnapshotKey. Other plasma packages may keep
// their own keys in it.
const MetaTable = orm.ReservedPrefix + "meta"

// The keys Run records in MetaTable.
const (
	// MetaVersionKey holds the version string of the schema last
	// migrated to.
	MetaVersionKey = "schema_version"
	// MetaSnapshotKey holds, as JSON, the tables, column kinds and index
	// names of the schema last migrated to. It tells Run which tables and
	// indexes plasma created, and kinds that share one SQL type apart.
	MetaSnapshotKey = "schema_snapshot"
)

// snapshot is what Run records of a schema: enough to recognise plasma's
// own objects and kinds that share a SQL type.
type snapshot struct {
	Tables map[string]snapTable `json:"tables"`
}

type snapTable struct {
	Columns map[string]snapColumn `json:"columns"`
	Indexes []string              `json:"indexes,omitempty"`
}

type snapColumn struct {
	Kind      string `json:"kind"`
	Encrypted bool   `json:"encrypted,omitempty"`
}

func (s *snapshot) table(name string) (snapTable, bool) {
	if s == nil {
		return snapTable{}, false
	}
	t, ok := s.Tables[name]
	return t, ok
}

func snapshotOf(s *orm.Schema) *snapshot {
	snap := &snapshot{Tables: make(map[string]snapTable, len(s.Tables()))}
	for _, t := range s.Tables() {
		def := t.Def()
		st := snapTable{Columns: make(map[string]snapColumn, len(def.Columns))}
		for _, c := range def.Columns {
			st.Columns[c.Name] = snapColumn{Kind: c.Kind.String(), Encrypted: c.Encrypted}
		}
		for _, ix := range def.Indexes {
			st.Indexes = append(st.Indexes, ix.Name)
		}
		snap.Tables[def.Name] = st
	}
	return snap
}

func kindByName(name string) (tabledef.Kind, bool) {
	for k := tabledef.KindID; k.String() != "invalid"; k++ {
		if k.String() == name {
			return k, true
		}
	}
	return 0, false
}

// recordedClass is the type class a column of kind k is created with.
func recordedClass(d dialect.Dialect, k tabledef.Kind, encrypted, autoIncrement bool) string {
	return declaredClass(d, &tabledef.Column{Kind: k, Encrypted: encrypted, AutoIncrement: autoIncrement})
}

// meta is what MetaTable holds.
type meta struct {
	exists   bool
	version  string
	snapshot *snapshot
}

// readMeta reads MetaTable, if live has it.
func readMeta(ctx context.Context, ex dialect.Executor, d dialect.Dialect, live *Database) (meta, error) {
	if live.Table(MetaTable) == nil {
		return meta{}, nil
	}
	m := meta{exists: true}
	q := "SELECT " + dialect.QuoteIdent("key") + ", " + dialect.QuoteIdent("value") + " FROM " + dialect.QuoteIdent(MetaTable) +
		" WHERE " + dialect.QuoteIdent("key") + " IN (" + placeholders(d, 1, 2) + ")"
	err := queryRows(ctx, ex, q, []any{MetaVersionKey, MetaSnapshotKey}, func(r *sql.Rows) error {
		var k, v string
		if err := r.Scan(&k, &v); err != nil {
			return err
		}
		switch k {
		case MetaVersionKey:
			m.version = v
		case MetaSnapshotKey:
			var s snapshot
			if err := json.Unmarshal([]byte(v), &s); err != nil {
				return fmt.Errorf("%s %q: %w", MetaTable, k, err)
			}
			m.snapshot = &s
		}
		return nil
	})
	if err != nil {
		return meta{}, fmt.Errorf("plasma: migrate: read %s: %w", MetaTable, err)
	}
	return m, nil
}

// writeMeta creates MetaTable if need be and records the version and
// snapshot.
func writeMeta(ctx context.Context, ex dialect.Executor, d dialect.Dialect, version string, snap *snapshot) error {
	create := "CREATE TABLE IF NOT EXISTS " + dialect.QuoteIdent(MetaTable) + " (" +
		dialect.QuoteIdent("key") + " TEXT NOT NULL PRIMARY KEY, " + dialect.QuoteIdent("value") + " TEXT NOT NULL)"
	if _, err := ex.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("plasma: migrate: create %s: %w", MetaTable, err)
	}
	p, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	upsert := "INSERT INTO " + dialect.QuoteIdent(MetaTable) + " (" + dialect.QuoteIdent("key") + ", " + dialect.QuoteIdent("value") +
		") VALUES (" + placeholders(d, 1, 2) + ") ON CONFLICT (" + dialect.QuoteIdent("key") + ") DO UPDATE SET " +
		dialect.QuoteIdent("value") + " = excluded." + dialect.QuoteIdent("value")
	for _, kv := range [][2]string{{MetaVersionKey, version}, {MetaSnapshotKey, string(p)}} {
		if _, err := ex.ExecContext(ctx, upsert, kv[0], kv[1]); err != nil {
			return fmt.Errorf("plasma: migrate: record %s: %w", kv[0], err)
		}
	}
	return nil
}

func placeholders(d dialect.Dialect, from, to int) string {
	var b []byte
	for i := from; i <= to; i++ {
		if i > from {
			b = append(b, ", "...)
		}
		b = d.AppendPlaceholder(b, i)
	}
	return string(b)
}

func snapshotsEqual(a, b *snapshot) bool {
	if a == nil || b == nil {
		return a == b
	}
	// Compare through JSON so that nil and empty index lists agree.
	pa, _ := json.Marshal(a)
	pb, _ := json.Marshal(b)
	return reflect.DeepEqual(pa, pb)
}

// VersionStatus is the schema version recorded in a database next to the
// version a schema declares.
type VersionStatus struct {
	// Recorded is the version the last successful Run recorded, or ""
	// if Run never ran on the database.
	Recorded string `json:"recorded"`
	// Declared is the schema's version.
	Declared string `json:"declared"`
}

// Current reports whether the database was migrated to the declared
// version.
func (v VersionStatus) Current() bool { return v.Recorded != "" && v.Recorded == v.Declared }

// Version reports the schema version recorded in db's database against
// the one s declares. It reads the meta table only: use Diff to see
// whether the tables match s.
func Version(ctx context.Context, s *orm.Schema, db *orm.DB) (VersionStatus, error) {
	if s == nil || db == nil {
		return VersionStatus{}, fmt.Errorf("plasma: migrate.Version: nil schema or database")
	}
	st := VersionStatus{Declared: s.Version()}
	tables, err := orm.ExistingTables(ctx, db)
	if err != nil {
		return st, fmt.Errorf("plasma: migrate.Version: %w", err)
	}
	if !tables[MetaTable] {
		return st, nil
	}
	live := &Database{Dialect: db.Dialect().Name(), Tables: []*TableInfo{{Name: MetaTable}}}
	m, err := readMeta(ctx, db.Executor(), db.Dialect(), live)
	if err != nil {
		return st, err
	}
	st.Recorded = m.version
	return st, nil
}
