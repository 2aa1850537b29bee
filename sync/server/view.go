package server

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/protocol"
)

// A client group's view is kept in ViewRowsTable, one line per row key:
// the hash of the row as last sent to the group, the order of the
// cookie whose pull sent it (or its del), and whether the group holds
// it. A pull writes the lines of the rows its patch changes, and no
// others, under the order of the cookie it answers.
//
// A client holding cookie c holds, for a key, what the key's line says
// when the line's order is at or below c: every later pull of the group
// started from a view that was c's or newer, and wrote only the lines it
// changed, under a higher order. A line above c overwrote what c's client
// holds, so it is unknown: a pull from c sends such a row again (a put if
// the row is readable now, else a del). A key without a line is held by
// no client of the group. The lines of dels are kept until every kept
// cookie is at or above them (pruneSQL), then dropped.
//
// Pulls of one group store their views one after the other: a pull
// stores only if the group's head (ViewHeadsTable), read in its
// snapshot, has not moved since (storeView), and else computes its
// answer again from the newer view.

// entry is a key's line in a group's view.
type entry struct {
	hash  uint64
	ord   int64
	live  bool // the group holds the row
	found bool // the view has a line for the key
}

// at returns what a client holding cookie order c holds for the key:
// known is false when the line was written after c.
func (e entry) at(c int64) (live bool, hash uint64, known bool) {
	switch {
	case !e.found:
		return false, 0, true
	case e.ord <= c:
		return e.live, e.hash, true
	}
	return false, 0, false
}

// viewWrite is a line a pull writes.
type viewWrite struct {
	key  string
	hash uint64
	live bool
}

// patch is what a pull computes from the rows it reads: the puts and
// dels of its response, and the lines of the view it changes.
type patch struct {
	from   int64 // the order of the cookie the pull answers
	reset  bool  // the response clears the client first
	puts   chunks
	nputs  int
	dels   []string
	size   int64 // the rows the group holds after the patch (see row, gone)
	writes []viewWrite
	// scratch, reused from row to row
	keyJSON, value []byte
}

// row records a row the identity may read now, with its JSON value
// (p.appendRow) and hash, against its line e.
func (pt *patch) row(key string, e entry, p *tablePlan, id string, hash uint64) {
	live, held, known := e.at(pt.from)
	if pt.reset || !known || !live || held != hash {
		pt.keyJSON = appendKeyJSON(pt.keyJSON[:0], p.prefixJSON, id)
		pt.puts.appendPut(pt.keyJSON, pt.value)
		pt.nputs++
	}
	if !e.found || !e.live || e.hash != hash {
		pt.writes = append(pt.writes, viewWrite{key: key, hash: hash, live: true})
	}
	if !e.live {
		pt.size++
	}
}

// gone records a key of the view whose row the identity may not read
// now (or that no longer exists).
func (pt *patch) gone(key string, e entry) {
	if !e.found {
		return
	}
	if live, _, known := e.at(pt.from); !pt.reset && (live || !known) {
		pt.dels = append(pt.dels, key)
	}
	if e.live {
		pt.writes = append(pt.writes, viewWrite{key: key})
		pt.size--
	}
}

// errViewMoved: another pull of the group stored its view after this
// pull read the group's head.
var errViewMoved = errors.New("plasma: sync: the group's view moved during the pull")

// storeView takes a new cookie order and stores, if the group's head is
// still base, the new view record (meta) and the pull's lines under it,
// moves the head to it, and prunes the group's oldest records, keeping
// Options.KeepCVRs, with the del lines no kept cookie needs. On
// PostgreSQL the counter is bumped in a statement of its own, so its row
// lock is held only for that statement; gaps in the orders are harmless.
// It returns errViewMoved when the head moved.
func (h *Handler[Ctx]) storeView(ctx context.Context, group, userID string, base int64, meta []byte, writes []viewWrite) (protocol.Cookie, error) {
	c := protocol.Cookie{CVR: newCVRID()}
	if h.perRegion && h.base.Dialect().Features().Has(dialect.WritesInWith) && len(writes) <= maxWritesInWith {
		return h.storeViewWith(ctx, group, userID, base, meta, writes)
	}
	var err error
	if h.perRegion {
		if c.Order, err = nextOrder(ctx, h.base); err != nil {
			return c, err
		}
	}
	unlock, err := h.lockWrites(ctx)
	if err != nil {
		return c, err
	}
	defer unlock()
	err = h.base.Tx(ctx, func(tx *orm.Tx) error {
		if !h.perRegion {
			var err error
			if c.Order, err = nextOrder(ctx, tx.DB); err != nil {
				return err
			}
		}
		if err := moveHead(ctx, tx.DB, group, base, c.Order); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO "`+CVRsTable+`" ("group_id", "ord", "cvr", "user_id", "meta", "entries", "created_at") VALUES (?, ?, ?, ?, ?, ?, ?)`,
			group, c.Order, c.CVR, userID, string(meta), []byte{}, time.Now().UnixMilli()); err != nil {
			return err
		}
		if err := writeLines(ctx, tx.DB, group, c.Order, writes); err != nil {
			return err
		}
		_, err := pruneViews(ctx, tx.DB, group, h.opts.KeepCVRs)
		return err
	})
	return c, err
}

// maxWritesInWith bounds the lines storeViewWith writes (3 arguments
// each, well under PostgreSQL's 65,535).
const maxWritesInWith = 5000

// storeViewWith is storeView in one statement (PostgreSQL: every write
// in a WITH): the order's draw from OrderSequence, the head's move, and, if the head moved,
// the record, the lines and the pruning. The del lines pruned are found
// by the range of the pruned records' orders, which a generic plan
// (prepared statements) still reads through the (group, live, order)
// index: the records pruned are the group's oldest, so only their del
// lines fall in it. The CTEs all see the snapshot
// the statement started with: the records pruned are those below the
// new order but the KeepCVRs-1 newest (a record a concurrent pull of the
// group stored above it is left to the next pull to prune), and the del
// lines pruned leave out the keys the statement writes, so no row is
// both written and deleted. An order past maxHonestOrder (a counter
// raised by an older plasma) is recovered after the fact: the raised
// views are dropped, this one with them, and errOrderRecovered says so.
func (h *Handler[Ctx]) storeViewWith(ctx context.Context, group, userID string, base int64, meta []byte, writes []viewWrite) (protocol.Cookie, error) {
	c := protocol.Cookie{CVR: newCVRID()}
	var b strings.Builder
	args := make([]any, 0, 16+3*len(writes))
	b.WriteString(`WITH "o" AS (SELECT ` + nextOrderSQL + ` AS "value"),
"h" AS (`)
	if base == 0 {
		b.WriteString(`INSERT INTO "` + ViewHeadsTable + `" ("group_id", "ord") SELECT ?, "value" FROM "o" ON CONFLICT ("group_id") DO NOTHING RETURNING "ord"`)
		args = append(args, group)
	} else {
		b.WriteString(`UPDATE "` + ViewHeadsTable + `" SET "ord" = (SELECT "value" FROM "o") WHERE "group_id" = ? AND "ord" = ? RETURNING "ord"`)
		args = append(args, group, base)
	}
	b.WriteString(`),
"w" AS (`)
	if len(writes) == 0 {
		b.WriteString(`SELECT CAST('' AS TEXT) AS "k", CAST(0 AS BIGINT) AS "hash", CAST(0 AS BIGINT) AS "live" WHERE false`)
	} else {
		b.WriteString(`SELECT * FROM (VALUES `)
		for i, w := range writes {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(`(CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT))`)
			live := int64(0)
			if w.live {
				live = 1
			}
			args = append(args, w.key, int64(w.hash), live)
		}
		b.WriteString(`) AS "v" ("k", "hash", "live")`)
	}
	b.WriteString(`),
"r" AS (INSERT INTO "` + CVRsTable + `" ("group_id", "ord", "cvr", "user_id", "meta", "entries", "created_at") SELECT ?, "ord", ?, ?, ?, ?, ? FROM "h"),
"l" AS (INSERT INTO "` + ViewRowsTable + `" ("group_id", "row_key", "hash", "ord", "live") SELECT ?, "w"."k", "w"."hash", "h"."ord", "w"."live" FROM "w", "h"
ON CONFLICT ("group_id", "row_key") DO UPDATE SET "hash" = excluded."hash", "ord" = excluded."ord", "live" = excluded."live"),
"p" AS (SELECT "ord" FROM "` + CVRsTable + `" WHERE "group_id" = ? AND "ord" < (SELECT "ord" FROM "h") ORDER BY "ord" DESC OFFSET ?),
"t" AS (DELETE FROM "` + ViewRowsTable + `" WHERE "group_id" = ? AND "ord" >= (SELECT MIN("ord") FROM "p") AND "ord" <= (SELECT MAX("ord") FROM "p")
AND "live" = 0 AND "row_key" NOT IN (SELECT "k" FROM "w")),
"d" AS (DELETE FROM "` + CVRsTable + `" WHERE "group_id" = ? AND "ord" IN (SELECT "ord" FROM "p"))
SELECT "ord" FROM "h"`)
	args = append(args, group, c.CVR, userID, string(meta), []byte{}, time.Now().UnixMilli(),
		group, group, h.opts.KeepCVRs-1, group, group)
	found, err := queryRow(ctx, h.base, b.String(), args, &c.Order)
	switch {
	case err != nil:
		return c, err
	case !found:
		return c, errViewMoved
	case c.Order > maxHonestOrder:
		if err := recoverOrder(ctx, h.base); err != nil {
			return c, err
		}
		return c, errOrderRecovered
	}
	return c, nil
}

// errOrderRecovered: the pull's view was stored under an order past
// maxHonestOrder, and dropped when the counter was recovered; the pull
// starts over with a reset.
var errOrderRecovered = errors.New("plasma: sync: the cookie order counter was recovered during the pull")

// moveHead moves the group's head from base (0: none yet) to ord, or
// returns errViewMoved.
func moveHead(ctx context.Context, db *orm.DB, group string, base, ord int64) error {
	var n int64
	var err error
	if base == 0 {
		n, err = db.Exec(ctx, `INSERT INTO "`+ViewHeadsTable+`" ("group_id", "ord") VALUES (?, ?) ON CONFLICT ("group_id") DO NOTHING`, group, ord)
	} else {
		n, err = db.Exec(ctx, `UPDATE "`+ViewHeadsTable+`" SET "ord" = ? WHERE "group_id" = ? AND "ord" = ?`, ord, group, base)
	}
	if err == nil && n != 1 {
		err = errViewMoved
	}
	return err
}

// Batch sizes. modernc's SQLite binds a statement's arguments in time
// quadratic in their number, so its statements name fewer at once.
const (
	// linesPerInsert is how many lines one INSERT writes (5 arguments
	// each).
	linesPerInsert = 100
	// keysPerQuery is how many keys or values one IN list names.
	keysPerQuery = 500
	// idsPerRead is how many ids one read of rows through row auth names
	// on SQLite. Fewer ids keep its planner on the primary key: with a
	// list much longer than the rows it guesses a rule's subquery
	// selects, it scans the rule's index instead, which reads every row
	// the user may read. PostgreSQL, which keeps statistics, reads
	// keysPerQuery ids at once.
	idsPerRead = 40
)

// writeLines writes the pull's lines under order ord.
func writeLines(ctx context.Context, db *orm.DB, group string, ord int64, writes []viewWrite) error {
	for len(writes) > 0 {
		n := min(len(writes), linesPerInsert)
		args := make([]any, 0, 5*n)
		for _, w := range writes[:n] {
			live := int64(0)
			if w.live {
				live = 1
			}
			args = append(args, group, w.key, int64(w.hash), ord, live)
		}
		q := `INSERT INTO "` + ViewRowsTable + `" ("group_id", "row_key", "hash", "ord", "live") VALUES (?, ?, ?, ?, ?)` +
			strings.Repeat(", (?, ?, ?, ?, ?)", n-1) +
			` ON CONFLICT ("group_id", "row_key") DO UPDATE SET "hash" = excluded."hash", "ord" = excluded."ord", "live" = excluded."live"`
		if _, err := db.Exec(ctx, q, args...); err != nil {
			return err
		}
		writes = writes[n:]
	}
	return nil
}

// pruneViews deletes the group's view records beyond its keep newest,
// and the del lines written by them: every record kept is newer, and a
// key without a line is one no client of the group holds. It returns
// the number of records deleted.
func pruneViews(ctx context.Context, db *orm.DB, group string, keep int) (int64, error) {
	oldest := `(SELECT "ord" FROM "` + CVRsTable + `" WHERE "group_id" = ? ORDER BY "ord" DESC LIMIT 1 OFFSET ?)`
	if _, err := db.Exec(ctx, `DELETE FROM "`+ViewRowsTable+`" WHERE "group_id" = ? AND "live" = 0 AND "ord" IN (SELECT "ord" FROM "`+CVRsTable+`" WHERE "group_id" = ? AND "ord" < `+oldest+`)`,
		group, group, group, keep-1); err != nil {
		return 0, err
	}
	return db.Exec(ctx, `DELETE FROM "`+CVRsTable+`" WHERE "group_id" = ? AND "ord" < `+oldest, group, group, keep-1)
}

// loadLines reads the lines of keys (the group's view, in db).
func loadLines(ctx context.Context, db *orm.DB, group string, keys []string, into map[string]entry) error {
	for len(keys) > 0 {
		n := min(len(keys), keysPerQuery)
		args := make([]any, 0, n+1)
		args = append(args, group)
		for _, k := range keys[:n] {
			args = append(args, k)
		}
		// One index lookup per key (the keys as a VALUES list, each
		// looked up by a correlated subquery): with "row_key IN (...)" a
		// generic plan on PostgreSQL read the group's whole view.
		q := `SELECT k."column1", ` + lineText(`k."column1"`) + ` FROM (VALUES (CAST(? AS TEXT))` + strings.Repeat(", (?)", n-1) + `) k`
		rows, err := db.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var key string
			var line sql.NullString
			if err := rows.Scan(&key, &line); err != nil {
				rows.Close()
				return err
			}
			e, err := parseLine(line)
			if err != nil {
				rows.Close()
				return err
			}
			into[key] = e
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// lineText is a correlated subquery reading the line of the key the SQL
// expression key names (the group is its one argument), as text: hash,
// order and live separated by spaces (parseLine), NULL for no line. One
// index lookup each, its three columns in one text.
func lineText(key string) string {
	return `(SELECT CAST(v."hash" AS TEXT) || ' ' || CAST(v."ord" AS TEXT) || ' ' || CAST(v."live" AS TEXT) FROM "` + ViewRowsTable + `" v WHERE v."group_id" = ? AND v."row_key" = ` + key + `)`
}

// sortedKeys returns m's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
