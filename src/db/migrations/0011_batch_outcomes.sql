ALTER TABLE "batches" DROP CONSTRAINT "batches_state_check";--> statement-breakpoint
ALTER TABLE "batches" ADD CONSTRAINT "batches_state_check" CHECK ("batches"."state" in ('pending', 'running', 'completed', 'completed_with_failures', 'failed', 'cancelled', 'interrupted'));--> statement-breakpoint
-- Batches recorded before the outcome was kept said `completed` however they ended: say how, from their counts.
UPDATE "batches" SET "state" = CASE WHEN "successful_mints" = 0 THEN 'failed' ELSE 'completed_with_failures' END WHERE "state" = 'completed' AND "failed_mints" > 0;
