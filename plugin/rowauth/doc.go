// Package rowauth enforces row-level authorization as a middleware: a
// table's Auth.Read and Auth.Write rules (orm.TableAuth) are predicates,
// computed from the request context, that every statement built with the
// ORM is rewritten to respect.
//
// # Rules and identity
//
// A rule is an orm.AuthFunc: a function of the context that returns an
// expr predicate over the table's rows, such as owner_id = the user. It
// may reach other tables through subqueries (todos whose list_id is in the
// user's memberships). An AuthorizePolicy binds the identity that
// WithIdentity put on the context to such a predicate; Owner is the common
// case:
//
//	var Todos = orm.NewTable("todos", orm.ID(), orm.Text("owner_id"), ...).
//		With(orm.TableOptions{Auth: orm.TableAuth{
//			Read:  rowauth.Owner(expr.ColRef("todos", "owner_id")).Rule(),
//			Write: rowauth.Owner(expr.ColRef("todos", "owner_id")).Rule(),
//		}})
//
// Write a rule's references to its own table qualified by the table's name
// (Table.Col, or expr.ColRef where the table variable cannot be used in its
// own initialiser); the middleware moves them onto each aliased instance.
// A nil rule leaves that access unrestricted. A rule must return a
// predicate: expr.And() allows every row.
//
// Deny by default: a statement that reaches a table with a rule for the
// access, under a context with no identity, is refused with
// ErrNoIdentity. Trusted backend code opts out with AsSystem, which
// bypasses every rule; no context is a system context unless marked.
//
// # Reads
//
// The read rule is ANDed into every instance of the table in a SELECT:
// into WHERE for the FROM table, into the ON clause of each join (an inner
// join loses the hidden rows; a left join keeps its left rows with the
// hidden right side NULL), and into every subquery at any depth — in FROM,
// IN, scalar subqueries and the subqueries of UPDATE and DELETE. So an
// aggregate only counts, sums or groups rows the identity can see. The
// rules' own subqueries are trusted and not rewritten (a membership table
// need not be readable for a rule to consult it).
//
// # Writes
//
// The semantics are those of PostgreSQL's row security (USING and WITH
// CHECK) with the write rule playing both parts:
//
//   - DELETE and UPDATE only touch rows the write rule allows: it is
//     ANDed into their WHERE, so other rows are silently left alone.
//   - INSERT, upsert and UPDATE must leave every written row inside the
//     write rule: the rule is evaluated on the written row in the
//     statement's own RETURNING clause. An UPDATE that assigns no column
//     the rule reads cannot move a row out of reach and is not checked
//     again — unless the rule reads its own table through a subquery
//     (under its name or an alias, such as a parent row's editor): then
//     the UPDATE changes what the rule reads, and every written row is
//     checked by a SELECT that runs after the UPDATE, by primary key, and
//     sees the table as the statement left it (a subquery in RETURNING
//     would see it as it was before the statement on PostgreSQL). This is
//     stricter than PostgreSQL's own WITH CHECK, which reads the old
//     snapshot. Rows the UPDATE did not write are not checked.
//   - An upsert is also refused if it would update an existing row
//     outside the rule. Its conflict target is matched on the proposed
//     values, and a target column the insert leaves out on its declared
//     default (NULL, which conflicts with nothing, without one); with no
//     target, on every unique key. A column the database numbers itself
//     (AutoIncrement) is taken to be fresh.
//
// A refused write returns an *AuthorizationError wrapping ErrOutsideRule
// and leaves nothing behind: outside a transaction the statement runs in
// one that is rolled back; inside the caller's transaction it runs under
// a savepoint that is rolled back, so the transaction stays usable and a
// caller that ignores the error still cannot commit the refused rows. Run
// mutators with DB.Tx, which rolls back the whole transaction on the
// error. On an executor that can begin no transaction and is not one (a
// custom dialect.Executor) a checked write is refused with
// orm.ErrNoBeginner before anything is written: plasma could not undo it.
//
// On SQLite an INSERT is checked before it runs, by a SELECT of the rule
// over the proposed rows (no row is written, so nothing needs undoing).
// Inside a transaction the result of a one-row check is remembered until
// a write could change what it reads: an INSERT into a table the check
// reads, or any UPDATE, DELETE, upsert, raw statement or DDL. A push of a
// hundred todos into one list asks once whether its user is a member. A
// write made on the transaction's *sql.Tx directly, around plasma, is not
// seen: make writes through the DB.
//
// Install rowauth outside (before) the change log, as serverdb does, so
// that change rows are only written for authorised writes.
//
// # RETURNING
//
// The rows an UPDATE, DELETE or upsert returns are rows the caller may
// read: the read rule is evaluated on each returned row (the new values
// for UPDATE and upsert, the deleted row for DELETE) and rows outside it
// are dropped from the result. The write itself is not narrowed: every
// row the write rule allows is written, Exec counts them all, and the
// change log records them all; only the caller does not see them. So an
// identity that may write a row but not read it (a write rule broader
// than the read rule, such as an author editing a message in another
// user's inbox) cannot read it back through RETURNING. Where the read
// rule reads its own table, an UPDATE evaluates it after the statement,
// as the write rule is. An INSERT that is not an upsert returns the row
// the caller proposed, unfiltered. Like a SELECT, a write that returns
// rows of a table with a read rule needs an identity (ErrNoIdentity).
//
// # What is not checked
//
// Raw statements (DB.Exec, DB.Query, DDL) pass untouched: plasma cannot
// see into them, and they are the escape hatch for trusted code. A raw
// expression (expr.SQL) inside a builder statement is rendered as written.
// A subquery that is not a plasma statement (a squirrel builder) is
// refused with ErrUncheckable, since its tables cannot be filtered.
package rowauth
