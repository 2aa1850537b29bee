package migrate

import (
	"fmt"
	"strings"

	"github.com/plasma-go/plasma/dialect"
)

// Allowance lets Run apply one destructive step, named exactly: its op,
// table and, for column and index steps, the column or index. An
// allowance that names no step of the diff does nothing, so the same
// options can be passed to every Run.
type Allowance struct {
	// Op is the step's kind, such as OpDropColumn.
	Op Op
	// Table is the table the step concerns: for a table rename its old
	// name, otherwise the schema's name for it.
	Table string
	// Name is the column, or for index steps the index; empty for table
	// steps. For a column rename it is the old name.
	Name string
	// NewName is a rename's new name.
	NewName string
}

// Allow names one destructive step: for example
// Allow(OpDropColumn, "todos", "note") or Allow(OpDropTable, "legacy", "").
// name is the column, or for OpDropIndex and OpChangeIndex the index, and
// empty for table steps. Use AllowRenameTable and AllowRenameColumn for
// renames.
//
// Allow(OpDropTable, t, "") also drops a table that plasma did not create
// and would otherwise leave alone, and Allow(OpDropIndex, t, ix) an index.
func Allow(op Op, table, name string) Allowance {
	return Allowance{Op: op, Table: table, Name: name}
}

// AllowRenameTable declares that table from was renamed to. Renames are
// never guessed: without this, the schema's table to is added, and from,
// if plasma created it, is a refused drop.
func AllowRenameTable(from, to string) Allowance {
	return Allowance{Op: OpRenameTable, Table: from, NewName: to}
}

// AllowRenameColumn declares that column from of table was renamed to
// (table is the schema's name for it). Renames are never guessed: without
// this, the change is a refused drop of from and an added column to.
func AllowRenameColumn(table, from, to string) Allowance {
	return Allowance{Op: OpRenameColumn, Table: table, Name: from, NewName: to}
}

// String returns the allowance as a step ID, such as
// `drop column todos.note`; ParseAllowance reads it back.
func (a Allowance) String() string {
	var b strings.Builder
	b.WriteString(string(a.Op))
	b.WriteByte(' ')
	b.WriteString(identText(a.Table))
	if a.Name != "" {
		b.WriteByte('.')
		b.WriteString(identText(a.Name))
	}
	if a.NewName != "" {
		b.WriteString(" to ")
		b.WriteString(identText(a.NewName))
	}
	return b.String()
}

// ParseAllowance reads a step ID, such as `drop column todos.note`,
// `drop table legacy`, `rename column todos.title to name` or
// `drop index "my table"."my index"`, as Step.ID writes it.
func ParseAllowance(id string) (Allowance, error) {
	s := strings.TrimSpace(id)
	var a Allowance
	for _, op := range allOps {
		if rest, ok := strings.CutPrefix(s, string(op)+" "); ok {
			a.Op, s = op, strings.TrimSpace(rest)
			break
		}
	}
	if a.Op == "" {
		return a, fmt.Errorf("plasma: migrate: allowance %q: unknown step kind (want one of: %s)", id, opList())
	}
	var err error
	if a.Table, s, err = readIdent(s); err != nil {
		return a, fmt.Errorf("plasma: migrate: allowance %q: %w", id, err)
	}
	if rest, ok := strings.CutPrefix(s, "."); ok {
		if a.Name, s, err = readIdent(rest); err != nil {
			return a, fmt.Errorf("plasma: migrate: allowance %q: %w", id, err)
		}
	}
	if rest, ok := strings.CutPrefix(strings.TrimSpace(s), "to "); ok {
		if a.NewName, s, err = readIdent(strings.TrimSpace(rest)); err != nil {
			return a, fmt.Errorf("plasma: migrate: allowance %q: %w", id, err)
		}
	}
	if strings.TrimSpace(s) != "" {
		return a, fmt.Errorf("plasma: migrate: allowance %q: unexpected %q", id, s)
	}
	return a, nil
}

var allOps = []Op{
	OpAddTable, OpAddColumn, OpAddIndex, OpAddUnique, OpDropNotNull, OpChangeDefault, OpChangeIndex,
	OpDropIndex, OpDropTable, OpDropColumn, OpRenameTable, OpRenameColumn, OpChangeKind, OpSetNotNull,
	OpChangeForeignKey, OpDropUnique, OpChangePrimaryKey,
}

func opList() string {
	names := make([]string, len(allOps))
	for i, op := range allOps {
		names[i] = string(op)
	}
	return strings.Join(names, ", ")
}

// identText writes a name bare if it is a plain identifier, else quoted.
func identText(name string) string {
	if name == "" {
		return `""`
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return dialect.QuoteIdent(name)
		}
	}
	return name
}

// readIdent reads a bare or double-quoted name from the start of s.
func readIdent(s string) (name, rest string, err error) {
	if s == "" {
		return "", "", fmt.Errorf("missing name")
	}
	if s[0] == '"' {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] == '"' {
				if i+1 < len(s) && s[i+1] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				return b.String(), s[i+1:], nil
			}
			b.WriteByte(s[i])
		}
		return "", "", fmt.Errorf("unterminated quoted name")
	}
	i := 0
	for i < len(s) && (s[i] == '_' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9') {
		i++
	}
	if i == 0 {
		return "", "", fmt.Errorf("bad name at %q", s)
	}
	return s[:i], s[i:], nil
}
