// A list as one bind parameter: `= any(array)` and `unnest(array, ...)` instead of one parameter per element.
// A 100-reading request's statements then carry a dozen parameters, not 1,400: drizzle builds each of those
// as its own SQL chunk, and on the ingestion path that building was the largest CPU cost after GC (the
// ingestion benchmark's profile). The array goes as its text literal (drizzle's own writer), since the
// postgres.js client runs without type lookup (db/client.ts) and PGlite takes the same text.
import { sql, type SQL } from 'drizzle-orm';
import { makePgArray } from 'drizzle-orm/pg-core';

/** `values` as one `text[]` parameter (null elements are SQL NULL); cast its elements where a column wants another type. */
export const textArray = (values: readonly (string | null)[]): SQL => sql`${makePgArray(values as (string | null)[])}::text[]`;
