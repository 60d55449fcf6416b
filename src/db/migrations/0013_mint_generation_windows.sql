CREATE TABLE "mint_record_budget" (
	"day" date PRIMARY KEY NOT NULL,
	"reserved" integer NOT NULL,
	"last_granted" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mint_windows" (
	"meter_id" text NOT NULL,
	"window_start" timestamp (3) with time zone NOT NULL,
	"generation_meter_id" text NOT NULL,
	"wallet_address" text NOT NULL,
	"amount" numeric(20, 0) NOT NULL,
	"reading_ids" uuid[] NOT NULL,
	"tx_signature" text,
	"status" text DEFAULT 'frozen' NOT NULL,
	"frozen_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"minted_at" timestamp (3) with time zone,
	CONSTRAINT "mint_windows_meter_id_window_start_pk" PRIMARY KEY("meter_id","window_start"),
	CONSTRAINT "mint_windows_status_check" CHECK ("mint_windows"."status" in ('frozen', 'minted'))
);
--> statement-breakpoint
ALTER TABLE "meters" ADD COLUMN "generation_meter_id" text;--> statement-breakpoint
ALTER TABLE "readings" ADD COLUMN "window_start" timestamp (3) with time zone;--> statement-breakpoint
CREATE INDEX "mint_windows_signature" ON "mint_windows" USING btree ("tx_signature");--> statement-breakpoint
CREATE UNIQUE INDEX "meters_generation_meter_id" ON "meters" USING btree ("generation_meter_id");--> statement-breakpoint
CREATE INDEX "readings_window" ON "readings" USING btree ("meter_id","window_start");--> statement-breakpoint
ALTER TABLE "meters" ADD CONSTRAINT "meters_generation_meter_id_hex" CHECK ("meters"."generation_meter_id" ~ '^[0-9a-f]{32}$');--> statement-breakpoint
UPDATE "readings" SET "window_start" = to_timestamp((ceil(extract(epoch from "reading_timestamp") * 1000 / 900000) * 900 - 900)::float8) WHERE "window_start" IS NULL;
