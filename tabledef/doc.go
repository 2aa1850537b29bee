// Package tabledef is plasma's engine-neutral table model: column kinds,
// foreign keys, indexes and table definitions, as the DDL sees them.
//
// It is a leaf: it imports nothing of plasma. The orm package builds these
// values from a schema declaration (orm.NewTable, orm.DefineSchema); the
// dialect packages render them as SQL (dialect.CreateTable); orm/migrate
// compares them. Applications meet the package when they read a column's
// kind or pass an ON DELETE action to Column.References.
package tabledef
