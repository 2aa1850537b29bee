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
