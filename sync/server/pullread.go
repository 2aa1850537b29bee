package server

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

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
	// less than reading every user's changes. Not a doubt, a choice.
	fallbackCheaper = "cheaper"
)

// changesLimit is how many changes since prev an incremental pull reads
// before it rescans instead (fallbackCheaper, or fallbackChanges past
// maxIncremental).
func changesLimit(prev *cvr) int {
	return int(min(maxIncremental, 2*max(prev.meta.Size, 0)+256))
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

// readChanged reads what changed since prev: in one statement, the keys
// the change log has above prev's heads with their lines, the lines
// written after prev (unknown to its client), the lastMutationIDs and the
// group's head; then the rule inputs whose tables changed, the rows they
// let in or out, and the rows of all these keys. It returns why it gave
// up instead ("" if it did not).
func (h *Handler[Ctx]) readChanged(actx context.Context, db *orm.DB, group string, prev *cvr, rules []ruleInput, r *pullRead) (string, error) {
	lines := map[string]entry{}
	changed := map[string][]string{} // the changed rows' ids, by table
	images := map[string]image{}     // the changed rows' latest images, by key
	direct := h.directInputs(rules)
	n, err := h.readDelta(actx, db, group, prev, rules, direct, r, lines, changed, images)
	switch {
	case err != nil:
		return "", err
	case n > changesLimit(prev) && changesLimit(prev) < maxIncremental:
		return fallbackCheaper, nil
	case n > maxIncremental:
		return fallbackChanges, nil
	}
	r.size = prev.meta.Size
	d := &inputDeltas{h: h, ctx: actx, db: db, prev: prev, changed: changed, r: r, memo: map[string][]string{}}
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
	h.dropUnreadable(rules, r, lines, images)
	if err := h.readKeys(actx, db, lines, &r.patch); err != nil {
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
	changed  map[string][]string
	r        *pullRead // its inputs get the sets read or carried over
	fallback string    // why the pull must rescan, once known
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
		if len(d.changed[t]) > 0 {
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

// image is a changed row's latest image in the change log (nil for a
// del), with its version.
type image struct {
	version int64
	data    []byte
}

// dropUnreadable drops from lines the changed keys that need no read:
// the client holding the cookie does not hold the row (its line says
// so), and the row cannot be readable now, because it was deleted, or
// because its table's rule is one set input ("col IN (subquery)") whose
// values, as this pull knows them, leave out the row's col in its latest
// image. With many users writing, most changed rows are other users'.
// Any doubt (an unreadable image, a col that is no string or integer)
// keeps the key.
func (h *Handler[Ctx]) dropUnreadable(rules []ruleInput, r *pullRead, lines map[string]entry, images map[string]image) {
	sets := map[*tablePlan]ruleInput{}
	for _, ri := range rules {
		if ri.whole {
			sets[ri.p] = ri
		}
	}
	vals := map[string]map[string]bool{} // input key → its values
	for k, img := range images {
		e, ok := lines[k]
		if !ok {
			continue
		}
		if live, _, known := e.at(r.from); live || !known || e.live {
			continue
		}
		if img.data == nil {
			delete(lines, k)
			continue
		}
		name, _, _ := strings.Cut(k, "/")
		ri, ok := sets[h.planOf(name)]
		if !ok {
			continue
		}
		var row map[string]json.RawMessage
		if json.Unmarshal(img.data, &row) != nil {
			continue
		}
		v, ok := readrule.CanonJSON(row[ri.in.Col])
		if !ok {
			continue
		}
		set := vals[ri.in.Key]
		if set == nil {
			set = map[string]bool{}
			for _, x := range r.inputs[ri.in.Key] {
				set[x] = true
			}
			vals[ri.in.Key] = set
		}
		if !set[v] {
			delete(lines, k)
		}
	}
}

// lineKnown reports whether key is among the keys already read.
func lineKnown(lines map[string]entry, key string) bool {
	_, ok := lines[key]
	return ok
}

// readDelta runs readChanged's first statement, putting the lines of the
// keys it reads in lines and the ids of the changed rows in changed, by
// table. It returns the number of distinct changed keys, up to
// maxIncremental+1.
func (h *Handler[Ctx]) readDelta(ctx context.Context, db *orm.DB, group string, prev *cvr, rules []ruleInput, direct map[int]bool, r *pullRead, lines map[string]entry, changed map[string][]string, images map[string]image) (int, error) {
	var cond []string
	var args []any
	if h.perRegion {
		// Unnumbered changes too: every change the snapshot sees, so that
		// the rows read show exactly the mutations up to the
		// lastMutationIDs it reads (a change committed after the heads
		// were published is numbered later).
		for _, reg := range h.regions {
			cond = append(cond, `("region" = ? AND ("version" > ? OR "version" IS NULL))`)
			args = append(args, reg, prev.meta.Heads[reg])
		}
	} else { // one sequence covers every region
		cond = append(cond, `"version" > ?`)
		args = append(args, prev.meta.Heads[h.regions[0]])
	}
	// The lines are looked up key by key (lineText): a join lets
	// PostgreSQL's planner, which cannot know how few keys changed, read
	// the group's whole view.
	lineCols := lineText
	condArgs := args
	// A change's place among its row's: its version; on PostgreSQL a
	// change not numbered yet is newer than every numbered one (publish
	// numbers in id order), and among those the id orders them (a row's
	// writers wait for each other, and ids are taken as they write).
	order, orderCol := `c."version"`, `"version"`
	if h.perRegion {
		order, orderCol = `COALESCE(c."version", 4611686018427387904 + c."id")`, `"version", "id"`
	}
	q := `SELECT 1, c."table_name", c."row_id", ` + lineCols(`c."table_name" || '/' || c."row_id"`) + `, c."data", ` + order + `
FROM (SELECT "table_name", "row_id", "data", ` + orderCol + ` FROM "` + changelog.LogTable + `" WHERE ` + strings.Join(cond, " OR ") + ` LIMIT ?) c
UNION ALL SELECT 2, "row_key", '', CAST("hash" AS TEXT) || ' ' || CAST("ord" AS TEXT) || ' ' || CAST("live" AS TEXT), NULL, 0 FROM "` + ViewRowsTable + `" WHERE "group_id" = ? AND "live" IN (0, 1) AND "ord" > ?
UNION ALL SELECT 3, "id", '', CAST("last_mutation_id" AS TEXT), NULL, 0 FROM "` + ClientsTable + `" WHERE "group_id" = ?
UNION ALL SELECT 4, '', '', CAST("ord" AS TEXT), NULL, 0 FROM "` + ViewHeadsTable + `" WHERE "group_id" = ?`
	// In the text's order: the line's group, the conditions, the limit,
	// then the other branches'.
	args = append(append([]any{group}, condArgs...), changesLimit(prev)+1, group, prev.cookie.Order, group, group)
	for i, ri := range rules {
		if !direct[i] {
			continue
		}
		idCol := ri.p.Columns[ri.p.ID].Name
		q += `
UNION ALL SELECT * FROM (SELECT 5, CAST(? AS TEXT), x."` + idCol + `", ` + lineCols(`? || x."`+idCol+`"`) + `, NULL, 0
FROM "` + ri.p.table.Name() + `" x
WHERE x."` + ri.in.Col + `" IN (SELECT "row_id" FROM "` + changelog.LogTable + `" WHERE "table_name" = ? AND (` + strings.Join(cond, " OR ") + `)) LIMIT ?) d` + strconv.Itoa(i)
		args = append(args, ri.p.table.Name(), group, ri.p.prefix, ri.in.Table)
		args = append(append(args, condArgs...), changesLimit(prev)+1)
	}
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	r.lmids = map[string]int64{}
	n, n5 := 0, 0
	for rows.Next() {
		var kind int
		var a, b string
		var c sql.NullString
		var data []byte
		var version int64
		if err := rows.Scan(&kind, &a, &b, &c, &data, &version); err != nil {
			return 0, err
		}
		switch kind {
		case 1, 5: // a changed row; a row a direct input's changes may let in or out
			if kind == 1 {
				n++
				changed[a] = append(changed[a], b)
				if img, seen := images[a+"/"+b]; !seen || version > img.version {
					images[a+"/"+b] = image{version: version, data: data}
				}
			} else {
				n5++
			}
			if h.planOf(a) == nil {
				continue // not synced by this handler
			}
			if _, ok := lines[a+"/"+b]; ok {
				continue
			}
			e, err := parseLine(c)
			if err != nil {
				return 0, err
			}
			lines[a+"/"+b] = e
		case 2:
			e, err := parseLine(c)
			if err != nil {
				return 0, err
			}
			lines[a] = e
		case 3, 4:
			v, err := strconv.ParseInt(c.String, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("plasma: sync: reading the view: %w", err)
			}
			if kind == 3 {
				r.lmids[a] = v
			} else {
				r.base = v
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return n + n5, rows.Close()
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

// readKeys reads the rows of the keys of lines that the identity may
// read, and records each key in the patch against its line.
func (h *Handler[Ctx]) readKeys(actx context.Context, db *orm.DB, lines map[string]entry, pt *patch) error {
	byTable := map[*tablePlan][]string{}
	for _, k := range sortedKeys(lines) {
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
			err := h.scan(actx, db, p, where, func(id string, hash uint64) {
				k := p.prefix + id
				if e, ok := lines[k]; ok {
					pt.row(k, e, p, id, hash)
					delete(lines, k)
				}
			}, pt)
			if err != nil {
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
