package envelope

import (
	"encoding/json"
	"fmt"
)

// wireKey is the JSON form of a serialized PQ key.
type wireKey struct {
	Suite      Suite  `json:"suite"`
	KeyID      string `json:"keyId"`
	PublicKey  []byte `json:"publicKey,omitempty"`
	PrivateKey []byte `json:"privateKey,omitempty"`
}

// MarshalPQPublicKey encodes pub as JSON:
// {"suite":…,"keyId":…,"publicKey":"<base64>"}. Public keys are not secret:
// distribute them to whoever seals values for the key's owner.
func MarshalPQPublicKey(pub PQPublicKey) ([]byte, error) {
	if pub == nil {
		return nil, fmt.Errorf("%w: nil key", ErrInvalidKey)
	}
	return json.Marshal(wireKey{Suite: pub.Suite(), KeyID: pub.KeyID(), PublicKey: pub.Bytes()})
}

// ParsePQPublicKey decodes what [MarshalPQPublicKey] wrote, strictly, into a
// key of provider p, which must be of the same suite.
func ParsePQPublicKey(p PQHybridProvider, data []byte) (PQPublicKey, error) {
	id, b, err := parseKey(p, data, "publicKey")
	if err != nil {
		return nil, err
	}
	return p.NewPublicKey(id, b)
}

// MarshalPQPrivateKey encodes priv as JSON:
// {"suite":…,"keyId":…,"privateKey":"<base64>"}. The output is secret.
func MarshalPQPrivateKey(priv PQPrivateKey) ([]byte, error) {
	if priv == nil {
		return nil, fmt.Errorf("%w: nil key", ErrInvalidKey)
	}
	b, err := priv.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return json.Marshal(wireKey{Suite: priv.Suite(), KeyID: priv.KeyID(), PrivateKey: b})
}

// ParsePQPrivateKey decodes what [MarshalPQPrivateKey] wrote, strictly, into
// a key of provider p, which must be of the same suite.
func ParsePQPrivateKey(p PQHybridProvider, data []byte) (PQPrivateKey, error) {
	id, b, err := parseKey(p, data, "privateKey")
	if err != nil {
		return nil, err
	}
	return p.NewPrivateKey(id, b)
}

// parseKey decodes a wireKey with exactly the fields suite, keyId and
// field, and checks the suite against the provider's.
func parseKey(p PQHybridProvider, data []byte, field string) (id string, key []byte, err error) {
	if p == nil {
		return "", nil, fmt.Errorf("%w: nil provider", ErrUnsupportedSuite)
	}
	m, err := members(data, "suite", "keyId", field)
	if err != nil {
		return "", nil, err
	}
	var suite string
	if err := stringField(m, "suite", &suite); err != nil {
		return "", nil, err
	}
	if Suite(suite) != p.Suite() {
		return "", nil, fmt.Errorf("%w: key suite %q, provider suite %q", ErrUnsupportedSuite, clip(suite), p.Suite())
	}
	if err := stringField(m, "keyId", &id); err != nil {
		return "", nil, err
	}
	if err := bytesField(m, field, &key); err != nil {
		return "", nil, err
	}
	return id, key, nil
}
