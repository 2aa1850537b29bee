package changelog

import "context"

type originKey struct{}

type regionKey struct{}

type rowOriginsKey struct{}

type origin struct {
	clientID   string
	mutationID int64
}

// WithOrigin returns a context whose writes are logged as coming from the
// given client's mutation. The sync server sets it around each mutator.
func WithOrigin(ctx context.Context, clientID string, mutationID int64) context.Context {
	return context.WithValue(ctx, originKey{}, origin{clientID: clientID, mutationID: mutationID})
}

// OriginFrom returns the client and mutation that ctx's writes come from,
// and whether ctx names them.
func OriginFrom(ctx context.Context) (clientID string, mutationID int64, ok bool) {
	o, ok := ctx.Value(originKey{}).(origin)
	return o.clientID, o.mutationID, ok
}

// RowOrigins names the client and mutation a row's write comes from, by
// the row's table and id, or reports false to leave the row to the origin
// WithOrigin names.
type RowOrigins func(table, rowID string) (clientID string, mutationID int64, ok bool)

// WithRowOrigins returns a context whose writes log each changed row with
// the origin of names for it. The sync server sets it around an INSERT
// that carries the rows of several mutations.
func WithRowOrigins(ctx context.Context, of RowOrigins) context.Context {
	return context.WithValue(ctx, rowOriginsKey{}, of)
}

func rowOriginsFrom(ctx context.Context) RowOrigins {
	of, _ := ctx.Value(rowOriginsKey{}).(RowOrigins)
	return of
}

// WithRegion returns a context whose writes are logged under region,
// overriding the middleware's Options.Region.
func WithRegion(ctx context.Context, region string) context.Context {
	return context.WithValue(ctx, regionKey{}, region)
}

// RegionFrom returns the region ctx names with WithRegion, if any.
func RegionFrom(ctx context.Context) (string, bool) {
	r, ok := ctx.Value(regionKey{}).(string)
	return r, ok && r != ""
}

// regionOf picks ctx's region, else def, else DefaultRegion.
func regionOf(ctx context.Context, def string) string {
	if r, ok := RegionFrom(ctx); ok {
		return r
	}
	if def != "" {
		return def
	}
	return DefaultRegion
}
