-- migration plans from the representative schema of ddl_golden_test.go, on postgres

-- plan: add column
-- postgres: recorded version 1, declared version 2
--   + add column docs.summary: text NOT NULL DEFAULT ''
--   + add column docs.history: json NULL
--   + add column docs.likes: crdtCounter NOT NULL DEFAULT '{"c":{}}'
--   + add column docs.reviewer_id: text NULL REFERENCES owners(id) ON DELETE SET NULL
ALTER TABLE "docs" ADD COLUMN "summary" TEXT NOT NULL DEFAULT '';
ALTER TABLE "docs" ADD COLUMN "history" JSONB;
ALTER TABLE "docs" ADD COLUMN "likes" TEXT NOT NULL DEFAULT '{"c":{}}';
ALTER TABLE "docs" ADD COLUMN "reviewer_id" TEXT REFERENCES "owners" ("id") ON DELETE SET NULL;

-- plan: add index
-- postgres: recorded version 1, declared version 2
--   + add index docs.docs_lang: index (lang)
--   + add index docs.docs_title_lang: unique index (title, lang)
CREATE INDEX "docs_lang" ON "docs" ("lang");
CREATE UNIQUE INDEX "docs_title_lang" ON "docs" ("title", "lang");

-- plan: add table
-- postgres: recorded version 1, declared version 2
--   + add table comments: (id, doc_id, body, reactions)
CREATE TABLE "comments" ("id" TEXT NOT NULL, "doc_id" TEXT NOT NULL, "body" TEXT NOT NULL, "reactions" TEXT, PRIMARY KEY ("id"), FOREIGN KEY ("doc_id") REFERENCES "docs" ("id") ON DELETE CASCADE);
CREATE INDEX "comments_doc" ON "comments" ("doc_id");

-- plan: refused destructive change
-- postgres: recorded version 1, declared version 2
--   ! change kind docs.rank: int (integer) -> bigint (BIGINT) [destructive: refused without an allowance]
--   ! set not null docs.thumb: NULL -> NOT NULL [destructive: refused without an allowance]
--   ! drop column docs.subtitle: was text (text) NULL [destructive: refused without an allowance]
--   ! drop table pairs: was 3 columns [destructive: refused without an allowance]
ALTER TABLE "docs" ALTER COLUMN "rank" DROP DEFAULT;
ALTER TABLE "docs" ALTER COLUMN "rank" TYPE BIGINT USING "rank"::BIGINT;
ALTER TABLE "docs" ALTER COLUMN "rank" SET DEFAULT -1;
ALTER TABLE "docs" ALTER COLUMN "thumb" SET NOT NULL;
ALTER TABLE "docs" DROP COLUMN "subtitle";
DROP TABLE "pairs";
-- refused: plasma: migration to schema version 2 refused, nothing applied: 4 step(s) need attention
--   change kind docs.rank is destructive (int (integer) -> bigint (BIGINT)): to apply it, name it in Options.Allow (with migratecli: -allow "change kind docs.rank")
--   set not null docs.thumb is destructive (NULL -> NOT NULL): to apply it, name it in Options.Allow (with migratecli: -allow "set not null docs.thumb")
--   drop column docs.subtitle is destructive (text (text) NULL -> none): to apply it, name it in Options.Allow (with migratecli: -allow "drop column docs.subtitle")
--   drop table pairs is destructive (3 columns -> none): to apply it, name it in Options.Allow (with migratecli: -allow "drop table pairs")
--   (renames are never guessed: a renamed column or table shows as a drop and an add; declare it with AllowRenameColumn or AllowRenameTable)
