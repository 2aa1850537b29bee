package realtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/tabledef"
)

// Batching of the read-access checks.
const (
	// checkBatch is how many identities one read-access statement
	// checks at most: one result column each (SQLite allows 2,000
	// columns, PostgreSQL 1,664) or, in the fallback form, one term of
	// a compound SELECT each (SQLite allows 500). 200 measured best on
	// BenchmarkFanout (100 and 400 were slower).
	checkBatch = 200
	// maxCheckArgs bounds the bound values of one such statement, well
	// under SQLite's 32,766 and PostgreSQL's 65,535.
	maxCheckArgs = 20000
)

// whoMayRead finds the identities with connections that may read a
// changed row now, or whose read rules may select other rows because of
// the changes (affected), and hands them to found as soon as they are
// known (found is called by one goroutine at a time), so that their
// connections can be poked while the other identities are still being
// checked. untell is false only for identities whose sole reason is
// that rows their binds matched were deleted: those are returned, with
// the keys of those rows, for tell.
func (h *Hub) whoMayRead(ctx context.Context, cs *changeSet, found func(ides []*identity, untell bool)) map[*identity][]string {
	idents := h.loadedIdentities()
	check, open := tablesToCheck(cs)
	var now, lossOnly, todo []*identity
	losses := map[*identity][]string{}
	idx := bindIndex{}
	for _, ide := range idents {
		v := h.affected(ide, cs, idx)
		if v.fallback {
			h.stats.fallbacks.Add(1)
		}
		switch {
		case open || v.gained || v.fallback:
			now = append(now, ide)
		case v.poke:
			lossOnly = append(lossOnly, ide)
			losses[ide] = v.lost
		case len(check) > 0:
			if yes, decided := h.readsInGo(ide, check); !decided {
				todo = append(todo, ide)
			} else if yes {
				now = append(now, ide)
			}
		}
	}
	var mu sync.Mutex
	report := func(ides []*identity) {
		if len(ides) == 0 {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		found(ides, true)
	}
	report(now)
	if len(lossOnly) > 0 {
		found(lossOnly, false)
	}

	h.checkConcurrently(ctx, todo, check, report)
	return losses
}

// loadedIdentities returns the identities whose binds a round loaded.
func (h *Hub) loadedIdentities() []*identity {
	h.mu.Lock()
	defer h.mu.Unlock()
	// An identity still waiting for its binds to load was published
	// after this round's loadBinds, and so after the round read its
	// changes: the poke its connection got on connecting comes after
	// them and covers them, and its unloaded binds would only make it a
	// fallback.
	waiting := make(map[*identity]bool, len(h.toLoad))
	for _, ide := range h.toLoad {
		waiting[ide] = true
	}
	idents := make([]*identity, 0, len(h.idents))
	for _, ide := range h.idents {
		if !waiting[ide] {
			idents = append(idents, ide)
		}
	}
	return idents
}

// tablesToCheck returns the tables whose changes need a read-access
// query: those with rows put. open reports a table with rows put and
// no read rule, readable by everyone: then no query is needed.
func tablesToCheck(cs *changeSet) (check []*tableChanges, open bool) {
	for _, name := range slices.Sorted(maps.Keys(cs.tables)) {
		tc := cs.tables[name]
		if len(tc.puts) == 0 {
			continue
		}
		if tc.t.Options().Auth.Read == nil {
			return check, true
		}
		check = append(check, tc)
	}
	return check, false
}

// checkConcurrently runs checkBatch on todo's identities, checkBatch at
// a time, CheckConcurrency batches at once, and waits for them.
func (h *Hub) checkConcurrently(ctx context.Context, todo []*identity, check []*tableChanges, report func([]*identity)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, h.opts.CheckConcurrency)
	for len(todo) > 0 {
		n := min(len(todo), checkBatch)
		batch := todo[:n:n]
		todo = todo[n:]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			h.checkBatch(ctx, batch, check, report)
		}()
	}
	wg.Wait()
}

// checkBatch reports the identities of batch that may read one of the
// rows put in tables, with one statement for the whole batch per table
// (and per idChunk ids), reporting each statement's finds at once.
func (h *Hub) checkBatch(ctx context.Context, batch []*identity, tables []*tableChanges, report func([]*identity)) {
	left := batch
	for _, tc := range tables {
		col, _ := tc.t.Column("id")
		ids := slices.Sorted(maps.Keys(tc.puts))
		for len(ids) > 0 && len(left) > 0 {
			n := min(len(ids), idChunk)
			vals, ok := idValues(col.Kind(), ids[:n])
			ids = ids[n:]
			if !ok {
				report(left)
				return
			}
			// As many identities per statement as the argument budget
			// allows (the ids, plus a few for each rule).
			per := max(1, min(checkBatch, maxCheckArgs/(n+8)))
			yes := map[*identity]bool{}
			for i := 0; i < len(left); i += per {
				part := left[i:min(i+per, len(left))]
				got, ok := h.mayReadRows(ctx, part, tc.t, vals)
				if !ok {
					got = h.mayRead(ctx, part, tc.t, vals)
				}
				for _, ide := range got {
					yes[ide] = true
				}
				report(got)
			}
			if len(yes) > 0 {
				left = slices.DeleteFunc(slices.Clone(left), func(ide *identity) bool { return yes[ide] })
			}
		}
	}
}

// mayReadRows returns the identities of part that may read one of the
// rows of t whose ids are vals, with one statement that reads those rows
// once and evaluates each identity's read rule on them, one result
// column per identity:
//
//	SELECT <rule of part[0]>, <rule of part[1]>, … FROM t WHERE id IN (…)
//
// The rules are the predicates the row-auth middleware adds for each
// identity. ok is false when that cannot be done (a rewritten query of
// an unexpected shape, or a failed statement): then use mayRead.
func (h *Hub) mayReadRows(ctx context.Context, part []*identity, t *orm.Table, vals []any) (yes []*identity, ok bool) {
	idCol := t.Col("id")
	var rewritten *orm.SelectQuery
	rewrite := rowauth.Middleware()(func(_ context.Context, st *orm.Statement) (*orm.Result, error) {
		rewritten, _ = st.Query.(*orm.SelectQuery)
		return &orm.Result{}, nil
	})
	var asked []*identity
	cols := make([]expr.Expr, 0, len(part))
	for _, ide := range part {
		rewritten = nil
		q := orm.Select(idCol).From(t).Where(expr.InArray(idCol, vals))
		_, err := rewrite(rowauth.WithIdentity(ctx, ide.id), &orm.Statement{Op: orm.OpSelect, Table: t, Query: q, DB: h.db})
		if err != nil {
			// The rule failed: in doubt, yes (as a failed query).
			h.log.Debug("plasma: realtime: read-access check failed; poking", "table", t.Name(), "user", ide.id.UserID, "err", err)
			yes = append(yes, ide)
			continue
		}
		p := rewritten.Parts()
		if p.From != t || p.FromSub != nil || len(p.Joins) > 0 || len(p.Where) < 2 {
			return nil, false
		}
		pred := expr.Expr(&expr.Logic{Op: expr.OpAnd, Args: p.Where[1:]})
		if len(p.Where) == 2 {
			pred = p.Where[1]
		}
		cols = append(cols, orm.CorrelateIn(pred))
		asked = append(asked, ide)
	}
	if len(asked) == 0 {
		return yes, true
	}
	res, err := h.db.Select(cols...).From(t).Where(expr.InArray(idCol, vals)).Rows(ctx)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Debug("plasma: realtime: batched read-access check failed; checking one term per identity", "table", t.Name(), "err", err)
		}
		return nil, false
	}
	defer res.Rows.Close()
	hit := make([]bool, len(asked))
	dest := make([]any, len(asked))
	ptrs := make([]any, len(asked))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	for res.Rows.Next() {
		if err := res.Rows.Scan(ptrs...); err != nil {
			return nil, false
		}
		for i, v := range dest {
			hit[i] = hit[i] || truthy(v)
		}
	}
	if res.Rows.Err() != nil {
		return nil, false
	}
	for i, ide := range asked {
		if hit[i] {
			yes = append(yes, ide)
		}
	}
	return yes, true
}

// truthy reports whether a predicate's value, as the driver returns it,
// is true: a bool on PostgreSQL, 1 on SQLite; NULL is not.
func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case int64:
		return x != 0
	case int:
		return x != 0
	case float64:
		return x != 0
	case []byte:
		s := string(x)
		return s == "1" || s == "t" || s == "true"
	case string:
		return x == "1" || x == "t" || x == "true"
	}
	return false
}

// mayRead is mayReadRows's fallback: it returns the identities of part
// that may read one of the rows of t whose ids are vals, with one
// statement made of the whole query row auth makes for each identity:
//
//	SELECT 0 WHERE EXISTS (SELECT id FROM t WHERE id IN (…) AND <rule of part[0]> LIMIT 1)
//	UNION ALL SELECT 1 WHERE EXISTS (…) …
//
// Each term is the query the row-auth middleware makes for that
// identity. A rule that fails counts as yes; so does a failed statement
// of one identity (one of several is retried one identity at a time).
func (h *Hub) mayRead(ctx context.Context, part []*identity, t *orm.Table, vals []any) []*identity {
	idCol := t.Col("id")
	var rewritten *orm.SelectQuery
	rewrite := rowauth.Middleware()(func(_ context.Context, st *orm.Statement) (*orm.Result, error) {
		rewritten, _ = st.Query.(*orm.SelectQuery)
		return &orm.Result{}, nil
	})
	var yes []*identity
	var asked []*identity
	b := &dialect.Builder{D: h.db.Dialect()}
	for _, ide := range part {
		rewritten = nil
		q := orm.Select(idCol).From(t).Where(expr.InArray(idCol, vals)).Limit(1)
		_, err := rewrite(rowauth.WithIdentity(ctx, ide.id), &orm.Statement{Op: orm.OpSelect, Table: t, Query: q, DB: h.db})
		if err == nil && rewritten == nil {
			err = errors.New("the row-auth middleware returned no query")
		}
		if err == nil {
			rewritten = correlated(rewritten)
			nb, na := len(b.Buf), len(b.Args)
			if len(asked) > 0 {
				b.WriteString(" UNION ALL ")
			}
			b.WriteString("SELECT ")
			b.WriteInt(int64(len(asked)))
			b.WriteString(" WHERE EXISTS (")
			if err = rewritten.AppendSQL(b); err == nil {
				_ = b.WriteByte(')')
			} else {
				b.Buf, b.Args = b.Buf[:nb], b.Args[:na]
			}
		}
		if err != nil {
			h.log.Debug("plasma: realtime: read-access check failed; poking", "table", t.Name(), "user", ide.id.UserID, "err", err)
			yes = append(yes, ide)
			continue
		}
		asked = append(asked, ide)
	}
	if len(asked) == 0 {
		return yes
	}
	res, err := h.db.Run(ctx, &orm.Statement{Op: orm.OpRaw, SQL: string(b.Buf), Args: b.Args, ReturnsRows: true})
	var hits []*identity
	if err == nil {
		rows := res.Rows
		for rows.Next() {
			var i int64
			if err = rows.Scan(&i); err != nil {
				break
			}
			if i < 0 || i >= int64(len(asked)) {
				err = fmt.Errorf("read-access check returned term %d of %d", i, len(asked))
				break
			}
			hits = append(hits, asked[i])
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
	}
	if err != nil {
		if len(asked) > 1 && ctx.Err() == nil {
			// One identity's term may be the trouble: ask one at a time.
			for _, ide := range asked {
				yes = append(yes, h.mayRead(ctx, []*identity{ide}, t, vals)...)
			}
			return yes
		}
		if ctx.Err() == nil {
			h.log.Debug("plasma: realtime: read-access check failed; poking", "table", t.Name(), "user", asked[0].id.UserID, "err", err)
		}
		return append(yes, asked...)
	}
	return append(yes, hits...)
}

// correlated returns q with each term of its WHERE rewritten by
// orm.CorrelateIn (an IN subquery in a positive position becomes a
// correlated EXISTS, which SQLite looks up in an index instead of
// reading every member of every list into a temporary table for each
// identity). It returns q itself when there is nothing to change.
func correlated(q *orm.SelectQuery) *orm.SelectQuery {
	var where []expr.Expr
	for i, e := range q.Parts().Where {
		if x := orm.CorrelateIn(e); x != e {
			if where == nil {
				where = slices.Clone(q.Parts().Where)
			}
			where[i] = x
		}
	}
	if where == nil {
		return q
	}
	c, cp := q.Rewrite()
	cp.Where = where
	return c
}

// idValues converts change-log row ids to values of the id column's
// kind.
func idValues(k tabledef.Kind, ids []string) ([]any, bool) {
	out := make([]any, len(ids))
	for i, id := range ids {
		switch k {
		case tabledef.KindInt, tabledef.KindBigInt:
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				return nil, false
			}
			out[i] = n
		default:
			out[i] = id
		}
	}
	return out, true
}
