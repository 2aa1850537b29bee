package sqlitedialect

import (
	"strings"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/tabledef"
)

// CaptureObjects returns four triggers on c.Table, AFTER INSERT, UPDATE,
// UPDATE OF "id" and DELETE, each inserting a change row per row written
// unless the skip table's "skip" column holds the log's highest version:
// SQLite's dialect is a dialect.ChangeCapturer. An application that logs
// a write itself sets skip to that version just before the write; its
// own change rows, inserted just after, raise the version, so the mark
// covers that one statement and lapses by itself (CaptureSkip).
//
// A put's image is built with json_object, each column as the change
// log encodes it: booleans as true or false, JSON text embedded (text
// that is not JSON as a string), text columns as strings (a blob written
// into one as its text), except blob columns, which are null: SQLite has
// no base64. An UPDATE that changes
// the id logs a del of the old id besides the put of the new one; that
// trigger is compiled only into statements that assign the id.
//
// SQLite compiles a statement's triggers into it each time it is
// prepared, so their size is part of every outside write's cost: the
// expressions are kept to one function per column.
func (SQLite) CaptureObjects(c dialect.Capture) []dialect.CaptureObject {
	if c.Table == nil {
		return nil
	}
	tbl := dialect.QuoteIdent(c.Table.Name)
	when := ` WHEN (SELECT "skip" FROM ` + dialect.QuoteIdent(c.Skip) + `) IS NOT ` + logHead(c.Log)
	head := `INSERT INTO ` + dialect.QuoteIdent(c.Log) + ` ("region", "table_name", "row_id", "op", "data") VALUES (` +
		literal(c.Region) + `, ` + literal(c.Table.Name) + `, `
	put := head + `CAST(NEW."id" AS TEXT), 'put', ` + image(c.Table) + `);`
	del := head + `CAST(OLD."id" AS TEXT), 'del', NULL);`
	trigger := func(suffix, event, cond, body string) dialect.CaptureObject {
		name := c.Name + suffix
		def := `CREATE TRIGGER ` + dialect.QuoteIdent(name) + ` AFTER ` + event + ` ON ` + tbl + when + cond + " BEGIN\n\t" + body + "\nEND"
		return dialect.CaptureObject{Name: name, Table: c.Table.Name, Def: def, Create: []string{
			`DROP TRIGGER IF EXISTS ` + dialect.QuoteIdent(name), def,
		}}
	}
	return []dialect.CaptureObject{
		trigger("_i", "INSERT", "", put),
		// The del of an id change and the put of the new id are of two
		// rows: their order does not matter.
		trigger("_k", `UPDATE OF "id"`, ` AND OLD."id" IS NOT NEW."id"`, del),
		trigger("_u", "UPDATE", "", put),
		trigger("_d", "DELETE", "", del),
	}
}

// image is the JSON object of NEW's columns, in declaration order.
func image(t *tabledef.Table) string {
	var b strings.Builder
	b.WriteString("json_object(")
	for i := range t.Columns {
		col := &t.Columns[i]
		if i > 0 {
			b.WriteString(", ")
		}
		v := `NEW.` + dialect.QuoteIdent(col.Name)
		b.WriteString(literal(col.Name) + ", ")
		switch {
		case col.Encrypted || col.Kind.IsJSONText():
			// Embedded as the JSON it holds; text that is not JSON (written
			// by hand, say) as a JSON string, rather than failing the write.
			b.WriteString(`json(iif(json_valid(` + v + `), ` + v + `, json_quote(` + v + `)))`)
		case col.Kind == tabledef.KindBool:
			b.WriteString(`json(CASE WHEN ` + v + ` THEN 'true' WHEN NOT ` + v + ` THEN 'false' END)`)
		case col.Kind == tabledef.KindBlob:
			b.WriteString(`NULL`)
		case col.Kind == tabledef.KindText || col.Kind == tabledef.KindID:
			// TEXT affinity stores numbers as text; a blob reads back as
			// its text, which json_object would refuse.
			b.WriteString(`CAST(` + v + ` AS TEXT)`)
		default:
			b.WriteString(v)
		}
	}
	b.WriteString(")")
	return b.String()
}

// CaptureCatalog lists the triggers whose names start with its argument.
func (SQLite) CaptureCatalog() string {
	return `SELECT "name", "tbl_name", "sql" FROM "sqlite_master" WHERE "type" = 'trigger' AND substr("name", 1, length(?1)) = ?1`
}

// DropCapture drops a capture trigger.
func (SQLite) DropCapture(o dialect.CaptureObject) string {
	return `DROP TRIGGER IF EXISTS ` + dialect.QuoteIdent(o.Name)
}

// literal quotes s as a SQL string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// logHead is the highest version of the change log log, NULL while it
// is empty. A version is never reused, and compaction keeps each row's
// latest change, so it only grows, with every change row inserted.
// (max of the key is one seek; the AUTOINCREMENT sequence in
// sqlite_sequence would cost a scan of that table in every trigger.)
func logHead(log string) string {
	return `(SELECT max("version") FROM ` + dialect.QuoteIdent(log) + `)`
}

// CaptureSkip marks with set the next statement's writes as logged by
// the application (see CaptureObjects); clear removes a mark no change
// row lapsed. There is no RETURNING form: on SQLite RETURNING costs
// several times the write.
func (SQLite) CaptureSkip(c dialect.Capture) (set, clear, returning string) {
	tbl := dialect.QuoteIdent(c.Skip)
	return `UPDATE ` + tbl + ` SET "skip" = ` + logHead(c.Log), `UPDATE ` + tbl + ` SET "skip" = -1`, ""
}
