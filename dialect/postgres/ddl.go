package postgres

import (
	"strings"

	"github.com/plasma-go/plasma/dialect"
)

// GeneratedKeyType is an identity column that refuses a written value
// (GENERATED ALWAYS), with its PRIMARY KEY inline: PostgreSQL's dialect
// is a dialect.GeneratedKeyer.
func (pgDialect) GeneratedKeyType() (string, bool) {
	return "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", true
}

// NotifyOnInsert returns a PL/pgSQL function that calls pg_notify for
// each distinct value of column among a statement's new rows (read from
// the statement's transition table), and a statement-level AFTER INSERT
// trigger running it, created only where the table has no trigger of
// that name: PostgreSQL's dialect is a dialect.InsertNotifier. A
// NOTIFY is delivered when its transaction commits, and those of one
// transaction with the same payload are folded into one. The names are
// the caller's constants, not outside input.
func (pgDialect) NotifyOnInsert(table, column, channel, function, trigger string) []string {
	fn := dialect.QuoteIdent(function)
	tbl := dialect.QuoteIdent(table)
	return []string{
		`CREATE OR REPLACE FUNCTION ` + fn + `() RETURNS trigger
LANGUAGE plpgsql AS $plasma$
DECLARE
	r text;
BEGIN
	FOR r IN SELECT DISTINCT ` + dialect.QuoteIdent(column) + ` FROM plasma_new_changes LOOP
		PERFORM pg_notify(` + literal(channel) + `, r);
	END LOOP;
	RETURN NULL;
END
$plasma$`,
		`DO $plasma$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_trigger
		WHERE tgrelid = ` + literal(tbl) + `::regclass AND tgname = ` + literal(trigger) + `) THEN
		CREATE TRIGGER ` + dialect.QuoteIdent(trigger) + ` AFTER INSERT ON ` + tbl + `
			REFERENCING NEW TABLE AS plasma_new_changes
			FOR EACH STATEMENT EXECUTE FUNCTION ` + fn + `();
	END IF;
END
$plasma$`,
	}
}

// literal quotes s as a SQL string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
