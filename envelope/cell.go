package envelope

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Size bounds on the identifiers inside an envelope. They keep the AAD and a
// hostile envelope small; real table, column and key names are far shorter.
const (
	// MaxCellFieldBytes bounds each of Table, RowID and Column.
	MaxCellFieldBytes = 1024
	// MaxKeyIDBytes bounds a key id.
	MaxKeyIDBytes = 256
)

// Cell identifies one encrypted value: a column of a row of a table. It is
// bound into every envelope's AAD.
type Cell struct {
	Table  string `json:"table"`
	RowID  string `json:"rowId"`
	Column string `json:"column"`
}

// String returns "table/rowId.column", for messages.
func (c Cell) String() string { return c.Table + "/" + c.RowID + "." + c.Column }

// check reports an empty, oversized or non-UTF-8 field. Invalid UTF-8 is
// refused because encoding/json would silently rewrite it, so the cell read
// back from JSON would differ from the one sealed.
func (c Cell) check() error {
	fields := [...]struct{ name, value string }{
		{"table", c.Table}, {"rowId", c.RowID}, {"column", c.Column},
	}
	for _, f := range fields {
		if err := checkIdent(f.name, f.value, MaxCellFieldBytes); err != nil {
			return err
		}
	}
	return nil
}

func checkIdent(name, value string, max int) error {
	switch {
	case value == "":
		return fmt.Errorf("%s is empty", name)
	case len(value) > max:
		return fmt.Errorf("%s is %d bytes, over the %d-byte limit", name, len(value), max)
	case !utf8.ValidString(value):
		return fmt.Errorf("%s is not valid UTF-8", name)
	}
	return nil
}

func checkKeyID(id string) error { return checkIdent("key id", id, MaxKeyIDBytes) }

// Header is the clear-text part of an envelope: what a server without keys
// can inspect.
type Header struct {
	Version int
	Suite   Suite
	KeyID   string
	Cell    Cell // the cell the envelope claims to belong to
}

// check validates the header on its own; wrapped errors name the problem.
func (h Header) check() error {
	if h.Version != Version {
		return fmt.Errorf("%w: %d", ErrUnsupportedVersion, h.Version)
	}
	if _, ok := suites[h.Suite]; !ok {
		return fmt.Errorf("%w: %q", ErrUnsupportedSuite, clip(string(h.Suite)))
	}
	if err := checkKeyID(h.KeyID); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := h.Cell.check(); err != nil {
		return fmt.Errorf("%w: cell: %v", ErrMalformed, err)
	}
	return nil
}

// aadLabel separates this package's AAD from any other use of the same key.
const aadLabel = "plasma/envelope"

// AAD returns the associated data that binds an envelope to its cell: the
// label "plasma/envelope", the version as a 4-byte big-endian integer, then
// table, rowId, column, key id and suite, each as a 4-byte big-endian length
// followed by its bytes. The length prefixes make the encoding injective:
// ("a/b","c") and ("a","b/c") give different AADs.
func AAD(version int, suite Suite, keyID string, cell Cell) []byte {
	n := 4 + 6*4 + len(aadLabel) + len(cell.Table) + len(cell.RowID) +
		len(cell.Column) + len(keyID) + len(suite)
	b := make([]byte, 0, n)
	b = appendField(b, aadLabel)
	b = binary.BigEndian.AppendUint32(b, uint32(version))
	for _, f := range [...]string{cell.Table, cell.RowID, cell.Column, keyID, string(suite)} {
		b = appendField(b, f)
	}
	return b
}

func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// CheckCell reports whether env claims to belong to cell, without any key.
// A server that stores client-sealed values calls it to refuse an envelope
// written to a cell other than the one it names ([ErrCellMismatch]). The
// claim itself is not authenticated, but the AAD is: an envelope whose claim
// was edited to pass this check no longer decrypts.
func CheckCell(env Sealed, cell Cell) error {
	if isNil(env) {
		return fmt.Errorf("%w: nil envelope", ErrMalformed)
	}
	if err := cell.check(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidCell, err)
	}
	return matchCell(env.Header().Cell, cell)
}

// matchCell names the first field where the claimed cell differs.
func matchCell(claimed, want Cell) error {
	switch {
	case claimed.Table != want.Table:
		return mismatch("table", claimed.Table, want.Table)
	case claimed.RowID != want.RowID:
		return mismatch("rowId", claimed.RowID, want.RowID)
	case claimed.Column != want.Column:
		return mismatch("column", claimed.Column, want.Column)
	}
	return nil
}

func mismatch(field, claimed, want string) error {
	return fmt.Errorf("%w: envelope %s is %q, expected %q", ErrCellMismatch, field, clip(claimed), clip(want))
}

// clip shortens attacker-controlled strings before they reach an error
// message or a log line.
func clip(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}
