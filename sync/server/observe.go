package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/sync/protocol"
)

// Observer watches the handler's work, for metrics and traces: it is
// the one place instrumentation enters the handler (Options.Observer).
// Package sync/otelsync implements it with OpenTelemetry.
//
// Start is called when a push, a pull, one run of a mutation or a
// Collect begins; the context it returns is the one the work runs under,
// so a span it opens is the parent of the statements' spans (see
// plugin/otelorm). End is called once the work is done, with the
// context Start returned and the same Event, filled in meanwhile. Both
// run on the request's goroutine: keep them quick.
type Observer interface {
	Start(ctx context.Context, ev *Event) context.Context
	End(ctx context.Context, ev *Event)
}

// EventKind is what an Event describes.
type EventKind uint8

// The kinds of Event.
const (
	// EventPush is one request to the push endpoint.
	EventPush EventKind = iota + 1
	// EventPull is one request to the pull endpoint.
	EventPull
	// EventMutation is one run of a mutator inside a push's
	// transaction. A batch that is replayed or retried runs a mutation
	// again, and each run is an event: count mutations from
	// Event.Mutations of the push instead.
	EventMutation
	// EventCollect is one Handler.Collect.
	EventCollect
)

var eventNames = [...]string{EventPush: "push", EventPull: "pull", EventMutation: "mutation", EventCollect: "collect"}

// String names the kind: "push", "pull", "mutation" or "collect".
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "invalid"
}

// Event is one piece of the handler's work, as an Observer sees it. The
// handler fills it in as it learns: at Start only Kind, Started and (for
// a mutation) the mutation's fields are set; UserID is set once the
// request is authenticated and ClientGroupID once its body is decoded.
type Event struct {
	Kind    EventKind
	Started time.Time

	// UserID and ClientGroupID are the request's user and client group,
	// when known (for a mutation, its push's).
	UserID, ClientGroupID string

	// ClientID, MutationID and Mutator identify the mutation of an
	// EventMutation. Mutator is the name the client sent: Registered
	// says whether it names one of Options.Mutators (use it before
	// putting the name where its cardinality matters, a span name or a
	// metric label).
	ClientID   string
	MutationID int64
	Mutator    string
	Registered bool

	// Err is, at End, the error that failed the work: for a push or pull
	// the error the request was answered with (a 200 answer with an
	// error body, such as ClientStateNotFound, included); for a mutation
	// its permanent failure (KindMutatorFailed) or temporary one
	// (KindUnavailable); nil when it succeeded.
	Err *Error

	// Mutations is, for a push, the outcome of each of its mutations
	// (nil when the push was refused before any ran).
	Mutations []MutationResult

	// For a pull: PatchOps is the number of operations of the patch
	// (puts and dels), Reset whether the patch starts with a clear, and
	// Bytes the size of the response body.
	PatchOps int
	Reset    bool
	Bytes    int64

	// Collect is what a Collect did.
	Collect CollectResult
}

// eventKey carries the *Event of the work in progress in a context.
type eventKey struct{}

// eventFrom returns the event of the request ctx belongs to, or nil.
func eventFrom(ctx context.Context) *Event {
	ev, _ := ctx.Value(eventKey{}).(*Event)
	return ev
}

// startEvent starts watching ev: it puts ev in the context (for report, the
// logger and the Observer) and tells the Observer.
func (h *Handler[Ctx]) startEvent(ctx context.Context, ev *Event) context.Context {
	ev.Started = time.Now()
	ctx = context.WithValue(ctx, eventKey{}, ev)
	if h.opts.Observer != nil {
		ctx = h.opts.Observer.Start(ctx, ev)
	}
	return ctx
}

// endEvent ends ev: the Observer, the devtools and the log learn how it
// went.
func (h *Handler[Ctx]) endEvent(ctx context.Context, ev *Event) {
	if h.opts.Observer != nil {
		h.opts.Observer.End(ctx, ev)
	}
	if h.dev != nil {
		h.dev.record(ev)
	}
	if h.log != nil && ev.Kind != EventMutation {
		h.log.LogAttrs(ctx, slog.LevelDebug, "plasma sync: "+ev.Kind.String(),
			slog.Duration("duration", time.Since(ev.Started)), slog.Bool("ok", ev.Err == nil))
	}
}

// observeMutation runs one mutation (runMutation) as an EventMutation.
func (h *Handler[Ctx]) observeMutation(ctx context.Context, tx *orm.DB, st *pushState[Ctx], m protocol.Mutation, batch *changelog.Batch) (failed, err error) {
	if h.opts.Observer == nil && h.log == nil {
		return h.runMutation(ctx, tx, st, m, batch)
	}
	ev := &Event{Kind: EventMutation, UserID: st.ident.UserID, ClientGroupID: st.req.ClientGroupID,
		ClientID: m.ClientID, MutationID: m.ID, Mutator: m.Name}
	_, ev.Registered = h.opts.Mutators[m.Name]
	ctx = h.startEvent(ctx, ev)
	failed, err = h.runMutation(ctx, tx, st, m, batch)
	switch {
	case err != nil:
		ev.Err = &Error{Kind: internal(err), Err: err}
	case failed != nil:
		ev.Err = &Error{Kind: KindMutatorFailed, Status: http.StatusOK, Err: failed}
	}
	h.endEvent(ctx, ev)
	return failed, err
}

// notePushed records the outcome of a push's mutations in its event.
func notePushed(ctx context.Context, results []MutationResult) {
	if ev := eventFrom(ctx); ev != nil {
		ev.Mutations = results
	}
}

// noteFailure records the error a request is answered with in its
// event.
func noteFailure(ctx context.Context, e *Error) {
	if ev := eventFrom(ctx); ev != nil && ev.Kind != EventMutation {
		ev.Err = e
	}
}

// notePull records the shape of a pull's patch in its event.
func notePull(ctx context.Context, ops int, reset bool) {
	if ev := eventFrom(ctx); ev != nil {
		ev.PatchOps, ev.Reset = ops, reset
	}
}

// countingWriter counts the bytes of a response body.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the writer below.
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
