package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"
)

// wireEnvelope fixes the JSON field names and order of both envelope kinds.
type wireEnvelope struct {
	V     int    `json:"v"`
	Suite Suite  `json:"suite"`
	KeyID string `json:"keyId"`
	Cell  Cell   `json:"cell"`
	Nonce []byte `json:"nonce,omitempty"`
	Enc   []byte `json:"enc,omitempty"`
	CT    []byte `json:"ct"`
}

var envelopeFields = []string{"v", "suite", "keyId", "cell", "nonce", "enc", "ct"}

// MarshalJSON encodes the envelope in its wire form. It refuses an envelope
// that would not decode again.
func (e Envelope) MarshalJSON() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	return json.Marshal(wireEnvelope{V: e.Version, Suite: e.Suite, KeyID: e.KeyID,
		Cell: e.Cell, Nonce: e.Nonce, CT: e.Ciphertext})
}

// UnmarshalJSON decodes an AES envelope strictly, like [ParseEnvelope]. As
// with encoding/json's own types, JSON null leaves e unchanged.
func (e *Envelope) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	got, err := ParseEnvelope(data)
	if err != nil {
		return err
	}
	*e = *got
	return nil
}

// Parse decodes either kind of envelope strictly: it returns an *[Envelope]
// or a *[PQEnvelope], chosen by the suite, or an error wrapping
// [ErrMalformed] (or [ErrTruncated]), [ErrUnsupportedVersion] or
// [ErrUnsupportedSuite]. It checks the shape only; see [Validate] for limits.
func Parse(data []byte) (Sealed, error) {
	m, err := members(data, envelopeFields...)
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(m)
	if err != nil {
		return nil, err
	}
	if suites[h.Suite].pq {
		return asSealed(parsePQ(h, m))
	}
	return asSealed(parseAES(h, m))
}

// asSealed passes on a pointer only on success: a nil *Envelope inside a
// Sealed would not compare equal to nil.
func asSealed[E Sealed](e E, err error) (Sealed, error) {
	if err != nil {
		return nil, err
	}
	return e, nil
}

// ParseEnvelope decodes an AES envelope strictly; see [Parse].
func ParseEnvelope(data []byte) (*Envelope, error) {
	s, err := Parse(data)
	if err != nil {
		return nil, err
	}
	e, ok := s.(*Envelope)
	if !ok {
		return nil, fmt.Errorf("%w: %q is a PQ suite, not an AES envelope", ErrUnsupportedSuite, s.Header().Suite)
	}
	return e, nil
}

func parseHeader(m map[string]json.RawMessage) (Header, error) {
	var h Header
	var suite string
	if err := intField(m, "v", &h.Version); err != nil {
		return h, err
	}
	if err := stringField(m, "suite", &suite); err != nil {
		return h, err
	}
	h.Suite = Suite(suite)
	if err := stringField(m, "keyId", &h.KeyID); err != nil {
		return h, err
	}
	if err := cellField(m, &h.Cell); err != nil {
		return h, err
	}
	return h, h.check()
}

func parseAES(h Header, m map[string]json.RawMessage) (*Envelope, error) {
	e := &Envelope{Version: h.Version, Suite: h.Suite, KeyID: h.KeyID, Cell: h.Cell}
	if _, ok := m["enc"]; ok {
		return nil, fmt.Errorf("%w: field \"enc\" is not allowed in an AES envelope", ErrMalformed)
	}
	if err := bytesField(m, "nonce", &e.Nonce); err != nil {
		return nil, err
	}
	if err := bytesField(m, "ct", &e.Ciphertext); err != nil {
		return nil, err
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	return e, nil
}

func cellField(m map[string]json.RawMessage, c *Cell) error {
	raw, ok := m["cell"]
	if !ok {
		return fmt.Errorf("%w: missing field \"cell\"", ErrMalformed)
	}
	cm, err := members(raw, "table", "rowId", "column")
	if err != nil {
		return fmt.Errorf("cell: %w", err)
	}
	fields := [...]struct {
		name string
		dst  *string
	}{{"table", &c.Table}, {"rowId", &c.RowID}, {"column", &c.Column}}
	for _, f := range fields {
		if err := stringField(cm, f.name, f.dst); err != nil {
			return fmt.Errorf("cell: %w", err)
		}
	}
	return nil
}

// members splits one JSON object into its raw member values. It refuses
// anything but exactly one object, names outside allowed (compared exactly)
// and duplicate names. encoding/json alone would take the last of duplicate
// names and match names case-insensitively, so two parsers could read one
// envelope differently; it would also rewrite invalid UTF-8 silently.
func members(data []byte, allowed ...string) (map[string]json.RawMessage, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: invalid UTF-8", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	m := make(map[string]json.RawMessage, len(allowed))
	for dec.More() {
		if err := member(dec, m, allowed); err != nil {
			return nil, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the object", ErrMalformed)
	}
	return m, nil
}

func member(dec *json.Decoder, m map[string]json.RawMessage, allowed []string) error {
	tok, err := dec.Token()
	if err != nil {
		return syntaxError(err)
	}
	name, _ := tok.(string) // inside an object the decoder only yields string names
	if !slices.Contains(allowed, name) {
		return fmt.Errorf("%w: unknown field %q", ErrMalformed, clip(name))
	}
	if _, dup := m[name]; dup {
		return fmt.Errorf("%w: duplicate field %q", ErrMalformed, name)
	}
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return syntaxError(err)
	}
	m[name] = raw
	return nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return syntaxError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("%w: expected %q", ErrMalformed, want)
	}
	return nil
}

// syntaxError classifies a decoder error: running out of input is
// truncation, anything else is malformed JSON.
func syntaxError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: JSON ends early", ErrTruncated)
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

// rawField returns a required member, refusing null, which encoding/json
// would otherwise accept for any type and leave the zero value.
func rawField(m map[string]json.RawMessage, name string) (json.RawMessage, error) {
	raw, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("%w: missing field %q", ErrMalformed, name)
	}
	if string(raw) == "null" {
		return nil, fmt.Errorf("%w: field %q is null", ErrMalformed, name)
	}
	return raw, nil
}

func stringField(m map[string]json.RawMessage, name string, dst *string) error {
	raw, err := rawField(m, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("%w: field %q is not a string", ErrMalformed, name)
	}
	return nil
}

// intField accepts a JSON integer literal only: encoding/json refuses
// "1.0", "1e0" and strings when decoding into an int.
func intField(m map[string]json.RawMessage, name string, dst *int) error {
	raw, err := rawField(m, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("%w: field %q is not an integer", ErrMalformed, name)
	}
	return nil
}

// bytesField decodes canonical standard base64 (padded, no line breaks, no
// stray bits), so that one byte string has exactly one encoding.
func bytesField(m map[string]json.RawMessage, name string, dst *[]byte) error {
	var s string
	if err := stringField(m, name, &s); err != nil {
		return err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return fmt.Errorf("%w: field %q is not canonical base64", ErrMalformed, name)
	}
	*dst = b
	return nil
}
