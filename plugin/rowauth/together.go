package rowauth

import (
	"context"

	"github.com/plasma-go/plasma/orm"
)

// InsertsJudgedAlone reports whether t's write rule, for the identity ctx
// carries, judges each row of a multi-row INSERT into t as it would judge
// that row inserted on its own after the rows before it. That holds when
// the rule reads no rows of t itself, neither in its own subqueries nor
// through the read rules of the tables those read: a check never sees the
// rows of the statement it checks, so a rule that reads t would judge the
// later rows of one INSERT without the earlier ones. A table without a
// write rule gives true; a rule that fails, or that reads through SQL
// plasma cannot see into, gives false.
//
// The sync server asks this before it merges the INSERTs of several
// mutations into one statement.
func InsertsJudgedAlone(ctx context.Context, t *orm.Table) bool {
	write := t.Options().Auth.Write
	if write == nil {
		return true
	}
	if _, ok := IdentityFrom(ctx); !ok {
		return false
	}
	seen := map[string]bool{}
	var alone func(rule orm.AuthFunc) bool
	alone = func(rule orm.AuthFunc) bool {
		p, err := rule(ctx)
		if err != nil || p == nil {
			return false
		}
		var reads []*orm.Table
		if !collectExpr(p, func(r *orm.Table) { reads = append(reads, r) }) {
			return false
		}
		for _, r := range reads {
			switch {
			case r.Name() == t.Name():
				return false
			case seen[r.Name()]:
				continue
			}
			seen[r.Name()] = true
			if read := r.Options().Auth.Read; read != nil && !alone(read) {
				return false
			}
		}
		return true
	}
	return alone(write)
}
