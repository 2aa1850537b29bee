package files

import "testing"

// TestBookkeeping: only reads and writes to _plasma_ tables leave the
// download cache alone; any other write, or one not recognised, counts.
func TestBookkeeping(t *testing.T) {
	cases := map[string]bool{
		`SELECT 1 FROM "members"`: true,
		`INSERT INTO "_plasma_blobs" ("hash") VALUES ($1) ON CONFLICT ("hash") DO UPDATE SET "touched_at" = excluded."touched_at"`: true,
		`WITH "w0" AS (UPDATE "_plasma_clients" SET "x" = 1) SELECT 1`:                                                             true,
		`  delete from "_plasma_cvrs" WHERE "ord" > ?`:                                                                             true,
		`UPDATE "members" SET "user_id" = 'x'`:                                                                                     false,
		`UPDATE members SET user_id = 'x'`:                                                                                         false,
		`WITH "w0" AS (UPDATE "_plasma_clients" SET "x" = 1), "w1" AS (DELETE FROM "members") SELECT 1`:                            false,
		`INSERT OR REPLACE INTO "members" VALUES (1)`:                                                                              false,
		`INSERT INTO "_plasma_x" SELECT * FROM "y"; REPLACE INTO "members" VALUES (1)`:                                             false,
		`TRUNCATE "members"`:          false,
		`CREATE INDEX "i" ON "t" (c)`: false,
		``:                            false,
	}
	for sql, want := range cases {
		if got := bookkeeping(sql); got != want {
			t.Errorf("bookkeeping(%q) = %v, want %v", sql, got, want)
		}
	}
}
