package encrypt

import (
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/plasma-go/plasma/envelope"
)

// SealCell encrypts plaintext for one cell (the column of the row with
// id rowID in table) with the keyset's primary key, and returns the
// envelope's JSON text: the value to put in an orm.Row for that column.
// It is for trusted code that holds keys; the [Middleware] accepts what
// it returns for that cell and no other.
func SealCell(ks *envelope.Keyset, table, rowID, column string, plaintext []byte) (string, error) {
	if ks == nil {
		return "", fmt.Errorf("%w: nil keyset", envelope.ErrInvalidKey)
	}
	env, err := ks.Seal(envelope.Cell{Table: table, RowID: rowID, Column: column}, plaintext)
	if err != nil {
		return "", err
	}
	b, err := env.MarshalJSON()
	return string(b), err
}

// OpenCell decrypts the value of an encrypted cell as read back from the
// database, with whichever key of the keyset its envelope names. stored
// may be a string, []byte, json.RawMessage, *string, sql.NullString or,
// for a column whose declared kind is JSON, the decoded object. A NULL
// value returns ErrNull; an envelope sealed for another cell fails with
// envelope.ErrCellMismatch, and a PQ envelope with
// envelope.ErrUnsupportedSuite (use [OpenCellPQ]).
func OpenCell(ks *envelope.Keyset, table, rowID, column string, stored any) ([]byte, error) {
	if ks == nil {
		return nil, fmt.Errorf("%w: nil keyset", envelope.ErrInvalidKey)
	}
	sealed, err := parseStored(stored)
	if err != nil {
		return nil, err
	}
	env, ok := sealed.(*envelope.Envelope)
	if !ok {
		return nil, fmt.Errorf("%w: a %s envelope needs OpenCellPQ", envelope.ErrUnsupportedSuite, sealed.Header().Suite)
	}
	return ks.Open(envelope.Cell{Table: table, RowID: rowID, Column: column}, env)
}

// SealCellPQ encrypts plaintext for one cell to the recipient public key
// pub with the post-quantum hybrid provider p (such as
// envelope.NewHPKEProvider()), and returns the envelope's JSON text. Anyone
// holding the public key can seal; only the private key opens.
func SealCellPQ(p envelope.PQHybridProvider, pub envelope.PQPublicKey, table, rowID, column string, plaintext []byte) (string, error) {
	env, err := envelope.SealPQ(p, pub, envelope.Cell{Table: table, RowID: rowID, Column: column}, plaintext)
	if err != nil {
		return "", err
	}
	b, err := env.MarshalJSON()
	return string(b), err
}

// OpenCellPQ decrypts a PQ envelope read back from the database with the
// recipient private key priv and provider p. stored is read as by
// [OpenCell]; an AES envelope fails with envelope.ErrUnsupportedSuite.
func OpenCellPQ(p envelope.PQHybridProvider, priv envelope.PQPrivateKey, table, rowID, column string, stored any) ([]byte, error) {
	sealed, err := parseStored(stored)
	if err != nil {
		return nil, err
	}
	env, ok := sealed.(*envelope.PQEnvelope)
	if !ok {
		return nil, fmt.Errorf("%w: a %s envelope needs OpenCell", envelope.ErrUnsupportedSuite, sealed.Header().Suite)
	}
	return envelope.OpenPQ(p, priv, envelope.Cell{Table: table, RowID: rowID, Column: column}, env)
}

// parseStored decodes a stored cell value into its envelope.
func parseStored(stored any) (envelope.Sealed, error) {
	var data []byte
	switch v := stored.(type) {
	case nil:
		return nil, ErrNull
	case string:
		data = []byte(v)
	case []byte:
		if v == nil {
			return nil, ErrNull
		}
		data = v
	case json.RawMessage:
		if v == nil {
			return nil, ErrNull
		}
		data = v
	case *string:
		if v == nil {
			return nil, ErrNull
		}
		data = []byte(*v)
	case sql.NullString:
		if !v.Valid {
			return nil, ErrNull
		}
		data = []byte(v.String)
	case map[string]any:
		// A JSON-kind column read with orm.Maps comes back decoded.
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", envelope.ErrMalformed, err)
		}
		data = b
	default:
		return nil, fmt.Errorf("%w: cannot read an envelope from %s", envelope.ErrMalformed, describe(stored))
	}
	return envelope.Parse(data)
}
