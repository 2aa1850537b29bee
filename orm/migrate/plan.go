package migrate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/plasma-go/plasma/tabledef"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
)

// stmt is one statement of a plan.
type stmt struct {
	sql  string
	args []any
}

// action is a group of statements that applies one or more steps.
type action struct {
	steps   []int // indexes into SchemaDiff.Steps
	stmts   []stmt
	rebuild *rebuild // a SQLite table rebuild, instead of stmts
}

// plan is the ordered actions that apply a diff, and the tables whose
// foreign keys must be checked afterwards (SQLite).
type plan struct {
	actions []action
	fkCheck []string
}

func (p *plan) sql() []string {
	var out []string
	for _, a := range p.actions {
		for _, s := range a.stmts {
			out = append(out, s.sql)
		}
		if a.rebuild != nil {
			out = append(out, a.rebuild.sql()...)
		}
	}
	return out
}

// reorder puts the diff's steps in the order the plan applies them (a
// SQLite rebuild applies all the steps of its table at once), and points
// the actions at the new positions.
func (p *plan) reorder(diff *SchemaDiff) {
	pos := make([]int, len(diff.Steps)) // old index -> new index + 1
	steps := make([]Step, 0, len(diff.Steps))
	for _, a := range p.actions {
		for _, i := range a.steps {
			if pos[i] == 0 {
				steps = append(steps, diff.Steps[i])
				pos[i] = len(steps)
			}
		}
	}
	for i, st := range diff.Steps {
		if pos[i] == 0 {
			steps = append(steps, st)
			pos[i] = len(steps)
		}
	}
	for _, a := range p.actions {
		for j, i := range a.steps {
			a.steps[j] = pos[i] - 1
		}
	}
	diff.Steps = steps
}

// planner builds a plan from a diff.
type planner struct {
	d    dialect.Dialect
	s    *orm.Schema
	live *Database
	diff *SchemaDiff
	p    *plan
}

func q(name string) string { return dialect.QuoteIdent(name) }

func (pl *planner) def(table string) *tabledef.Table {
	if t := pl.s.Table(table); t != nil {
		return t.Def()
	}
	return nil
}

// liveTable returns the live table behind a declared table name, looking
// through a table rename.
func (pl *planner) liveTable(table string) *TableInfo {
	for _, st := range pl.diff.Steps {
		if st.Op == OpRenameTable && st.NewName == table {
			return pl.live.Table(st.Table)
		}
	}
	return pl.live.Table(table)
}

// liveColumn returns the live column behind a declared column, looking
// through a column rename.
func (pl *planner) liveColumn(table, col string) *ColumnInfo {
	l := pl.liveTable(table)
	if l == nil {
		return nil
	}
	for _, st := range pl.diff.Steps {
		if st.Op == OpRenameColumn && st.Table == table && st.NewName == col {
			return l.Column(st.Name)
		}
	}
	return l.Column(col)
}

func buildPlan(d dialect.Dialect, s *orm.Schema, live *Database, diff *SchemaDiff) (*plan, error) {
	pl := &planner{d: d, s: s, live: live, diff: diff, p: &plan{}}
	var err error
	if d.Features().Has(dialect.AlterColumn) {
		err = pl.postgres()
	} else {
		err = pl.sqlite()
	}
	if err != nil {
		return nil, err
	}
	return pl.p, nil
}

func (pl *planner) add(steps []int, stmts ...stmt) {
	pl.p.actions = append(pl.p.actions, action{steps: steps, stmts: stmts})
}

func raw(sqls ...string) []stmt {
	out := make([]stmt, len(sqls))
	for i, s := range sqls {
		out[i] = stmt{sql: s}
	}
	return out
}

// addTables plans the added tables, each after the tables it references.
// On PostgreSQL, which checks a foreign key's table when it is created, a
// reference that closes a cycle between new tables is added once both
// exist.
func (pl *planner) addTables(idx []int) error {
	added := map[string]int{}
	for _, i := range idx {
		added[pl.diff.Steps[i].Table] = i
	}
	checks := false
	if rc, ok := pl.d.(dialect.ReferenceChecker); ok {
		checks = rc.ChecksReferences()
	}
	created := map[string]bool{}
	state := map[string]int{}
	var later []stmt
	var visit func(name string) error
	visit = func(name string) error {
		if state[name] != 0 {
			return nil
		}
		state[name] = 1
		def := pl.def(name)
		for _, c := range def.Columns {
			if fk := c.References; fk != nil && fk.Table != name {
				if _, ok := added[fk.Table]; ok {
					if err := visit(fk.Table); err != nil {
						return err
					}
				}
			}
		}
		state[name] = 2
		if checks {
			var cols []tabledef.Column
			for _, c := range def.Columns {
				if fk := c.References; fk != nil && fk.Table != name && !created[fk.Table] {
					if _, isNew := added[fk.Table]; isNew {
						later = append(later, stmt{sql: "ALTER TABLE " + q(name) + " ADD FOREIGN KEY (" + q(c.Name) + ")" +
							string(dialect.AppendReferences(nil, fk))})
						c.References = nil
					}
				}
				cols = append(cols, c)
			}
			d := *def
			d.Columns = cols
			def = &d
		}
		stmts, err := dialect.CreateTable(pl.d, def, false)
		if err != nil {
			return err
		}
		created[name] = true
		pl.add([]int{added[name]}, raw(stmts...)...)
		return nil
	}
	for _, i := range idx {
		if err := visit(pl.diff.Steps[i].Table); err != nil {
			return err
		}
	}
	if len(later) > 0 {
		pl.add(nil, later...)
	}
	return nil
}

// steps returns the indexes of the steps that match.
func (pl *planner) steps(match func(Step) bool) []int {
	var out []int
	for i, st := range pl.diff.Steps {
		if match(st) {
			out = append(out, i)
		}
	}
	return out
}

func isOp(ops ...Op) func(Step) bool {
	return func(s Step) bool { return slices.Contains(ops, s.Op) }
}

func (pl *planner) postgres() error {
	for i, st := range pl.diff.Steps {
		if phase(st) >= phase(Step{Op: OpAddTable}) {
			break
		}
		switch st.Op {
		case OpRenameTable:
			pl.add([]int{i}, raw("ALTER TABLE "+q(st.Table)+" RENAME TO "+q(st.NewName))...)
		case OpRenameColumn:
			pl.add([]int{i}, raw("ALTER TABLE "+q(st.Table)+" RENAME COLUMN "+q(st.Name)+" TO "+q(st.NewName))...)
		case OpDropIndex:
			pl.add([]int{i}, raw("DROP INDEX "+q(st.Name))...)
		}
	}
	if err := pl.addTables(pl.steps(isOp(OpAddTable))); err != nil {
		return err
	}
	for i, st := range pl.diff.Steps {
		if phase(st) <= phase(Step{Op: OpAddTable}) {
			continue
		}
		stmts, err := pl.pgStep(st)
		if err != nil {
			return err
		}
		pl.add([]int{i}, raw(stmts...)...)
	}
	return nil
}

func (pl *planner) pgStep(st Step) ([]string, error) {
	t := q(st.Table)
	alter := "ALTER TABLE " + t + " "
	def := pl.def(st.Table)
	var c *tabledef.Column
	if def != nil && st.Name != "" {
		c = def.Column(st.Name)
	}
	lc := pl.liveColumn(st.Table, st.Name)
	switch st.Op {
	case OpAddColumn:
		s, err := dialect.AddColumn(pl.d, st.Table, c)
		return []string{s}, err
	case OpChangeKind:
		if lc != nil && declaredClass(pl.d, c) == typeClass(pl.live.Dialect, lc.Type) && c.AutoIncrement == lc.AutoIncrement {
			return nil, nil // the same SQL type: only the recorded kind changes
		}
		col := alter + "ALTER COLUMN " + q(c.Name) + " "
		var out []string
		if lc != nil && lc.HasDefault {
			out = append(out, col+"DROP DEFAULT")
		}
		if lc != nil && lc.AutoIncrement && !c.AutoIncrement {
			out = append(out, col+"DROP IDENTITY IF EXISTS")
		}
		typ := dialect.BaseType(pl.d, c)
		out = append(out, col+"TYPE "+typ+" USING "+q(c.Name)+"::"+typ)
		if c.AutoIncrement && (lc == nil || !lc.AutoIncrement) {
			out = append(out, col+"ADD GENERATED BY DEFAULT AS IDENTITY")
		}
		if !c.AutoIncrement && c.HasDefault && c.Default != nil {
			lit, err := dialect.AppendDefault(pl.d, nil, c)
			if err != nil {
				return nil, err
			}
			out = append(out, col+"SET DEFAULT "+string(lit))
		}
		return out, nil
	case OpSetNotNull:
		return []string{alter + "ALTER COLUMN " + q(c.Name) + " SET NOT NULL"}, nil
	case OpDropNotNull:
		return []string{alter + "ALTER COLUMN " + q(c.Name) + " DROP NOT NULL"}, nil
	case OpChangeDefault:
		if !c.HasDefault || c.Default == nil {
			return []string{alter + "ALTER COLUMN " + q(c.Name) + " DROP DEFAULT"}, nil
		}
		lit, err := dialect.AppendDefault(pl.d, nil, c)
		if err != nil {
			return nil, err
		}
		return []string{alter + "ALTER COLUMN " + q(c.Name) + " SET DEFAULT " + string(lit)}, nil
	case OpDropUnique:
		if lc == nil || lc.UniqueName == "" {
			return nil, fmt.Errorf("plasma: migrate: %s: no UNIQUE constraint found", st.ID())
		}
		return []string{alter + "DROP CONSTRAINT " + q(lc.UniqueName)}, nil
	case OpAddUnique:
		return []string{alter + "ADD UNIQUE (" + q(c.Name) + ")"}, nil
	case OpChangePrimaryKey:
		var out []string
		if l := pl.liveTable(st.Table); l != nil && l.PrimaryKeyName != "" {
			out = append(out, alter+"DROP CONSTRAINT "+q(l.PrimaryKeyName))
		}
		if len(def.PrimaryKey) > 0 {
			out = append(out, alter+"ADD PRIMARY KEY ("+identList(def.PrimaryKey)+")")
		}
		return out, nil
	case OpChangeForeignKey:
		var out []string
		if lc != nil && lc.References != nil && lc.References.Name != "" {
			out = append(out, alter+"DROP CONSTRAINT "+q(lc.References.Name))
		}
		if c.References != nil {
			out = append(out, alter+"ADD FOREIGN KEY ("+q(c.Name)+")"+string(dialect.AppendReferences(nil, c.References)))
		}
		return out, nil
	case OpAddIndex:
		return []string{dialect.CreateIndex(st.Table, *indexDef(def, st.Name), false)}, nil
	case OpChangeIndex:
		return []string{"DROP INDEX " + q(st.Name), dialect.CreateIndex(st.Table, *indexDef(def, st.Name), false)}, nil
	case OpDropColumn:
		return []string{alter + "DROP COLUMN " + q(st.Name)}, nil
	case OpDropTable:
		return []string{"DROP TABLE " + t}, nil
	}
	return nil, fmt.Errorf("plasma: migrate: no plan for step %s", st.ID())
}

func indexDef(def *tabledef.Table, name string) *tabledef.Index {
	for i := range def.Indexes {
		if def.Indexes[i].Name == name {
			return &def.Indexes[i]
		}
	}
	return &tabledef.Index{Name: name}
}

func identList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = q(n)
	}
	return strings.Join(out, ", ")
}

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

func (pl *planner) sqlite() error {
	touched := map[string]bool{}
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
	added := pl.steps(isOp(OpAddTable))
	for _, i := range added {
		touched[pl.diff.Steps[i].Table] = true
	}
	if err := pl.addTables(added); err != nil {
		return err
	}
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
			return err
		}
		pl.p.actions = append(pl.p.actions, action{steps: steps, rebuild: rb})
		touched[table] = true
	}
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
	// Check the foreign keys of touched tables and of the tables that
	// reference them, by their names after the migration.
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
	return nil
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
