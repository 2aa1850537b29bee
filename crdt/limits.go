package crdt

// Default caps used when a Limits field is zero or negative.
const (
	DefaultMaxStateBytes    = 4 << 20  // 4 MiB of encoded state
	DefaultMaxClients       = 4096     // distinct client IDs in one map
	DefaultMaxElements      = 10000    // live OR-set elements
	DefaultMaxValueBytes    = 64 << 10 // 64 KiB per canonical JSON value
	DefaultMaxClientIDBytes = 256      // bytes in one client ID
	DefaultMaxDepth         = 64       // nesting of one JSON value
)

// Limits caps what a decoder accepts, so a hostile or corrupted state
// cannot make a server allocate without bound. Decoders and the generic
// Merge check them; a value beyond a cap gives an error wrapping
// ErrTooLarge. The zero value means "all defaults": any field that is zero
// or negative takes its Default constant.
type Limits struct {
	// MaxStateBytes caps the encoded size of one state, input or merged.
	MaxStateBytes int
	// MaxClients caps the entries of one per-client map: a G-counter, each
	// half of a PN-counter, an OR-set version vector.
	MaxClients int
	// MaxElements caps the live elements of an OR-set.
	MaxElements int
	// MaxValueBytes caps the canonical JSON of one LWW value or set element.
	MaxValueBytes int
	// MaxClientIDBytes caps the length of one client ID.
	MaxClientIDBytes int
	// MaxDepth caps the nesting of arrays and objects in one JSON value.
	MaxDepth int
}

// DefaultLimits returns the limits used for a zero Limits.
func DefaultLimits() Limits { return Limits{}.withDefaults() }

// withDefaults fills zero or negative fields with their defaults.
func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxStateBytes, DefaultMaxStateBytes)
	def(&l.MaxClients, DefaultMaxClients)
	def(&l.MaxElements, DefaultMaxElements)
	def(&l.MaxValueBytes, DefaultMaxValueBytes)
	def(&l.MaxClientIDBytes, DefaultMaxClientIDBytes)
	def(&l.MaxDepth, DefaultMaxDepth)
	return l
}
