package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// The defaults of Options.
const (
	DefaultMaxUserInfoBytes   = 1 << 10
	DefaultPresenceThrottle   = 100 * time.Millisecond
	DefaultMaxPresenceMembers = 100
	DefaultSendQueue          = 16
	DefaultPingInterval       = 30 * time.Second
	DefaultPongTimeout        = 60 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	DefaultCoalesceWindow     = 5 * time.Millisecond
	DefaultPollInterval       = 200 * time.Millisecond
	DefaultListenerMinBackoff = 250 * time.Millisecond
	DefaultListenerMaxBackoff = 30 * time.Second
	DefaultCheckConcurrency   = 4
	DefaultMaxConnsPerUser    = 64
	DefaultMaxRoomMembers     = 1000
	DefaultMaxIDBytes         = 128
)

// The PostgreSQL notification channels the hubs of one database talk on.
// NOTIFY channels are database-wide: hubs of applications that share a
// database in different schemas hear each other. A notification on
// ChannelChanges costs them a read of their own change log; one on
// ChannelPokes pokes their connections to client groups of the same ids,
// each a spurious pull.
const (
	// ChannelChanges carries a change-log region's name; the trigger
	// Ensure installs sends it when a transaction that logged changes
	// commits.
	ChannelChanges = "plasma_changes"
	// ChannelPokes carries the client groups poked through one hub
	// (Poke, Notify) to the others.
	ChannelPokes = "plasma_pokes"
)

// Options configures a Hub. DB, Schema and Auth are required.
type Options struct {
	// DB is the database, without plasma's server middlewares (the
	// same one given to the sync server's Options.DB): the hub reads the
	// change log, the client groups and the client view records (which
	// rows each client group last pulled) from it and adds row auth itself
	// to check who may read a changed row. It must not be a transaction.
	DB *orm.DB
	// Schema is the application's schema: its tables' read rules decide
	// who is poked.
	Schema *orm.Schema
	// Auth authenticates a connection, from the request whose
	// Authorization header holds the header the client sent or, for
	// browsers (which cannot set headers on a WebSocket), the value of
	// the auth query parameter. Use the sync handler's authentication,
	// adapted:
	//
	//	Auth: func(r *http.Request) (rowauth.Identity, error) {
	//		id, _, err := appAuth(r) // the server.Options.Auth
	//		return id, err
	//	}
	//
	// An error, or an empty UserID, answers 401 before the upgrade.
	Auth func(r *http.Request) (rowauth.Identity, error)
	// AuthorizeRoom decides whether id may join room, a name the client
	// chose with the room query parameter. Return an error to refuse
	// (403 before the upgrade). Nil allows only each connection's
	// default room, its client group's.
	AuthorizeRoom func(ctx context.Context, id rowauth.Identity, room string) error
	// BindGroup binds client group groupID to userID when no user holds
	// it yet, and returns an error matching server.ErrForbiddenGroup when
	// it belongs to another user: that connection is refused with 403,
	// with the same answer whether or not the group existed. Any other
	// error answers 500. The default writes the binding to the sync
	// server's tables on DB, as a pull or push does, so the first
	// authenticated pull, push or WebSocket connection to a group makes
	// it its user's; set it to the sync handler's BindGroup method to
	// apply the handler's cap on groups per user
	// (server.Options.MaxGroupsPerUser) and its SQLite write turn too.
	// A push to a group by a user other than the
	// one a connection of the group authenticated as (the group was
	// collected and claimed again, or a custom BindGroup let both in)
	// closes that connection (close code 1008, "client group belongs to
	// another user").
	BindGroup func(ctx context.Context, groupID, userID string) error
	// CheckOrigin decides whether a browser's Origin may connect. Nil
	// (the default) accepts a request without an Origin header (not a
	// browser), an Origin whose host is the request's Host (same
	// origin), and the origins in CORSOrigins, and refuses every other
	// one with 403 before the upgrade: a WebSocket is not subject to
	// CORS, so without this check any site could open the endpoint with
	// the credentials a browser attaches by itself. It is called with
	// the handshake request, before the client group is bound, and
	// again by the upgrader.
	CheckOrigin func(r *http.Request) bool
	// CORSOrigins are the other origins browsers may connect from, as
	// for the sync handler (give both the same list): exact origins such as
	// "https://app.example.com", or "*" for any. Used by the default
	// CheckOrigin only.
	CORSOrigins []string

	// Regions are the change-log regions whose writes the hub watches.
	// Default: changelog.DefaultRegion. On SQLite, whose versions are
	// shared by all regions, the hub finds other regions by itself; on
	// PostgreSQL a region first heard of in a notification makes the
	// hub poke every connection once and watch it from then on.
	Regions []string

	// MaxConnsPerUser caps the connections one user (Identity.UserID)
	// may hold open to this hub; one more is refused with 429 before the
	// upgrade. Default 64; negative: no cap.
	MaxConnsPerUser int
	// MaxRoomMembers caps the connections, and so the presence entries,
	// of one room (a client group's own room or a named one); one more is
	// refused with 429 before the upgrade (or, when connections raced
	// past that check, closed at once with close code 1008 and the
	// reason "room is full"), and stored nowhere. A connection that
	// replaces one of the same clientID does not count twice. Default
	// 1000; negative: no cap.
	MaxRoomMembers int
	// MaxIDBytes caps the length of the clientGroupID, clientID and room
	// a connection names; a longer one is refused with 400. Default 128
	// bytes.
	MaxIDBytes int
	// MaxUserInfoBytes caps the userInfo query parameter (the JSON, after
	// URL decoding); a larger one is refused with 400. Default 1 KiB.
	MaxUserInfoBytes int
	// PresenceThrottle is the least time between two presence snapshots
	// of a room. A change in between is sent when the interval ends
	// (trailing edge), with the room's latest state. Default 100 ms.
	PresenceThrottle time.Duration
	// MaxPresenceMembers caps presence: a room with more members gets
	// one snapshot with no entries and "truncated": true, and no
	// further snapshots until it shrinks back. Every member receives
	// every snapshot, so a room's presence traffic grows with the
	// square of its size. Default 100; negative turns presence off.
	MaxPresenceMembers int
	// SendQueue is how many messages may wait to be written to one
	// connection. A connection whose queue is full is closed: its client
	// reconnects and pulls. Default 16. (Pokes never take more than one
	// place: a poke waiting to be written covers later ones.)
	SendQueue int
	// PingInterval is how often the server pings each connection, and
	// PongTimeout how long it waits for any pong before it closes the
	// connection as dead. Defaults 30 s and 60 s; PongTimeout must be
	// longer than PingInterval.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// WriteTimeout bounds one write to a connection; a client that does
	// not read for that long is closed. Default 10 s.
	WriteTimeout time.Duration
	// CoalesceWindow is how long the hub waits after a commit is
	// signalled before it reads the change log and pokes, so that the
	// commits of a burst give each connection one poke. Default 5 ms.
	CoalesceWindow time.Duration
	// CheckConcurrency is how many read-access queries the hub runs at
	// once while deciding whom to poke. Default 4.
	CheckConcurrency int

	// Listener is, on PostgreSQL, the connection string of the
	// connection the hub LISTENs on, so that writes made by other
	// processes on the same database poke this hub's connections. Empty:
	// the hub polls the change-log heads every PollInterval instead.
	// Ignored on SQLite.
	Listener string
	// NewListener opens that connection. Nil asks the database's
	// dialect (dialect.ListenerOpener), which for PostgreSQL is lib/pq
	// (postgres.NewListener); an application on pgx passes
	// pgx.NewListener from dialect/pgx, which uses a dedicated pgx
	// connection instead. The hub itself links no driver.
	NewListener func(dsn string, opts dialect.ListenerOptions) (dialect.Listener, error)
	// ListenerMinBackoff and ListenerMaxBackoff bound the wait before
	// the listener reconnects after losing its connection: it starts at
	// the minimum and doubles after each failure. Defaults 250 ms and
	// 30 s.
	ListenerMinBackoff time.Duration
	ListenerMaxBackoff time.Duration
	// PollInterval is how often the hub compares the change-log heads
	// with what it has seen, to catch writes that no Notify announced:
	// writes made through a ServerDB outside a push, and on PostgreSQL
	// without Listener, other processes' writes. Default 200 ms. It does
	// not apply on PostgreSQL with Listener, where commits are
	// announced by the trigger.
	PollInterval time.Duration

	// SkipEnsure leaves the database alone: New neither creates the
	// change log nor, on PostgreSQL, the notification trigger (see
	// Ensure). Use it when migrations manage them.
	SkipEnsure bool

	// Logger receives the hub's warnings (a failed change-log read, a
	// lost listener connection) and debug details. Default slog.Default().
	Logger *slog.Logger
}

// withDefaults checks o and fills in its defaults.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.DB == nil:
		return o, errors.New("plasma: realtime: New: Options.DB is nil")
	case o.DB.IsTx():
		return o, errors.New("plasma: realtime: New: Options.DB is a transaction; give the database")
	case o.Schema == nil:
		return o, errors.New("plasma: realtime: New: Options.Schema is nil")
	case o.Auth == nil:
		return o, errors.New("plasma: realtime: New: Options.Auth is nil")
	}
	if o.MaxConnsPerUser == 0 {
		o.MaxConnsPerUser = DefaultMaxConnsPerUser
	}
	if o.MaxRoomMembers == 0 {
		o.MaxRoomMembers = DefaultMaxRoomMembers
	}
	if o.MaxIDBytes <= 0 {
		o.MaxIDBytes = DefaultMaxIDBytes
	}
	if o.MaxUserInfoBytes <= 0 {
		o.MaxUserInfoBytes = DefaultMaxUserInfoBytes
	}
	if o.PresenceThrottle <= 0 {
		o.PresenceThrottle = DefaultPresenceThrottle
	}
	if o.MaxPresenceMembers == 0 {
		o.MaxPresenceMembers = DefaultMaxPresenceMembers
	}
	if o.SendQueue <= 0 {
		o.SendQueue = DefaultSendQueue
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PongTimeout <= 0 {
		o.PongTimeout = max(DefaultPongTimeout, 2*o.PingInterval)
	}
	if o.PongTimeout <= o.PingInterval {
		return o, fmt.Errorf("plasma: realtime: New: PongTimeout %v must be longer than PingInterval %v", o.PongTimeout, o.PingInterval)
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.CoalesceWindow <= 0 {
		o.CoalesceWindow = DefaultCoalesceWindow
	}
	if o.CheckConcurrency <= 0 {
		o.CheckConcurrency = DefaultCheckConcurrency
	}
	if o.NewListener == nil {
		if lo, ok := o.DB.Dialect().(dialect.ListenerOpener); ok {
			o.NewListener = lo.OpenListener
		}
	}
	if o.ListenerMinBackoff <= 0 {
		o.ListenerMinBackoff = DefaultListenerMinBackoff
	}
	if o.ListenerMaxBackoff < o.ListenerMinBackoff {
		o.ListenerMaxBackoff = max(DefaultListenerMaxBackoff, o.ListenerMinBackoff)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Regions = distinctRegions(o.Regions)
	return o, nil
}

// distinctRegions returns regions without repeats, "" read as
// changelog.DefaultRegion, and that region alone for none.
func distinctRegions(regions []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, r := range regions {
		if r == "" {
			r = changelog.DefaultRegion
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		out = append(out, changelog.DefaultRegion)
	}
	return out
}
