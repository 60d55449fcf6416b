CREATE TABLE "gateway_keys" (
	"key_hash" text PRIMARY KEY NOT NULL,
	"gateway_id" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "gateways" (
	"gateway_id" text PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"disabled_at" timestamp (3) with time zone,
	CONSTRAINT "gateways_source_check" CHECK ("gateways"."source" in ('api', 'env'))
);
--> statement-breakpoint
CREATE TABLE "meter_changes" (
	"id" uuid PRIMARY KEY NOT NULL,
	"meter_id" text NOT NULL,
	"actor" text NOT NULL,
	"changed_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"old_values" jsonb,
	"new_values" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "meters" (
	"meter_id" text PRIMARY KEY NOT NULL,
	"gateway_id" text NOT NULL,
	"user_id" text NOT NULL,
	"wallet_address" text NOT NULL,
	"kind" text NOT NULL,
	"interval_minutes" integer,
	"max_kw" numeric(20, 6) NOT NULL,
	"active_from" timestamp (3) with time zone NOT NULL,
	"public_key" text,
	"register_baseline_kwh" numeric(30, 12),
	"register_baseline_at" timestamp (3) with time zone,
	"last_register_kwh" numeric(30, 12),
	"last_register_at" timestamp (3) with time zone,
	"disabled_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "meters_kind_check" CHECK ("meters"."kind" in ('interval', 'register')),
	CONSTRAINT "meters_interval_check" CHECK (("meters"."kind" = 'interval') = ("meters"."interval_minutes" is not null) and ("meters"."interval_minutes" is null or "meters"."interval_minutes" between 1 and 1440)),
	CONSTRAINT "meters_register_check" CHECK (("meters"."kind" = 'register') = ("meters"."last_register_kwh" is not null and "meters"."last_register_at" is not null)),
	CONSTRAINT "meters_max_kw_positive" CHECK ("meters"."max_kw" > 0)
);
--> statement-breakpoint
CREATE TABLE "token_account_budget" (
	"day" date PRIMARY KEY NOT NULL,
	"reserved" integer NOT NULL,
	"last_granted" integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE "readings" DROP CONSTRAINT "readings_status_check";--> statement-breakpoint
ALTER TABLE "readings" DROP CONSTRAINT "readings_tokens_positive";--> statement-breakpoint
ALTER TABLE "readings" ADD COLUMN "gateway_id" text;--> statement-breakpoint
ALTER TABLE "readings" ADD COLUMN "client_reading_id" text;--> statement-breakpoint
ALTER TABLE "readings" ADD COLUMN "register_kwh" numeric(30, 12);--> statement-breakpoint
ALTER TABLE "readings" ADD COLUMN "duplicate_of" uuid;--> statement-breakpoint
ALTER TABLE "gateway_keys" ADD CONSTRAINT "gateway_keys_gateway_id_gateways_gateway_id_fk" FOREIGN KEY ("gateway_id") REFERENCES "public"."gateways"("gateway_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "meters" ADD CONSTRAINT "meters_gateway_id_gateways_gateway_id_fk" FOREIGN KEY ("gateway_id") REFERENCES "public"."gateways"("gateway_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "gateway_keys_gateway" ON "gateway_keys" USING btree ("gateway_id");--> statement-breakpoint
CREATE INDEX "meter_changes_meter" ON "meter_changes" USING btree ("meter_id","changed_at");--> statement-breakpoint
CREATE INDEX "meters_gateway" ON "meters" USING btree ("gateway_id","meter_id");--> statement-breakpoint
ALTER TABLE "readings" ADD CONSTRAINT "readings_status_check" CHECK ("readings"."status" in ('pending', 'processing', 'completed', 'failed', 'recorded'));--> statement-breakpoint
ALTER TABLE "readings" ADD CONSTRAINT "readings_tokens_positive" CHECK ("readings"."tokens_to_mint" > 0 or "readings"."status" = 'recorded');