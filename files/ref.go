package files

import (
	"bytes"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Hash is a blob's SHA-256 content hash. Its text form, in refs, URLs
// and storage listings, is "sha256:" followed by 64 lowercase hex digits.
type Hash [sha256.Size]byte

// hashPrefix starts every hash's text form.
const hashPrefix = "sha256:"

// Limits on a ref's text fields. They keep a row's file column small and
// a Content-Type or Content-Disposition header built from them sane.
const (
	// MaxRefBytes caps the JSON text of one ref.
	MaxRefBytes = 2048
	// MaxMIMEBytes caps a ref's MIME type.
	MaxMIMEBytes = 255
	// MaxNameBytes caps a ref's file name.
	MaxNameBytes = 255
)

// ParseHash parses the text form of a hash. Anything else — another
// algorithm, upper-case or short hex, a path — is an error wrapping
// ErrMalformed, so a hash taken from a URL can never name a path.
func ParseHash(s string) (Hash, error) {
	var h Hash
	hexPart, ok := strings.CutPrefix(s, hashPrefix)
	if !ok || len(hexPart) != 2*len(h) {
		return h, fmt.Errorf("%w: hash %s is not sha256: and 64 lowercase hex digits", ErrMalformed, quote(s))
	}
	for i := 0; i < len(hexPart); i++ {
		c := hexPart[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return h, fmt.Errorf("%w: hash %s is not sha256: and 64 lowercase hex digits", ErrMalformed, quote(s))
		}
	}
	_, _ = hex.Decode(h[:], []byte(hexPart))
	return h, nil
}

// HashOf returns the hash of b.
func HashOf(b []byte) Hash { return sha256.Sum256(b) }

// HashReader reads r to its end and returns the hash and length of what
// it read.
func HashReader(r io.Reader) (Hash, int64, error) {
	d := sha256.New()
	n, err := io.Copy(d, r)
	var h Hash
	d.Sum(h[:0])
	return h, n, err
}

// String returns the text form, "sha256:<hex>".
func (h Hash) String() string { return hashPrefix + hex.EncodeToString(h[:]) }

// Hex returns the 64 hex digits without the prefix.
func (h Hash) Hex() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is the zero value (no hash).
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText returns the text form.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText parses the text form strictly (ParseHash).
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// Ref is what a file column holds: a content hash, the blob's size in
// bytes, its MIME type and, optionally, a file name for people. As JSON
// it is {"hash":"sha256:…","size":N,"mime":"…","name":"…"} (name left out
// when empty). Files travel by upload, then ref: a row never holds bytes.
//
// Ref is a driver.Valuer, so it can be written to a file column as it
// is: orm.Row{"file": ref}.
type Ref struct {
	Hash Hash   `json:"hash"`
	Size int64  `json:"size"`
	MIME string `json:"mime"`
	Name string `json:"name,omitempty"`
}

// ParseRef decodes a ref strictly: one JSON object of at most
// MaxRefBytes, with exactly the keys hash, size and mime and optionally
// name, each once and spelled exactly so, a valid hash, a size that is a
// non-negative integer, a MIME type of the form type/subtype and a
// printable name without path separators; nothing may follow the
// object. Every failure wraps ErrMalformed. A JSON string, array or
// anything else that could carry the file's bytes is refused.
func ParseRef(b []byte) (Ref, error) {
	var r Ref
	if len(b) > MaxRefBytes {
		return r, fmt.Errorf("%w: ref of %d bytes, over %d", ErrMalformed, len(b), MaxRefBytes)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := decodeRefObject(d, &r); err != nil {
		return Ref{}, err
	}
	if _, err := d.Token(); err != io.EOF {
		return Ref{}, fmt.Errorf("%w: data after the ref object", ErrMalformed)
	}
	return r, r.Validate()
}

// decodeRefObject reads one object's keys and values from d into r.
func decodeRefObject(d *json.Decoder, r *Ref) error {
	tok, err := d.Token()
	if err != nil || tok != json.Delim('{') {
		return fmt.Errorf("%w: a ref is a JSON object {\"hash\",\"size\",\"mime\"}, not %s", ErrMalformed, tokenKind(tok, err))
	}
	seen := map[string]bool{}
	for d.More() {
		kt, err := d.Token()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		key, _ := kt.(string)
		if seen[key] {
			return fmt.Errorf("%w: key %s twice", ErrMalformed, quote(key))
		}
		seen[key] = true
		vt, err := d.Token()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if err := setRefField(r, key, vt); err != nil {
			return err
		}
	}
	if _, err := d.Token(); err != nil { // the closing brace
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for _, k := range [...]string{"hash", "size", "mime"} {
		if !seen[k] {
			return fmt.Errorf("%w: the ref has no %q", ErrMalformed, k)
		}
	}
	return nil
}

// setRefField sets the field key names from the scalar token v.
func setRefField(r *Ref, key string, v json.Token) error {
	str, isStr := v.(string)
	switch key {
	case "hash":
		if !isStr {
			return fmt.Errorf("%w: hash is not a string", ErrMalformed)
		}
		h, err := ParseHash(str)
		if err != nil {
			return err
		}
		r.Hash = h
	case "size":
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%w: size is not a number", ErrMalformed)
		}
		i, err := n.Int64()
		if err != nil || i < 0 || strings.ContainsAny(string(n), ".eE") {
			return fmt.Errorf("%w: size %s is not a non-negative integer", ErrMalformed, quote(string(n)))
		}
		r.Size = i
	case "mime", "name":
		if !isStr {
			return fmt.Errorf("%w: %s is not a string", ErrMalformed, key)
		}
		if key == "mime" {
			r.MIME = str
		} else {
			r.Name = str
		}
	default:
		return fmt.Errorf("%w: unknown key %s (a ref has hash, size, mime and name)", ErrMalformed, quote(key))
	}
	return nil
}

func tokenKind(t json.Token, err error) string {
	switch {
	case err != nil:
		return "invalid JSON"
	case t == nil:
		return "null"
	}
	switch t.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case json.Delim:
		return "an array"
	}
	return "that"
}

// Validate checks r's fields as ParseRef does; errors wrap ErrMalformed.
func (r Ref) Validate() error {
	if r.Hash.IsZero() {
		return fmt.Errorf("%w: the ref has no hash", ErrMalformed)
	}
	if r.Size < 0 {
		return fmt.Errorf("%w: negative size %d", ErrMalformed, r.Size)
	}
	if _, err := NormalizeMIME(r.MIME); err != nil {
		return err
	}
	return validName(r.Name)
}

// NormalizeMIME checks that m is a media type "type/subtype", optionally
// with parameters, and returns its base type lower-cased. Errors wrap
// ErrMalformed.
func NormalizeMIME(m string) (string, error) {
	if m == "" || len(m) > MaxMIMEBytes {
		return "", fmt.Errorf("%w: MIME type %s is empty or longer than %d bytes", ErrMalformed, quote(m), MaxMIMEBytes)
	}
	base, _, err := mime.ParseMediaType(m)
	if err != nil || strings.Count(base, "/") != 1 || strings.HasPrefix(base, "/") || strings.HasSuffix(base, "/") {
		return "", fmt.Errorf("%w: MIME type %s is not type/subtype", ErrMalformed, quote(m))
	}
	return base, nil
}

// validName accepts a printable UTF-8 name without path separators.
func validName(n string) error {
	if len(n) > MaxNameBytes || !utf8.ValidString(n) {
		return fmt.Errorf("%w: name is longer than %d bytes or not UTF-8", ErrMalformed, MaxNameBytes)
	}
	for _, c := range n {
		if c == '/' || c == '\\' || !unicode.IsPrint(c) {
			return fmt.Errorf("%w: name %s holds a path separator or an unprintable character", ErrMalformed, quote(n))
		}
	}
	return nil
}

// MarshalJSON encodes r in its canonical form.
func (r Ref) MarshalJSON() ([]byte, error) {
	type plain Ref
	return json.Marshal(plain(r))
}

// UnmarshalJSON decodes strictly, as ParseRef does. A mutator whose
// arguments hold a Ref therefore refuses a file's bytes (a base64 string,
// an array) in its place.
func (r *Ref) UnmarshalJSON(b []byte) error {
	p, err := ParseRef(b)
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// Value returns r's JSON text, for writing a Ref to a file column.
func (r Ref) Value() (driver.Value, error) {
	b, err := r.MarshalJSON()
	return string(b), err
}

// quote shows a value from outside in an error without flooding it.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return fmt.Sprintf("%q", s)
}
