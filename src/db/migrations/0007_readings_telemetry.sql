-- GridTokenX readings keep their telemetry beside the energy. A nullable column without a default: no rewrite
-- of existing rows, no lock held longer than the catalogue change.
ALTER TABLE "readings" ADD COLUMN "telemetry" jsonb;