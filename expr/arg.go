package expr

import (
	"database/sql/driver"
	"fmt"
)

// Slot is a positional argument of a prepared statement: a placeholder
// whose value is supplied each time the statement is bound, not when it is
// built. Index counts from 0 in the order of the values given to
// orm.Prepared.Bind; one index may appear several times.
//
// A Slot is an Expr, so it stands wherever a value may: expr.Eq(col,
// expr.Arg(0)). It renders as an ordinary placeholder. A statement
// holding slots must be prepared (orm.PrepareUnchained) before it runs;
// rendered and run directly, the slot reaches the driver as a value, and
// its Value method refuses it with an error naming the slot.
type Slot struct {
	Index int
}

func (*Slot) exprNode() {}

// Arg returns the slot for the i-th argument (from 0) of a prepared
// statement. A negative i is reported when the statement is prepared.
func Arg(i int) *Slot { return &Slot{Index: i} }

// Value implements driver.Valuer so that a slot rendered without being
// bound fails with a clear error instead of being sent as a value.
func (s *Slot) Value() (driver.Value, error) {
	return nil, fmt.Errorf("plasma: expr.Arg(%d) is unbound: prepare the statement with orm.PrepareUnchained and Bind its arguments", s.Index)
}
