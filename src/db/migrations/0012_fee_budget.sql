CREATE TABLE "fee_budget" (
	"day" date PRIMARY KEY NOT NULL,
	"reserved" bigint NOT NULL,
	"last_granted" boolean NOT NULL
);
