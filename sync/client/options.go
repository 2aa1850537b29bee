package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/mutator"
)

// Defaults of the Options a zero value leaves unset.
const (
	DefaultPullInterval = 60 * time.Second
	DefaultMinBackoff   = 30 * time.Millisecond
	DefaultMaxBackoff   = 60 * time.Second
	// DefaultPushBatch is the sync server's DefaultMaxMutationsPerPush.
	DefaultPushBatch = 200
	// DefaultPushBytes keeps a push under the server's default 1 MiB
	// payload limit, with room for the envelope.
	DefaultPushBytes = 900 << 10
)

// SchemaPolicy says what the client does when the server does not serve
// its schema version, or the replica was written under another one.
type SchemaPolicy int

const (
	// SchemaReset wipes the replica (pending mutations included) and
	// starts a new client group; while the server still refuses the
	// version, the loop tries again on its pull interval (and on pokes),
	// without wiping the fresh replica again.
	SchemaReset SchemaPolicy = iota
	// SchemaStay keeps the local data and stops syncing; the failure is
	// reported (ErrSchemaMismatch) and Mutate still works locally.
	SchemaStay
)

// Options configure a Client. Server, Schema and Mutators are required.
type Options[C any] struct {
	// Server is the sync endpoint's base URL, such as
	// "https://app.example.com/sync": the client posts to Server+"/push"
	// and Server+"/pull" and connects to Server+"/ws" (ws or wss).
	Server string
	// Schema is the app's schema, the one the server serves; its synced
	// tables are replicated.
	Schema *orm.Schema
	// Mutators are the app's mutators, the same Set the server runs.
	Mutators mutator.Set[C]
	// Replica is the path of the local SQLite file; "" keeps the replica
	// in memory (lost on Close).
	Replica string
	// Auth returns the Authorization header for each request (push, pull,
	// WebSocket). Nil sends none. See Bearer.
	Auth func(ctx context.Context) (string, error)
	// Ctx is the application context the mutators get locally, in the
	// role the server's Auth result plays there. CtxFunc, when set, is
	// asked instead at every local run.
	Ctx     C
	CtxFunc func(ctx context.Context) (C, error)

	// HTTPClient sends push and pull; nil uses a client on Transport (or
	// http.DefaultTransport).
	HTTPClient *http.Client
	// Transport is the RoundTripper of the default HTTP client, when
	// HTTPClient is nil (the socket dials with WebSocketDialer).
	Transport http.RoundTripper

	// WebSocketDialer dials the poke socket (nil: websocket.DefaultDialer).
	WebSocketDialer *websocket.Dialer

	// Offline starts the client offline: mutations queue, nothing is
	// sent until SetOffline(false).
	Offline bool
	// NoWebSocket turns the poke socket off: the client pulls on
	// PullInterval only.
	NoWebSocket bool
	// PullInterval is how often the loop pulls while no WebSocket is up
	// (DefaultPullInterval).
	PullInterval time.Duration
	// MinBackoff and MaxBackoff bound the retry delay after a network
	// error or a 5xx answer: it doubles from MinBackoff up to MaxBackoff,
	// with jitter.
	MinBackoff, MaxBackoff time.Duration
	// PushBatch and PushBytes cap one push (DefaultPushBatch mutations,
	// DefaultPushBytes bytes of arguments).
	PushBatch int
	PushBytes int

	// MaxResponseBytes bounds a pull answer the client reads
	// (MaxPullBytes, the protocol's 64 MiB, by default); a longer one is
	// refused with ErrBadResponse.
	MaxResponseBytes int64

	// OnSchemaMismatch picks the reaction to a schema version mismatch
	// (SchemaReset by default).
	OnSchemaMismatch SchemaPolicy
	// OnError is told every failure of the background loop (and of
	// PushOnce/PullOnce/Flush, which also return it). It must not block,
	// nor call Stop or Close (it may run on the loop's goroutine).
	OnError func(err error)
	// OnChange is called after every committed change of the replica's
	// visible state: a local mutation, a rebase, a discard, a reset. It
	// is the seam live queries hook onto (see the package doc). It runs
	// on the goroutine that made the change, after the commit, and must
	// not block, nor call Stop or Close. It may use the client
	// otherwise (read DB(), Mutate).
	OnChange func(Change)
	// OnPresence receives the presence snapshots of the client's room.
	OnPresence func(Presence)
	// Room and UserInfo join a presence room when the socket connects
	// (Room "" is the client group's own room). See JoinRoom.
	Room     string
	UserInfo any

	// AtRest, when set, seals the replica's cells of Encrypted() columns
	// with a local keyset (see AtRest).
	AtRest *AtRest

	// ProfileID is sent in every request ("" uses a fixed "plasma-go").
	ProfileID string
	// Clock drives the loop's timers; nil uses the real clock. The test
	// kit (plasmatest) passes a fake one.
	Clock Clock
}

// Bearer returns an Auth provider that sends "Bearer <token>" with the
// token fn returns for each request.
func Bearer(fn func(ctx context.Context) (string, error)) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		tok, err := fn(ctx)
		if err != nil {
			return "", err
		}
		return "Bearer " + tok, nil
	}
}

func (o *Options[C]) withDefaults() error {
	switch {
	case o.Server == "":
		return errors.New("plasma: client.Open: Options.Server is empty")
	case !strings.HasPrefix(o.Server, "http://") && !strings.HasPrefix(o.Server, "https://"):
		return errors.New("plasma: client.Open: Options.Server must be an http:// or https:// URL")
	case o.Schema == nil:
		return errors.New("plasma: client.Open: Options.Schema is nil")
	case o.Mutators == nil:
		return errors.New("plasma: client.Open: Options.Mutators is nil")
	case o.AtRest != nil && o.AtRest.Keys == nil:
		return fmt.Errorf("%w: Options.AtRest has no keys", ErrAtRest)
	}
	o.Server = strings.TrimRight(o.Server, "/")
	if o.PullInterval <= 0 {
		o.PullInterval = DefaultPullInterval
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	if o.PushBatch <= 0 {
		o.PushBatch = DefaultPushBatch
	}
	if o.PushBytes <= 0 {
		o.PushBytes = DefaultPushBytes
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = MaxPullBytes
	}
	if o.ProfileID == "" {
		o.ProfileID = "plasma-go"
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.HTTPClient == nil {
		rt := o.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		o.HTTPClient = &http.Client{Transport: rt, Timeout: 2 * time.Minute}
	}
	return nil
}

// ChangeKind says what changed the replica.
type ChangeKind int

// The kinds of Change.
const (
	ChangeMutate  ChangeKind = iota + 1 // a local mutation ran
	ChangeRebase                        // a pull was applied and pending mutations re-run
	ChangeDiscard                       // DiscardMutation removed a pending mutation
	ChangeReset                         // the replica was wiped
)

// Change describes one committed change of the replica, for OnChange.
type Change struct {
	Kind ChangeKind
	// Tables are the names of the synced tables whose rows may have
	// changed (nil after a reset: all of them).
	Tables []string
}

// Clock is the time source of the loop.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
