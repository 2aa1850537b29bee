package changelog_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/internal/rowbuf"
)

var (
	cItems  = orm.NewTable("items", orm.ID(), orm.Text("v"), orm.Int("n"))
	cTags   = orm.NewTable("tags", orm.ID(), orm.Text("label"))
	cSchema = orm.MustDefineSchema("1", cItems, cTags)
)

// csetup returns tg's DB with the compaction tests' schema and the change
// log installed.
func csetup(t testing.TB, tg *ormtest.Target) *orm.DB {
	t.Helper()
	ctx := context.Background()
	db := tg.DB.Use(changelog.Middleware(changelog.Options{Schema: cSchema}))
	if err := orm.EnsureSchema(ctx, cSchema, db); err != nil {
		t.Fatal(err)
	}
	if err := changelog.Ensure(ctx, db); err != nil {
		t.Fatal(err)
	}
	return db
}

// state is a client's copy of the synced rows: "table/id" -> row image.
type state map[string]string

func (s state) apply(cs []changelog.Change) {
	for _, c := range cs {
		k := c.Table + "/" + c.RowID
		if c.Op == changelog.OpDel {
			delete(s, k)
		} else {
			s[k] = string(c.Row)
		}
	}
}

// replay is the state a client reading log from 0 has at cursor.
func replay(log []changelog.Change, cursor int64) state {
	s := state{}
	for _, c := range log {
		if c.Version > cursor {
			break
		}
		s.apply([]changelog.Change{c})
	}
	return s
}

// readAll reads region's log above cursor to its end, in pages of limit.
func readAll(t testing.TB, db *orm.DB, region string, cursor int64, limit int) ([]changelog.Change, int64) {
	t.Helper()
	var all []changelog.Change
	for {
		cs, next, err := changelog.ChangesSince(context.Background(), db, region, cursor, limit)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, cs...)
		cursor = next
		if len(cs) < limit {
			return all, cursor
		}
	}
}

// serverRows is what the database holds, as images.
func serverRows(t testing.TB, db *orm.DB) state {
	t.Helper()
	ctx := context.Background()
	s := state{}
	rows, err := db.Query(ctx, `SELECT "id", "v", "n" FROM "items"`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, v string
		var n int64
		if err := rows.Scan(&id, &v, &n); err != nil {
			t.Fatal(err)
		}
		s["items/"+id] = fmt.Sprintf(`{"id":%q,"v":%q,"n":%d}`, id, v, n)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	rows, err = db.Query(ctx, `SELECT "id", "label" FROM "tags"`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, label string
		if err := rows.Scan(&id, &label); err != nil {
			t.Fatal(err)
		}
		s["tags/"+id] = fmt.Sprintf(`{"id":%q,"label":%q}`, id, label)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	return s
}

func diff(got, want state) string {
	var out []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			out = append(out, "missing "+k)
		} else if g != w {
			out = append(out, fmt.Sprintf("stale %s: %s, want %s", k, g, w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, "extra "+k+" (a missed delete)")
		}
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}

// workload writes random transactions: inserts, updates, deletes and
// re-inserts of a small pool of ids, several writes of a row in one
// transaction, multi-row updates, and transactions that roll back.
type workload struct {
	rng  *rand.Rand
	live map[string]bool // "table/id"
}

func (w *workload) run(t *testing.T, db *orm.DB, txs int) {
	t.Helper()
	ctx := context.Background()
	errRollback := fmt.Errorf("rollback")
	for range txs {
		before := maps.Clone(w.live)
		rollback := w.rng.IntN(10) == 0
		err := db.Tx(ctx, func(tx *orm.Tx) error {
			for range 1 + w.rng.IntN(3) {
				if err := w.op(ctx, tx); err != nil {
					return err
				}
			}
			if rollback {
				return errRollback
			}
			return nil
		})
		if rollback {
			if err != errRollback {
				t.Fatal(err)
			}
			w.live = before
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func (w *workload) op(ctx context.Context, tx *orm.Tx) error {
	if w.rng.IntN(12) == 0 {
		_, err := tx.Update(cItems).Set(orm.Row{"n": expr.SQL("? + 1", cItems.Col("n"))}).AllRows().Exec(ctx)
		return err
	}
	table, col, prefix, pool := cItems, "v", "i", 8
	if w.rng.IntN(3) == 0 {
		table, col, prefix, pool = cTags, "label", "g", 5
	}
	id := fmt.Sprintf("%s%d", prefix, w.rng.IntN(pool))
	key := table.Name() + "/" + id
	val := fmt.Sprintf("%s-%d", id, w.rng.IntN(1000))
	row := orm.Row{"id": id, col: val}
	if table == cItems {
		row["n"] = w.rng.IntN(100)
	}
	switch {
	case !w.live[key]:
		w.live[key] = true
		_, err := tx.Insert(table).Values(row).Exec(ctx)
		return err
	case w.rng.IntN(3) == 0:
		delete(w.live, key)
		_, err := tx.Delete(table).Where(expr.Eq(table.Col("id"), id)).Exec(ctx)
		return err
	default:
		delete(row, "id")
		_, err := tx.Update(table).Set(row).Where(expr.Eq(table.Col("id"), id)).Exec(ctx)
		return err
	}
}

// expectCompaction computes what compacting log (the current, possibly
// already compacted log) up to bound must report and leave.
func expectCompaction(log []changelog.Change, bound int64) (changelog.CompactionCounts, map[string]changelog.CompactionCounts) {
	var total changelog.CompactionCounts
	tables := map[string]changelog.CompactionCounts{}
	count := map[string]int{}
	latest := map[string]changelog.Change{}
	for _, c := range log {
		if c.Version > bound {
			continue
		}
		k := c.Table + "/" + c.RowID
		count[k]++
		latest[k] = c
		t := tables[c.Table]
		t.Scanned++
		tables[c.Table] = t
	}
	for k, n := range count {
		c := latest[k]
		t := tables[c.Table]
		t.Rows++
		t.Removed += int64(n - 1)
		if n > 1 {
			t.Folded++
		}
		if c.Op == changelog.OpDel {
			t.Dels++
		}
		tables[c.Table] = t
	}
	for name, t := range tables {
		t.Kept = t.Scanned - t.Removed
		tables[name] = t
		total.Scanned += t.Scanned
		total.Removed += t.Removed
		total.Kept += t.Kept
		total.Rows += t.Rows
		total.Folded += t.Folded
		total.Dels += t.Dels
	}
	return total, tables
}

// checkLog verifies the compacted log against ref, the uncompacted log:
// nothing renumbered or altered, nothing above bound removed, and below
// it exactly each row's latest change.
func checkLog(t *testing.T, compacted, ref []changelog.Change, bound int64) {
	t.Helper()
	byVersion := map[int64]changelog.Change{}
	latest := map[string]changelog.Change{}
	for _, c := range ref {
		byVersion[c.Version] = c
		if c.Version <= bound {
			latest[c.Table+"/"+c.RowID] = c
		}
	}
	below := map[string]int{}
	present := map[int64]bool{}
	for _, c := range compacted {
		r, ok := byVersion[c.Version]
		if !ok || !reflect.DeepEqual(r, c) {
			t.Fatalf("version %d is %+v, was %+v", c.Version, c, r)
		}
		present[c.Version] = true
		if c.Version <= bound {
			k := c.Table + "/" + c.RowID
			below[k]++
			if latest[k].Version != c.Version {
				t.Fatalf("%s: kept version %d, its latest at or below %d is %d", k, c.Version, bound, latest[k].Version)
			}
		}
	}
	for _, c := range ref {
		if c.Version > bound && !present[c.Version] {
			t.Fatalf("version %d above the bound %d was removed", c.Version, bound)
		}
	}
	for k := range latest {
		if below[k] != 1 {
			t.Fatalf("%s: %d changes at or below %d, want 1", k, below[k], bound)
		}
	}
}

// checkConvergence starts a client at cursor 0 and at every version of
// ref, with the state it had there before the compaction, and has it read
// the compacted log to the end: it must hold exactly the server's rows,
// and once its cursor is at or above bound, exactly the state at that
// version.
func checkConvergence(t *testing.T, db *orm.DB, ref []changelog.Change, bound int64) {
	t.Helper()
	const limit = 37
	ctx := context.Background()
	server := serverRows(t, db)
	if d := diff(replay(ref, 1<<62), server); d != "[]" {
		t.Fatalf("the uncompacted log disagrees with the database: %s", d)
	}
	cursors := []int64{0}
	for _, c := range ref {
		cursors = append(cursors, c.Version)
	}
	for _, start := range cursors {
		s := replay(ref, start)
		cursor := start
		for {
			cs, next, err := changelog.ChangesSince(ctx, db, "", cursor, limit)
			if err != nil {
				t.Fatal(err)
			}
			s.apply(cs)
			cursor = next
			if cursor >= bound && len(cs) > 0 {
				if d := diff(s, replay(ref, cursor)); d != "[]" {
					t.Fatalf("from cursor %d, at %d (bound %d): %s", start, cursor, bound, d)
				}
			}
			if len(cs) < limit {
				break
			}
		}
		if d := diff(s, server); d != "[]" {
			t.Fatalf("a client from cursor %d after compacting up to %d: %s", start, bound, d)
		}
	}
}

// TestCompactConvergence runs random workloads in phases, compacting after
// each at a different bound, and checks that a client holding any cursor
// of the uncompacted log converges exactly on the compacted one.
func TestCompactConvergence(t *testing.T) {
	for _, seed := range []uint64{6, 1977} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { testCompactConvergence(t, seed) })
	}
}

func testCompactConvergence(t *testing.T, seed uint64) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := csetup(t, tg)
		w := &workload{rng: rand.New(rand.NewPCG(seed, 42)), live: map[string]bool{}}
		var ref []changelog.Change // every change ever logged
		var refCursor int64
		compact := func(bound int64, opts ...changelog.CompactOption) changelog.CompactionResult {
			t.Helper()
			cs, cur := readAll(t, db, "", refCursor, 500)
			ref, refCursor = append(ref, cs...), cur
			before, _ := readAll(t, db, "", 0, 500)
			total, tables := expectCompaction(before, bound)
			res, err := changelog.CompactChangeLog(ctx, db, "", bound, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if res.CompactionCounts != total || !reflect.DeepEqual(res.Tables, tables) || res.Region != changelog.DefaultRegion || res.UpTo != bound {
				t.Fatalf("compacting up to %d:\n got %+v\nwant %+v %+v", bound, res, total, tables)
			}
			after, _ := readAll(t, db, "", 0, 500)
			if int64(len(after)) != int64(len(before))-res.Removed {
				t.Fatalf("%d changes before, %d after, %d removed", len(before), len(after), res.Removed)
			}
			checkLog(t, after, ref, bound)
			checkConvergence(t, db, ref, bound)
			return res
		}

		w.run(t, db, 50)
		if res := compact(0); res.Scanned != 0 {
			t.Fatalf("%+v", res)
		}
		res := compact(ref[len(ref)/2].Version)
		t.Logf("phase 1: %d changes, %+v", len(ref), res.CompactionCounts)

		// Next bound: a del, with small batches.
		w.run(t, db, 50)
		bound := ref[len(ref)-1].Version
		for _, c := range ref[len(ref)/2:] {
			if c.Op == changelog.OpDel {
				bound = c.Version
			}
		}
		res = compact(bound, changelog.CompactBatchSize(3))
		if want := int((res.Removed + 2) / 3); res.Batches != want {
			t.Fatalf("%d batches for %d removed changes, want %d", res.Batches, res.Removed, want)
		}
		t.Logf("phase 2: %d changes, %+v", len(ref), res.CompactionCounts)

		// A bound above the head; then the same again, which finds nothing.
		w.run(t, db, 50)
		head, err := changelog.Head(ctx, db, "")
		if err != nil {
			t.Fatal(err)
		}
		res = compact(head+1000, changelog.CompactBatchSize(7))
		t.Logf("phase 3: %d changes, %+v", len(ref), res.CompactionCounts)
		if res.Removed == 0 || res.Folded == 0 || res.Dels == 0 {
			t.Fatalf("the workload folded nothing: %+v", res)
		}
		res = compact(head + 1000)
		if res.Removed != 0 || res.Folded != 0 || res.Batches != 0 || res.Kept != res.Scanned || res.Rows != res.Scanned {
			t.Fatalf("second run: %+v", res)
		}

		// Writes go on after compacting everything.
		w.run(t, db, 20)
		compact(head)
	})
}

// TestCompactStats compacts a small, known log.
//
// It is one long function on purpose: the log is built, then compacted
// step by step, each step checked against the one before.
func TestCompactStats(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := csetup(t, tg)
		eu := changelog.WithRegion(ctx, "eu")
		put := func(ctx context.Context, table *orm.Table, id, val string) {
			t.Helper()
			row := orm.Row{"id": id, "label": val}
			set := orm.Row{"label": val}
			if table == cItems {
				row = orm.Row{"id": id, "v": val, "n": 1}
				set = orm.Row{"v": val}
			}
			if _, err := db.Insert(table).Values(row).OnConflictDoUpdate([]string{"id"}, keys(set)...).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		del := func(table *orm.Table, id string) {
			t.Helper()
			if _, err := db.Delete(table).Where(expr.Eq(table.Col("id"), id)).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		put(ctx, cItems, "a", "1")
		put(ctx, cItems, "a", "2")
		put(ctx, cItems, "b", "1")
		del(cItems, "b")
		put(ctx, cItems, "c", "1")
		put(ctx, cItems, "a", "3")
		put(eu, cItems, "e", "1")
		put(ctx, cItems, "d", "1")
		del(cItems, "d")
		put(eu, cItems, "e", "2")
		put(ctx, cItems, "d", "2")
		put(ctx, cTags, "x", "1")
		put(ctx, cTags, "x", "2")
		all, _ := readAll(t, db, "", 0, 100)
		bound := all[len(all)-1].Version
		put(ctx, cItems, "b", "2") // above the bound
		del(cItems, "a")
		euLog, euHead := readAll(t, db, "eu", 0, 100)

		// Compacting inside a transaction that rolls back changes nothing.
		err := db.Tx(ctx, func(tx *orm.Tx) error {
			res, err := changelog.CompactChangeLog(ctx, tx.DB, "", bound)
			if err != nil || res.Removed != 6 {
				t.Errorf("in a transaction: %+v %v", res, err)
			}
			return fmt.Errorf("roll back")
		})
		if err == nil {
			t.Fatal("no rollback")
		}
		if got, _ := readAll(t, db, "", 0, 100); len(got) != 13 {
			t.Fatalf("%d changes after the rollback, want 13", len(got))
		}

		res, err := changelog.CompactChangeLog(ctx, db, "", bound, changelog.CompactBatchSize(4))
		if err != nil {
			t.Fatal(err)
		}
		want := changelog.CompactionResult{
			Region:           changelog.DefaultRegion,
			UpTo:             bound,
			CompactionCounts: changelog.CompactionCounts{Scanned: 11, Removed: 6, Kept: 5, Rows: 5, Folded: 4, Dels: 1},
			Tables: map[string]changelog.CompactionCounts{
				"items": {Scanned: 9, Removed: 5, Kept: 4, Rows: 4, Folded: 3, Dels: 1},
				"tags":  {Scanned: 2, Removed: 1, Kept: 1, Rows: 1, Folded: 1},
			},
			Batches:  2,
			Duration: res.Duration,
		}
		if !reflect.DeepEqual(res, want) {
			t.Fatalf("\n got %+v\nwant %+v", res, want)
		}
		if res.Duration <= 0 {
			t.Fatalf("duration %v", res.Duration)
		}
		got, _ := readAll(t, db, "", 0, 100)
		var summary []string
		for _, c := range got {
			summary = append(summary, fmt.Sprintf("%s/%s %s %s", c.Table, c.RowID, c.Op, c.Row))
		}
		if fmt.Sprint(summary) != fmt.Sprint([]string{
			"items/b del ",
			"items/c put {\"id\":\"c\",\"v\":\"1\",\"n\":1}",
			"items/a put {\"id\":\"a\",\"v\":\"3\",\"n\":1}",
			"items/d put {\"id\":\"d\",\"v\":\"2\",\"n\":1}",
			"tags/x put {\"id\":\"x\",\"label\":\"2\"}",
			"items/b put {\"id\":\"b\",\"v\":\"2\",\"n\":1}",
			"items/a del ",
		}) {
			t.Fatalf("log after compaction:\n%s", summary)
		}
		if after, _ := readAll(t, db, "eu", 0, 100); !reflect.DeepEqual(after, euLog) {
			t.Fatalf("another region changed: %+v", after)
		}

		// Again: nothing to do.
		res, err = changelog.CompactChangeLog(ctx, db, changelog.DefaultRegion, bound)
		if err != nil || res.Removed != 0 || res.Scanned != 5 || res.Kept != 5 || res.Dels != 1 || res.Folded != 0 || res.Batches != 0 {
			t.Fatalf("second run: %+v %v", res, err)
		}

		// Up to the head: a's put gives way to its del, b's del to its put.
		head, err := changelog.Head(ctx, db, "")
		if err != nil {
			t.Fatal(err)
		}
		res, err = changelog.CompactChangeLog(ctx, db, "", head)
		if err != nil || res.Removed != 2 || res.Rows != 5 || res.Dels != 1 || res.Folded != 2 {
			t.Fatalf("up to the head: %+v %v", res, err)
		}
		res, err = changelog.CompactChangeLog(ctx, db, "eu", euHead)
		if err != nil || res.Removed != 1 || res.Tables["items"].Removed != 1 || res.Region != "eu" {
			t.Fatalf("eu: %+v %v", res, err)
		}

		// No bound, no work; a cancelled context stops the run.
		for _, b := range []int64{0, -1} {
			if res, err := changelog.CompactChangeLog(ctx, db, "", b); err != nil || res.Scanned != 0 {
				t.Fatalf("bound %d: %+v %v", b, res, err)
			}
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := changelog.CompactChangeLog(cancelled, db, "", head); !errors.Is(err, context.Canceled) {
			t.Fatal("a cancelled context did not stop the run")
		}
		if _, err := changelog.CompactChangeLog(ctx, nil, "", head); err == nil {
			t.Fatal("nil database accepted")
		}
	})
}

// TestCompactRacingCompaction has another compaction remove one of the
// changes a run means to remove between its read and its delete: the run
// still succeeds and counts only what it removed itself.
func TestCompactRacingCompaction(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := csetup(t, tg)
		for _, w := range []struct{ id, v string }{{"a", "1"}, {"b", "1"}, {"a", "2"}, {"b", "2"}, {"a", "3"}} {
			if _, err := db.Insert(cItems).Values(orm.Row{"id": w.id, "v": w.v, "n": 0}).OnConflictDoUpdate([]string{"id"}, "v").Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		log, head := readAll(t, db, "", 0, 100)
		first := log[0].Version // a's first put
		var fired atomic.Bool
		racer := func(next orm.Handler) orm.Handler {
			return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
				res, err := next(ctx, st)
				if err != nil || st.Op != orm.OpRaw || !strings.Contains(st.SQL, `ORDER BY "version" DESC`) || fired.Swap(true) {
					return res, err
				}
				buf, err := rowbuf.Read(res.Rows)
				if err != nil {
					return nil, err
				}
				if _, err := tg.SQL.ExecContext(ctx, `DELETE FROM "_plasma_changes" WHERE "version" = `+fmt.Sprint(first)); err != nil {
					return nil, err
				}
				return buf.Result(len(buf.Columns), res.Kinds), nil
			}
		}
		res, err := changelog.CompactChangeLog(ctx, db.Use(racer), "", head)
		if err != nil {
			t.Fatal(err)
		}
		want := changelog.CompactionCounts{Scanned: 5, Removed: 2, Kept: 3, Rows: 2, Folded: 2}
		if !fired.Load() || res.CompactionCounts != want || res.Tables["items"] != want || res.Batches != 1 {
			t.Fatalf("got %+v, want %+v", res, want)
		}
		if after, _ := readAll(t, db, "", 0, 100); len(after) != 2 || after[0].Version != log[3].Version || after[1].Version != log[4].Version {
			t.Fatalf("left %+v", after)
		}
	})
}

func keys(r orm.Row) []string {
	return slices.Sorted(maps.Keys(r))
}

// TestCompactConcurrent compacts, again and again, while writers write
// contended rows and readers follow the log: every reader, and every
// client resumed from a cursor it held before some of the compactions,
// ends with exactly the server's rows, and no version is renumbered.
//
// It is one long function on purpose: the soak's setup, its concurrent
// run and its final checks share one state.
func TestCompactConcurrent(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := csetup(t, tg)
		writers, perWriter := 4, 150
		if tg.Name == "sqlite" {
			perWriter = 60
		}
		if raceEnabled || testing.Short() {
			perWriter /= 3
		}
		var wg sync.WaitGroup
		var stop, done atomic.Bool // the writers ended; the final compaction too
		errs := make(chan error, writers+8)
		for g := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(g), 7))
				for i := range perWriter {
					// One or two rows, locked in id order.
					ids := []int{rng.IntN(20), rng.IntN(20)}[:1+rng.IntN(2)]
					slices.Sort(ids)
					ids = slices.Compact(ids)
					err := db.Tx(ctx, func(tx *orm.Tx) error {
						for _, n := range ids {
							id := fmt.Sprintf("k%02d", n)
							var err error
							if rng.IntN(4) == 0 {
								_, err = tx.Delete(cItems).Where(expr.Eq(cItems.Col("id"), id)).Exec(ctx)
							} else {
								_, err = tx.Insert(cItems).Values(orm.Row{"id": id, "v": fmt.Sprintf("w%d-%d", g, i), "n": i}).
									OnConflictDoUpdate([]string{"id"}, "v", "n").Exec(ctx)
							}
							if err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						errs <- fmt.Errorf("writer %d: %w", g, err)
						return
					}
				}
			}()
		}

		// The compactor: up to the head, or a little below it.
		var removed atomic.Int64
		compactorDone := make(chan struct{})
		go func() {
			defer close(compactorDone)
			rng := rand.New(rand.NewPCG(1, 2))
			for !stop.Load() {
				head, err := changelog.Head(ctx, db, "")
				if err != nil {
					errs <- err
					return
				}
				res, err := changelog.CompactChangeLog(ctx, db, "", head-rng.Int64N(10), changelog.CompactBatchSize(1+rng.IntN(8)))
				if err != nil {
					errs <- fmt.Errorf("compaction: %w", err)
					return
				}
				removed.Add(res.Removed)
				time.Sleep(time.Millisecond)
			}
		}()

		type snapshot struct {
			cursor int64
			s      state
		}
		type follower struct {
			s         state
			cursor    int64
			seen      map[int64]changelog.Change
			snapshots []snapshot
			err       error
		}
		follow := func(f *follower, limit int, pause time.Duration) {
			for reads := 0; ; reads++ {
				finished := done.Load()
				cs, next, err := changelog.ChangesSince(ctx, db, "", f.cursor, limit)
				if err != nil {
					f.err = err
					return
				}
				for _, c := range cs {
					if c.Version <= f.cursor {
						f.err = fmt.Errorf("version %d after %d", c.Version, f.cursor)
						return
					}
					f.cursor = c.Version
					f.seen[c.Version] = c
				}
				f.s.apply(cs)
				if next != f.cursor {
					f.err = fmt.Errorf("cursor %d, last version %d", next, f.cursor)
					return
				}
				// Clients that stop here and come back at the end.
				if len(f.snapshots) < 100 && len(cs) > 0 && reads%3 == 0 {
					f.snapshots = append(f.snapshots, snapshot{f.cursor, maps.Clone(f.s)})
				}
				if finished && len(cs) == 0 {
					return
				}
				if len(cs) == 0 || pause > 0 {
					time.Sleep(max(pause, 200*time.Microsecond))
				}
			}
		}
		// A reader that keeps up, and one that lags behind the compactions.
		followers := []*follower{{}, {}}
		var rwg sync.WaitGroup
		for i, f := range followers {
			f.s, f.seen = state{}, map[int64]changelog.Change{}
			rwg.Add(1)
			go func() { defer rwg.Done(); follow(f, 20-17*i, time.Duration(i)*time.Millisecond) }()
		}

		wg.Wait()
		stop.Store(true)
		<-compactorDone
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
		// Compact everything once more, then let the readers finish.
		head, err := changelog.Head(ctx, db, "")
		if err != nil {
			t.Fatal(err)
		}
		res, err := changelog.CompactChangeLog(ctx, db, "", head, changelog.CompactBatchSize(3))
		if err != nil {
			t.Fatal(err)
		}
		removed.Add(res.Removed)
		done.Store(true)
		rwg.Wait()

		server := serverRows(t, db)
		final, _ := readAll(t, db, "", 0, 1000)
		if d := diff(replay(final, head), server); d != "[]" {
			t.Fatalf("a new client: %s", d)
		}
		for i, f := range followers {
			if f.err != nil {
				t.Fatalf("reader %d: %v", i, f.err)
			}
			if d := diff(f.s, server); d != "[]" {
				t.Fatalf("reader %d: %s", i, d)
			}
			// Every change still in the log was read, unchanged, at the
			// same version.
			for _, c := range final {
				if r, ok := f.seen[c.Version]; !ok || !reflect.DeepEqual(r, c) {
					t.Fatalf("reader %d: version %d is %+v, was read as %+v", i, c.Version, c, r)
				}
			}
			for _, sn := range f.snapshots {
				s := maps.Clone(sn.s)
				cs, _ := readAll(t, db, "", sn.cursor, 50)
				s.apply(cs)
				if d := diff(s, server); d != "[]" {
					t.Fatalf("reader %d resumed from cursor %d: %s", i, sn.cursor, d)
				}
			}
		}
		if removed.Load() == 0 {
			t.Fatal("the compactor removed nothing")
		}
		if len(final) > 20 { // one change per id: a put or a del
			t.Fatalf("%d changes left for %d rows", len(final), len(server))
		}
		t.Logf("%d writers x %d transactions; %d changes removed while they ran; %d left for %d rows; readers took %d and %d snapshots",
			writers, perWriter, removed.Load(), len(final), len(server), len(followers[0].snapshots), len(followers[1].snapshots))
		if lag := followers[1].snapshots; len(lag) > 0 {
			t.Logf("the lagging reader's snapshots span cursors %d to %d of %d", lag[0].cursor, lag[len(lag)-1].cursor, head)
		}
	})
}

// BenchmarkCompact folds 10 updates of each of 1,000 rows (SQLite).
func BenchmarkCompact(b *testing.B) {
	ctx := context.Background()
	db := csetup(b, ormtest.SQLite(b))
	rows := make([]orm.Row, 1000)
	for i := range rows {
		rows[i] = orm.Row{"id": fmt.Sprintf("r%04d", i), "v": "x", "n": 0}
	}
	if _, err := db.Insert(cItems).Values(rows...).Exec(ctx); err != nil {
		b.Fatal(err)
	}
	var removed int64
	for b.Loop() {
		b.StopTimer()
		err := db.Tx(ctx, func(tx *orm.Tx) error {
			for range 10 {
				if _, err := tx.Update(cItems).Set(orm.Row{"n": expr.SQL("? + 1", cItems.Col("n"))}).AllRows().Exec(ctx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		head, err := changelog.Head(ctx, db, "")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := changelog.CompactChangeLog(ctx, db, "", head)
		if err != nil {
			b.Fatal(err)
		}
		removed += res.Removed
	}
	b.ReportMetric(float64(removed)/b.Elapsed().Seconds(), "removed/s")
}
