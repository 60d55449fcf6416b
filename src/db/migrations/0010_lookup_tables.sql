CREATE TABLE "lookup_tables" (
	"address" text PRIMARY KEY NOT NULL,
	"pending_signature" text,
	"pending_raw" "bytea",
	"pending_last_valid_block_height" bigint,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
