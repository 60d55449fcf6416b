CREATE TABLE "console_sessions" (
	"session_hash" text PRIMARY KEY NOT NULL,
	"operator" text NOT NULL,
	"csrf_token" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"revoked_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "reading_voids" (
	"reading_id" uuid PRIMARY KEY NOT NULL,
	"actor" text NOT NULL,
	"reason" text NOT NULL,
	"previous_status" text NOT NULL,
	"voided_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "readings" DROP CONSTRAINT "readings_status_check";--> statement-breakpoint
CREATE INDEX "console_sessions_expires" ON "console_sessions" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "readings_created" ON "readings" USING btree ("created_at","id");--> statement-breakpoint
ALTER TABLE "readings" ADD CONSTRAINT "readings_status_check" CHECK ("readings"."status" in ('pending', 'processing', 'completed', 'failed', 'recorded', 'voided'));