package migrate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
)

// sqliteRebuilds reports whether SQLite's ALTER TABLE cannot apply the
// step, so its table must be rebuilt.
func (pl *planner) sqliteRebuilds(st Step) bool {
	switch st.Op {
	case OpAddColumn:
		c := pl.def(st.Table).Column(st.Name)
		hasValue := c.HasDefault && c.Default != nil
		return c.Unique || c.AutoIncrement || slices.Contains(pl.def(st.Table).PrimaryKey, c.Name) || !c.Nullable && !hasValue
	case OpChangeKind:
		c := pl.def(st.Table).Column(st.Name)
		lc := pl.liveColumn(st.Table, st.Name)
		return lc == nil || declaredClass(pl.d, c) != typeClass(pl.live.Dialect, lc.Type) || c.AutoIncrement != lc.AutoIncrement
	case OpDropColumn, OpSetNotNull, OpDropNotNull, OpChangeDefault, OpAddUnique, OpDropUnique,
		OpChangeForeignKey, OpChangePrimaryKey:
		return true
	}
	return false
}

// rebuildPrefix names the temporary table of a SQLite rebuild.
const rebuildPrefix = orm.ReservedPrefix + "rebuild_"

// sqlite plans the diff for SQLite, in phases: renames and dropped
// indexes, new tables, table rebuilds for what ALTER TABLE cannot do,
// in-place alterations, then the foreign key checks the migration ends
// with. touched collects the tables whose foreign keys need checking.
func (pl *planner) sqlite() error {
	touched := map[string]bool{}
	pl.sqliteRenames(touched)
	added := pl.steps(isOp(OpAddTable))
	for _, i := range added {
		touched[pl.diff.Steps[i].Table] = true
	}
	if err := pl.addTables(added); err != nil {
		return err
	}
	rebuild, err := pl.sqliteRebuildTables(touched)
	if err != nil {
		return err
	}
	if err := pl.sqliteAlters(rebuild, touched); err != nil {
		return err
	}
	pl.sqliteFKChecks(touched)
	return nil
}

// sqliteRenames plans the renames and dropped indexes, which run first.
func (pl *planner) sqliteRenames(touched map[string]bool) {
	for i, st := range pl.diff.Steps {
		if phase(st) >= phase(Step{Op: OpAddTable}) {
			break
		}
		switch st.Op {
		case OpRenameTable:
			pl.add([]int{i}, raw("ALTER TABLE "+q(st.Table)+" RENAME TO "+q(st.NewName))...)
			touched[st.NewName] = true
		case OpRenameColumn:
			pl.add([]int{i}, raw("ALTER TABLE "+q(st.Table)+" RENAME COLUMN "+q(st.Name)+" TO "+q(st.NewName))...)
			touched[st.Table] = true
		case OpDropIndex:
			pl.add([]int{i}, raw("DROP INDEX "+q(st.Name))...)
		}
	}
}

// sqliteRebuildTables plans a rebuild of each table with a step that
// ALTER TABLE cannot apply on SQLite, and returns the steps each rebuild
// applies, by table.
func (pl *planner) sqliteRebuildTables(touched map[string]bool) (map[string][]int, error) {
	// Tables to rebuild: every step of theirs is applied by the rebuild.
	rebuild := map[string][]int{}
	var order []string
	for i, st := range pl.diff.Steps {
		if phase(st) <= phase(Step{Op: OpAddTable}) || st.Op == OpDropTable {
			continue
		}
		if pl.sqliteRebuilds(st) {
			if rebuild[st.Table] == nil {
				order = append(order, st.Table)
			}
			rebuild[st.Table] = append(rebuild[st.Table], i)
		}
	}
	for _, table := range order {
		var steps []int
		for i, st := range pl.diff.Steps {
			if st.Table == table && phase(st) > phase(Step{Op: OpAddTable}) && st.Op != OpDropTable {
				steps = append(steps, i)
			}
		}
		l := pl.liveTable(table)
		if len(l.Unsupported) > 0 {
			reason := fmt.Sprintf("SQLite cannot alter this in place, and rebuilding table %s would lose what a plasma schema cannot declare: %s",
				identText(table), strings.Join(l.Unsupported, ", "))
			for _, i := range rebuild[table] {
				if pl.diff.Steps[i].Blocked == "" {
					pl.diff.Steps[i].Blocked = reason
				}
			}
		}
		rb, err := pl.sqliteRebuild(table)
		if err != nil {
			return nil, err
		}
		pl.p.actions = append(pl.p.actions, action{steps: steps, rebuild: rb})
		touched[table] = true
	}
	return rebuild, nil
}

// sqliteAlters plans the steps of the tables not rebuilt, in place.
func (pl *planner) sqliteAlters(rebuild map[string][]int, touched map[string]bool) error {
	for i, st := range pl.diff.Steps {
		if phase(st) <= phase(Step{Op: OpAddTable}) || rebuild[st.Table] != nil {
			continue
		}
		def := pl.def(st.Table)
		switch st.Op {
		case OpAddColumn:
			s, err := dialect.AddColumn(pl.d, st.Table, def.Column(st.Name))
			if err != nil {
				return err
			}
			pl.add([]int{i}, raw(s)...)
			touched[st.Table] = true
		case OpChangeKind:
			pl.add([]int{i}) // the same SQL type: only the recorded kind changes
		case OpAddIndex:
			pl.add([]int{i}, raw(dialect.CreateIndex(st.Table, *indexDef(def, st.Name), false))...)
		case OpChangeIndex:
			pl.add([]int{i}, raw("DROP INDEX "+q(st.Name), dialect.CreateIndex(st.Table, *indexDef(def, st.Name), false))...)
		case OpDropTable:
			pl.add([]int{i}, raw("DROP TABLE "+q(st.Table))...)
			touched[st.Table] = true
		default:
			return fmt.Errorf("plasma: migrate: no SQLite plan for step %s", st.ID())
		}
	}
	return nil
}

// sqliteFKChecks lists the tables whose foreign keys the migration
// checks: the touched tables and the tables that reference them, by
// their names after the migration.
func (pl *planner) sqliteFKChecks(touched map[string]bool) {
	newName := map[string]string{}
	for _, st := range pl.diff.Steps {
		switch st.Op {
		case OpRenameTable:
			newName[st.Table] = st.NewName
		case OpDropTable:
			newName[st.Table] = ""
		}
	}
	for _, l := range pl.live.Tables {
		name, renamed := newName[l.Name]
		if !renamed {
			name = l.Name
		}
		if name == "" || isReserved(name) {
			continue
		}
		for _, c := range l.Columns {
			if r := c.References; r != nil && (touched[r.Table] || touched[newName[r.Table]]) {
				touched[name] = true
			}
		}
	}
	for _, t := range pl.s.Tables() {
		for _, c := range t.Def().Columns {
			if r := c.References; r != nil && touched[r.Table] {
				touched[t.Name()] = true
			}
		}
	}
	for _, t := range pl.s.Tables() {
		if touched[t.Name()] {
			pl.p.fkCheck = append(pl.p.fkCheck, t.Name())
		}
	}
	for _, l := range pl.live.Tables {
		if _, renamed := newName[l.Name]; !renamed && touched[l.Name] && pl.s.Table(l.Name) == nil && !isReserved(l.Name) {
			pl.p.fkCheck = append(pl.p.fkCheck, l.Name)
		}
	}
}

// rebuild is a SQLite table rebuild, run by execRebuild.
type rebuild struct {
	table   string
	tmp     string
	create  string
	copy    string // "" when no column carries over
	indexes []string
	autoinc bool
}

func (rb *rebuild) sql() []string {
	out := []string{"PRAGMA legacy_alter_table = ON", rb.create}
	if rb.copy != "" {
		out = append(out, rb.copy)
	}
	out = append(out, "DROP TABLE "+q(rb.table), "ALTER TABLE "+q(rb.tmp)+" RENAME TO "+q(rb.table), "PRAGMA legacy_alter_table = OFF")
	out = append(out, rb.indexes...)
	return append(out, "-- and the table's other indexes and triggers, recreated as they were")
}

// sqliteRebuild plans the table rebuild of sqlite.org/lang_altertable.html
// (section 7): create the table as declared under a temporary name, copy
// the rows, drop the old table, rename the new one, and recreate indexes
// and triggers. Run turns foreign key enforcement off around the
// transaction, as the procedure requires, and checks the foreign keys
// before committing. legacy_alter_table keeps the rename from rewriting,
// or tripping over, views and triggers that name the table.
func (pl *planner) sqliteRebuild(table string) (*rebuild, error) {
	def := *pl.def(table)
	rb := &rebuild{table: table, tmp: rebuildPrefix + table}
	def.Name = rb.tmp
	create, err := dialect.CreateTable(pl.d, &def, false)
	if err != nil {
		return nil, err
	}
	rb.create = create[0]
	var cols []string
	for _, c := range def.Columns {
		if pl.liveColumn(table, c.Name) != nil {
			cols = append(cols, q(c.Name))
		}
		rb.autoinc = rb.autoinc || c.AutoIncrement
	}
	if len(cols) > 0 {
		list := strings.Join(cols, ", ")
		rb.copy = "INSERT INTO " + q(rb.tmp) + " (" + list + ") SELECT " + list + " FROM " + q(table)
	}
	for _, ix := range pl.def(table).Indexes {
		rb.indexes = append(rb.indexes, dialect.CreateIndex(table, ix, false))
	}
	return rb, nil
}
