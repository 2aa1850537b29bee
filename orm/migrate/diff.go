package migrate

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// Op is what a step does.
type Op string

// The steps a diff can hold. Those marked additive are applied by Run
// without asking; the destructive ones can lose data or break what other
// code relies on, and Run refuses them unless an Allowance names them.
const (
	OpAddTable         Op = "add table"          // additive
	OpAddColumn        Op = "add column"         // additive
	OpAddIndex         Op = "add index"          // additive (a unique index too)
	OpAddUnique        Op = "add unique"         // additive: a UNIQUE constraint on a column
	OpDropNotNull      Op = "drop not null"      // additive: the column accepts NULL
	OpChangeDefault    Op = "change default"     // additive: only later inserts see it
	OpChangeIndex      Op = "change index"       // destructive if the live index is unique
	OpDropIndex        Op = "drop index"         // destructive if the live index is unique
	OpDropTable        Op = "drop table"         // destructive
	OpDropColumn       Op = "drop column"        // destructive
	OpRenameTable      Op = "rename table"       // destructive; never guessed
	OpRenameColumn     Op = "rename column"      // destructive; never guessed
	OpChangeKind       Op = "change kind"        // destructive
	OpSetNotNull       Op = "set not null"       // destructive: nullability tightened
	OpChangeForeignKey Op = "change foreign key" // destructive: added, dropped or another action
	OpDropUnique       Op = "drop unique"        // destructive
	OpChangePrimaryKey Op = "change primary key" // destructive
)

// Step is one difference between the declared schema and the database,
// and the change that resolves it.
type Step struct {
	// Op is what the step does, such as OpAddColumn.
	Op Op `json:"op"`
	// Table is the table the step concerns (for a table rename, its old
	// name).
	Table string `json:"table"`
	// Name is the column the step concerns, or for index steps the index;
	// empty for table steps. For a rename it is the old name.
	Name string `json:"name,omitempty"`
	// NewName is a rename's new name.
	NewName string `json:"newName,omitempty"`
	// From and To describe what the database has and what the schema
	// declares, for people.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Destructive steps are refused unless Allowed.
	Destructive bool `json:"destructive"`
	// Allowed is true for a destructive step an Allowance names.
	Allowed bool `json:"allowed,omitempty"`
	// Blocked, if set, says why the step cannot be applied at all (a NOT
	// NULL column without a default for a table that has rows, say); no
	// allowance changes that.
	Blocked string `json:"blocked,omitempty"`
}

// ID names the step: its op and the table, column or index it concerns,
// such as `drop column todos.note` or `rename column todos.title to name`.
// A name that is not a plain identifier is double-quoted. ParseAllowance
// reads an ID back.
func (s Step) ID() string { return s.Allowance().String() }

// Allowance returns the allowance that names exactly this step.
func (s Step) Allowance() Allowance {
	return Allowance{Op: s.Op, Table: s.Table, Name: s.Name, NewName: s.NewName}
}

// Refused reports whether the step stops Run: blocked, or destructive
// without an allowance.
func (s Step) Refused() bool { return s.Blocked != "" || s.Destructive && !s.Allowed }

// String describes the step on one line.
func (s Step) String() string {
	var b strings.Builder
	b.WriteString(s.ID())
	switch {
	case s.From != "" && s.To != "":
		fmt.Fprintf(&b, ": %s -> %s", s.From, s.To)
	case s.To != "":
		fmt.Fprintf(&b, ": %s", s.To)
	case s.From != "":
		fmt.Fprintf(&b, ": was %s", s.From)
	}
	switch {
	case s.Blocked != "":
		fmt.Fprintf(&b, " [blocked: %s]", s.Blocked)
	case s.Destructive && s.Allowed:
		b.WriteString(" [destructive, allowed]")
	case s.Destructive:
		b.WriteString(" [destructive: refused without an allowance]")
	}
	return b.String()
}

// Untracked is a table or index in the database that the schema does not
// declare and that plasma did not create. Run leaves it alone: the
// database may be shared with other applications.
type Untracked struct {
	Table string `json:"table"`
	// Index is set for an untracked index of a declared table.
	Index string `json:"index,omitempty"`
}

// SchemaDiff is the difference between a declared schema and a live
// database, as the steps that would make the database match the schema,
// in the order Run applies them.
type SchemaDiff struct {
	// Dialect is "sqlite" or "postgres".
	Dialect string `json:"dialect"`
	// RecordedVersion is the schema version the database records ("" if
	// none); DeclaredVersion is the schema's.
	RecordedVersion string `json:"recordedVersion"`
	DeclaredVersion string `json:"declaredVersion"`
	// Steps are in the order Run applies them.
	Steps []Step `json:"steps"`
	// Untracked lists what Run leaves alone.
	Untracked []Untracked `json:"untracked,omitempty"`
	// SQL is the statements Run executes for the steps, in order.
	SQL []string `json:"sql,omitempty"`
	// Applied is true when Run applied the steps and recorded the
	// version: false for a dry run, a refusal, or nothing to do.
	Applied bool `json:"applied"`
}

// Empty reports whether the database already matches the schema.
func (d *SchemaDiff) Empty() bool { return d == nil || len(d.Steps) == 0 }

// Refused returns the steps that stop Run: destructive steps no allowance
// names, and blocked steps.
func (d *SchemaDiff) Refused() []Step {
	var out []Step
	for _, s := range d.Steps {
		if s.Refused() {
			out = append(out, s)
		}
	}
	return out
}

// Additive returns the steps Run applies without an allowance.
func (d *SchemaDiff) Additive() []Step {
	var out []Step
	for _, s := range d.Steps {
		if !s.Destructive {
			out = append(out, s)
		}
	}
	return out
}

// Destructive returns the steps that need an allowance.
func (d *SchemaDiff) Destructive() []Step {
	var out []Step
	for _, s := range d.Steps {
		if s.Destructive {
			out = append(out, s)
		}
	}
	return out
}

// String describes the diff for people, one step a line.
func (d *SchemaDiff) String() string {
	var b strings.Builder
	rec := d.RecordedVersion
	if rec == "" {
		rec = "none"
	}
	fmt.Fprintf(&b, "%s: recorded version %s, declared version %s\n", d.Dialect, rec, d.DeclaredVersion)
	if len(d.Steps) == 0 {
		b.WriteString("no changes: the database matches the schema\n")
	}
	for _, s := range d.Steps {
		mark := "+"
		switch {
		case s.Refused():
			mark = "!"
		case s.Destructive:
			mark = "-"
		}
		fmt.Fprintf(&b, "  %s %s\n", mark, s)
	}
	for _, u := range d.Untracked {
		if u.Index != "" {
			fmt.Fprintf(&b, "  (untracked index %s.%s left alone)\n", identText(u.Table), identText(u.Index))
		} else {
			fmt.Fprintf(&b, "  (untracked table %s left alone)\n", identText(u.Table))
		}
	}
	return b.String()
}

// isReserved reports whether a table is plasma's own.
func isReserved(name string) bool {
	return strings.HasPrefix(strings.ToLower(name), orm.ReservedPrefix)
}

// differ computes a SchemaDiff.
type differ struct {
	d     dialect.Dialect
	pg    bool
	live  *Database
	snap  *snapshot
	allow map[Allowance]bool
	// allowList keeps the caller's order, so renames come out in it.
	allowList []Allowance
	diff      *SchemaDiff

	declared map[string]*tabledef.Table
	// liveOf maps a declared table to its live table (after renames).
	liveOf map[string]*TableInfo
	// tableNew maps a live table's name to its declared name.
	tableNew map[string]string
	// colNew maps a declared table's name and a live column's name to the
	// column's declared name, for renamed columns.
	colNew map[string]map[string]string
}

func compare(d dialect.Dialect, s *orm.Schema, live *Database, snap *snapshot, allow []Allowance) *SchemaDiff {
	df := &differ{
		d: d, pg: d.Features().Has(dialect.PrimaryKeyNotNull), live: live, snap: snap,
		allow:    make(map[Allowance]bool, len(allow)),
		diff:     &SchemaDiff{Dialect: d.Name(), DeclaredVersion: s.Version(), Steps: []Step{}},
		declared: make(map[string]*tabledef.Table),
		liveOf:   make(map[string]*TableInfo),
		tableNew: make(map[string]string),
		colNew:   make(map[string]map[string]string),
	}
	for _, a := range allow {
		if !df.allow[a] {
			df.allowList = append(df.allowList, a)
		}
		df.allow[a] = true
	}
	for _, t := range s.Tables() {
		df.declared[t.Name()] = t.Def()
	}
	df.renames(s)
	for _, t := range s.Tables() {
		def := t.Def()
		if l := df.liveOf[def.Name]; l != nil {
			df.table(def, l)
		} else {
			df.add(Step{Op: OpAddTable, Table: def.Name, To: describeTable(def)})
		}
	}
	var dropped []*TableInfo
	for _, l := range live.Tables {
		if _, ok := df.tableNew[l.Name]; ok || isReserved(l.Name) {
			continue
		}
		_, recorded := snap.table(l.Name)
		if recorded || df.allow[Allowance{Op: OpDropTable, Table: l.Name}] {
			dropped = append(dropped, l)
		} else {
			df.diff.Untracked = append(df.diff.Untracked, Untracked{Table: l.Name})
		}
	}
	for _, l := range dropOrder(dropped) {
		df.add(Step{Op: OpDropTable, Table: l.Name, From: fmt.Sprintf("%d columns", len(l.Columns))})
	}
	sort.SliceStable(df.diff.Steps, func(i, j int) bool { return phase(df.diff.Steps[i]) < phase(df.diff.Steps[j]) })
	return df.diff
}

// add appends a step, marking it destructive and allowed as it is.
func (df *differ) add(s Step) {
	switch s.Op {
	case OpDropTable, OpDropColumn, OpRenameTable, OpRenameColumn, OpChangeKind, OpSetNotNull,
		OpChangeForeignKey, OpDropUnique, OpChangePrimaryKey:
		s.Destructive = true
	}
	if s.Destructive {
		s.Allowed = df.allow[s.Allowance()]
	}
	df.diff.Steps = append(df.diff.Steps, s)
}

// renames resolves explicitly allowed table and column renames and maps
// every declared table to its live table.
func (df *differ) renames(s *orm.Schema) {
	for _, a := range df.allowList {
		if a.Op != OpRenameTable {
			continue
		}
		from, to := a.Table, a.NewName
		if df.declared[to] != nil && df.declared[from] == nil && df.live.Table(to) == nil && df.live.Table(from) != nil {
			df.liveOf[to] = df.live.Table(from)
			df.tableNew[from] = to
			df.add(Step{Op: OpRenameTable, Table: from, NewName: to})
		}
	}
	for _, t := range s.Tables() {
		name := t.Name()
		if df.liveOf[name] == nil {
			if l := df.live.Table(name); l != nil {
				if _, renamedAway := df.tableNew[name]; !renamedAway {
					df.liveOf[name] = l
					df.tableNew[name] = name
				}
			}
		}
	}
	for _, a := range df.allowList {
		if a.Op != OpRenameColumn {
			continue
		}
		def, l := df.declared[a.Table], df.liveOf[a.Table]
		if def == nil || l == nil {
			continue
		}
		from, to := a.Name, a.NewName
		if def.Column(to) != nil && def.Column(from) == nil && l.Column(to) == nil && l.Column(from) != nil {
			if df.colNew[a.Table] == nil {
				df.colNew[a.Table] = map[string]string{}
			}
			df.colNew[a.Table][from] = to
			df.add(Step{Op: OpRenameColumn, Table: a.Table, Name: from, NewName: to})
		}
	}
}

// colName maps a live column name of declared table to its declared
// name.
func (df *differ) colName(table, col string) string {
	if n, ok := df.colNew[table][col]; ok {
		return n
	}
	return col
}

// tableName maps a live table name to its declared name.
func (df *differ) tableName(t string) string {
	if n, ok := df.tableNew[t]; ok {
		return n
	}
	return t
}

// liveColumn returns the live column that declared column name of table
// maps to.
func (df *differ) liveColumn(table string, l *TableInfo, name string) *ColumnInfo {
	for i := range l.Columns {
		if df.colName(table, l.Columns[i].Name) == name {
			return &l.Columns[i]
		}
	}
	return nil
}

func (df *differ) table(def *tabledef.Table, l *TableInfo) {
	name := def.Name
	snapT, _ := df.snap.table(l.Name)
	for i := range def.Columns {
		c := &def.Columns[i]
		lc := df.liveColumn(name, l, c.Name)
		if lc == nil {
			df.add(Step{Op: OpAddColumn, Table: name, Name: c.Name, To: describeColumn(df.d, c)})
			continue
		}
		df.column(def, c, lc, snapT)
	}
	for _, lc := range l.Columns {
		if def.Column(df.colName(name, lc.Name)) == nil {
			df.add(Step{Op: OpDropColumn, Table: name, Name: lc.Name, From: describeLive(&lc)})
		}
	}
	livePK := make([]string, len(l.PrimaryKey))
	for i, n := range l.PrimaryKey {
		livePK[i] = df.colName(name, n)
	}
	if !slices.Equal(livePK, def.PrimaryKey) {
		df.add(Step{Op: OpChangePrimaryKey, Table: name, From: listText(livePK), To: listText(def.PrimaryKey)})
	}
	for _, ix := range def.Indexes {
		lix := l.Index(ix.Name)
		if lix == nil {
			df.add(Step{Op: OpAddIndex, Table: name, Name: ix.Name, To: describeIndex(ix.Unique, ix.Columns)})
			continue
		}
		cols := make([]string, len(lix.Columns))
		for i, c := range lix.Columns {
			cols[i] = df.colName(name, c)
		}
		if lix.Unique != ix.Unique || lix.Partial || lix.Expression || !slices.Equal(cols, ix.Columns) {
			df.add(Step{Op: OpChangeIndex, Table: name, Name: ix.Name, Destructive: lix.Unique,
				From: describeLiveIndex(lix, cols), To: describeIndex(ix.Unique, ix.Columns)})
		}
	}
	for _, lix := range l.Indexes {
		if slices.ContainsFunc(def.Indexes, func(ix tabledef.Index) bool { return ix.Name == lix.Name }) {
			continue
		}
		if slices.Contains(snapT.Indexes, lix.Name) || df.allow[Allowance{Op: OpDropIndex, Table: name, Name: lix.Name}] {
			df.add(Step{Op: OpDropIndex, Table: name, Name: lix.Name, Destructive: lix.Unique,
				From: describeLiveIndex(&lix, lix.Columns)})
		} else {
			df.diff.Untracked = append(df.diff.Untracked, Untracked{Table: name, Index: lix.Name})
		}
	}
}

// column compares a declared column with its live column.
func (df *differ) column(def *tabledef.Table, c *tabledef.Column, lc *ColumnInfo, snapT snapTable) {
	table := def.Name
	dclass := declaredClass(df.d, c)
	lclass := typeClass(df.live.Dialect, lc.Type)
	kindChanged := dclass != lclass || c.AutoIncrement != lc.AutoIncrement
	if !kindChanged {
		if rec, ok := snapT.Columns[lc.Name]; ok && (rec.Kind != c.Kind.String() || rec.Encrypted != c.Encrypted) {
			kindChanged = true
		}
	}
	if kindChanged {
		df.add(Step{Op: OpChangeKind, Table: table, Name: c.Name, From: describeLiveType(lc), To: describeKind(df.d, c)})
	}
	if !c.AutoIncrement && !lc.AutoIncrement {
		want := c.Nullable && !(df.pg && slices.Contains(def.PrimaryKey, c.Name))
		switch {
		case !want && lc.Nullable:
			df.add(Step{Op: OpSetNotNull, Table: table, Name: c.Name, From: "NULL", To: "NOT NULL"})
		case want && !lc.Nullable:
			df.add(Step{Op: OpDropNotNull, Table: table, Name: c.Name, From: "NOT NULL", To: "NULL"})
		}
		have := canonicalDefault(parseDefault(lc.Default), dclass)
		if !lc.HasDefault {
			have = "null"
		}
		if want := declaredDefault(df.d, c); want != have {
			df.add(Step{Op: OpChangeDefault, Table: table, Name: c.Name, From: defaultText(lc.HasDefault, lc.Default), To: declaredDefaultText(df.d, c)})
		}
	}
	switch {
	case c.Unique && !lc.Unique:
		df.add(Step{Op: OpAddUnique, Table: table, Name: c.Name, To: "UNIQUE"})
	case !c.Unique && lc.Unique:
		df.add(Step{Op: OpDropUnique, Table: table, Name: c.Name, From: "UNIQUE"})
	}
	var have *tabledef.ForeignKey
	haveAction := ""
	if r := lc.References; r != nil {
		rt := df.tableName(r.Table)
		have = &tabledef.ForeignKey{Table: rt, Column: df.colName(rt, r.Column)}
		haveAction = r.OnDelete
	}
	want := c.References
	switch {
	case want == nil && have == nil:
	case want == nil || have == nil || want.Table != have.Table || want.Column != have.Column || want.OnDelete.String() != haveAction:
		df.add(Step{Op: OpChangeForeignKey, Table: table, Name: c.Name,
			From: describeFK(have, haveAction), To: describeFK(want, actionText(want))})
	}
}

// phase orders steps so each can run: renames first, then drops of
// indexes, new tables, column changes, new constraints and indexes, and
// last the dropped columns and tables.
func phase(s Step) int {
	switch s.Op {
	case OpRenameTable:
		return 0
	case OpRenameColumn:
		return 1
	case OpDropIndex:
		return 2
	case OpAddTable:
		return 3
	case OpAddColumn, OpChangeKind, OpSetNotNull, OpDropNotNull, OpChangeDefault, OpDropUnique, OpChangePrimaryKey:
		return 4
	case OpAddUnique, OpChangeForeignKey, OpAddIndex, OpChangeIndex:
		return 5
	case OpDropColumn:
		return 6
	case OpDropTable:
		return 7
	}
	return 8
}

// dropOrder puts tables that reference others before them, so dropping
// in order never leaves a reference to a dropped table.
func dropOrder(tables []*TableInfo) []*TableInfo {
	byName := map[string]*TableInfo{}
	for _, t := range tables {
		byName[t.Name] = t
	}
	var order []*TableInfo
	state := map[string]int{}
	var visit func(t *TableInfo)
	visit = func(t *TableInfo) {
		if state[t.Name] != 0 {
			return
		}
		state[t.Name] = 1
		for _, c := range t.Columns {
			if r := c.References; r != nil && r.Table != t.Name && byName[r.Table] != nil {
				visit(byName[r.Table])
			}
		}
		state[t.Name] = 2
		order = append(order, t)
	}
	for _, t := range tables {
		visit(t)
	}
	slices.Reverse(order)
	return order
}

// Descriptions, for people.

func describeTable(t *tabledef.Table) string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = identText(c.Name)
	}
	return "(" + strings.Join(names, ", ") + ")"
}

func kindText(c *tabledef.Column) string {
	s := c.Kind.String()
	if c.AutoIncrement {
		s += " auto-increment"
	}
	if c.Encrypted {
		s += " encrypted"
	}
	return s
}

func describeKind(d dialect.Dialect, c *tabledef.Column) string {
	return kindText(c) + " (" + dialect.BaseType(d, c) + ")"
}

func describeColumn(d dialect.Dialect, c *tabledef.Column) string {
	s := kindText(c)
	if c.Nullable {
		s += " NULL"
	} else {
		s += " NOT NULL"
	}
	if c.HasDefault && c.Default != nil {
		s += " " + declaredDefaultText(d, c)
	}
	if c.Unique {
		s += " UNIQUE"
	}
	if c.References != nil {
		s += " REFERENCES " + describeFK(c.References, c.References.OnDelete.String())
	}
	return s
}

func describeLiveType(c *ColumnInfo) string {
	s := c.Type
	if c.Kind != 0 {
		k := c.Kind.String()
		if c.AutoIncrement {
			k += " auto-increment"
		}
		if c.Encrypted {
			k += " encrypted"
		}
		s = k + " (" + c.Type + ")"
	}
	return s
}

func describeLive(c *ColumnInfo) string {
	s := describeLiveType(c)
	if c.Nullable {
		s += " NULL"
	} else {
		s += " NOT NULL"
	}
	return s
}

func describeIndex(unique bool, cols []string) string {
	s := "index ("
	if unique {
		s = "unique index ("
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = identText(c)
	}
	return s + strings.Join(names, ", ") + ")"
}

func describeLiveIndex(ix *IndexInfo, cols []string) string {
	s := describeIndex(ix.Unique, cols)
	if ix.Partial {
		s += " WHERE ..."
	}
	if ix.Expression {
		s += " on expressions"
	}
	return s
}

func describeFK(fk *tabledef.ForeignKey, action string) string {
	if fk == nil {
		return "none"
	}
	return identText(fk.Table) + "(" + identText(fk.Column) + ") ON DELETE " + action
}

func actionText(fk *tabledef.ForeignKey) string {
	if fk == nil {
		return ""
	}
	return fk.OnDelete.String()
}

func defaultText(has bool, expr string) string {
	if !has {
		return "no default"
	}
	return "DEFAULT " + expr
}

func declaredDefaultText(d dialect.Dialect, c *tabledef.Column) string {
	if !c.HasDefault || c.Default == nil {
		return "no default"
	}
	text, err := dialect.AppendDefault(d, nil, c)
	if err != nil {
		return "invalid default"
	}
	return "DEFAULT " + string(text)
}

func listText(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = identText(n)
	}
	return "(" + strings.Join(out, ", ") + ")"
}
