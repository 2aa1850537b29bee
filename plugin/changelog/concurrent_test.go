package changelog_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
)

// TestConcurrentWriters runs 16 writers of 500 transactions each (on
// PostgreSQL; SQLite, which has one writer at a time, runs fewer) while a
// reader follows the log: the reader must see versions strictly increase,
// every change exactly once, each writer's commits in commit order, and a
// row's two writes in write order.
//
// It is one long function on purpose: the soak's setup, its concurrent
// run and its final checks share one state.
func TestConcurrentWriters(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		writers, perWriter := 16, 500
		if tg.Name == "sqlite" {
			perWriter = 40
		}
		if raceEnabled || testing.Short() {
			perWriter /= 5
		}
		db := setup(t, tg)
		id := func(g, i int) string { return fmt.Sprintf("w%02d-%04d", g, i) }
		// Every fifth transaction writes its row twice.
		twice := func(i int) bool { return i%5 == 0 }
		expected := 0
		for i := 0; i < perWriter; i++ {
			expected++
			if twice(i) {
				expected++
			}
		}
		expected *= writers

		var wg sync.WaitGroup
		var done atomic.Bool
		errs := make(chan error, writers)
		start := time.Now()
		for g := 0; g < writers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perWriter; i++ {
					err := db.Tx(ctx, func(tx *orm.Tx) error {
						if _, err := tx.Insert(lists).Values(orm.Row{"id": id(g, i), "name": "new"}).Exec(ctx); err != nil {
							return err
						}
						if twice(i) {
							_, err := tx.Update(lists).Set(orm.Row{"name": "updated"}).Where(expr.Eq(lists.Col("id"), id(g, i))).Exec(ctx)
							return err
						}
						return nil
					})
					if err != nil {
						errs <- fmt.Errorf("writer %d, tx %d: %w", g, i, err)
						return
					}
				}
			}()
		}
		go func() { wg.Wait(); done.Store(true) }()

		versions := map[string][]int64{}
		images := map[string][]string{}
		var cursor, last int64
		count, reads := 0, 0
		deadline := time.Now().Add(50 * time.Second)
		for {
			finished := done.Load()
			cs, cur, err := changelog.ChangesSince(ctx, db, "", cursor, 500)
			if err != nil {
				t.Fatal(err)
			}
			reads++
			for _, c := range cs {
				if c.Version <= last {
					t.Fatalf("version %d after %d", c.Version, last)
				}
				last = c.Version
				versions[c.RowID] = append(versions[c.RowID], c.Version)
				images[c.RowID] = append(images[c.RowID], string(c.Row))
				count++
			}
			cursor = cur
			if finished && len(cs) == 0 {
				break
			}
			if len(cs) == 0 {
				time.Sleep(200 * time.Microsecond) // a pull loop waits for a poke
			}
			if time.Now().After(deadline) {
				t.Fatalf("reader saw %d of %d changes before the deadline", count, expected)
			}
		}
		elapsed := time.Since(start)
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
		if count != expected {
			t.Fatalf("saw %d changes, want %d", count, expected)
		}
		if last != int64(expected) {
			t.Fatalf("versions end at %d for %d changes: holes", last, expected)
		}
		for g := 0; g < writers; g++ {
			var prev int64
			for i := 0; i < perWriter; i++ {
				vs := versions[id(g, i)]
				want := 1
				if twice(i) {
					want = 2
				}
				if len(vs) != want {
					t.Fatalf("%s: %d changes, want %d", id(g, i), len(vs), want)
				}
				if vs[0] <= prev {
					t.Fatalf("%s: version %d not after the writer's previous commit (%d)", id(g, i), vs[0], prev)
				}
				if want == 2 && (vs[1] <= vs[0] || images[id(g, i)][1] != `{"id":"`+id(g, i)+`","name":"updated","meta":null}`) {
					t.Fatalf("%s: second write %v %v", id(g, i), vs, images[id(g, i)])
				}
				prev = vs[len(vs)-1]
			}
		}
		t.Logf("%d writers x %d transactions, %d changes in %v (%.0f tx/s), %d reads",
			writers, perWriter, count, elapsed.Round(time.Millisecond), float64(writers*perWriter)/elapsed.Seconds(), reads)
	})
}

// TestLateCommit is the case that defeats versions taken before commit: a
// transaction that writes first commits after a later one, and after a
// reader has moved past the later one. It must still be read, once.
//
// It is one long function on purpose: it is one interleaving of
// transactions, step by step.
func TestLateCommit(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := setup(t, tg)
		r := &reader{t: t, db: db, region: changelog.DefaultRegion}
		insert := func(tx *orm.Tx, id string) {
			t.Helper()
			if _, err := tx.Insert(lists).Values(orm.Row{"id": id, "name": id}).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(cs []changelog.Change) []string {
			var out []string
			for _, c := range cs {
				out = append(out, c.RowID)
			}
			return out
		}
		if tg.Name == "sqlite" {
			// SQLite cannot interleave writers: B waits for A's commit,
			// and its version follows A's.
			a, err := db.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			insert(a, "a")
			bDone := make(chan error)
			go func() {
				bDone <- db.Tx(ctx, func(tx *orm.Tx) error {
					_, err := tx.Insert(lists).Values(orm.Row{"id": "b", "name": "b"}).Exec(ctx)
					return err
				})
			}()
			time.Sleep(50 * time.Millisecond)
			if got := ids(r.next()); len(got) != 0 {
				t.Fatalf("read %v before any commit", got)
			}
			if err := a.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := <-bDone; err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(ids(r.next())); got != "[a b]" {
				t.Fatalf("read %s, want [a b]", got)
			}
			return
		}

		// A writes first; B writes later and commits first.
		a, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Rollback()
		insert(a, "a")
		b, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		insert(b, "b")
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(ids(r.next())); got != "[b]" {
			t.Fatalf("read %s, want [b]", got)
		}
		passed := r.cursor
		if err := a.Commit(); err != nil {
			t.Fatal(err)
		}
		got := r.next()
		if fmt.Sprint(ids(got)) != "[a]" || got[0].Version <= passed {
			t.Fatalf("late commit: read %+v after cursor %d", got, passed)
		}

		// Both commit, in the other order, before the reader looks; C also
		// rolls back. Each committed change is read once, none of C's.
		c, _ := db.Begin(ctx)
		d, _ := db.Begin(ctx)
		e, _ := db.Begin(ctx)
		insert(c, "c")
		insert(d, "d")
		insert(e, "e")
		if err := e.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := c.Rollback(); err != nil {
			t.Fatal(err)
		}
		if err := d.Commit(); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(ids(r.next())); got != "[d e]" {
			t.Fatalf("read %s, want [d e]", got)
		}
		if got := ids(r.next()); len(got) != 0 {
			t.Fatalf("read %v again", got)
		}
	})
}

// TestHeadCoversOwnWrites: readers that find a publication at work wait
// for one that covers them rather than publish themselves; whichever way
// Head answers, a write committed before the call is numbered at or
// below the head it returns. Writers that each read the head after every
// commit check it on their own write, while the others keep
// publications running.
func TestHeadCoversOwnWrites(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := setup(t, tg)
		writers, rounds := 8, 40
		if tg.Name == "sqlite" || raceEnabled {
			rounds = 10
		}
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for g := range writers {
			wg.Go(func() {
				for i := range rounds {
					id := fmt.Sprintf("h%02d-%03d", g, i)
					if _, err := db.Insert(lists).Values(orm.Row{"id": id, "name": "x"}).Exec(ctx); err != nil {
						errs <- err
						return
					}
					head, err := changelog.Head(ctx, db, "")
					if err != nil {
						errs <- err
						return
					}
					var version *int64
					rows, err := tg.DB.Query(ctx, `SELECT "version" FROM "`+changelog.LogTable+`" WHERE "row_id" = ?`, id)
					if err != nil {
						errs <- err
						return
					}
					for rows.Next() {
						if err := rows.Scan(&version); err != nil {
							errs <- err
						}
					}
					rows.Close()
					if version == nil || *version > head {
						errs <- fmt.Errorf("row %s: version %v after a head of %d", id, version, head)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}
