package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
)

// The defaults of Options.
const (
	DefaultBasePath            = "/sync"
	DefaultMaxMutationsPerPush = 200
	DefaultMaxPayloadBytes     = 1 << 20
	DefaultKeepCVRs            = 8
	DefaultBackgroundWorkers   = 4
	DefaultBackgroundQueue     = 256
)

// The defaults of the request limits of Options (MaxIDBytes,
// MaxArgsDepth).
const (
	// DefaultMaxIDBytes caps clientGroupID, profileID and clientID.
	DefaultMaxIDBytes = 128
	// DefaultMaxArgsDepth caps the JSON nesting depth of a mutation's
	// arguments.
	DefaultMaxArgsDepth = 64
)

// Options configures a Handler. Schema, DB, Mutators and Auth are
// required.
type Options[Ctx any] struct {
	// Schema is the application's schema. Its synced tables are what
	// pulls send; its version is what clients' schemaVersion must equal.
	Schema *orm.Schema
	// DB is the database, without plasma's server middlewares: the
	// handler installs row auth and the change log itself (serverdb.New)
	// and keeps DB's own middlewares. It must not be a transaction.
	DB *orm.DB
	// Mutators are the application's mutators.
	Mutators mutator.Set[Ctx]
	// Auth authenticates a request: it returns who the request acts for
	// (row auth evaluates the tables' rules for it, and client groups are
	// bound to its UserID) and the application context mutators receive
	// as Call.Ctx. An error, or an empty UserID, answers 401.
	Auth func(r *http.Request) (rowauth.Identity, Ctx, error)

	// BasePath is the prefix of the endpoints: POST {BasePath}/push and
	// POST {BasePath}/pull. Default "/sync".
	BasePath string
	// Region is the change-log region this server's writes are logged
	// under (changelog.DefaultRegion when empty).
	Region string
	// Regions lists the other change-log regions whose writes reach this
	// database. A pull compares every listed region's change-log head
	// with the one its cookie's view was computed at to skip the table
	// scan when nothing changed; a region left out would make it miss
	// that region's writes until something else changes. (On SQLite all
	// regions share one head, so it does not matter there.)
	Regions []string

	// OnPushed, if set, is called after every push that committed
	// something (a mutation applied or a failed one counted as
	// processed), once the transactions have committed, before the
	// response is written. Keep it quick; hand slow work to WaitUntil.
	OnPushed func(ctx context.Context, info PushInfo)
	// Notifier, if set, is told about the same pushes as OnPushed, after
	// it: the realtime layer pokes clients from here.
	Notifier Notifier
	// OnError, if set, is called with every error the handler meets: the
	// ones that fail a request and the ones it answers 200 to
	// (a permanently failing mutator, a mutation out of order). It runs
	// on the request's goroutine; keep it quick.
	OnError func(ctx context.Context, err *Error)
	// Observer, if set, watches every push, pull, mutation and Collect,
	// for metrics and traces: package sync/otelsync is one.
	Observer Observer
	// Logger, if set, logs every error the handler reports (as OnError
	// sees them: a warning, an error for a 5xx) and, at debug level,
	// each push and pull served, with the request's user and client
	// group as attributes (see LogHandler).
	Logger *slog.Logger
	// Devtools, if set, serves the devtools page and its JSON API at
	// {BasePath}/devtools to the requests its Admin function accepts.
	// Off by default.
	Devtools *DevtoolsOptions

	// MaxMutationsPerPush caps the mutations of one push; a push with
	// more is refused with 400 and nothing is applied. Default 200.
	MaxMutationsPerPush int
	// MaxPayloadBytes caps a request body; a larger one is refused with
	// 413 and is not read past the cap. Default 1 MiB.
	MaxPayloadBytes int64

	// MaxIDBytes caps the length, in bytes, of a request's clientGroupID
	// and profileID and of each mutation's clientID: a longer one is
	// refused with 400 and nothing is applied. Default 128
	// (DefaultMaxIDBytes); Replicache's ids are about 20 bytes.
	MaxIDBytes int
	// MaxArgsDepth caps the JSON nesting depth of a mutation's arguments
	// (1 for {"a":1}): a push with deeper arguments is refused with 400
	// and nothing of it is applied. Default 64 (DefaultMaxArgsDepth).
	MaxArgsDepth int
	// MutationsPerTransaction is how many consecutive mutations of a push
	// share one database transaction. Default: all of them, so a push
	// commits once (on SQLite each commit is a disk sync; a push of 100
	// mutations in one transaction is several times faster than in 100)
	// and a temporary failure leaves nothing of it applied. 1 commits
	// each mutation alone, which keeps PostgreSQL's row locks and
	// SQLite's write lock for the shortest time. A permanent failure
	// rolls back only that mutation either way: the batch runs without
	// savepoints and, when a mutation fails, is rolled back and replayed
	// with that mutation counted as failed and skipped (see the package
	// documentation), so the mutations before it in the batch run twice.
	// A temporary failure rolls back the whole batch (its mutations stay
	// pending on the client and are pushed again).
	MutationsPerTransaction int
	// SchemaVersionMismatchStatus is the HTTP status for a request whose
	// schemaVersion is not the schema's: 409 (the default) or 200, which
	// makes a Replicache client call onUpdateNeeded; the body is
	// {"error":"VersionNotSupported","versionType":"schema"} either way.
	SchemaVersionMismatchStatus int

	// KeepCVRs is how many client view records (past pull results) are
	// kept per client group, so that a client whose last response was
	// lost, or another tab of the group, can still pull from an older
	// cookie without a full reset. Default 8.
	KeepCVRs int
	// DisableFastPath makes every pull scan the tables, instead of
	// answering "nothing changed" from the change-log heads and the
	// group's lastMutationIDs, or reading only the rows the change log
	// shows changed (incremental pulls). Set it when what a user may read
	// depends on data outside the change log: a table with
	// ChangeLogSuppressed or External that a read rule consults, or rows
	// changed with raw SQL without changelog.Record. (Claims of the
	// identity are covered: the fast path compares them too.)
	DisableFastPath bool

	// BackgroundWorkers is how many WaitUntil tasks run at once. Default 4.
	BackgroundWorkers int
	// BackgroundQueue is how many WaitUntil tasks may wait for a worker;
	// WaitUntil refuses more. Default 256.
	BackgroundQueue int

	// Collection of idle client groups: see Handler.Collect.

	// GroupTTL is how long a client group may go without a push or a
	// pull before Handler.Collect deletes it with its clients and client
	// view records. A client of a collected group that pushes again gets
	// ClientStateNotFound and starts over in a new group. Default 30 days
	// (DefaultGroupTTL): far longer than Replicache itself keeps an
	// inactive client in the browser (24 hours to 7 days, depending on the
	// version), so a group is collected only long after its tabs
	// forgot it, unless a device was offline for the whole TTL.
	GroupTTL time.Duration
	// CollectBatch is how many client groups one Collect transaction
	// deletes (and how many rows its other statements touch at most).
	// Default 500 (DefaultCollectBatch).
	CollectBatch int
	// MaxGroupsPerUser bounds the client groups one user holds. A push or
	// pull that binds a new group past it drops the user's least recently
	// seen groups, as Collect drops idle ones: their clients get
	// ClientStateNotFound at their next push. Replicache starts a new
	// group only when the schema or mutators change or a browser profile
	// is new, so an honest user stays far below the default, 1,000
	// (DefaultMaxGroupsPerUser).
	MaxGroupsPerUser int

	// Files, if set, serves the file endpoints (upload and download of
	// content-addressed blobs) at {BasePath}/files/…, authenticated by
	// Auth: a *files.Service is one. Install its Middleware in DB so
	// that writes of file columns are checked too.
	Files FileServer

	// SkipEnsure leaves the database's tables alone: NewHandler then
	// neither creates the schema's missing tables, the change log's, nor
	// the sync tables (see Ensure). Use it when migrations manage
	// them.
	SkipEnsure bool
}

// Notifier is told about pushes that changed something, after they
// commit. The realtime layer implements it to poke clients (over
// WebSocket, say) so that they pull.
type Notifier interface {
	Notify(ctx context.Context, info PushInfo)
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, info PushInfo)

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, info PushInfo) { f(ctx, info) }

// PushInfo describes a push after its transactions committed.
type PushInfo struct {
	// UserID is the user the push acted for.
	UserID string
	// ClientGroupID is the pushing client group; "" for Handler.Invoke.
	ClientGroupID string
	// Mutations holds the outcome of every mutation of the push, in
	// order.
	Mutations []MutationResult
}

// Committed reports whether the push changed anything: a mutation
// applied, or a failed one counted as processed.
func (p PushInfo) Committed() bool {
	for _, m := range p.Mutations {
		if m.Status == StatusApplied || m.Status == StatusFailed {
			return true
		}
	}
	return false
}

// MutationStatus is what became of one mutation of a push.
type MutationStatus int

// The mutation outcomes.
const (
	// StatusNotProcessed: the push stopped before the mutation (an earlier
	// mutation of the same client was out of order, or a temporary error
	// aborted the push). It stays pending on the client.
	StatusNotProcessed MutationStatus = iota
	// StatusApplied: the mutator ran and its effects committed.
	StatusApplied
	// StatusSkipped: the mutation had been processed before (a re-push).
	StatusSkipped
	// StatusFailed: the mutator failed permanently; its effects were
	// rolled back and the mutation counts as processed.
	StatusFailed
	// StatusOutOfOrder: the mutation's id is past the client's next one;
	// it and the client's later mutations of the push were not processed.
	StatusOutOfOrder
)

var statusNames = [...]string{"not processed", "applied", "skipped", "failed", "out of order"}

// String names the status.
func (s MutationStatus) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "invalid"
}

// MutationResult is the outcome of one mutation.
type MutationResult struct {
	// ClientID is the client that made the mutation.
	ClientID string
	// ID is the mutation's id.
	ID int64
	// Name is the mutator's name.
	Name string
	// Status is what became of the mutation.
	Status MutationStatus
	// Err is the mutator's error for StatusFailed.
	Err error
}
