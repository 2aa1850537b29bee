package server

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/internal/readrule"
	"github.com/plasma-go/plasma/tabledef"
)

// pullRead is what a pull read in its snapshot.
type pullRead struct {
	patch
	base   int64               // the group's head (0: none)
	lmids  map[string]int64    // the group's clients' lastMutationIDs
	inputs map[string][]string // the values of the rules' inputs, by key
	// fallback is why the pull rescanned every readable row ("" when it
	// read only the rows that changed).
	fallback string
}

// ruleInput is an input of a synced table's read rule (readrule.Input).
type ruleInput struct {
	p  *tablePlan
	in readrule.Input
	// whole: the rule is this input alone ("col IN (subquery)"), kept as
	// a set: a row is readable iff its col is in the set.
	whole bool
}

// The reasons a pull rescans instead of reading what changed; PullStats
// counts them.
const (
	// fallbackReset: the cookie names no view of the group (a new
	// client, a pruned or foreign cookie, a record of an older plasma).
	fallbackReset = "reset"
	// fallbackFingerprint: the schema or the identity changed.
	fallbackFingerprint = "fingerprint"
	// fallbackRule: a read rule is not analysable (readrule), or its
	// inputs differ from those the cookie's view recorded.
	fallbackRule = "rule"
	// fallbackUncaptured: Options.DisableFastPath says that rows change
	// outside the change log.
	fallbackUncaptured = "uncaptured"
	// fallbackChanges: more rows changed since the cookie than an
	// incremental pull reads (maxIncremental).
	fallbackChanges = "changes"
	// fallbackCheaper: the change log since the cookie is longer than
	// twice the group's view (plus 256): reading the user's rows costs
	// less than counting and probing every user's changes (measured by
	// BenchmarkPullAfterOthers: a change of another user costs an
	// incremental pull about what a row of the view costs a rescan).
	// Not a doubt, a choice.
	fallbackCheaper = "cheaper"
)

// changesLimit is how many changes since prev an incremental pull reads
// before it rescans instead (fallbackCheaper, or fallbackChanges past
// maxIncremental).
func changesLimit(prev *cvr) int {
	return int(min(maxIncremental, 2*max(prev.meta.Size, 0)+256))
}

// cheaper reports whether the change log since prev is already known,
// from the heads alone, to be longer than an incremental pull should
// read (changesLimit): then the pull rescans without counting the
// changes in its snapshot first, which would read as many as the limit
// for nothing. A pull that reads scoped tables (scope.go) passes over
// the changes outside its scopes in the log's range at about a quarter
// of what probing one costs (BenchmarkPullAfterOthers), so its limit is
// scopedPassOver times as long; the changes it does read are counted in
// the snapshot against changesLimit.
func (h *Handler[Ctx]) cheaper(prev *cvr, heads map[string]int64, rules []ruleInput) bool {
	limit := int64(changesLimit(prev))
	if limit >= maxIncremental {
		return false
	}
	if len(h.scopeFilters(rules)) > 0 {
		limit *= scopedPassOver
	}
	return h.changesSince(prev, heads) > limit
}

// scopedPassOver is how many changes outside its scopes a scoped pull
// passes over for the cost of one it probes (see cheaper).
const scopedPassOver = 4

// changesSince is how many changes the change log numbered above prev's
// heads, up to heads (the heads the pull read): on PostgreSQL each
// region's versions have no holes; on SQLite the versions, shared by all
// regions, may have some. Compaction may have dropped some of them, and
// changes not numbered yet are left out: an estimate, for the cheaper
// choice (changesLimit) before the snapshot is read.
func (h *Handler[Ctx]) changesSince(prev *cvr, heads map[string]int64) int64 {
	regions := h.regions
	if !h.perRegion {
		regions = regions[:1] // one sequence covers every region
	}
	var n int64
	for _, r := range regions {
		n += max(heads[r]-prev.meta.Heads[r], 0)
	}
	return n
}

// maxIncremental bounds the rows an incremental pull reads; past it, a
// rescan costs about the same and holds less in memory.
const maxIncremental = 20000

// rules analyses the synced tables' read rules for the identity of actx;
// ok is false when one is not analysable.
func (h *Handler[Ctx]) rules(actx context.Context) (out []ruleInput, ok bool) {
	for _, p := range h.plans {
		read := p.table.Options().Auth.Read
		if read == nil {
			continue
		}
		e, err := read(actx)
		if err != nil || e == nil {
			return nil, false
		}
		ins, ok := readrule.Analyze(h.opts.Schema, p.table, e, h.base.Dialect())
		if !ok {
			return nil, false
		}
		in, top := e.(*expr.In)
		whole := top && in.Sub != nil && len(ins) == 1 && !ins[0].ByID
		for _, in := range ins {
			out = append(out, ruleInput{p: p, in: in, whole: whole})
		}
	}
	return out, true
}

// readPull reads, in one read-only transaction (REPEATABLE READ on
// PostgreSQL), the group's lastMutationIDs, its view's head, and the
// rows of the synced tables the patch from prev (nil: a reset) needs:
// those that changed since prev's heads and those a changed rule input
// lets in or out, or, when it cannot be sure of these (fallback), every
// row the identity may read. The rows then show exactly the effects of
// the mutations up to the lastMutationIDs.
func (h *Handler[Ctx]) readPull(ctx context.Context, ident rowauth.Identity, group string, prev *cvr, fallback string, rules []ruleInput) (*pullRead, error) {
	actx := rowauth.WithIdentity(ctx, ident)
	var r *pullRead
	read := func(db *orm.DB) error {
		r = &pullRead{fallback: fallback}
		if prev != nil {
			r.from = prev.cookie.Order
		}
		if fallback == "" {
			why, err := h.readChanged(actx, db, group, prev, rules, r)
			if err != nil || why == "" {
				if err == nil && h.verify != nil {
					err = h.verifyPull(actx, db, group, prev, rules, r)
				}
				return err
			}
			r = &pullRead{fallback: why, patch: patch{from: prev.cookie.Order}}
		}
		r.reset = prev == nil
		return h.readAll(actx, db, group, rules, r)
	}
	if h.begin == nil {
		err := h.db.Tx(ctx, func(tx *orm.Tx) error { return read(tx.DB) })
		return r, err
	}
	opts := &sql.TxOptions{ReadOnly: true}
	if h.perRegion {
		opts.Isolation = sql.LevelRepeatableRead
	}
	// One snapshot for the lmids, the view and every table, on the
	// handler's DB so that row auth and the application's own middlewares
	// see the reads.
	tx, err := h.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if err := read(tx.DB); err != nil {
		return nil, err
	}
	return r, tx.Commit()
}

// readChanged reads what changed since prev: in one statement, how many
// changes the change log has above prev's heads, by table, the lines of
// the changed keys the view holds, the lines written after prev (unknown
// to its client), the lastMutationIDs and the group's head; then the rule
// inputs whose tables changed and the rows they let in or out; then, per
// changed table, the changed rows the identity may read now (a semi-join
// of the change log with the table, under row auth), and the other keys'
// rows. Other users' changes are counted and probed in the database, and
// never read into the pull. It returns why it gave up instead ("" if it
// did not).
func (h *Handler[Ctx]) readChanged(actx context.Context, db *orm.DB, group string, prev *cvr, rules []ruleInput, r *pullRead) (string, error) {
	lines := map[string]entry{}
	direct := h.directInputs(rules)
	dl, err := h.readDelta(actx, db, group, prev, rules, direct, r, lines)
	switch {
	case err != nil:
		return "", err
	case dl.n > changesLimit(prev) && changesLimit(prev) < maxIncremental:
		return fallbackCheaper, nil
	case dl.n > maxIncremental:
		return fallbackChanges, nil
	}
	h.stats.changes.Add(uint64(dl.n))
	if len(dl.scopes) > 0 {
		h.stats.scoped.Add(1)
	}
	r.size = prev.meta.Size
	d := &inputDeltas{h: h, ctx: actx, db: db, prev: prev, tables: dl.tables, changed: dl.ids, r: r, memo: map[string][]string{}}
	r.inputs = map[string][]string{}
	var more []string // keys whose rows a changed input lets in or out
	for i, ri := range rules {
		vals, err := d.affected(&ri.in, direct[i])
		if err != nil || d.fallback != "" {
			return d.fallback, err
		}
		ids, err := d.idsWith(ri.p, ri.in.Col, ri.in.Key, direct[i], vals)
		if err != nil {
			return "", err
		}
		for _, id := range ids {
			if k := ri.p.prefix + id; !lineKnown(lines, k) {
				lines[k] = entry{}
				more = append(more, k)
			}
		}
		if len(lines) > maxIncremental {
			return fallbackChanges, nil
		}
	}
	if err := loadLines(actx, db, group, more, lines); err != nil {
		return "", err
	}
	if err := h.readKeys(actx, db, prev, dl, lines, &r.patch); err != nil {
		return "", err
	}
	return "", nil
}

// inputDeltas works out, for one incremental pull, which values the
// rules' inputs may have gained or lost since the cookie's view.
type inputDeltas struct {
	h        interface{ planOf(string) *tablePlan }
	ctx      context.Context
	db       *orm.DB
	prev     *cvr
	tables   map[string]int      // the change log's rows since prev, by table
	changed  map[string][]string // the changed rows' ids of the tables readDelta lists them for (idTables)
	r        *pullRead           // its inputs get the sets read or carried over
	fallback string              // why the pull must rescan, once known
	// the results of affected and idsWith, by input key (several rules
	// often share an input, such as the user's lists)
	memo map[string][]string
}

// idsWith is the package's idsWith for the values affected returned for
// the input key (with skipOwn), remembered.
func (d *inputDeltas) idsWith(p *tablePlan, col, key string, skipOwn bool, vals []string) ([]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	k := fmt.Sprintf("ids\x00%s\x00%s\x00%s\x00%t", p.table.Name(), col, key, skipOwn)
	if ids, ok := d.memo[k]; ok {
		return ids, nil
	}
	ids, err := idsWith(d.ctx, d.db, p, col, vals)
	if err == nil {
		d.memo[k] = ids
	}
	return ids, err
}

// affected returns the canonical values in may have gained or lost: for
// an input kept as a set, the difference between the set the cookie's
// view recorded and the set now (read again only when a table it depends
// on changed); for one selecting ids, the ids of its table's changed
// rows (unless readDelta followed them: skipOwn) and of the rows its
// inner inputs' changes let in or out.
func (d *inputDeltas) affected(in *readrule.Input, skipOwn bool) ([]string, error) {
	k := fmt.Sprintf("affected\x00%s\x00%t", in.Key, skipOwn)
	if vals, ok := d.memo[k]; ok {
		return vals, nil
	}
	vals, err := d.affect(in, skipOwn)
	if err == nil && d.fallback == "" {
		d.memo[k] = vals
	}
	return vals, err
}

// affect computes affected.
func (d *inputDeltas) affect(in *readrule.Input, skipOwn bool) ([]string, error) {
	if !in.ByID {
		old, ok := d.prev.meta.Inputs[in.Key]
		if !ok {
			d.fallback = fallbackRule
			return nil, nil
		}
		d.r.inputs[in.Key] = old
		if !d.dependsOnChanges(in) {
			return nil, nil
		}
		now, ok, err := inputValues(d.ctx, d.db, *in)
		if err != nil || !ok {
			d.fallback = fallbackRule
			return nil, err
		}
		d.r.inputs[in.Key] = now
		return symDiff(old, now), nil
	}
	p := d.h.planOf(in.Table)
	set := map[string]bool{}
	if p == nil {
		d.fallback = fallbackRule
		return nil, nil
	}
	for _, id := range d.changed[in.Table] {
		if !skipOwn {
			set[canonID(p, id)] = true
		}
	}
	for i := range in.Inner {
		vals, err := d.affected(&in.Inner[i], false)
		if err != nil || d.fallback != "" {
			return nil, err
		}
		ids, err := d.idsWith(p, in.Inner[i].Col, in.Inner[i].Key, false, vals)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			set[canonID(p, id)] = true
		}
		if len(set) > maxIncremental {
			d.fallback = fallbackChanges
			return nil, nil
		}
	}
	return sortedKeys(set), nil
}

// dependsOnChanges reports whether a table in's values depend on has
// changed.
func (d *inputDeltas) dependsOnChanges(in *readrule.Input) bool {
	for t := range in.Tables {
		if d.tables[t] > 0 {
			return true
		}
	}
	return false
}

// canonID is a row id of p as readrule.Canon gives it.
func canonID(p *tablePlan, id string) string {
	if k := p.Columns[p.ID].Kind; k == tabledef.KindInt || k == tabledef.KindBigInt {
		return "n:" + id
	}
	return "s:" + id
}

// lineKnown reports whether key is among the keys already read.
func lineKnown(lines map[string]entry, key string) bool {
	_, ok := lines[key]
	return ok
}

// delta is what readDelta read of the change log since a cookie.
type delta struct {
	// n is the number of change-log rows since the cookie (up to
	// changesLimit+1) and of the rows the direct inputs' changes may let
	// in or out.
	n int
	// tables counts the change-log rows since the cookie by table.
	tables map[string]int
	// ids are the changed rows' ids of the tables in idTables.
	ids map[string][]string
	// changed are the keys of lines that the change log names: readKeys
	// reads their rows with the rest of their table's changed rows.
	changed map[string]bool
	// scopes filter the change log's rows read (scope.go).
	scopes []scopeFilter
}

// since returns a SELECT of cols from the change-log rows above prev's
// heads (where also cond, with its arguments extra), and its arguments.
// On PostgreSQL each region is read as two index ranges, its numbered
// changes above its head ((region, version)) and its unnumbered ones
// (the partial pending index), joined by UNION ALL: with the two in one
// OR, a generic plan read every change of the region, and every pull
// grew with the log. The unnumbered ones are read in id order, at most
// limit of them, so that the planner walks the pending index in a plain
// index scan: a publication leaves a dead entry there for each change it
// numbers, until vacuum, and a bitmap scan read them all at every pull
// where a plain one marks them dead once.
//
// The scope filters sc leave out the changes of scoped tables outside the
// pull's scopes (scope.go).
func (h *Handler[Ctx]) since(prev *cvr, sc []scopeFilter, cols, cond string, limit int, extra ...any) (string, []any) {
	var parts []string
	var args []any
	if cond != "" {
		cond = " AND " + cond
	}
	from := `SELECT ` + cols + ` FROM "` + changelog.LogTable + `" WHERE `
	if !h.perRegion { // one sequence covers every region
		return from + `"version" > ?` + cond, append([]any{prev.meta.Heads[h.regions[0]]}, extra...)
	}
	scope, scopeArgs := scopeCond(sc)
	cond += scope
	extra = append(slices.Clip(extra), scopeArgs...)
	for _, reg := range h.regions {
		// Unnumbered changes too: every change the snapshot sees, so that
		// the rows read show exactly the mutations up to the
		// lastMutationIDs it reads (a change committed after the heads
		// were published is numbered later).
		parts = append(parts, `(`+from+`"region" = ? AND "version" > ?`+cond+`)`,
			`(`+from+`"region" = ? AND "version" IS NULL`+cond+` ORDER BY "id" LIMIT ?)`)
		args = append(append(args, reg, prev.meta.Heads[reg]), extra...)
		args = append(append(append(args, reg), extra...), limit)
	}
	return strings.Join(parts, " UNION ALL "), args
}

// idTables returns the tables whose changed ids inputDeltas.affect needs:
// those of the inputs selecting ids (ByID) that readDelta does not follow
// itself (direct), at any depth.
func idTables(rules []ruleInput, direct map[int]bool) []string {
	set := map[string]bool{}
	var walk func(in *readrule.Input, skipOwn bool)
	walk = func(in *readrule.Input, skipOwn bool) {
		if !in.ByID {
			return // kept as a set: read again whole when its tables changed
		}
		if !skipOwn {
			set[in.Table] = true
		}
		for i := range in.Inner {
			walk(&in.Inner[i], false)
		}
	}
	for i, ri := range rules {
		walk(&ri.in, direct[i])
	}
	return sortedKeys(set)
}

// readDelta runs readChanged's first statement. It puts in lines the
// lines of the changed keys the view holds, of the keys written after
// prev, and of the rows the direct inputs' changes may let in or out.
// The change log's rows since prev are counted by table and probed for
// a line in the database: those of keys the group's view does not hold
// (most of them, with many users writing, other users' rows) never leave
// it; readKeys reads the changed rows the identity may read.
func (h *Handler[Ctx]) readDelta(ctx context.Context, db *orm.DB, group string, prev *cvr, rules []ruleInput, direct map[int]bool, r *pullRead, lines map[string]entry) (*delta, error) {
	dl := &delta{tables: map[string]int{}, ids: map[string][]string{}, changed: map[string]bool{}, scopes: h.scopeFilters(rules)}
	sinceSQL, sinceArgs := h.since(prev, dl.scopes, `"table_name", "row_id"`, "", changesLimit(prev)+1)
	// The lines are looked up key by key (lineText): a join lets
	// PostgreSQL's planner, which cannot know how few keys changed, read
	// the group's whole view. A key without a line costs one index probe.
	key := `c."table_name" || '/' || c."row_id"`
	// On SQLite the changes since prev are read where each branch needs
	// them (a range of the log's key each time), not in a WITH, which it
	// would copy into a temporary table first. PostgreSQL keeps a WITH
	// read more than once in memory, and reads the log's indexes once.
	sub := `(SELECT "table_name", "row_id" FROM (` + sinceSQL + `) s LIMIT ?)`
	c, cArgs := sub+` c`, append(append([]any{}, sinceArgs...), changesLimit(prev)+1)
	q, args := "", []any{}
	if h.perRegion {
		q, args = `WITH "c" AS `+sub+"\n", cArgs
		c, cArgs = `"c" c`, nil
	}
	q += `SELECT 1, c."table_name", '', CAST(COUNT(*) AS TEXT) FROM ` + c + ` GROUP BY c."table_name"
UNION ALL SELECT 6, c."table_name", c."row_id", ` + lineText(key) + ` FROM ` + c + ` WHERE ` + lineText(key) + ` IS NOT NULL`
	args = append(append(append(append(args, cArgs...), group), cArgs...), group)
	if ts := idTables(rules, direct); len(ts) > 0 {
		q += `
UNION ALL SELECT 7, c."table_name", c."row_id", NULL FROM ` + c + ` WHERE c."table_name" IN (?` + strings.Repeat(", ?", len(ts)-1) + `)`
		args = append(args, cArgs...)
		for _, t := range ts {
			args = append(args, t)
		}
	}
	q += `
UNION ALL SELECT 2, "row_key", '', CAST("hash" AS TEXT) || ' ' || CAST("ord" AS TEXT) || ' ' || CAST("live" AS TEXT) FROM "` + ViewRowsTable + `" WHERE "group_id" = ? AND "live" IN (0, 1) AND "ord" > ?
UNION ALL SELECT 3, "id", '', CAST("last_mutation_id" AS TEXT) FROM "` + ClientsTable + `" WHERE "group_id" = ?
UNION ALL SELECT 4, '', '', CAST("ord" AS TEXT) FROM "` + ViewHeadsTable + `" WHERE "group_id" = ?`
	args = append(args, group, prev.cookie.Order, group, group)
	for i, ri := range rules {
		if !direct[i] {
			continue
		}
		idCol := ri.p.Columns[ri.p.ID].Name
		q += `
UNION ALL SELECT * FROM (SELECT 5, CAST(? AS TEXT), x."` + idCol + `", ` + lineText(`? || x."`+idCol+`"`) + `
FROM "` + ri.p.table.Name() + `" x
WHERE x."` + ri.in.Col + `" IN (SELECT c."row_id" FROM ` + c + ` WHERE c."table_name" = ?) LIMIT ?) d` + strconv.Itoa(i)
		args = append(append(append(args, ri.p.table.Name(), group, ri.p.prefix), cArgs...), ri.in.Table, changesLimit(prev)+1)
	}
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	r.lmids = map[string]int64{}
	for rows.Next() {
		var kind int
		var a, b string
		var c sql.NullString
		if err := rows.Scan(&kind, &a, &b, &c); err != nil {
			return nil, err
		}
		switch kind {
		case 1: // the changes of a table
			n, err := strconv.Atoi(c.String)
			if err != nil {
				return nil, fmt.Errorf("plasma: sync: reading the change log: %w", err)
			}
			dl.tables[a] += n
			dl.n += n
		case 7: // a changed row's id, for an input selecting ids
			dl.ids[a] = append(dl.ids[a], b)
		case 5, 6: // a row a direct input's changes may let in or out; a changed key the view holds
			if kind == 5 {
				dl.n++
			}
			if h.planOf(a) == nil {
				continue // not synced by this handler
			}
			k := a + "/" + b
			if kind == 6 {
				dl.changed[k] = true
			}
			if _, ok := lines[k]; ok {
				continue
			}
			e, err := parseLine(c)
			if err != nil {
				return nil, err
			}
			lines[k] = e
		case 2:
			e, err := parseLine(c)
			if err != nil {
				return nil, err
			}
			lines[a] = e
		case 3, 4:
			v, err := strconv.ParseInt(c.String, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("plasma: sync: reading the view: %w", err)
			}
			if kind == 3 {
				r.lmids[a] = v
			} else {
				r.base = v
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return dl, rows.Close()
}

// directInputs picks, by index in rules, the inputs whose changed ids
// readDelta follows itself: those selecting the ids of a table (ByID),
// where the ids and the column are text. The rows a change of the
// table's rows may let in or out are those whose column holds a changed
// row's id; those its inner inputs' changes let in or out are still
// inputDeltas.affected's.
func (h *Handler[Ctx]) directInputs(rules []ruleInput) map[int]bool {
	out := map[int]bool{}
	for i, ri := range rules {
		if !ri.in.ByID {
			continue
		}
		m := h.planOf(ri.in.Table)
		c, ok := ri.p.table.Column(ri.in.Col)
		if m != nil && ok && textKind(m.Columns[m.ID].Kind) && textKind(ri.p.Columns[ri.p.ID].Kind) && textKind(c.Kind()) {
			out[i] = true
		}
	}
	return out
}

// textKind reports whether values of k are text in the database.
func textKind(k tabledef.Kind) bool { return k == tabledef.KindID || k == tabledef.KindText }

// parseLine parses a view line as readDelta selects it: hash, order and
// live as text, separated by spaces; NULL for a key without a line.
func parseLine(c sql.NullString) (entry, error) {
	if !c.Valid {
		return entry{}, nil
	}
	f := strings.Fields(c.String)
	if len(f) != 3 {
		return entry{}, fmt.Errorf("plasma: sync: reading the view: line %q", c.String)
	}
	hash, err1 := strconv.ParseInt(f[0], 10, 64)
	ord, err2 := strconv.ParseInt(f[1], 10, 64)
	live, err3 := strconv.ParseInt(f[2], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return entry{}, fmt.Errorf("plasma: sync: reading the view: %w", err)
	}
	return entry{hash: uint64(hash), ord: ord, live: live != 0, found: true}, nil
}

// planOf returns the plan of the synced table name, or nil.
func (h *Handler[Ctx]) planOf(name string) *tablePlan {
	for _, p := range h.plans {
		if p.table.Name() == name {
			return p
		}
	}
	return nil
}

// readKeys reads the rows of the keys that may have changed for the
// identity and records each key in the patch against its line (none if
// lines has none): first, per table the change log names since prev, its
// changed rows the identity may read (the rest of its changed keys the
// view holds are gone for it); then the rows of the other keys of lines.
// The keys of lines left are gone.
func (h *Handler[Ctx]) readKeys(actx context.Context, db *orm.DB, prev *cvr, dl *delta, lines map[string]entry, pt *patch) error {
	done := map[string]bool{}
	record := func(p *tablePlan) func(id string, hash uint64) {
		return func(id string, hash uint64) {
			k := p.prefix + id
			if done[k] {
				return // read twice: changed, and let in by an input
			}
			done[k] = true
			pt.row(k, lines[k], p, id, hash)
			delete(lines, k)
		}
	}
	for _, p := range h.plans {
		if dl.tables[p.table.Name()] == 0 {
			continue
		}
		// The log's row ids are text, as a synced table's id is
		// (orm.DefineSchema wants orm.ID's kind), so the two compare
		// without a cast that would keep the id's index out.
		// The limit cuts nothing: readDelta found no more changes in
		// this snapshot.
		sub, args := h.since(prev, dl.scopes, `"row_id"`, `"table_name" = ?`, changesLimit(prev)+1, p.table.Name())
		where := expr.SQL(dialect.QuoteIdent(p.table.Name())+"."+dialect.QuoteIdent(p.Columns[p.ID].Name)+" IN ("+sub+")", args...)
		if err := h.scan(actx, db, p, where, record(p), pt); err != nil {
			return err
		}
	}
	byTable := map[*tablePlan][]string{}
	for _, k := range sortedKeys(lines) {
		if dl.changed[k] {
			continue // its table's changed rows were read: it is gone
		}
		name, id, _ := strings.Cut(k, "/")
		if p := h.planOf(name); p != nil {
			byTable[p] = append(byTable[p], id)
		}
	}
	per := idsPerRead
	if h.perRegion {
		per = keysPerQuery
	}
	for _, p := range h.plans {
		ids := byTable[p]
		for len(ids) > 0 {
			n := min(len(ids), per)
			where := expr.InArray(p.table.Col(p.Columns[p.ID].Name), idArgs(p, ids[:n]))
			if err := h.scan(actx, db, p, where, record(p), pt); err != nil {
				return err
			}
			ids = ids[n:]
		}
	}
	for _, k := range sortedKeys(lines) {
		pt.gone(k, lines[k])
	}
	return nil
}

// idArgs are ids as values of p's id column.
func idArgs(p *tablePlan, ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = readrule.Value(canonID(p, id))
	}
	return out
}

// readAll reads every row the identity may read and the group's whole
// view, the lastMutationIDs and head, and the rules' inputs: a rescan.
func (h *Handler[Ctx]) readAll(actx context.Context, db *orm.DB, group string, rules []ruleInput, r *pullRead) error {
	lines := map[string]entry{}
	if err := h.readView(actx, db, group, r, lines); err != nil {
		return err
	}
	r.size = 0
	for _, e := range lines {
		if e.live {
			r.size++
		}
	}
	for _, p := range h.plans {
		err := h.scan(actx, db, p, nil, func(id string, hash uint64) {
			k := p.prefix + id
			e := lines[k]
			delete(lines, k)
			r.row(k, e, p, id, hash)
		}, &r.patch)
		if err != nil {
			return err
		}
	}
	for _, k := range sortedKeys(lines) {
		r.gone(k, lines[k])
	}
	r.inputs = map[string][]string{}
	for _, ri := range rules {
		if err := readSets(actx, db, &ri.in, r.inputs); err != nil {
			return err
		}
	}
	return nil
}

// readSets reads the values of in and its inner inputs that are kept as
// sets (readrule.Input.ByID unset) into sets. An input whose values have
// no canonical form is left out: the next pull finds it missing and
// rescans.
func readSets(ctx context.Context, db *orm.DB, in *readrule.Input, sets map[string][]string) error {
	if _, done := sets[in.Key]; !done && !in.ByID {
		vals, ok, err := inputValues(ctx, db, *in)
		if err != nil {
			return err
		}
		if ok {
			sets[in.Key] = vals
		}
	}
	for i := range in.Inner {
		if err := readSets(ctx, db, &in.Inner[i], sets); err != nil {
			return err
		}
	}
	return nil
}

// readView reads the group's view, lastMutationIDs and head in one
// statement.
func (h *Handler[Ctx]) readView(ctx context.Context, db *orm.DB, group string, r *pullRead, lines map[string]entry) error {
	rows, err := db.Query(ctx, `SELECT 1, "row_key", "hash", "ord", "live" FROM "`+ViewRowsTable+`" WHERE "group_id" = ?
UNION ALL SELECT 3, "id", "last_mutation_id", 0, 0 FROM "`+ClientsTable+`" WHERE "group_id" = ?
UNION ALL SELECT 4, '', "ord", 0, 0 FROM "`+ViewHeadsTable+`" WHERE "group_id" = ?`, group, group, group)
	if err != nil {
		return err
	}
	defer rows.Close()
	r.lmids = map[string]int64{}
	for rows.Next() {
		var kind int
		var key string
		var hash, ord, live int64
		if err := rows.Scan(&kind, &key, &hash, &ord, &live); err != nil {
			return err
		}
		switch kind {
		case 1:
			lines[key] = entry{hash: uint64(hash), ord: ord, live: live != 0, found: true}
		case 3:
			r.lmids[key] = hash
		case 4:
			r.base = hash
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// scan reads the rows of one table that the context's identity may read
// (those matching where, if not nil) and calls fn with each row's id and
// hash, its JSON in pt.value.
func (h *Handler[Ctx]) scan(ctx context.Context, db *orm.DB, p *tablePlan, where expr.Expr, fn func(id string, hash uint64), pt *patch) error {
	q := db.Select().From(p.table)
	if where != nil {
		q = q.Where(where)
	}
	res, err := q.Rows(ctx)
	if err != nil {
		return err
	}
	rows := res.Rows
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	if len(cols) != len(p.Columns) {
		return fmt.Errorf("plasma: sync: %s: read %d columns, the schema declares %d", p.table.Name(), len(cols), len(p.Columns))
	}
	for i, c := range cols {
		if c != p.Columns[i].Name {
			return fmt.Errorf("plasma: sync: %s: column %d is %q, the schema declares %q", p.table.Name(), i, c, p.Columns[i].Name)
		}
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if pt.value, err = p.appendRow(pt.value[:0], vals); err != nil {
			return err
		}
		sum := sha256.Sum256(pt.value)
		fn(idString(vals[p.ID]), binary.LittleEndian.Uint64(sum[:8]))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// inputValues runs an input's subquery (as the rule's own subqueries
// run: trusted, without row auth) and returns its distinct non-NULL
// values, canonical (readrule.Canon) and sorted; ok is false when one
// has no canonical form.
func inputValues(ctx context.Context, db *orm.DB, in readrule.Input) ([]string, bool, error) {
	p := in.Query.Parts()
	res, err := db.Select(p.Columns...).From(p.From).Where(p.Where...).Rows(rowauth.AsSystem(ctx))
	if err != nil {
		return nil, false, err
	}
	defer res.Rows.Close()
	set := map[string]bool{}
	var v any
	for res.Rows.Next() {
		if err := res.Rows.Scan(&v); err != nil {
			return nil, false, err
		}
		if v == nil {
			continue
		}
		k, ok := readrule.Canon(v)
		if !ok {
			return nil, false, nil
		}
		set[k] = true
	}
	if err := res.Rows.Err(); err != nil {
		return nil, false, err
	}
	return sortedKeys(set), true, res.Rows.Close()
}

// idsWith returns the ids of p's rows whose col is among vals
// (canonical), read without row auth: the rows a change of an input's
// values may let in or out.
func idsWith(ctx context.Context, db *orm.DB, p *tablePlan, col string, vals []string) ([]string, error) {
	var out []string
	for len(vals) > 0 {
		n := min(len(vals), keysPerQuery)
		args := make([]any, n)
		for i, v := range vals[:n] {
			args[i] = readrule.Value(v)
		}
		idCol := p.table.Col(p.Columns[p.ID].Name)
		res, err := db.Select(idCol).From(p.table).Where(expr.InArray(p.table.Col(col), args)).Rows(rowauth.AsSystem(ctx))
		if err != nil {
			return nil, err
		}
		var v any
		for res.Rows.Next() {
			if err := res.Rows.Scan(&v); err != nil {
				res.Rows.Close()
				return nil, err
			}
			out = append(out, idString(v))
		}
		err = res.Rows.Err()
		res.Rows.Close()
		if err != nil {
			return nil, err
		}
		vals = vals[n:]
	}
	return out, nil
}

// symDiff returns the values in exactly one of a and b (both sorted).
func symDiff(a, b []string) []string {
	var out []string
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0 || (len(a) > 0 && a[0] < b[0]):
			out, a = append(out, a[0]), a[1:]
		case len(a) == 0 || b[0] < a[0]:
			out, b = append(out, b[0]), b[1:]
		default:
			a, b = a[1:], b[1:]
		}
	}
	return out
}

// verifyPull computes the rescan's answer for the same cookie in the
// same snapshot as the incremental answer r, and reports any difference
// to h.verify (tests only).
func (h *Handler[Ctx]) verifyPull(actx context.Context, db *orm.DB, group string, prev *cvr, rules []ruleInput, r *pullRead) error {
	full := &pullRead{patch: patch{from: prev.cookie.Order}}
	if err := h.readAll(actx, db, group, rules, full); err != nil {
		return err
	}
	var diffs []string
	if a, b := patchOps(&r.patch), patchOps(&full.patch); !slices.Equal(a, b) {
		diffs = append(diffs, fmt.Sprintf("patch: incremental %q, rescan %q", a, b))
	}
	if a, b := linesOf(r.writes), linesOf(full.writes); !slices.Equal(a, b) {
		diffs = append(diffs, fmt.Sprintf("view lines: incremental %q, rescan %q", a, b))
	}
	if !maps.Equal(r.lmids, full.lmids) || r.base != full.base {
		diffs = append(diffs, fmt.Sprintf("lmids/head: incremental %v %d, rescan %v %d", r.lmids, r.base, full.lmids, full.base))
	}
	for k, v := range r.inputs {
		if !slices.Equal(v, full.inputs[k]) && !slices.Equal(v, prev.meta.Inputs[k]) {
			diffs = append(diffs, fmt.Sprintf("input %s: incremental %q, rescan %q", k, v, full.inputs[k]))
		}
	}
	if len(diffs) > 0 {
		h.verify(group, strings.Join(diffs, "; "))
	}
	return nil
}

// patchOps lists a patch's ops as sorted text.
func patchOps(pt *patch) []string {
	var out []string
	pt.puts.eachPut(func(key, value []byte) { out = append(out, "put "+string(key)+" "+string(value)) })
	for _, k := range pt.dels {
		out = append(out, "del "+k)
	}
	slices.Sort(out)
	return out
}

// linesOf lists view lines as sorted text.
func linesOf(ws []viewWrite) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = fmt.Sprintf("%s %x %t", w.key, w.hash, w.live)
	}
	slices.Sort(out)
	return out
}
