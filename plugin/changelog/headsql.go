package changelog

import "github.com/plasma-go/plasma/dialect"

// HeadSQL returns Head of region as an SQL expression and its arguments,
// for a caller that reads the head in a statement of its own making (the
// sync server reads it with a client group's state, in one query). The
// expression has the effects and guarantees of Head: on PostgreSQL it
// publishes first. Run it outside a transaction, or in a READ COMMITTED
// one.
func HeadSQL(d dialect.Dialect, region string) (string, []any) {
	if region == "" {
		region = DefaultRegion
	}
	if concurrentWrites(d) {
		return publishCall, []any{region}
	}
	return `COALESCE((SELECT "seq" FROM "sqlite_sequence" WHERE "name" = ?), 0)`, []any{LogTable}
}

// PeekHeadSQL is HeadSQL for a reader that need not wait for a
// publication: its value, once decoded by PeekedHead, is HeadSQL's, or,
// when another reader holds the region's publishing lock, the region's
// highest version as it stands, which may leave out changes committed
// before the statement's snapshot, and then PeekedHead says so. Such a
// head is still a sound cursor: every change it leaves out is numbered
// above it. On SQLite it is HeadSQL, always complete.
func PeekHeadSQL(d dialect.Dialect, region string) (string, []any) {
	if region == "" {
		region = DefaultRegion
	}
	if concurrentWrites(d) {
		return publishTryCall, []any{region}
	}
	return HeadSQL(d, region)
}

// PeekedHead decodes a value of PeekHeadSQL: the head, and whether it
// covers every change committed before the statement's snapshot (as
// Head's does).
func PeekedHead(v int64) (head int64, complete bool) {
	if v < 0 {
		return -1 - v, false
	}
	return v, true
}
