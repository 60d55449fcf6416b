-- Readings from before the energy identity (meter_id, reading_timestamp) may repeat one another. Every row
-- is kept; the earliest of each (meter, time) holds the identity, and the others point at it through
-- duplicate_of, so the next migration's unique index (on rows where duplicate_of is null) can be built.
UPDATE "readings" AS r
SET "duplicate_of" = h."holder"
FROM (
  SELECT "id", first_value("id") OVER (PARTITION BY "meter_id", "reading_timestamp" ORDER BY "created_at", "id") AS "holder"
  FROM "readings"
) AS h
WHERE r."id" = h."id" AND h."holder" <> h."id";
