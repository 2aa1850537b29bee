package tabledef

// Kind is the declared kind of a column. The type each kind maps to on each
// engine is documented on the sqlite and postgres packages.
type Kind uint8

// The column kinds.
const (
	KindID          Kind = iota + 1 // UUID text primary key
	KindText                        // text
	KindInt                         // 32-bit integer
	KindBigInt                      // 64-bit integer
	KindBool                        // boolean
	KindBlob                        // bytes
	KindJSON                        // any JSON value
	KindFile                        // a files.FileRef as JSON
	KindCounter                     // grow-only counter CRDT state
	KindPNCounter                   // PN counter CRDT state
	KindLWWRegister                 // last-writer-wins register CRDT state
	KindORSet                       // observed-remove set CRDT state
)

var kindNames = [...]string{
	KindID: "id", KindText: "text", KindInt: "int", KindBigInt: "bigint",
	KindBool: "boolean", KindBlob: "blob", KindJSON: "json", KindFile: "file",
	KindCounter: "crdtCounter", KindPNCounter: "crdtPnCounter",
	KindLWWRegister: "crdtLwwRegister", KindORSet: "crdtOrSet",
}

// String returns the kind's schema name, such as "bigint" or "crdtOrSet".
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "invalid"
}

// IsCRDT reports whether the kind stores CRDT state.
func (k Kind) IsCRDT() bool { return k >= KindCounter && k <= KindORSet }

// IsJSONText reports whether values of the kind are JSON documents.
func (k Kind) IsJSONText() bool { return k == KindJSON || k == KindFile || k.IsCRDT() }

// Action is a foreign key's ON DELETE action.
type Action uint8

// The ON DELETE actions. NoAction is the SQL default.
const (
	NoAction Action = iota
	Cascade
	Restrict
	SetNull
)

var actionSQL = [...]string{NoAction: "NO ACTION", Cascade: "CASCADE", Restrict: "RESTRICT", SetNull: "SET NULL"}

// String returns the action's SQL spelling.
func (a Action) String() string {
	if int(a) < len(actionSQL) {
		return actionSQL[a]
	}
	return "invalid"
}
