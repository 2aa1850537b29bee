-- migration plans from the representative schema of ddl_golden_test.go, on sqlite

-- plan: add column
-- sqlite: recorded version 1, declared version 2
--   + add column docs.summary: text NOT NULL DEFAULT ''
--   + add column docs.history: json NULL
--   + add column docs.likes: crdtCounter NOT NULL DEFAULT '{"c":{}}'
--   + add column docs.reviewer_id: text NULL REFERENCES owners(id) ON DELETE SET NULL
ALTER TABLE "docs" ADD COLUMN "summary" TEXT NOT NULL DEFAULT '';
ALTER TABLE "docs" ADD COLUMN "history" TEXT;
ALTER TABLE "docs" ADD COLUMN "likes" TEXT NOT NULL DEFAULT '{"c":{}}';
ALTER TABLE "docs" ADD COLUMN "reviewer_id" TEXT REFERENCES "owners" ("id") ON DELETE SET NULL;

-- plan: add index
-- sqlite: recorded version 1, declared version 2
--   + add index docs.docs_lang: index (lang)
--   + add index docs.docs_title_lang: unique index (title, lang)
CREATE INDEX "docs_lang" ON "docs" ("lang");
CREATE UNIQUE INDEX "docs_title_lang" ON "docs" ("title", "lang");

-- plan: add table
-- sqlite: recorded version 1, declared version 2
--   + add table comments: (id, doc_id, body, reactions)
CREATE TABLE "comments" ("id" TEXT NOT NULL, "doc_id" TEXT NOT NULL, "body" TEXT NOT NULL, "reactions" TEXT, PRIMARY KEY ("id"), FOREIGN KEY ("doc_id") REFERENCES "docs" ("id") ON DELETE CASCADE);
CREATE INDEX "comments_doc" ON "comments" ("doc_id");

-- plan: refused destructive change
-- sqlite: recorded version 1, declared version 2
--   ! change kind docs.rank: int (INTEGER) -> bigint (BIGINT) [destructive: refused without an allowance]
--   ! set not null docs.thumb: NULL -> NOT NULL [destructive: refused without an allowance]
--   ! drop column docs.subtitle: was text (TEXT) NULL [destructive: refused without an allowance]
--   ! drop table pairs: was 3 columns [destructive: refused without an allowance]
PRAGMA legacy_alter_table = ON;
CREATE TABLE "_plasma_rebuild_docs" ("id" TEXT NOT NULL, "title" TEXT NOT NULL, "lang" TEXT NOT NULL DEFAULT 'en', "rank" BIGINT NOT NULL DEFAULT -1, "size" BIGINT DEFAULT 1099511627776, "published" BOOLEAN NOT NULL DEFAULT 0, "thumb" BLOB NOT NULL, "salt" BLOB NOT NULL DEFAULT X'00ff', "meta" TEXT NOT NULL DEFAULT '{"tags":["a"],"v":1}', "extra" TEXT, "attachment" TEXT, "views" TEXT NOT NULL, "score" TEXT, "status" TEXT, "labels" TEXT, "secret" TEXT, "secret_n" TEXT NOT NULL, "slug" TEXT NOT NULL UNIQUE, "owner_id" TEXT NOT NULL, "editor_id" TEXT, "owner_email" TEXT NOT NULL, "parent_id" TEXT, PRIMARY KEY ("id"), FOREIGN KEY ("owner_id") REFERENCES "owners" ("id") ON DELETE CASCADE, FOREIGN KEY ("editor_id") REFERENCES "owners" ("id") ON DELETE SET NULL, FOREIGN KEY ("owner_email") REFERENCES "owners" ("email") ON DELETE RESTRICT, FOREIGN KEY ("parent_id") REFERENCES "docs" ("id") ON DELETE NO ACTION);
INSERT INTO "_plasma_rebuild_docs" ("id", "title", "lang", "rank", "size", "published", "thumb", "salt", "meta", "extra", "attachment", "views", "score", "status", "labels", "secret", "secret_n", "slug", "owner_id", "editor_id", "owner_email", "parent_id") SELECT "id", "title", "lang", "rank", "size", "published", "thumb", "salt", "meta", "extra", "attachment", "views", "score", "status", "labels", "secret", "secret_n", "slug", "owner_id", "editor_id", "owner_email", "parent_id" FROM "docs";
DROP TABLE "docs";
ALTER TABLE "_plasma_rebuild_docs" RENAME TO "docs";
PRAGMA legacy_alter_table = OFF;
CREATE INDEX "docs_owner" ON "docs" ("owner_id");
CREATE UNIQUE INDEX "docs_owner_rank" ON "docs" ("owner_id", "rank");
-- and the table's other indexes and triggers, recreated as they were
DROP TABLE "pairs";
-- refused: plasma: migration to schema version 2 refused, nothing applied: 4 step(s) need attention
--   change kind docs.rank is destructive (int (INTEGER) -> bigint (BIGINT)): to apply it, name it in Options.Allow (with migratecli: -allow "change kind docs.rank")
--   set not null docs.thumb is destructive (NULL -> NOT NULL): to apply it, name it in Options.Allow (with migratecli: -allow "set not null docs.thumb")
--   drop column docs.subtitle is destructive (text (TEXT) NULL -> none): to apply it, name it in Options.Allow (with migratecli: -allow "drop column docs.subtitle")
--   drop table pairs is destructive (3 columns -> none): to apply it, name it in Options.Allow (with migratecli: -allow "drop table pairs")
--   (renames are never guessed: a renamed column or table shows as a drop and an add; declare it with AllowRenameColumn or AllowRenameTable)
