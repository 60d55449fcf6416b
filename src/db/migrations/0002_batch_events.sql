CREATE TABLE "batch_events" (
	"batch_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"event" text NOT NULL,
	"data" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "batch_events_batch_id_seq_pk" PRIMARY KEY("batch_id","seq"),
	CONSTRAINT "batch_events_event_check" CHECK ("batch_events"."event" in ('result', 'summary'))
);
--> statement-breakpoint
ALTER TABLE "batches" DROP CONSTRAINT "batches_state_check";--> statement-breakpoint
ALTER TABLE "batches" ADD COLUMN "lease_expires_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "chain_identity" ADD COLUMN "history_until" text;--> statement-breakpoint
ALTER TABLE "chain_identity" ADD COLUMN "initial_supply" numeric(20, 0);--> statement-breakpoint
CREATE INDEX "batches_open" ON "batches" USING btree ("lease_expires_at") WHERE "batches"."state" in ('pending', 'running');--> statement-breakpoint
CREATE INDEX "readings_batch" ON "readings" USING btree ("batch_id");--> statement-breakpoint
ALTER TABLE "batches" ADD CONSTRAINT "batches_state_check" CHECK ("batches"."state" in ('pending', 'running', 'completed', 'cancelled', 'interrupted'));