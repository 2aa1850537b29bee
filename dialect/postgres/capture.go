package postgres

import (
	"strconv"
	"strings"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/internal/jsonx"
	"github.com/plasma-go/plasma/tabledef"
)

// CaptureObjects returns a PL/pgSQL function and a row-level AFTER
// INSERT OR UPDATE OR DELETE trigger on c.Table running it, which insert
// a change row per row written, unless the setting c.Skip holds the
// current statement's timestamp (an application that logs the write
// itself sets it while the statement runs): PostgreSQL's dialect is a
// dialect.ChangeCapturer. A put's image is built as text, each column as
// the change log encodes it (booleans and numbers as JSON literals, JSON
// columns embedded, blobs as base64 strings), in declaration order. An
// UPDATE that changes the id logs a del of the old id before the put.
func (pgDialect) CaptureObjects(c dialect.Capture) []dialect.CaptureObject {
	tbl := dialect.QuoteIdent(c.Table.Name)
	fn := dialect.QuoteIdent(c.Name)
	head := `INSERT INTO ` + dialect.QuoteIdent(c.Log) + ` ("region", "table_name", "row_id", "op", "data") VALUES (` +
		literal(c.Region) + `, ` + literal(c.Table.Name) + `, `
	body := `
BEGIN
	IF current_setting(` + literal(c.Skip) + `, true) = statement_timestamp()::text THEN
		RETURN NULL;
	END IF;
	IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD."id" IS DISTINCT FROM NEW."id") THEN
		` + head + `OLD."id"::text, 'del', NULL);
	END IF;
	IF TG_OP <> 'DELETE' THEN
		` + head + `NEW."id"::text, 'put', ` + image(c.Table) + `);
	END IF;
	RETURN NULL;
END
`
	tag := dollarTag(body)
	return []dialect.CaptureObject{
		{Name: c.Name, Def: body, Create: []string{
			`CREATE OR REPLACE FUNCTION ` + fn + `() RETURNS trigger LANGUAGE plpgsql AS ` + tag + body + tag,
		}},
		{Name: c.Name, Table: c.Table.Name, Create: []string{
			`DROP TRIGGER IF EXISTS ` + fn + ` ON ` + tbl,
			`CREATE TRIGGER ` + fn + ` AFTER INSERT OR UPDATE OR DELETE ON ` + tbl + ` FOR EACH ROW EXECUTE FUNCTION ` + fn + `()`,
		}},
	}
}

// image is the text of NEW's JSON object, in declaration order. It is
// built by concatenation rather than json_build_object, which takes at
// most 50 columns, and as json text rather than jsonb, which reorders.
func image(t *tabledef.Table) string {
	var b strings.Builder
	for i := range t.Columns {
		col := &t.Columns[i]
		key := string(jsonx.AppendString(nil, col.Name)) + ":"
		if i == 0 {
			key = "{" + key
		} else {
			key = "," + key
			b.WriteString(" || ")
		}
		v := `NEW.` + dialect.QuoteIdent(col.Name)
		b.WriteString(literal(key) + ` || coalesce(`)
		switch {
		case col.Kind == tabledef.KindJSON || col.Kind == tabledef.KindFile:
			b.WriteString(v + `::text`) // JSONB
		case col.Encrypted || col.Kind.IsCRDT():
			// Text holding JSON; text that is not JSON fails the write
			// rather than leave an image no reader can decode.
			b.WriteString(v + `::json::text`)
		case col.Kind == tabledef.KindBlob:
			b.WriteString(`'"' || translate(encode(` + v + `, 'base64'), E'\n', '') || '"'`)
		default:
			b.WriteString(`to_json(` + v + `)::text`)
		}
		b.WriteString(`, 'null')`)
	}
	if len(t.Columns) == 0 {
		return `'{}'`
	}
	b.WriteString(` || '}'`)
	return b.String()
}

// dollarTag returns a dollar-quoting tag that body does not contain.
func dollarTag(body string) string {
	for i := 0; ; i++ {
		tag := "$plasma" + strconv.Itoa(i) + "$"
		if !strings.Contains(body, tag) {
			return tag
		}
	}
}

// CaptureCatalog lists the functions and triggers in the current schema
// whose names start with its argument; a function's definition is its
// body.
func (pgDialect) CaptureCatalog() string {
	return `SELECT p.proname::text, '', p.prosrc FROM pg_proc p
	WHERE p.pronamespace = current_schema()::regnamespace AND starts_with(p.proname::text, $1)
UNION ALL
SELECT t.tgname::text, c.relname::text, '' FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
	WHERE c.relnamespace = current_schema()::regnamespace AND starts_with(t.tgname::text, $1)`
}

// DropCapture drops a capture trigger or function.
func (pgDialect) DropCapture(o dialect.CaptureObject) string {
	if o.Table != "" {
		return `DROP TRIGGER IF EXISTS ` + dialect.QuoteIdent(o.Name) + ` ON ` + dialect.QuoteIdent(o.Table)
	}
	return `DROP FUNCTION IF EXISTS ` + dialect.QuoteIdent(o.Name) + `()`
}

// CaptureSkip returns an expression for a write's RETURNING that marks
// its rows as logged by the application: RETURNING is computed as each
// row is written, before the AFTER triggers run at the end of the
// statement, and the mark names this statement alone (its
// statement_timestamp()), so a later statement of the same transaction
// is captured. Rows that foreign-key actions write run in the same
// statement and are marked too.
func (pgDialect) CaptureSkip(c dialect.Capture) (set, clear, returning string) {
	return "", "", `set_config(` + literal(c.Skip) + `, statement_timestamp()::text, true)`
}
