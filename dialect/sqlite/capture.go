package sqlite

import (
	"strings"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/tabledef"
)

// CaptureObjects returns three triggers on c.Table, AFTER INSERT, UPDATE
// and DELETE, each inserting a change row per row written unless the
// skip table's "skip" column holds the log's head (its AUTOINCREMENT
// sequence): SQLite's dialect is a dialect.ChangeCapturer. An
// application that logs a write itself sets skip to the head just before
// the write; its own change rows, inserted just after, move the head, so
// the mark covers that one statement and lapses by itself. A put's image is built with json_object, each
// column as the change log encodes it (booleans as true or false, JSON
// text embedded) except blobs, which are null: SQLite has no base64. An
// UPDATE that changes the id logs a del of the old id before the put.
func (sqliteDialect) CaptureObjects(c dialect.Capture) []dialect.CaptureObject {
	tbl := dialect.QuoteIdent(c.Table.Name)
	when := ` WHEN (SELECT "skip" FROM ` + dialect.QuoteIdent(c.Skip) + `) IS NOT ` + logHead(c.Log)
	head := `INSERT INTO ` + dialect.QuoteIdent(c.Log) + ` ("region", "table_name", "row_id", "op", "data") `
	region, table := literal(c.Region), literal(c.Table.Name)
	put := head + `VALUES (` + region + `, ` + table + `, CAST(NEW."id" AS TEXT), 'put', ` + image(c.Table) + `);`
	del := func(row string) string {
		return head + `VALUES (` + region + `, ` + table + `, CAST(` + row + `."id" AS TEXT), 'del', NULL);`
	}
	trigger := func(suffix, event, body string) dialect.CaptureObject {
		name := c.Name + suffix
		def := `CREATE TRIGGER ` + dialect.QuoteIdent(name) + ` AFTER ` + event + ` ON ` + tbl + when + " BEGIN\n\t" + body + "\nEND"
		return dialect.CaptureObject{Name: name, Table: c.Table.Name, Def: def, Create: []string{
			`DROP TRIGGER IF EXISTS ` + dialect.QuoteIdent(name), def,
		}}
	}
	return []dialect.CaptureObject{
		trigger("_i", "INSERT", put),
		trigger("_u", "UPDATE", head+`SELECT `+region+`, `+table+`, CAST(OLD."id" AS TEXT), 'del', NULL WHERE OLD."id" IS NOT NEW."id";`+"\n\t"+put),
		trigger("_d", "DELETE", del("OLD")),
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
			// by hand, say) as a string rather than failing the write.
			b.WriteString(`json(CASE WHEN ` + v + ` IS NULL THEN 'null' WHEN json_valid(` + v + `) THEN ` + v + ` ELSE json_quote(CAST(` + v + ` AS TEXT)) END)`)
		case col.Kind == tabledef.KindBool:
			b.WriteString(`json(CASE WHEN ` + v + ` IS NULL THEN 'null' WHEN ` + v + ` THEN 'true' ELSE 'false' END)`)
		case col.Kind == tabledef.KindBlob:
			b.WriteString(`NULL`)
		default:
			// A blob written into a text column reads back as its text;
			// json_object refuses blobs.
			b.WriteString(`iif(typeof(` + v + `) = 'blob', CAST(` + v + ` AS TEXT), ` + v + `)`)
		}
	}
	b.WriteString(")")
	return b.String()
}

// CaptureCatalog lists the triggers whose names start with its argument.
func (sqliteDialect) CaptureCatalog() string {
	return `SELECT "name", "tbl_name", "sql" FROM "sqlite_master" WHERE "type" = 'trigger' AND substr("name", 1, length(?1)) = ?1`
}

// DropCapture drops a capture trigger.
func (sqliteDialect) DropCapture(o dialect.CaptureObject) string {
	return `DROP TRIGGER IF EXISTS ` + dialect.QuoteIdent(o.Name)
}

// literal quotes s as a SQL string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// logHead is the head of the change log log: its AUTOINCREMENT sequence,
// 0 before its first row.
func logHead(log string) string {
	return `(SELECT coalesce(max("seq"), 0) FROM "sqlite_sequence" WHERE "name" = ` + literal(log) + `)`
}

// CaptureSkip marks with set the next statement's writes as logged by
// the application (see CaptureObjects); clear removes a mark no change
// row lapsed. There is no RETURNING form: on SQLite RETURNING costs
// several times the write.
func (sqliteDialect) CaptureSkip(c dialect.Capture) (set, clear, returning string) {
	tbl := dialect.QuoteIdent(c.Skip)
	return `UPDATE ` + tbl + ` SET "skip" = ` + logHead(c.Log), `UPDATE ` + tbl + ` SET "skip" = -1`, ""
}
