package crdtcol

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// DefaultClientsPerUser is the default of Options.ClientsPerUser.
const DefaultClientsPerUser = 8

// sharedKey is the entry that takes the Ops of users who find the row's
// map full: every entry but one is given out, so it always has room.
const sharedKey = "*"

// overflowClient names the entry that takes a user's Ops once the user's
// own clients fill its quota: ClientKey(user, overflowClient).
const overflowClient = "*"

// ClientKey is the entry of a CRDT state's per-client map (a counter's
// totals, an OR-set's version vector) that an Op run for userID from
// clientID writes, while the user has not used up its quota of entries
// in the row (Options.ClientsPerUser): the user's ID, prefixed with its
// length so no user's entries can pass for another's, then the client's
// ID. A user ID over 64 bytes or a client ID over 128, or one that is
// not valid UTF-8, is replaced by a digest of it. A client that builds a
// full state to write must use this key for its own entry;
// ClientKey(userID, "") is the prefix of every entry of the user.
func ClientKey(userID, clientID string) string {
	u := shorten(userID, 64)
	return strconv.Itoa(len(u)) + ":" + u + ":" + shorten(clientID, 128)
}

// shorten returns s, or a digest of s when s is longer than max bytes or
// not valid UTF-8.
func shorten(s string, max int) string {
	if len(s) <= max && utf8.ValidString(s) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "#" + hex.EncodeToString(sum[:16])
}

// writer is who a statement writes for: a user and its client, or only a
// client for trusted code (no identity, or rowauth.AsSystem), whose Ops
// write under the client's own ID and are not held to a quota.
type writer struct {
	user   string
	client string
}

func writerOf(ctx context.Context, client string) writer {
	if rowauth.IsSystem(ctx) {
		return writer{client: client}
	}
	id, ok := rowauth.IdentityFrom(ctx)
	if !ok {
		return writer{client: client}
	}
	return writer{user: id.UserID, client: client}
}

func (m *merger) quota() int {
	if m.perUser <= 0 {
		return DefaultClientsPerUser
	}
	return m.perUser
}

func (m *merger) maxClients() int {
	if m.lim.MaxClients <= 0 {
		return crdt.DefaultMaxClients
	}
	return m.lim.MaxClients
}

// mapKeys returns the client IDs of the per-client map of s that op
// writes (both maps of a PN-counter when op is nil), or ok false for a
// kind without one (an LWW register).
func mapKeys(s crdt.State, op *Op) (keys [][]string, ok bool) {
	switch c := s.(type) {
	case *crdt.GCounter:
		return [][]string{c.Clients()}, true
	case *crdt.PNCounter:
		inc, dec := c.Clients()
		switch {
		case op == nil:
			return [][]string{inc, dec}, true
		case op.code == opDecr:
			return [][]string{dec}, true
		}
		return [][]string{inc}, true
	case *crdt.ORSet:
		return [][]string{c.Clients()}, true
	}
	return nil, false
}

// opKey is the entry of s that op, run for w, writes: the client's own
// entry (ClientKey) while the user holds fewer than its quota of entries,
// else the user's overflow entry, else, when the row's map has no room
// for either, the shared entry. An Op applied here is applied to the
// stored state under the row's lock, so the entries it writes are never
// written concurrently elsewhere, and folding several clients into one
// entry counts every increment and keeps merges convergent.
func (m *merger) opKey(s crdt.State, op *Op, w writer) string {
	if w.user == "" {
		return w.client
	}
	keys, ok := mapKeys(s, op)
	if !ok {
		return w.client
	}
	ks := keys[0] // sorted
	has := func(k string) bool { _, found := slices.BinarySearch(ks, k); return found }
	own := ClientKey(w.user, w.client)
	if has(own) {
		return own
	}
	over := ClientKey(w.user, overflowClient)
	room := len(ks) < m.maxClients()-1 // the last entry is kept for sharedKey
	if ownEntries(ks, w.user) < m.quota() && room {
		return own
	}
	if has(over) || room {
		return over
	}
	return sharedKey
}

// ownEntries counts the entries of keys that belong to user, its
// overflow entry aside.
func ownEntries(keys []string, user string) int {
	prefix, over := ClientKey(user, ""), ClientKey(user, overflowClient)
	n := 0
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) && k != over {
			n++
		}
	}
	return n
}

// checkQuota refuses a full state written for w that would add an entry
// to one of the stored state's per-client maps that is not the user's own
// (ClientKey(user, …)), or take the user past its quota. Trusted code
// writes what it likes.
func (m *merger) checkQuota(k crdt.Kind, stored, written []byte, w writer) error {
	if w.user == "" {
		return nil
	}
	ws, err := crdt.Decode(k, written, m.lim)
	if err != nil {
		return err
	}
	wk, ok := mapKeys(ws, nil)
	if !ok {
		return nil
	}
	ss, err := crdt.Decode(k, stored, m.lim)
	if err != nil {
		return err
	}
	sk, _ := mapKeys(ss, nil)
	prefix := ClientKey(w.user, "")
	for i := range wk {
		added := 0
		for _, key := range wk[i] {
			if _, found := slices.BinarySearch(sk[i], key); found {
				continue
			}
			if !strings.HasPrefix(key, prefix) {
				return fmt.Errorf("%w: entry %q is not the writer's own (crdtcol.ClientKey)", ErrClientQuota, key)
			}
			added++
		}
		if added > 0 {
			if n := ownEntries(slices.Concat(sk[i], wk[i]), w.user) - ownEntries(overlap(sk[i], wk[i]), w.user); n > m.quota() {
				return fmt.Errorf("%w: %d entries of the writer exceed its quota of %d", ErrClientQuota, n, m.quota())
			}
		}
	}
	return nil
}

// overlap returns the keys in both sorted lists.
func overlap(a, b []string) []string {
	var out []string
	for _, k := range a {
		if _, found := slices.BinarySearch(b, k); found {
			out = append(out, k)
		}
	}
	return out
}
