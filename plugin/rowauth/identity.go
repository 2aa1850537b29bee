package rowauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
)

// Identity is who a request acts for.
type Identity struct {
	// UserID identifies the user. It must not be empty.
	UserID string
	// Claims carries whatever else the application's rules need (a tenant,
	// roles ...). plasma does not read it.
	Claims map[string]any
}

type identityKey struct{}

type systemKey struct{}

// WithIdentity returns a context that acts for id: the rules of tables
// with auth are evaluated for it. An empty UserID is no identity.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity ctx acts for, if any.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok && id.UserID != ""
}

// AsSystem returns a context that bypasses row auth entirely: every row
// may be read and written. Use it only in trusted backend code (scheduled
// jobs, migrations, compaction); a context is never a system context
// unless it, or a context it derives from, was made by AsSystem.
func AsSystem(ctx context.Context) context.Context {
	return context.WithValue(ctx, systemKey{}, true)
}

// IsSystem reports whether ctx was marked with AsSystem.
func IsSystem(ctx context.Context) bool {
	v, _ := ctx.Value(systemKey{}).(bool)
	return v
}

// AuthorizePolicy binds the identity a request acts for to a predicate:
// given the identity, it returns the rows of its table that identity may
// read (or write). Predicates refer to the table's own columns qualified
// by the table's name (Table.Col, or expr.ColRef where the table variable
// is not yet initialised) and may reach other tables through subqueries,
// such as a membership table.
type AuthorizePolicy func(ctx context.Context, id Identity) (expr.Expr, error)

// Rule returns the policy as a table rule, for orm.TableAuth. The rule
// refuses a context without identity with ErrNoIdentity.
func (p AuthorizePolicy) Rule() orm.AuthFunc {
	return func(ctx context.Context) (expr.Expr, error) {
		id, ok := IdentityFrom(ctx)
		if !ok {
			return nil, ErrNoIdentity
		}
		return p(ctx, id)
	}
}

// Owner is the policy "col holds the identity's UserID", such as
// Owner(expr.ColRef("todos", "owner_id")).
func Owner(col *expr.Column) AuthorizePolicy {
	return func(_ context.Context, id Identity) (expr.Expr, error) {
		return expr.Eq(col, id.UserID), nil
	}
}

// The reasons an access is refused. An *AuthorizationError wraps one of
// them, or the error a table's rule returned.
var (
	// ErrNoIdentity: the context carries neither an identity nor the
	// system marker, and the table has a rule for the access.
	ErrNoIdentity = errors.New("the context carries no identity")
	// ErrOutsideRule: a row inserted, or a row as an update leaves it,
	// does not satisfy the table's write rule.
	ErrOutsideRule = errors.New("a row would be outside the table's write rule")
	// ErrUncheckable: a statement contains a subquery that is not a plasma
	// statement (a squirrel builder, say), which row auth cannot rewrite.
	ErrUncheckable = errors.New("a subquery that is not a plasma statement cannot be checked")
	// ErrNilPredicate: a rule returned no predicate and no error. Return
	// expr.And() to allow every row.
	ErrNilPredicate = errors.New("the table's rule returned a nil predicate")
)

// AuthorizationError is an access row auth refused. Match it with
// errors.As; its Err says why (errors.Is with ErrNoIdentity,
// ErrOutsideRule, ErrUncheckable, ErrNilPredicate, or the rule's error).
type AuthorizationError struct {
	// Table is the table whose rule refused, "" when unknown.
	Table string
	// Op is the statement that was refused.
	Op orm.Op
	// Err is the reason.
	Err error
}

// Error describes the refused access.
func (e *AuthorizationError) Error() string {
	if e.Table == "" {
		return fmt.Sprintf("plasma: authorization: %s denied: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("plasma: authorization: %s on %q denied: %v", e.Op, e.Table, e.Err)
}

// Unwrap returns the reason, for errors.Is.
func (e *AuthorizationError) Unwrap() error { return e.Err }
