package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// The Service's bookkeeping tables. _plasma_blobs holds one row per
// uploaded hash with the time it was last uploaded or referenced: GC
// spares a blob touched within its grace period, and the row is what an
// upload, a ref write and GC lock to order themselves (see GCOrphans).
// _plasma_blob_owners records who uploaded what: the proof of possession
// a ref write needs (see Middleware), and, with the blob's size and
// whether it was referenced at the last recount, what counts against the
// uploader's Quota.
const (
	blobsTable  = "_plasma_blobs"
	ownersTable = "_plasma_blob_owners"
)

var ensureDDL = []string{
	`CREATE TABLE IF NOT EXISTS "` + blobsTable + `" ("hash" TEXT PRIMARY KEY, "size" BIGINT NOT NULL, "touched_at" BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS "` + ownersTable + `" ("hash" TEXT NOT NULL, "user_id" TEXT NOT NULL, ` +
		`"size" BIGINT NOT NULL DEFAULT 0, "pending" INTEGER NOT NULL DEFAULT 0, PRIMARY KEY ("hash", "user_id"))`,
}

// ownersQuotaColumns are the columns the quota added to _plasma_blob_owners,
// added to a table created before them (its uploads then count as
// referenced until a recount).
var ownersQuotaColumns = []string{`"size" BIGINT NOT NULL DEFAULT 0`, `"pending" INTEGER NOT NULL DEFAULT 0`}

// ownersIndexDDL serves the quota's count of a user's pending uploads.
const ownersIndexDDL = `CREATE INDEX IF NOT EXISTS "_plasma_blob_owners_user" ON "` + ownersTable + `" ("user_id", "pending")`

// Ensure creates the schema's missing tables (orm.EnsureSchema), the
// Service's own and, for every file column, an
// index on the hash inside its ref, which downloads, GC and possession
// checks look rows up by. It is idempotent; New runs it unless
// Options.SkipEnsure.
func (s *Service) Ensure(ctx context.Context) error {
	if err := orm.EnsureSchema(ctx, s.opts.Schema, s.base); err != nil {
		return err
	}
	stmts := append([]string(nil), ensureDDL...)
	for _, tf := range s.ordered {
		for _, c := range tf.cols {
			stmts = append(stmts, fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s)`,
				dialect.QuoteIdent(indexName(tf.t.Name(), c.name, s.indexExpr(c.name))), dialect.QuoteIdent(tf.t.Name()),
				s.indexExpr(c.name)))
		}
	}
	for i, q := range stmts {
		if _, err := s.base.Exec(rowauth.AsSystem(ctx), q); err != nil {
			return fmt.Errorf("files: Ensure: %w", err)
		}
		if i == len(ensureDDL)-1 {
			if err := s.ensureQuotaColumns(ctx); err != nil {
				return fmt.Errorf("files: Ensure: %w", err)
			}
		}
	}
	return nil
}

// ensureQuotaColumns adds the quota's columns to an owners table that
// lacks them, then its index.
func (s *Service) ensureQuotaColumns(ctx context.Context) error {
	ctx = rowauth.AsSystem(ctx)
	if !s.hasColumn(ctx, ownersTable, "pending") {
		for _, c := range ownersQuotaColumns {
			if _, err := s.base.Exec(ctx, `ALTER TABLE "`+ownersTable+`" ADD COLUMN `+c); err != nil {
				return err
			}
		}
	}
	_, err := s.base.Exec(ctx, ownersIndexDDL)
	return err
}

// hasColumn reports whether a query reading table.col succeeds. The
// column is qualified: SQLite reads an unknown "col" alone as a string.
func (s *Service) hasColumn(ctx context.Context, table, col string) bool {
	rows, err := s.base.Query(ctx, `SELECT `+dialect.QuoteIdent(table)+`.`+dialect.QuoteIdent(col)+` FROM `+dialect.QuoteIdent(table)+` WHERE 1 = 0`)
	if err != nil {
		return false
	}
	for rows.Next() {
	}
	err = rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err == nil
}

// indexName is a name within PostgreSQL's 63 bytes for any table and
// column names; it covers the expression, so a changed expression gets
// a new index rather than finding the old one there.
func indexName(table, col, expr string) string {
	sum := sha256.Sum256([]byte(table + "\x00" + col + "\x00" + expr))
	return "plasma_files_" + hex.EncodeToString(sum[:8])
}

func (s *Service) sqlite() bool { return s.base.Dialect().Name() == "sqlite" }

// hashExpr is the SQL for the hash inside the ref in col: JSON text on
// SQLite, JSONB on PostgreSQL.
func (s *Service) hashExpr(col string) string {
	if s.sqlite() {
		// json_extract fails the whole statement on text that is not
		// JSON (a row written with raw SQL): such a row references
		// nothing, rather than breaking downloads and GC for all.
		q := dialect.QuoteIdent(col)
		return "(CASE WHEN json_valid(" + q + ") THEN json_extract(" + q + `, '$.hash') END)`
	}
	return "(" + dialect.QuoteIdent(col) + "->>'hash')"
}

// indexExpr is hashExpr as an index expression (PostgreSQL wants the
// extra parentheses, which hashExpr has).
func (s *Service) indexExpr(col string) string { return s.hashExpr(col) }

// touch records that h was uploaded or referenced now. In a write
// transaction it also locks h's row until commit, so a concurrent GC of
// h waits and then sees it fresh.
func (s *Service) touch(ctx context.Context, db *orm.DB, h Hash, size int64) error {
	_, err := db.Exec(rowauth.AsSystem(ctx), `INSERT INTO "`+blobsTable+`" ("hash", "size", "touched_at") VALUES (?, ?, ?) `+
		`ON CONFLICT ("hash") DO UPDATE SET "touched_at" = excluded."touched_at"`, h.String(), size, s.opts.Now().UnixMilli())
	return err
}

// touchedAt returns when h was last touched, or 0.
func (s *Service) touchedAt(ctx context.Context, h Hash) (int64, error) {
	rows, err := s.base.Query(rowauth.AsSystem(ctx), `SELECT "touched_at" FROM "`+blobsTable+`" WHERE "hash" = ?`, h.String())
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var at int64
	if rows.Next() {
		if err := rows.Scan(&at); err != nil {
			return 0, err
		}
	}
	return at, rows.Err()
}

// addOwner records that user showed they hold h's bytes (size of them),
// as an upload pending until a recount finds it referenced (see Quota).
func (s *Service) addOwner(ctx context.Context, db *orm.DB, h Hash, size int64, user string) error {
	_, err := db.Exec(rowauth.AsSystem(ctx), `INSERT INTO "`+ownersTable+`" ("hash", "user_id", "size", "pending") VALUES (?, ?, ?, 1) `+
		`ON CONFLICT ("hash", "user_id") DO UPDATE SET "size" = excluded."size", "pending" = 1`, h.String(), user, size)
	return err
}

// isOwner reports whether user uploaded h.
func (s *Service) isOwner(ctx context.Context, db *orm.DB, h Hash, user string) (bool, error) {
	rows, err := db.Query(rowauth.AsSystem(ctx), `SELECT 1 FROM "`+ownersTable+`" WHERE "hash" = ? AND "user_id" = ?`, h.String(), user)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	found := rows.Next()
	return found, rows.Err()
}

// refRow is one row referencing a hash.
type refRow struct {
	tf  *tableFiles
	col *fileColumn
	id  string
	raw string // the column's JSON text
}

// referencing returns up to limit rows referencing h, by table name,
// column and row id, read on db without row auth. Only tables keyed by
// "id" are listed: rows are checked one by one.
func (s *Service) referencing(ctx context.Context, db *orm.DB, h Hash, limit int) ([]refRow, error) {
	var out []refRow
	for _, tf := range s.ordered {
		if !tf.idKey {
			continue
		}
		for _, c := range tf.cols {
			if len(out) >= limit {
				return out, nil
			}
			q := fmt.Sprintf(`SELECT "id", %s FROM %s WHERE %s = ? ORDER BY "id" LIMIT %d`,
				castText(s.sqlite(), c.name), dialect.QuoteIdent(tf.t.Name()), s.hashExpr(c.name), limit-len(out))
			rows, err := db.Query(rowauth.AsSystem(ctx), q, h.String())
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				r := refRow{tf: tf, col: c}
				if err := rows.Scan(&r.id, &r.raw); err != nil {
					rows.Close()
					return nil, err
				}
				out = append(out, r)
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// castText reads a JSON(B) column as text on either engine.
func castText(sqlite bool, col string) string {
	if sqlite {
		return dialect.QuoteIdent(col)
	}
	return dialect.QuoteIdent(col) + "::text"
}

// referenced reports whether any row of any table references h.
func (s *Service) referenced(ctx context.Context, db *orm.DB, h Hash) (bool, error) {
	for _, tf := range s.ordered {
		for _, c := range tf.cols {
			q := fmt.Sprintf(`SELECT 1 FROM %s WHERE %s = ? LIMIT 1`, dialect.QuoteIdent(tf.t.Name()), s.hashExpr(c.name))
			rows, err := db.Query(rowauth.AsSystem(ctx), q, h.String())
			if err != nil {
				return false, err
			}
			found := rows.Next()
			err = rows.Err()
			rows.Close()
			if err != nil || found {
				return found, err
			}
		}
	}
	return false, nil
}

// readable returns a ref to h from a row ctx's identity may read, among
// the first ReadAuthMaxRefs rows referencing h; ok is false when there is
// none. A system context reads every row.
func (s *Service) readable(ctx context.Context, h Hash) (Ref, bool, error) {
	return s.readableOn(ctx, s.base, h)
}

// readableOn is readable on db's executor (a write's transaction).
func (s *Service) readableOn(ctx context.Context, db *orm.DB, h Hash) (Ref, bool, error) {
	authDB := s.authDB
	if db != s.base {
		authDB = s.authDB.WithExecutor(db.Executor())
	}
	refs, err := s.referencing(ctx, s.base.WithExecutor(db.Executor()), h, s.opts.ReadAuthMaxRefs)
	if err != nil || len(refs) == 0 {
		return Ref{}, false, err
	}
	byTable := map[*tableFiles][]string{}
	var order []*tableFiles
	for _, r := range refs {
		if byTable[r.tf] == nil {
			order = append(order, r.tf)
		}
		byTable[r.tf] = append(byTable[r.tf], r.id)
	}
	for _, tf := range order {
		ids := byTable[tf]
		q := authDB.Select(tf.t.Col("id")).From(tf.t).Where(expr.InArray(tf.t.Col("id"), ids)).Limit(1)
		got, err := orm.Maps(ctx, q)
		if err != nil {
			return Ref{}, false, err
		}
		if len(got) == 0 {
			continue
		}
		id := fmt.Sprint(got[0]["id"])
		for _, r := range refs {
			if r.tf == tf && r.id == id {
				ref, err := ParseRef([]byte(r.raw))
				if err != nil {
					continue // a row written around the check: not served
				}
				return ref, true, nil
			}
		}
	}
	return Ref{}, false, nil
}
