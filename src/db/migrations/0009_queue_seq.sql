CREATE SEQUENCE "public"."readings_queue_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "queue_watermark" (
	"id" smallint PRIMARY KEY DEFAULT 1 NOT NULL,
	"claimed_seq" bigint NOT NULL,
	CONSTRAINT "queue_watermark_one_row" CHECK ("queue_watermark"."id" = 1)
);
--> statement-breakpoint
-- Edited by hand after drizzle-kit generate: the column is added without its default (a volatile default
-- would number the existing rows in physical order), numbered in acceptance order (created_at, id), and only
-- then given the sequence as its default. Recorded readings never join the queue and stay null.
ALTER TABLE "readings" ADD COLUMN "queue_seq" bigint;--> statement-breakpoint
UPDATE "readings" SET "queue_seq" = n.seq
FROM (SELECT "id", row_number() OVER (ORDER BY "created_at", "id") AS seq FROM "readings" WHERE "status" <> 'recorded') n
WHERE "readings"."id" = n."id";--> statement-breakpoint
SELECT setval('readings_queue_seq', coalesce((SELECT max("queue_seq") FROM "readings"), 0) + 1, false);--> statement-breakpoint
ALTER TABLE "readings" ALTER COLUMN "queue_seq" SET DEFAULT nextval('readings_queue_seq');--> statement-breakpoint
-- The watermark starts just before the oldest pending reading (its position is 1), or after every reading
-- when none is pending.
INSERT INTO "queue_watermark" ("id", "claimed_seq") VALUES (1, coalesce(
	(SELECT min("queue_seq") - 1 FROM "readings" WHERE "status" = 'pending'),
	(SELECT max("queue_seq") FROM "readings"),
	0));
