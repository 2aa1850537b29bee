package migrate

import (
	"slices"
	"strings"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
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

func identList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = q(n)
	}
	return strings.Join(out, ", ")
}

func indexDef(def *tabledef.Table, name string) *tabledef.Index {
	for i := range def.Indexes {
		if def.Indexes[i].Name == name {
			return &def.Indexes[i]
		}
	}
	return &tabledef.Index{Name: name}
}
