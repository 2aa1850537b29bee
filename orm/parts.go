package orm

import "slices"

// A statement keeps its clauses private: their slices may point into the
// statement's own inline buffers, so handing them out would let a caller
// change a statement another goroutine renders, or keep a buffer alive
// that the statement reuses. Middleware reads a copy with Parts and edits
// clauses only on a fresh clone, which Rewrite returns with them.

// Parts returns a copy of q's clauses. Every slice is clipped to its
// length, so appending to one allocates instead of writing into q; the
// elements are q's, to read, not to change.
func (q *SelectQuery) Parts() SelectParts {
	p := q.view()
	p.Columns, p.Joins, p.Where = slices.Clip(p.Columns), slices.Clip(p.Joins), slices.Clip(p.Where)
	p.GroupBy, p.Having, p.OrderBy = slices.Clip(p.GroupBy), slices.Clip(p.Having), slices.Clip(p.OrderBy)
	return p
}

// Rewrite returns a clone of q and a pointer to the clone's clauses, for
// a middleware to edit before it runs or hands on the clone; q is left as
// it is. Every slice of the clauses is the clone's own, to assign, append
// to or change in place. Once the clone is run or shared, leave its
// clauses alone.
func (q *SelectQuery) Rewrite() (*SelectQuery, *SelectParts) {
	c := q.Clone()
	if !c.sliced {
		// The clone is on the heap already: its slices may point into
		// its own buffers. WHERE keeps the rest of exprBuf as room to
		// append to, as Columns is capped at its length.
		nc, nw := int(c.nCols), int(c.nCols)+int(c.nWhere)
		c.parts.Columns, c.parts.Where = c.exprBuf[:nc:nc], c.exprBuf[nc:nw]
		c.parts.OrderBy = c.orderBuf[:c.nOrder]
		c.sliced = true
	}
	return c, &c.parts
}

// Parts returns a copy of q's clauses, with its slices clipped as
// SelectQuery.Parts says; the rows are q's, to read, not to change.
func (q *InsertQuery) Parts() InsertParts {
	p := q.parts
	p.Columns, p.Rows = slices.Clip(p.Columns), slices.Clip(q.rows())
	p.Returning.Columns = slices.Clip(p.Returning.Columns)
	return p
}

// Err returns the problem found in q's values or clauses as they were
// added, which running or rendering q would report, or nil. A middleware
// that holds a statement back to run it later (merged with others) checks
// it first, so that the caller still gets its error at once.
func (q *InsertQuery) Err() error { return q.err }

// Rewrite returns a clone of q and a pointer to the clone's clauses, as
// SelectQuery.Rewrite does. The rows are shared with q: replace a row
// (Rows[i] = ...), never change the values inside one in place.
func (q *InsertQuery) Rewrite() (*InsertQuery, *InsertParts) {
	c := q.Clone()
	c.unlazy()
	return c, &c.parts
}

// Parts returns a copy of q's clauses, with its slices clipped as
// SelectQuery.Parts says.
func (q *UpdateQuery) Parts() UpdateParts {
	p := q.parts
	p.Set, p.Where = slices.Clip(p.Set), slices.Clip(p.Where)
	p.Returning.Columns = slices.Clip(p.Returning.Columns)
	return p
}

// Rewrite returns a clone of q and a pointer to the clone's clauses, as
// SelectQuery.Rewrite does.
func (q *UpdateQuery) Rewrite() (*UpdateQuery, *UpdateParts) {
	c := q.Clone()
	return c, &c.parts
}

// Parts returns a copy of q's clauses, with its slices clipped as
// SelectQuery.Parts says.
func (q *DeleteQuery) Parts() DeleteParts {
	p := q.parts
	p.Where = slices.Clip(p.Where)
	p.Returning.Columns = slices.Clip(p.Returning.Columns)
	return p
}

// Rewrite returns a clone of q and a pointer to the clone's clauses, as
// SelectQuery.Rewrite does.
func (q *DeleteQuery) Rewrite() (*DeleteQuery, *DeleteParts) {
	c := q.Clone()
	return c, &c.parts
}
