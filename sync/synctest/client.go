package synctest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/plasma-go/plasma/sync/protocol"
)

// Client simulates one Replicache client group over HTTP, strictly: it
// pushes and pulls as the replicache npm client does and checks every
// pull response against the rules a real client enforces, returning an
// error where a real client would throw or silently drop data:
//
//   - the body is a JSON object whose lastMutationIDChanges is an object
//     and whose patch is an array (never null);
//   - the cookie never goes back; an equal cookie carries no changes
//     (a real client ignores its patch) and is the same JSON value;
//   - a clear op comes only first, every op is clear, put or del, and
//     a put carries a value;
//   - lastMutationIDChanges never lowers a client's lastMutationID.
//
// A response that passes is applied to View, LastMutationIDs and Cookie.
// Its fields are exported so that a test can inspect them, or copy them
// into another Client to fork a snapshot as a new browser tab does. A
// Client is not safe for concurrent use.
type Client struct {
	// HTTP sends the requests; nil means http.DefaultClient.
	HTTP *http.Client
	// PushURL and PullURL are the endpoints' full URLs.
	PushURL, PullURL string
	// Auth is sent verbatim as the Authorization header ("" for none).
	Auth string
	// GroupID is the client group's id (clientGroupID).
	GroupID string
	// SchemaVersion is sent with every request; "" means "1".
	SchemaVersion string

	// Cookie is the cookie of the last pull that changed anything (nil
	// before the first).
	Cookie json.RawMessage
	// View holds the rows the pulls put, keyed as patches key them.
	View map[string]json.RawMessage
	// LastMutationIDs holds each client's lastMutationID as pulls
	// reported it.
	LastMutationIDs map[string]int64
}

// NewClient returns a Client of group that posts to baseURL+"/push" and
// baseURL+"/pull" (baseURL is where the handler's BasePath is served,
// such as srv.URL+"/sync") with hc, sending auth as Authorization.
func NewClient(hc *http.Client, baseURL, auth, group string) *Client {
	base := strings.TrimRight(baseURL, "/")
	return &Client{HTTP: hc, PushURL: base + "/push", PullURL: base + "/pull", Auth: auth, GroupID: group}
}

// Mutation is one mutation of a push: args is its JSON.
type Mutation struct {
	ClientID string
	ID       int64
	Name     string
	Args     string
}

// PullResult is what one pull answered and did.
type PullResult struct {
	// Response is the decoded response.
	Response protocol.PullResponse
	// Raw is the response body as received.
	Raw string
	// Changed reports whether the cookie moved (and so the response was
	// applied).
	Changed bool
}

// PushBody returns the JSON body of a push of muts by group, with the
// given schema version ("" means "1").
func PushBody(group, schemaVersion string, muts ...Mutation) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"pushVersion":1,"schemaVersion":%q,"profileID":"p1","clientGroupID":%q,"mutations":[`, orOne(schemaVersion), group)
	for i, m := range muts {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"clientID":%q,"id":%d,"name":%q,"args":%s,"timestamp":%d.5}`, m.ClientID, m.ID, m.Name, m.Args, 1000+i)
	}
	b.WriteString("]}")
	return b.String()
}

// PullBody returns the JSON body of a pull by group from cookie (nil
// for none), with the given schema version ("" means "1").
func PullBody(group, schemaVersion string, cookie json.RawMessage) string {
	if cookie == nil {
		cookie = json.RawMessage("null")
	}
	return fmt.Sprintf(`{"pullVersion":1,"schemaVersion":%q,"profileID":"p1","clientGroupID":%q,"cookie":%s}`, orOne(schemaVersion), group, cookie)
}

func orOne(v string) string {
	if v == "" {
		return "1"
	}
	return v
}

func (c *Client) http() *http.Client {
	if c.HTTP == nil {
		return http.DefaultClient
	}
	return c.HTTP
}

// Push pushes muts and returns the status and body; it checks nothing,
// since refusals (401, 409, 413 ...) are what many tests look for.
func (c *Client) Push(muts ...Mutation) (status int, body string, err error) {
	return Post(c.http(), c.PushURL, c.Auth, PushBody(c.GroupID, c.SchemaVersion, muts...))
}

// Pull pulls from Cookie and applies the response. A status other than
// 200 or a response that breaks the protocol's rules is an error, and
// leaves the Client unchanged.
func (c *Client) Pull() (PullResult, error) {
	status, body, err := Post(c.http(), c.PullURL, c.Auth, PullBody(c.GroupID, c.SchemaVersion, c.Cookie))
	if err != nil {
		return PullResult{}, err
	}
	if status != http.StatusOK {
		return PullResult{Raw: body}, fmt.Errorf("synctest: pull: status %d: %s", status, body)
	}
	return c.Apply(body)
}

// Apply checks a pull response body against the protocol's rules and,
// when it passes and its cookie moved, applies it. A response that
// fails a check changes nothing.
func (c *Client) Apply(body string) (PullResult, error) {
	r := PullResult{Raw: body}
	if err := checkShapes(body); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(body), &r.Response); err != nil {
		return r, fmt.Errorf("synctest: pull response: %w", err)
	}
	cmp, err := protocol.CompareCookies(r.Response.Cookie, c.Cookie)
	if err != nil {
		return r, fmt.Errorf("synctest: %w", err)
	}
	switch {
	case cmp < 0:
		return r, fmt.Errorf("synctest: cookie went back: %s after %s", r.Response.Cookie, c.Cookie)
	case cmp == 0:
		if !jsonEqual(r.Response.Cookie, c.Cookie) {
			return r, fmt.Errorf("synctest: cookies of equal order differ: %s, %s", r.Response.Cookie, c.Cookie)
		}
		if len(r.Response.Patch) > 0 || len(r.Response.LastMutationIDChanges) > 0 {
			return r, fmt.Errorf("synctest: an unchanged cookie with changes: %s", body)
		}
		return r, nil
	}
	if err := c.check(r.Response); err != nil {
		return r, err
	}
	c.apply(r.Response)
	r.Changed = true
	return r, nil
}

// checkShapes refuses a body whose lastMutationIDChanges is not a JSON
// object or whose patch is not an array: a Go nil map or slice encodes as
// null, which the real client rejects.
func checkShapes(body string) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		return fmt.Errorf("synctest: pull response is not a JSON object: %s", body)
	}
	if l := raw["lastMutationIDChanges"]; len(l) == 0 || l[0] != '{' {
		return fmt.Errorf("synctest: lastMutationIDChanges is not an object: %s", body)
	}
	if p := raw["patch"]; len(p) == 0 || p[0] != '[' {
		return fmt.Errorf("synctest: patch is not an array: %s", body)
	}
	return nil
}

// check checks a response's ops and lastMutationIDs before anything is
// applied.
func (c *Client) check(resp protocol.PullResponse) error {
	for i, op := range resp.Patch {
		switch op.Op {
		case protocol.OpClear:
			if i != 0 {
				return fmt.Errorf("synctest: clear at position %d", i)
			}
		case protocol.OpPut:
			if op.Key == "" || len(op.Value) == 0 {
				return fmt.Errorf("synctest: put without a key or a value at position %d", i)
			}
		case protocol.OpDel:
			if op.Key == "" {
				return fmt.Errorf("synctest: del without a key at position %d", i)
			}
		default:
			return fmt.Errorf("synctest: unknown op %q", op.Op)
		}
	}
	for id, n := range resp.LastMutationIDChanges {
		if n < c.LastMutationIDs[id] {
			return fmt.Errorf("synctest: lastMutationID of %s went back from %d to %d", id, c.LastMutationIDs[id], n)
		}
	}
	return nil
}

// apply applies a checked response.
func (c *Client) apply(resp protocol.PullResponse) {
	if c.View == nil {
		c.View = map[string]json.RawMessage{}
	}
	if c.LastMutationIDs == nil {
		c.LastMutationIDs = map[string]int64{}
	}
	for _, op := range resp.Patch {
		switch op.Op {
		case protocol.OpClear:
			clear(c.View)
		case protocol.OpPut:
			c.View[op.Key] = op.Value
		case protocol.OpDel:
			delete(c.View, op.Key)
		}
	}
	for id, n := range resp.LastMutationIDChanges {
		c.LastMutationIDs[id] = n
	}
	c.Cookie = resp.Cookie
}

// Row decodes the row View holds under key, nil if there is none.
func (c *Client) Row(key string) map[string]any {
	v, ok := c.View[key]
	if !ok {
		return nil
	}
	var row map[string]any
	if err := json.Unmarshal(v, &row); err != nil {
		return nil
	}
	return row
}

// jsonEqual reports whether a and b hold the same JSON value (absent
// counts as null).
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if len(a) == 0 {
		a = json.RawMessage("null")
	}
	if len(b) == 0 {
		b = json.RawMessage("null")
	}
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
