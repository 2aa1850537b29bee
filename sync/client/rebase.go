package client

import (
	"context"
	"strings"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
)

// quietTable holds a row while the client itself rewrites user tables:
// the dirty-row triggers skip those writes.
const quietTable = "_plasma_quiet"

// maxParams bounds the parameters of one statement: modernc.org/sqlite
// binds in time that grows faster than linearly with their number; about
// a thousand per statement measured fastest (2,500 was ~20% slower on a
// first sync of 10,000 rows).
const maxParams = 1000

// pending is one outbox row.
type pending struct {
	id   int64
	name string
	args string
	ts   float64
}

// applyPatch writes a pull's patch into the server-state tables and marks
// the keys it touched dirty, so that restore copies them into the view.
func (c *Client[C]) applyPatch(ctx context.Context, ex dialect.Executor, r *pullResult) error {
	if r.clear {
		for _, ti := range c.tableList {
			if _, err := ex.ExecContext(ctx, `DELETE FROM `+ti.shadow); err != nil {
				return err
			}
		}
	}
	for _, ti := range c.tableList {
		tp := r.tables[ti]
		if tp == nil {
			continue
		}
		var dels []any
		var puts [][]any
		for i, key := range tp.keys {
			if row := tp.rows[key]; row != nil {
				puts = append(puts, row)
			} else {
				dels = append(dels, tp.ids[i])
			}
		}
		if err := deleteIDs(ctx, ex, ti.shadow, dels); err != nil {
			return err
		}
		if err := c.insertRows(ctx, ex, ti, puts); err != nil {
			return err
		}
		if !r.clear {
			if err := markDirty(ctx, ex, ti.name, tp.ids); err != nil {
				return err
			}
		}
	}
	return nil
}

func deleteIDs(ctx context.Context, ex dialect.Executor, table string, ids []any) error {
	for len(ids) > 0 {
		n := min(len(ids), maxParams)
		q := `DELETE FROM ` + table + ` WHERE "id" IN (` + placeholders(n) + `)`
		if _, err := ex.ExecContext(ctx, q, ids[:n]...); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func markDirty(ctx context.Context, ex dialect.Executor, table string, ids []any) error {
	per := maxParams / 2
	for len(ids) > 0 {
		n := min(len(ids), per)
		var b strings.Builder
		b.WriteString(`INSERT OR IGNORE INTO ` + dirtyTable + ` (tbl, id) VALUES `)
		args := make([]any, 0, 2*n)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?,?)")
			args = append(args, table, ids[i])
		}
		if _, err := ex.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// insertRows upserts rows into ti's server-state table, many per
// statement.
func (c *Client[C]) insertRows(ctx context.Context, ex dialect.Executor, ti *tableInfo, rows [][]any) error {
	ncol := len(ti.cols)
	per := max(1, maxParams/ncol)
	one := "(" + placeholders(ncol) + ")"
	for len(rows) > 0 {
		n := min(len(rows), per)
		var b strings.Builder
		b.Grow(len(ti.shadow) + len(ti.colSQL) + 40 + n*(len(one)+1))
		b.WriteString(`INSERT OR REPLACE INTO ` + ti.shadow + ` (` + ti.colSQL + `) VALUES `)
		args := make([]any, 0, n*ncol)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(one)
			row := rows[i]
			if c.seal != nil {
				var err error
				if row, err = c.seal(ti, row); err != nil {
					return err
				}
			}
			args = append(args, row...)
		}
		if _, err := ex.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}

// restore makes the user tables equal the server state again: the whole
// of every table after a clear, else the rows marked dirty (touched by a
// local mutation or by the patch). The writes are quiet: they mark
// nothing dirty. Afterwards no row is dirty.
func (c *Client[C]) restore(ctx context.Context, ex dialect.Executor, all bool) error {
	if _, err := ex.ExecContext(ctx, `INSERT INTO `+quietTable+` (k) VALUES (1)`); err != nil {
		return err
	}
	for _, ti := range c.tableList {
		var qs []string
		if all {
			qs = []string{`DELETE FROM ` + ti.quoted,
				`INSERT INTO ` + ti.quoted + ` (` + ti.colSQL + `) SELECT ` + ti.colSQL + ` FROM ` + ti.shadow}
		} else {
			sel := `(SELECT id FROM ` + dirtyTable + ` WHERE tbl = ` + sqlString(ti.name) + `)`
			qs = []string{`DELETE FROM ` + ti.quoted + ` WHERE "id" IN ` + sel,
				`INSERT INTO ` + ti.quoted + ` (` + ti.colSQL + `) SELECT ` + ti.colSQL + ` FROM ` + ti.shadow + ` WHERE "id" IN ` + sel}
		}
		for _, q := range qs {
			if _, err := ex.ExecContext(ctx, q); err != nil {
				return err
			}
		}
	}
	for _, q := range []string{`DELETE FROM ` + dirtyTable, `DELETE FROM ` + quietTable} {
		if _, err := ex.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// loadPending reads the outbox rows above lmid, in order.
func loadPending(ctx context.Context, ex dialect.Executor, lmid int64, limit int) ([]pending, error) {
	rows, err := ex.QueryContext(ctx, `SELECT id, name, args, ts FROM `+outboxTable+` WHERE id > ? ORDER BY id LIMIT ?`, lmid, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.id, &p.name, &p.args, &p.ts); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// replay re-runs the pending mutations on the restored server state, each
// in a savepoint: one that fails now (the server state moved under it)
// leaves no trace locally and stays queued, for the server to judge.
func (c *Client[C]) replay(ctx context.Context, tx *orm.Tx, lmid int64) error {
	ps, err := loadPending(ctx, tx.Executor(), lmid, -1)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if err := c.runSaved(ctx, tx, p); err != nil {
			return err
		}
	}
	return nil
}

// runSaved runs one mutation in a savepoint; it returns only the errors
// of the savepoint itself (a broken replica), never the mutator's.
func (c *Client[C]) runSaved(ctx context.Context, tx *orm.Tx, p pending) error {
	ex := tx.Executor()
	if _, err := ex.ExecContext(ctx, `SAVEPOINT plasma_replay`); err != nil {
		return err
	}
	if c.run(ctx, tx.DB, p) != nil {
		if _, err := ex.ExecContext(ctx, `ROLLBACK TO plasma_replay`); err != nil {
			return err
		}
	}
	_, err := ex.ExecContext(ctx, `RELEASE plasma_replay`)
	return err
}
