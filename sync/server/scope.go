package server

import (
	"slices"
	"strings"

	"github.com/plasma-go/plasma/sync/internal/readrule"
)

// A table with a SyncScope column (orm.TableOptions) has each change's
// value of that column recorded in the change log on PostgreSQL, or NULL
// when the change may have moved the row from another value (the
// plugin/changelog package says which). A pull whose read rule for the
// table is exactly "scope column IN (subquery)" reads, of the table's
// changes, only those whose scope is NULL or among the values the
// subquery returns in the pull's snapshot: with many users writing,
// its own users' changes rather than everyone's.
//
// The changes it skips are of rows whose scope column holds, since the
// cookie, one value that the rule does not admit now: rows it may not
// read now and that its client cannot hold, unless the value was
// admitted at the cookie, and then the rule's input lost that value,
// and the pull reads the rows of every value the input gained or lost
// (inputDeltas). A rule input whose values the table's changes decide
// would see none of the skipped ones; so the table is scoped only when
// every input that reads it selects its ids (ByID) and requires the same
// "scope column IN (subquery)", which no skipped row passes.

// scopeFilter keeps, of a scoped table's changes, those whose scope is
// among the values of the table's rule input in.
type scopeFilter struct {
	table string
	in    *readrule.Input
}

// scopeFilters returns the filters of the tables this pull may read
// scoped (rules: the identity's rule inputs): none on SQLite, whose log
// has no scope.
func (h *Handler[Ctx]) scopeFilters(rules []ruleInput) []scopeFilter {
	if !h.perRegion {
		return nil
	}
	var out []scopeFilter
	for _, p := range h.plans {
		col := p.table.Options().SyncScope
		if col == "" {
			continue
		}
		var own []*readrule.Input
		for i := range rules {
			if rules[i].p == p {
				own = append(own, &rules[i].in)
			}
		}
		if len(own) != 1 || !wholeRule(rules, p) || own[0].Col != col || !scopeKept(rules, p.table.Name(), own[0].Key) {
			continue
		}
		out = append(out, scopeFilter{table: p.table.Name(), in: own[0]})
	}
	return out
}

// wholeRule reports whether p's read rule is one "col IN (subquery)".
func wholeRule(rules []ruleInput, p *tablePlan) bool {
	for _, ri := range rules {
		if ri.p == p {
			return ri.whole
		}
	}
	return false
}

// scopeKept reports whether every rule input, at any depth, that reads
// table selects its ids and requires the input key (see above).
func scopeKept(rules []ruleInput, table, key string) bool {
	var ok func(in *readrule.Input) bool
	ok = func(in *readrule.Input) bool {
		if in.Table == table && (!in.ByID || !slices.Contains(in.Required, key)) {
			return false
		}
		for i := range in.Inner {
			if !ok(&in.Inner[i]) {
				return false
			}
		}
		return true
	}
	for i := range rules {
		if !ok(&rules[i].in) {
			return false
		}
	}
	return true
}

// scopeCond returns the condition on the change log's rows that the
// filters sc put on a pull's reads, as " AND (…)", and its arguments;
// "" when sc is empty. Each filter's subquery is bound as an argument,
// rendered in place for the dialect.
func scopeCond(sc []scopeFilter) (string, []any) {
	if len(sc) == 0 {
		return "", nil
	}
	var b strings.Builder
	args := make([]any, 0, 2*len(sc))
	b.WriteString(` AND ("table_name" NOT IN (?` + strings.Repeat(", ?", len(sc)-1) + `) OR "scope" IS NULL`)
	for _, f := range sc {
		args = append(args, f.table)
	}
	for _, f := range sc {
		b.WriteString(` OR ("table_name" = ? AND "scope" IN (SELECT CAST("sv"."v" AS TEXT) FROM ? AS "sv" ("v")))`)
		args = append(args, f.table, f.in.Query)
	}
	b.WriteString(")")
	return b.String(), args
}
