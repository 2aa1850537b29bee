package migrate

import (
	"fmt"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
)

// CreateSQL returns the statements that create schema s in an empty
// database of dialect d: the SQL Run executes there, in the same order
// (each table after the tables it references; on PostgreSQL a reference
// closing a cycle is added once both tables exist). It touches no
// database, so it can print a schema's DDL for an engine the caller has
// no connection to.
func CreateSQL(d dialect.Dialect, s *orm.Schema) ([]string, error) {
	if d == nil || s == nil {
		return nil, fmt.Errorf("plasma: migrate.CreateSQL: nil dialect or schema")
	}
	live := &Database{Dialect: d.Name()}
	diff := compare(d, s, live, nil, nil)
	p, err := buildPlan(d, s, live, diff)
	if err != nil {
		return nil, err
	}
	p.reorder(diff)
	return p.sql(), nil
}
