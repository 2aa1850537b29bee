-- select_star
-- args: []interface {}(nil)
SELECT "people"."id", "people"."name", "people"."age", "people"."team", "people"."score", "people"."active" FROM "people";

-- select_typical
-- args: []interface {}{18, "red", "a%"}
SELECT "people"."id", "people"."name", "people"."team" FROM "people" WHERE ("people"."age" > $1) AND ("people"."team" = $2) AND ("people"."name" LIKE $3) ORDER BY "people"."id" DESC LIMIT 10;

-- comparisons
-- args: []interface {}{1, 2, 3, 4, 5, 6}
SELECT "people"."id" FROM "people" WHERE (("people"."age" = $1) AND ("people"."age" <> $2) AND ("people"."age" > $3) AND ("people"."age" >= $4) AND ("people"."age" < $5) AND ("people"."age" <= $6));

-- or_not
-- args: []interface {}{"red", true}
SELECT "people"."id" FROM "people" WHERE (NOT (("people"."team" = $1)) OR ("people"."active" = $2));

-- empty_and_or
-- args: []interface {}(nil)
SELECT "people"."id" FROM "people" WHERE (1 = 1) AND NOT ((1 = 0));

-- in_list
-- args: []interface {}{"a", "b", "c"}
SELECT "people"."id" FROM "people" WHERE ("people"."name" IN ($1, $2, $3));

-- in_empty
-- args: []interface {}(nil)
SELECT "people"."id" FROM "people" WHERE (1 = 0) AND NOT ((1 = 0));

-- in_subquery
-- args: []interface {}{5}
SELECT "people"."id" FROM "people" WHERE ("people"."id" IN (SELECT "orders"."person_id" FROM "orders" WHERE ("orders"."amount" > $1)));

-- null_checks
-- args: []interface {}(nil)
SELECT "people"."id" FROM "people" WHERE ("people"."age" IS NULL) AND ("people"."team" IS NOT NULL) AND NOT (("people"."name" IS NULL));

-- aggregates
-- args: []interface {}(nil)
SELECT COUNT(*), COUNT("people"."age"), SUM("people"."score") AS "s", AVG("people"."age"), MAX("people"."name"), MIN("people"."score") FROM "people";

-- group_having
-- args: []interface {}{1, 40}
SELECT "people"."team", COUNT(*) AS "n" FROM "people" GROUP BY "people"."team" HAVING (COUNT(*) > $1) AND (AVG("people"."age") < $2) ORDER BY COUNT(*) DESC;

-- inner_join
-- args: []interface {}{10}
SELECT "people"."name", "orders"."amount" FROM "people" INNER JOIN "orders" ON ("orders"."person_id" = "people"."id") WHERE ("orders"."amount" > $1);

-- left_join_order
-- args: []interface {}(nil)
SELECT "people"."id", "orders"."id" FROM "people" LEFT JOIN "orders" ON ("orders"."person_id" = "people"."id") ORDER BY "people"."id", "orders"."id" DESC;

-- joined_twice
-- args: []interface {}(nil)
SELECT "teams"."name", "lead"."name" AS "lead", "deputy"."name" AS "deputy" FROM "teams" LEFT JOIN "people" AS "lead" ON ("lead"."id" = "teams"."lead_id") LEFT JOIN "people" AS "deputy" ON ("deputy"."id" = "teams"."deputy_id");

-- from_subquery
-- args: []interface {}{1, 100}
SELECT "t"."person_id", "t"."total" FROM (SELECT "orders"."person_id", SUM("orders"."amount") AS "total" FROM "orders" WHERE ("orders"."amount" > $1) GROUP BY "orders"."person_id") AS "t" WHERE ("t"."total" > $2) ORDER BY "t"."total" DESC;

-- from_subquery_star
-- args: []interface {}{1}
SELECT "t"."person_id", "t"."total" FROM (SELECT "orders"."person_id", SUM("orders"."amount") AS "total" FROM "orders" WHERE ("orders"."amount" > $1) GROUP BY "orders"."person_id") AS "t";

-- scalar_subquery
-- args: []interface {}(nil)
SELECT "people"."id" FROM "people" WHERE ("people"."score" > (SELECT AVG("people"."score") FROM "people"));

-- correlated_subquery
-- args: []interface {}{7}
SELECT "people"."id", (SELECT COUNT(*) FROM "orders" WHERE ("orders"."person_id" = "people"."id")) AS "n" FROM "people" WHERE (EXISTS (SELECT "orders"."id" FROM "orders" WHERE ("orders"."person_id" = "people"."id") AND ("orders"."amount" > $1)));

-- placeholders_nested
-- args: []interface {}{"a", 1, 9, "z"}
SELECT "people"."id" FROM "people" WHERE ("people"."name" = $1) AND ("people"."id" IN (SELECT "t"."person_id" FROM (SELECT "orders"."person_id", SUM("orders"."amount") AS "total" FROM "orders" WHERE ("orders"."amount" > $2) GROUP BY "orders"."person_id") AS "t" WHERE ("t"."total" < $3))) AND ("people"."team" <> $4) LIMIT 3;

-- raw
-- args: []interface {}{3}
SELECT "people"."score" * 2 AS "double" FROM "people" WHERE ("people"."name" <> '?' AND "people"."age" > $1);

-- squirrel_expr
-- args: []interface {}{3, "a", "b", "x"}
SELECT "people"."id" FROM "people" WHERE (("people"."age" > $1 AND "people"."team" IN ($2,$3))) AND ("people"."name" = $4);

-- squirrel_subquery
-- args: []interface {}{true, 60}
SELECT "people"."id" FROM "people" WHERE ("people"."active" = $1) AND ("people"."id" IN (SELECT person_id FROM orders WHERE amount < $2));

-- order_nullable
-- args: []interface {}(nil)
SELECT "people"."id" FROM "people" GROUP BY "people"."id" ORDER BY "people"."age", "people"."team" DESC, "people"."name", MAX("people"."score") DESC, COUNT(*);

-- limit_offset
-- args: []interface {}(nil)
SELECT "people"."id" FROM "people" ORDER BY "people"."id" LIMIT 20 OFFSET 40;

-- offset_only
-- args: []interface {}(nil)
SELECT "people"."id" FROM "people" ORDER BY "people"."id" OFFSET 5;

-- insert_one
-- args: []interface {}{"g1", "ann", 30}
INSERT INTO "people" ("id", "name", "age") VALUES ($1, $2, $3);

-- insert_many
-- args: []interface {}{"g1", "ann", true, "g2", "bob", false}
INSERT INTO "people" ("id", "name", "active") VALUES ($1, $2, $3), ($4, $5, $6);

-- insert_json_blob
-- args: []interface {}{"k", 1152921504606846976, []uint8{0x0, 0xff}, "{\"a\":[1]}"}
INSERT INTO "kinds" ("id", "big", "data", "doc") VALUES ($1, $2, $3, $4);

-- upsert_do_nothing
-- args: []interface {}{"t1", "red"}
INSERT INTO "teams" ("id", "name") VALUES ($1, $2) ON CONFLICT ("name") DO NOTHING;

-- upsert_do_nothing_any
-- args: []interface {}{"t1", "red"}
INSERT INTO "teams" ("id", "name") VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- upsert_do_update
-- args: []interface {}{"t1", "red", "p1"}
INSERT INTO "teams" ("id", "name", "lead_id") VALUES ($1, $2, $3) ON CONFLICT ("id") DO UPDATE SET "name" = excluded."name", "lead_id" = excluded."lead_id";

-- upsert_do_update_cols
-- args: []interface {}{"t1", "red", "p1"}
INSERT INTO "teams" ("id", "name", "lead_id") VALUES ($1, $2, $3) ON CONFLICT ("name") DO UPDATE SET "lead_id" = excluded."lead_id" RETURNING "teams"."id";

-- insert_returning
-- args: []interface {}{"g1", "ann"}
INSERT INTO "people" ("id", "name") VALUES ($1, $2) RETURNING "people"."id", "people"."name", "people"."age", "people"."team", "people"."score", "people"."active";

-- update
-- args: []interface {}{"x", interface {}(nil), "p1"}
UPDATE "people" SET "name" = $1, "age" = $2 WHERE ("people"."id" = $3);

-- update_expr_returning
-- args: []interface {}{1, 2}
UPDATE "people" SET "score" = "people"."score" + $1 WHERE ("people"."id" IN (SELECT "orders"."person_id" FROM "orders" WHERE ("orders"."amount" > $2))) RETURNING "people"."id", "people"."score";

-- update_all_rows
-- args: []interface {}{false}
UPDATE "people" SET "active" = $1;

-- delete
-- args: []interface {}{5}
DELETE FROM "orders" WHERE ("orders"."amount" < $1) AND ("orders"."note" IS NULL);

-- delete_returning
-- args: []interface {}{"p1"}
DELETE FROM "orders" WHERE ("orders"."person_id" = $1) RETURNING "orders"."id", "orders"."person_id", "orders"."amount", "orders"."note";

-- delete_all_rows
-- args: []interface {}(nil)
DELETE FROM "orders";

