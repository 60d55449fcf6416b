CREATE TABLE "batches" (
	"id" uuid PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"requested_by" text,
	"state" text DEFAULT 'pending' NOT NULL,
	"total_readings" integer DEFAULT 0 NOT NULL,
	"successful_mints" integer DEFAULT 0 NOT NULL,
	"failed_mints" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "batches_state_check" CHECK ("batches"."state" in ('pending', 'running', 'completed', 'cancelled'))
);
--> statement-breakpoint
CREATE TABLE "chain_identity" (
	"genesis_hash" text PRIMARY KEY NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"key" text PRIMARY KEY NOT NULL,
	"request_hash" text NOT NULL,
	"response_status" integer NOT NULL,
	"response_body" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mint_transactions" (
	"signature" text PRIMARY KEY NOT NULL,
	"raw" "bytea" NOT NULL,
	"last_valid_block_height" bigint NOT NULL,
	"status" text DEFAULT 'signed' NOT NULL,
	"reading_ids" uuid[] NOT NULL,
	"batch_id" uuid,
	"claim_token" uuid,
	"error" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "mint_transactions_status_check" CHECK ("mint_transactions"."status" in ('signed', 'sent', 'confirmed', 'expired', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "readings" (
	"id" uuid PRIMARY KEY NOT NULL,
	"meter_id" text NOT NULL,
	"user_id" text NOT NULL,
	"wallet_address" text NOT NULL,
	"kwh_amount" numeric(30, 12) NOT NULL,
	"tokens_to_mint" numeric(20, 0) NOT NULL,
	"reading_timestamp" timestamp with time zone NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"tx_signature" text,
	"batch_id" uuid,
	"claim_token" uuid,
	"lease_expires_at" timestamp with time zone,
	"next_attempt_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "readings_status_check" CHECK ("readings"."status" in ('pending', 'processing', 'completed', 'failed')),
	CONSTRAINT "readings_tokens_positive" CHECK ("readings"."tokens_to_mint" > 0)
);
--> statement-breakpoint
CREATE TABLE "system_settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "mint_transactions_open" ON "mint_transactions" USING btree ("status");--> statement-breakpoint
CREATE INDEX "readings_claimable" ON "readings" USING btree ("status","next_attempt_at","created_at");--> statement-breakpoint
CREATE INDEX "readings_wallet" ON "readings" USING btree ("wallet_address");--> statement-breakpoint
CREATE VIEW "public"."queue_stats" AS (select "status", count(*)::int as "count", min("created_at") as "oldest", count(distinct "wallet_address")::int as "wallets" from "readings" group by "readings"."status");