package protocol

import (
	"encoding/json"
	"time"
)

// DevtoolsSource is the discriminant of every devtools message: the
// value of its "source" field, as in the seed's devtools bridge
// (PLASMA_DEVTOOLS_SOURCE). A message without it is not a devtools
// message (IsDevtoolsMessage).
const DevtoolsSource = "plasma-devtools"

// The types of devtools messages (their "type" field).
const (
	DevtoolsTypeSnapshot = "snapshot"
	DevtoolsTypeCommand  = "command"
	DevtoolsTypeResult   = "result"
	DevtoolsTypeError    = "error"
)

// The commands of the sync server's devtools API.
const (
	// DevtoolsPing answers a result: the API is there and the caller an
	// admin.
	DevtoolsPing = "ping"
	// DevtoolsPoke pokes the client group's WebSocket connections, so
	// that its clients pull.
	DevtoolsPoke = "poke"
	// DevtoolsReset drops the client group's view records: its next pull
	// is answered with a reset (a clear and every row), whatever cookie
	// it sends. The group is poked too, so that it pulls now.
	DevtoolsReset = "reset"
	// DevtoolsDisconnect closes the client group's WebSocket
	// connections; clients reconnect (and pull) by themselves.
	DevtoolsDisconnect = "disconnect"
)

// The commands of the Go client's devtools (sync/client's
// Client.Devtools): the seed's command kinds, and snapshot.
const (
	// DevtoolsSnapshotCommand answers the client's DevtoolsClientSnapshot.
	DevtoolsSnapshotCommand = "snapshot"
	// DevtoolsFlush pushes every pending mutation and pulls until the
	// server has confirmed them.
	DevtoolsFlush = "flush"
	// DevtoolsPull pulls once.
	DevtoolsPull = "pull"
	// DevtoolsResetLocalState wipes the replica and starts over as a new
	// client in a new client group.
	DevtoolsResetLocalState = "reset-local-state"
)

// DevtoolsMessage is the part every devtools message shares.
type DevtoolsMessage struct {
	Source string `json:"source"`
	Type   string `json:"type"`
}

// IsDevtoolsMessage reports whether b is a JSON object whose "source"
// is DevtoolsSource.
func IsDevtoolsMessage(b []byte) bool {
	var m DevtoolsMessage
	return json.Unmarshal(b, &m) == nil && m.Source == DevtoolsSource
}

// DevtoolsCommand asks the sync server's devtools to act on a client
// group: POST it to {basePath}/devtools/api/command.
type DevtoolsCommand struct {
	Source        string `json:"source"` // DevtoolsSource
	Type          string `json:"type"`   // DevtoolsTypeCommand
	Command       string `json:"command"`
	ClientGroupID string `json:"clientGroupID,omitempty"`
}

// DevtoolsResult answers a DevtoolsCommand that was carried out.
type DevtoolsResult struct {
	Source        string `json:"source"`
	Type          string `json:"type"` // DevtoolsTypeResult
	Command       string `json:"command"`
	ClientGroupID string `json:"clientGroupID,omitempty"`
	// ViewsDropped is, for a reset, the number of view records deleted.
	ViewsDropped int64 `json:"viewsDropped,omitempty"`
	// Disconnected is, for a disconnect, the number of connections
	// closed.
	Disconnected int `json:"disconnected,omitempty"`
	// Poked says whether the group's connections were poked.
	Poked bool `json:"poked,omitempty"`
	// Changed is, for a client's pull, whether the replica changed.
	Changed bool `json:"changed,omitempty"`
}

// DevtoolsClientSnapshot is a Go client's state as its devtools show it.
type DevtoolsClientSnapshot struct {
	Source         string            `json:"source"`
	Type           string            `json:"type"` // DevtoolsTypeSnapshot
	At             time.Time         `json:"at"`
	ClientID       string            `json:"clientID"`
	ClientGroupID  string            `json:"clientGroupID"`
	LastMutationID int64             `json:"lastMutationID"`
	Cookie         json.RawMessage   `json:"cookie"`
	Pending        []DevtoolsPending `json:"pending"`
	Offline        bool              `json:"offline"`
	// Connected says whether the poke WebSocket is up.
	Connected bool `json:"connected"`
}

// DevtoolsPending is one mutation a client has not seen confirmed, by
// id and name (its arguments are left out: they are the user's data).
type DevtoolsPending struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Sent says whether it was pushed already.
	Sent bool `json:"sent"`
}

// DevtoolsError answers a devtools request that failed.
type DevtoolsError struct {
	Source  string `json:"source"`
	Type    string `json:"type"`  // DevtoolsTypeError
	Error   string `json:"error"` // a short code: BadRequest, Forbidden, NotFound, Conflict, Internal...
	Message string `json:"message,omitempty"`
}

// DevtoolsSnapshot is the sync server's state as the devtools show it:
// GET {basePath}/devtools/api/snapshot.
type DevtoolsSnapshot struct {
	Source string    `json:"source"`
	Type   string    `json:"type"` // DevtoolsTypeSnapshot
	At     time.Time `json:"at"`
	// SchemaVersion is the schema's version.
	SchemaVersion string `json:"schemaVersion"`
	// Groups are the client groups, most recently seen first.
	Groups []DevtoolsGroup `json:"groups"`
	// GroupsTruncated says more groups exist than were listed.
	GroupsTruncated bool `json:"groupsTruncated,omitempty"`
	// Heads are the change log's heads by region.
	Heads map[string]int64 `json:"heads"`
	// Changes are the latest changes of the log, newest first.
	Changes []DevtoolsChange `json:"changes"`
	// Realtime lists the WebSocket connections and presence rooms, or is
	// nil when the handler's Notifier cannot be inspected.
	Realtime *DevtoolsRealtime `json:"realtime"`
	// Errors are the errors the handler reported lately.
	Errors DevtoolsErrors `json:"errors"`
}

// DevtoolsGroup is one client group.
type DevtoolsGroup struct {
	ID     string `json:"id"`
	UserID string `json:"userID"`
	// CreatedAt and SeenAt are Unix milliseconds (SeenAt: the last
	// request for it the server recorded, 0 if none).
	CreatedAt int64 `json:"createdAt"`
	SeenAt    int64 `json:"seenAt,omitempty"`
	// LastPush and LastPull are when this server process last served a
	// push or pull for it (nil: not since it started).
	LastPush *time.Time `json:"lastPush,omitempty"`
	LastPull *time.Time `json:"lastPull,omitempty"`
	// Clients are its clients with their lastMutationIDs.
	Clients []DevtoolsClient `json:"clients"`
	// Views is the number of its client view records (the cookies the
	// server keeps for it), ViewRows the number of rows its view holds.
	Views    int64 `json:"views"`
	ViewRows int64 `json:"viewRows"`
}

// DevtoolsClient is one client of a group.
type DevtoolsClient struct {
	ID             string `json:"id"`
	LastMutationID int64  `json:"lastMutationID"`
	UpdatedAt      int64  `json:"updatedAt"` // Unix milliseconds
}

// DevtoolsChange is one change of the change log, without its row
// image.
type DevtoolsChange struct {
	Version    int64  `json:"version"`
	Region     string `json:"region"`
	Table      string `json:"table"`
	RowID      string `json:"rowID"`
	Op         string `json:"op"`
	ClientID   string `json:"clientID,omitempty"`
	MutationID int64  `json:"mutationID,omitempty"`
}

// DevtoolsRealtime is the realtime hub's connections and rooms.
type DevtoolsRealtime struct {
	Connections []DevtoolsConn `json:"connections"`
	// ConnectionsTruncated says more connections exist than were listed.
	ConnectionsTruncated bool           `json:"connectionsTruncated,omitempty"`
	Rooms                []DevtoolsRoom `json:"rooms"`
}

// DevtoolsConn is one WebSocket connection.
type DevtoolsConn struct {
	UserID        string `json:"userID"`
	ClientGroupID string `json:"clientGroupID"`
	ClientID      string `json:"clientID"`
	Room          string `json:"room"`
}

// DevtoolsRoom is one presence room.
type DevtoolsRoom struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
}

// DevtoolsErrors are the errors a handler reported lately.
type DevtoolsErrors struct {
	// ByKind counts the errors of each kind since the server started.
	ByKind map[string]int64 `json:"byKind"`
	// Recent are the latest, newest first.
	Recent []DevtoolsErrorEntry `json:"recent"`
}

// DevtoolsErrorEntry is one reported error.
type DevtoolsErrorEntry struct {
	At            time.Time `json:"at"`
	Kind          string    `json:"kind"`
	Status        int       `json:"status"`
	Endpoint      string    `json:"endpoint,omitempty"`
	UserID        string    `json:"userID,omitempty"`
	ClientGroupID string    `json:"clientGroupID,omitempty"`
	Mutator       string    `json:"mutator,omitempty"`
	Message       string    `json:"message,omitempty"`
}
