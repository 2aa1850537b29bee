package envelope

import (
	"fmt"
	"slices"
)

// Keyset holds one primary [Key], used to seal, and older keys kept to
// decrypt what they sealed. It follows Tink's rotation model: add the new key
// as decrypt-only, deploy it to every reader, then promote it; retire an old
// key only once no stored envelope names it.
//
// A Keyset is immutable: the methods that change it return a new Keyset, so
// one can be shared between goroutines and swapped atomically.
type Keyset struct {
	primary string
	keys    map[string]Key // includes the primary
}

// NewKeyset returns a keyset that seals with primary and can also open
// envelopes sealed with any of decryptOnly. Key ids must be distinct.
func NewKeyset(primary Key, decryptOnly ...Key) (*Keyset, error) {
	ks := &Keyset{primary: primary.ID, keys: make(map[string]Key, 1+len(decryptOnly))}
	for _, k := range append([]Key{primary}, decryptOnly...) {
		if err := ks.put(k); err != nil {
			return nil, err
		}
	}
	return ks, nil
}

func (ks *Keyset) put(k Key) error {
	if err := k.check(); err != nil {
		return err
	}
	if _, dup := ks.keys[k.ID]; dup {
		return fmt.Errorf("%w: duplicate key id %q", ErrInvalidKey, clip(k.ID))
	}
	ks.keys[k.ID] = k
	return nil
}

func (ks *Keyset) clone() *Keyset {
	c := &Keyset{primary: ks.primary, keys: make(map[string]Key, len(ks.keys)+1)}
	for id, k := range ks.keys {
		c.keys[id] = k
	}
	return c
}

// PrimaryID returns the id of the key new envelopes are sealed with.
func (ks *Keyset) PrimaryID() string { return ks.primary }

// KeyIDs returns every key id in the keyset, sorted. It suits
// [Limits.AllowedKeyIDs].
func (ks *Keyset) KeyIDs() []string {
	ids := make([]string, 0, len(ks.keys))
	for id := range ks.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Add returns a copy of the keyset with k as an extra decrypt-only key.
func (ks *Keyset) Add(k Key) (*Keyset, error) {
	c := ks.clone()
	if err := c.put(k); err != nil {
		return nil, err
	}
	return c, nil
}

// Promote returns a copy of the keyset whose primary is the key with the
// given id; the old primary becomes decrypt-only.
func (ks *Keyset) Promote(id string) (*Keyset, error) {
	if _, ok := ks.keys[id]; !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, clip(id))
	}
	c := ks.clone()
	c.primary = id
	return c, nil
}

// Rotate returns a copy of the keyset with k added and promoted to primary.
// In a fleet, prefer Add, then Promote once every reader has the key.
func (ks *Keyset) Rotate(k Key) (*Keyset, error) {
	c, err := ks.Add(k)
	if err != nil {
		return nil, err
	}
	return c.Promote(k.ID)
}

// Retire returns a copy of the keyset without the key with the given id.
// The primary cannot be retired. Envelopes sealed with a retired key can no
// longer be opened, so retire a key only after re-encrypting them.
func (ks *Keyset) Retire(id string) (*Keyset, error) {
	if id == ks.primary {
		return nil, fmt.Errorf("%w: cannot retire the primary key %q", ErrInvalidKey, clip(id))
	}
	if _, ok := ks.keys[id]; !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, clip(id))
	}
	c := ks.clone()
	delete(c.keys, id)
	return c, nil
}

// Seal encrypts plaintext for cell with the primary key.
func (ks *Keyset) Seal(cell Cell, plaintext []byte) (*Envelope, error) {
	return Seal(ks.keys[ks.primary], cell, plaintext)
}

// Open decrypts env with the key its key id names, primary or not.
func (ks *Keyset) Open(cell Cell, env *Envelope) ([]byte, error) {
	if err := env.check(); err != nil {
		return nil, err
	}
	k, ok := ks.keys[env.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w: %q is not in the keyset", ErrUnknownKey, clip(env.KeyID))
	}
	return Open(k, cell, env)
}
