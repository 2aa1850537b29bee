package protocol

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/plasma-go/plasma/internal/jsonx"
)

// The protocol versions plasma speaks.
const (
	// PushVersion is the only pushVersion accepted.
	PushVersion = 1
	// PullVersion is the only pullVersion accepted.
	PullVersion = 1
)

// PushRequest is the body of a push: mutations of one client group's
// clients, in the order they must be applied.
type PushRequest struct {
	// PushVersion is the protocol version, 1.
	PushVersion int `json:"pushVersion"`
	// SchemaVersion is the schema version the client was built for; ""
	// when the client set none.
	SchemaVersion string `json:"schemaVersion"`
	// ProfileID identifies the browser profile (or device). plasma does
	// not use it.
	ProfileID string `json:"profileID"`
	// ClientGroupID is the group whose clients made the mutations.
	ClientGroupID string `json:"clientGroupID"`
	// Mutations are applied in order. Several clients of the group may
	// appear, each with its own sequence of ids.
	Mutations []Mutation `json:"mutations"`
}

// Mutation is one call of a mutator by one client.
type Mutation struct {
	// ClientID is the client that made the mutation.
	ClientID string `json:"clientID"`
	// ID numbers the client's mutations from 1, without gaps.
	ID int64 `json:"id"`
	// Name is the mutator's name.
	Name string `json:"name"`
	// Args is the mutator's argument, any JSON value (null when the client
	// sent none).
	Args json.RawMessage `json:"args"`
	// Timestamp is the client's clock when it made the mutation
	// (performance.now() style). It is not wall-clock time and plasma
	// does not use it for ordering.
	Timestamp float64 `json:"timestamp"`
}

// MarshalJSON encodes the request with "mutations" as an array even when
// there are none.
func (p PushRequest) MarshalJSON() ([]byte, error) {
	type plain PushRequest
	q := plain(p)
	if q.Mutations == nil {
		q.Mutations = []Mutation{}
	}
	return json.Marshal(q)
}

// MarshalJSON encodes the mutation with null args when Args is empty.
func (m Mutation) MarshalJSON() ([]byte, error) {
	type plain Mutation
	q := plain(m)
	if len(q.Args) == 0 {
		q.Args = json.RawMessage("null")
	}
	return json.Marshal(q)
}

// PullRequest is the body of a pull. It names a client group, not a
// client: a pull belongs to the group.
type PullRequest struct {
	// PullVersion is the protocol version, 1.
	PullVersion int `json:"pullVersion"`
	// SchemaVersion is the schema version the client was built for.
	SchemaVersion string `json:"schemaVersion"`
	// ProfileID identifies the browser profile (or device).
	ProfileID string `json:"profileID"`
	// ClientGroupID is the group pulling.
	ClientGroupID string `json:"clientGroupID"`
	// Cookie is the cookie of the group's current snapshot, exactly as a
	// server returned it (to this group or to the group it was forked
	// from), or null.
	Cookie json.RawMessage `json:"cookie"`
}

// MarshalJSON encodes the request with a null cookie when Cookie is empty.
func (p PullRequest) MarshalJSON() ([]byte, error) {
	type plain PullRequest
	q := plain(p)
	if len(q.Cookie) == 0 {
		q.Cookie = json.RawMessage("null")
	}
	return json.Marshal(q)
}

// PullResponse is the body of a successful pull.
type PullResponse struct {
	// Cookie identifies the snapshot the patch leads to. It must be
	// greater than the request's cookie whenever the patch or the
	// mutation ids change anything, and equal to it otherwise.
	Cookie json.RawMessage `json:"cookie"`
	// LastMutationIDChanges gives, for each client of the group whose
	// last processed mutation changed since the request's cookie, its new
	// last mutation id.
	LastMutationIDChanges map[string]int64 `json:"lastMutationIDChanges"`
	// Patch turns the snapshot named by the request's cookie into the one
	// named by Cookie.
	Patch []PatchOp `json:"patch"`
}

// MarshalJSON encodes the response; see AppendJSON.
func (r PullResponse) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil), nil }

// AppendJSON appends the response as JSON to dst. A nil map or slice is
// written as {} or [], never null, which the Replicache client rejects; an
// empty Cookie is written as null. Patch values are written as they are:
// they must be valid JSON (the server makes them so).
func (r PullResponse) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"cookie":`...)
	if len(r.Cookie) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, r.Cookie...)
	}
	dst = append(dst, `,"lastMutationIDChanges":{`...)
	ids := make([]string, 0, len(r.LastMutationIDChanges))
	for id := range r.LastMutationIDChanges {
		ids = append(ids, id)
	}
	slices.Sort(ids) // a stable encoding
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonx.AppendString(dst, id)
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, r.LastMutationIDChanges[id], 10)
	}
	dst = append(dst, `},"patch":[`...)
	for i, op := range r.Patch {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = op.AppendJSON(dst)
	}
	return append(dst, "]}"...)
}

// The patch operations.
const (
	// OpPut sets Key to Value.
	OpPut = "put"
	// OpDel removes Key.
	OpDel = "del"
	// OpClear removes every key; it comes first in a patch.
	OpClear = "clear"
)

// PatchOp is one operation of a pull's patch. plasma's keys are
// "<table>/<row id>" and its values the rows as JSON objects keyed by
// column name.
type PatchOp struct {
	// Op is OpPut, OpDel or OpClear.
	Op string `json:"op"`
	// Key is the key put or deleted; empty for OpClear.
	Key string `json:"key,omitempty"`
	// Value is the value put; only for OpPut.
	Value json.RawMessage `json:"value,omitempty"`
}

// MarshalJSON encodes the operation; see AppendJSON.
func (op PatchOp) MarshalJSON() ([]byte, error) { return op.AppendJSON(nil), nil }

// AppendJSON appends the operation as JSON to dst: a put with its key and
// value (null when Value is empty), a del with its key, a clear alone.
func (op PatchOp) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"op":`...)
	dst = jsonx.AppendString(dst, op.Op)
	switch op.Op {
	case OpClear:
	case OpPut:
		dst = append(dst, `,"key":`...)
		dst = jsonx.AppendString(dst, op.Key)
		dst = append(dst, `,"value":`...)
		if len(op.Value) == 0 {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, op.Value...)
		}
	default:
		dst = append(dst, `,"key":`...)
		dst = jsonx.AppendString(dst, op.Key)
	}
	return append(dst, '}')
}

// The error names of ErrorResponse.
const (
	// ErrorClientStateNotFound tells the client that the server lost its
	// group's state: the client disables the group for good and starts
	// over (Replicache reloads the page by default).
	ErrorClientStateNotFound = "ClientStateNotFound"
	// ErrorVersionNotSupported tells the client that the server does not
	// speak its protocol or schema version: the client asks the app to
	// update (Replicache's onUpdateNeeded).
	ErrorVersionNotSupported = "VersionNotSupported"
)

// VersionType says which version ErrorVersionNotSupported is about.
type VersionType string

// The version types.
const (
	VersionTypePush   VersionType = "push"
	VersionTypePull   VersionType = "pull"
	VersionTypeSchema VersionType = "schema"
)

// ErrorResponse is a push or pull answer that reports a condition the
// client acts on: {"error":"ClientStateNotFound"} or
// {"error":"VersionNotSupported","versionType":"schema"}. The Replicache
// client only looks at such a body when the HTTP status is 200.
type ErrorResponse struct {
	// Error is ErrorClientStateNotFound or ErrorVersionNotSupported.
	Error string `json:"error"`
	// VersionType is set for ErrorVersionNotSupported.
	VersionType VersionType `json:"versionType,omitempty"`
}

// ClientStateNotFound returns the ClientStateNotFound body.
func ClientStateNotFound() ErrorResponse {
	return ErrorResponse{Error: ErrorClientStateNotFound}
}

// VersionNotSupported returns the VersionNotSupported body for vt.
func VersionNotSupported(vt VersionType) ErrorResponse {
	return ErrorResponse{Error: ErrorVersionNotSupported, VersionType: vt}
}
