package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxMessageBytes bounds the size of a body DecodePush and DecodePull
// accept, whatever a server's own, usually smaller, limit is.
const MaxMessageBytes = 64 << 20

// MaxIDBytes bounds the length of client, client group and profile ids,
// schema versions and mutator names.
const MaxIDBytes = 256

// ErrMalformed is matched (errors.Is) by every *DecodeError.
var ErrMalformed = errors.New("malformed sync request")

// DecodeError is a request body that is not a valid push or pull.
type DecodeError struct {
	// Field is the JSON path of the offending field, such as
	// "mutations[3].id"; "" for the body as a whole.
	Field string
	// Problem says what is wrong.
	Problem string
}

// Error describes the problem, naming the field.
func (e *DecodeError) Error() string {
	if e.Field == "" {
		return "plasma: sync: malformed request: " + e.Problem
	}
	return "plasma: sync: malformed request: " + e.Field + ": " + e.Problem
}

// Is makes errors.Is(err, ErrMalformed) true.
func (e *DecodeError) Is(target error) bool { return target == ErrMalformed }

// VersionError is a request of a protocol version plasma does not speak.
// Servers answer it with VersionNotSupported(VersionType).
type VersionError struct {
	// VersionType is VersionTypePush or VersionTypePull.
	VersionType VersionType
	// Got is the version the request named, as JSON text.
	Got string
}

// Error names the unsupported version.
func (e *VersionError) Error() string {
	return fmt.Sprintf("plasma: sync: %sVersion %s is not supported (want %d)", e.VersionType, e.Got, 1)
}

func malformed(field, format string, args ...any) error {
	return &DecodeError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// rawHeader holds the fields push and pull share.
type rawHeader struct {
	SchemaVersion *string `json:"schemaVersion"`
	ProfileID     *string `json:"profileID"`
	ClientGroupID *string `json:"clientGroupID"`
}

type rawPush struct {
	PushVersion json.RawMessage `json:"pushVersion"`
	rawHeader
	Mutations *[]rawMutation `json:"mutations"`
}

type rawMutation struct {
	ClientID  *string         `json:"clientID"`
	ID        *int64          `json:"id"`
	Name      *string         `json:"name"`
	Args      json.RawMessage `json:"args"`
	Timestamp *float64        `json:"timestamp"`
}

type rawPull struct {
	PullVersion json.RawMessage `json:"pullVersion"`
	rawHeader
	Cookie json.RawMessage `json:"cookie"`
}

// decodeVersioned unmarshals data into raw and checks the version field
// the decoding filled in. A body of another version is answered with its
// *VersionError even when the rest does not decode: another version's
// other fields may differ.
func decodeVersioned(data []byte, raw any, version *json.RawMessage, field string, vt VersionType) error {
	err := unmarshal(data, raw)
	if verr := checkVersion(field, vt, *version); verr != nil && (err == nil || !isDecode(verr)) {
		return verr
	}
	return err
}

// check returns the shared fields: schemaVersion and profileID may be
// empty strings, clientGroupID may not.
func (h *rawHeader) check() (schemaVersion, profileID, groupID string, err error) {
	if schemaVersion, err = str("schemaVersion", h.SchemaVersion, true); err != nil {
		return
	}
	if profileID, err = str("profileID", h.ProfileID, true); err != nil {
		return
	}
	groupID, err = str("clientGroupID", h.ClientGroupID, false)
	return
}

// DecodePush decodes and checks a push body. It returns a *VersionError
// for a pushVersion other than 1 and a *DecodeError for anything else
// that is wrong; see the package documentation for the rules.
func DecodePush(data []byte) (*PushRequest, error) {
	var raw rawPush
	if err := decodeVersioned(data, &raw, &raw.PushVersion, "pushVersion", VersionTypePush); err != nil {
		return nil, err
	}
	req := &PushRequest{PushVersion: PushVersion}
	var err error
	if req.SchemaVersion, req.ProfileID, req.ClientGroupID, err = raw.check(); err != nil {
		return nil, err
	}
	if raw.Mutations == nil {
		return nil, malformed("mutations", "missing (or null); want an array")
	}
	req.Mutations = make([]Mutation, len(*raw.Mutations))
	for i, rm := range *raw.Mutations {
		field := func(name string) string { return "mutations[" + strconv.Itoa(i) + "]." + name }
		m := &req.Mutations[i]
		if m.ClientID, err = str(field("clientID"), rm.ClientID, false); err != nil {
			return nil, err
		}
		if rm.ID == nil {
			return nil, malformed(field("id"), "missing (or null); want an integer")
		}
		if *rm.ID < 1 {
			return nil, malformed(field("id"), "%d: mutation ids start at 1", *rm.ID)
		}
		m.ID = *rm.ID
		if m.Name, err = str(field("name"), rm.Name, false); err != nil {
			return nil, err
		}
		if rm.Timestamp == nil {
			return nil, malformed(field("timestamp"), "missing (or null); want a number")
		}
		m.Timestamp = *rm.Timestamp
		m.Args = rm.Args
		if len(m.Args) == 0 {
			m.Args = json.RawMessage("null")
		}
	}
	return req, nil
}

// DecodePull decodes and checks a pull body. It returns a *VersionError
// for a pullVersion other than 1 and a *DecodeError for anything else
// that is wrong, including a cookie that is not one of the shapes the
// Replicache client sends (null, a number, a string, or an object whose
// "order" is a number or a string; see ErrBadCookie). Which cookies name
// a stored view is for whoever interprets them (ParseCookie): a
// well-shaped cookie it does not recognise is not an error.
func DecodePull(data []byte) (*PullRequest, error) {
	var raw rawPull
	if err := decodeVersioned(data, &raw, &raw.PullVersion, "pullVersion", VersionTypePull); err != nil {
		return nil, err
	}
	req := &PullRequest{PullVersion: PullVersion}
	var err error
	if req.SchemaVersion, req.ProfileID, req.ClientGroupID, err = raw.check(); err != nil {
		return nil, err
	}
	if raw.Cookie == nil {
		return nil, malformed("cookie", "missing; want null or the cookie of the last pull")
	}
	if _, err := cookieValue(raw.Cookie); err != nil {
		return nil, malformed("cookie", "%.40s is not a cookie: want null, a number, a string or an object with a number or string \"order\"", raw.Cookie)
	}
	req.Cookie = raw.Cookie
	return req, nil
}

func isDecode(err error) bool {
	var d *DecodeError
	return errors.As(err, &d)
}

// unmarshal decodes one JSON object, translating encoding/json's errors.
func unmarshal(data []byte, v any) error {
	if len(data) > MaxMessageBytes {
		return malformed("", "%d bytes, over the limit of %d", len(data), MaxMessageBytes)
	}
	if len(data) == 0 {
		return malformed("", "empty body; want a JSON object")
	}
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return malformed("", "a JSON %s; want an object", te.Value)
		}
		return malformed(te.Field, "a JSON %s; want %s", te.Value, goTypeName(te.Type.String()))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return malformed("", "invalid JSON at byte %d: %v", se.Offset, se)
	}
	return malformed("", "%v", err)
}

func goTypeName(t string) string {
	switch t {
	case "string", "*string":
		return "a string"
	case "int64", "*int64":
		return "an integer"
	case "float64", "*float64":
		return "a number"
	}
	if strings.Contains(t, "[]") {
		return "an array"
	}
	return "an object"
}

// checkVersion checks a pushVersion or pullVersion field.
func checkVersion(field string, vt VersionType, raw json.RawMessage) error {
	if raw == nil {
		return malformed(field, "missing; want 1")
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || string(raw) == "null" {
		return malformed(field, "%.40s is not a number; want 1", raw)
	}
	if f != 1 {
		return &VersionError{VersionType: vt, Got: string(raw)}
	}
	return nil
}

// str checks a string field: present, non-null, valid UTF-8 without NUL
// (PostgreSQL's TEXT cannot hold it), at most MaxIDBytes, and not empty
// unless allowed.
func str(field string, p *string, emptyOK bool) (string, error) {
	switch {
	case p == nil:
		return "", malformed(field, "missing (or null); want a string")
	case *p == "" && !emptyOK:
		return "", malformed(field, "empty")
	case len(*p) > MaxIDBytes:
		return "", malformed(field, "%d bytes, over the limit of %d", len(*p), MaxIDBytes)
	case !utf8.ValidString(*p):
		return "", malformed(field, "not valid UTF-8")
	case strings.IndexByte(*p, 0) >= 0:
		return "", malformed(field, "holds a NUL character")
	}
	return *p, nil
}
