/**
 * The provisioning journal: one import for the pipeline and the CLI.
 *
 *   journal.ts       the Journal (create/open, reads, the records the pipeline writes)
 *   schema.ts        the SQL schema, the stage machine of a seed, the prepared statements
 *   records.ts       what each record writes inside its transaction
 *   group-commit.ts  one shared transaction per tick, the fsync a batch needs off the event loop
 *   sealing.ts       the journal key (key file or scrypt passphrase) and the sealing of seeds
 *   seed-json.ts     the stored JSON of a seed's parameters
 */
export { Journal, type CreateJournalOptions, type JournalCounts, type JournalEvent, type TokenFailure } from './journal.ts';
export { STAGES, type SeedRow, type Stage, type Step } from './schema.ts';
export type { AdvanceExtra, EventContext } from './records.ts';
export type { CommitStats } from './group-commit.ts';
export { keyFilePath, type JournalKeyOptions } from './sealing.ts';
