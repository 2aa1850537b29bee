package realtime

import (
	"slices"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/plugin/changelog"
)

// legacyNotifyDDL is the trigger's DDL as Ensure wrote it out by hand
// before PostgreSQL's dialect rendered it, verbatim.
var legacyNotifyDDL = []string{
	`CREATE OR REPLACE FUNCTION "` + NotifyFunction + `"() RETURNS trigger
LANGUAGE plpgsql AS $plasma$
DECLARE
	r text;
BEGIN
	FOR r IN SELECT DISTINCT "region" FROM plasma_new_changes LOOP
		PERFORM pg_notify('` + ChannelChanges + `', r);
	END LOOP;
	RETURN NULL;
END
$plasma$`,
	`DO $plasma$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_trigger
		WHERE tgrelid = '"` + changelog.LogTable + `"'::regclass AND tgname = '` + NotifyTrigger + `') THEN
		CREATE TRIGGER "` + NotifyTrigger + `" AFTER INSERT ON "` + changelog.LogTable + `"
			REFERENCING NEW TABLE AS plasma_new_changes
			FOR EACH STATEMENT EXECUTE FUNCTION "` + NotifyFunction + `"();
	END IF;
END
$plasma$`,
}

// TestNotifyDDLUnchanged: the trigger Ensure installs through the
// dialect is, byte for byte, the one it used to write out.
func TestNotifyDDLUnchanged(t *testing.T) {
	n, ok := postgres.Dialect.(dialect.InsertNotifier)
	if !ok {
		t.Fatal("PostgreSQL's dialect is not a dialect.InsertNotifier")
	}
	got := n.NotifyOnInsert(changelog.LogTable, "region", ChannelChanges, NotifyFunction, NotifyTrigger)
	if !slices.Equal(got, legacyNotifyDDL) {
		t.Fatalf("NotifyOnInsert rendered\n%s\nwant\n%s", got, legacyNotifyDDL)
	}
}
