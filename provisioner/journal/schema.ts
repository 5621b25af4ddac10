/**
 * The journal's persistent format: the SQL schema, the stage machine of a seed, and the prepared statements
 * every record runs. This file is the registry of the format (STYLE.md rule 12): tables, columns, triggers
 * and stage numbers only grow; a retired one is never reused.
 *
 * Stage machine of a seed (`seeds.stage`, stored as its rank):
 *
 *   pending(0) → assigned(1) → written(2) → checked(3) → locked(4) → registered(5) → committed(6)
 *
 * Invariants the schema enforces, whoever writes to the file:
 * - `seeds.token_serial` is UNIQUE (a token holds at most one seed of the batch) and set once
 *   (`seeds_assign_once`): a seed never moves to a second token.
 * - The stage only moves forward (`seeds_stage_forward`) and leaves `pending` only with a token
 *   (`seeds_stage_needs_token`). A failure does not move the stage back; it sets `error_code`/`error_message`,
 *   which the next stage change clears.
 * - The sealed seed and its parameters never change (`seeds_secret_immutable`).
 *
 * Schema version 1 has had no migration; a new one is added here with the version it produces.
 */
import Database from 'better-sqlite3';
import { ProvisionFault } from '../faults.ts';

export const STAGES = ['pending', 'assigned', 'written', 'checked', 'locked', 'registered', 'committed'] as const;
export type Stage = (typeof STAGES)[number];
export const STAGE_RANK: Readonly<Record<Stage, number>> = { pending: 0, assigned: 1, written: 2, checked: 3, locked: 4, registered: 5, committed: 6 };

/**
 * Stage changes that must survive a power cut (fsync'ed before their promise settles). The others are
 * recovered from the token or repeated idempotently if a power cut drops them: 'written' (recovery compares
 * GET_SLOT's KCV), 'locked' (GET_INFO says LOCKED), 'registered' (the verifier answers 200 to the same
 * registration), 'committed' (re-derived). 'checked' must survive: it fixes the counter the verifier will be
 * given. 'assigned' must be on disk before the seed is sent to the token.
 */
export const FSYNC_STAGES: ReadonlySet<Stage> = new Set(['assigned', 'checked']);

/** Pipeline steps as recorded in the event log. */
export type Step = 'identify' | 'authenticate' | 'assign' | 'write' | 'check' | 'lock' | 'register' | 'commit' | 'export';

export const SCHEMA_VERSION = '1';

export const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE seeds (
  id INTEGER PRIMARY KEY,
  source_serial TEXT NOT NULL,
  seed_type TEXT NOT NULL,
  params TEXT NOT NULL,
  nonce BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  token_serial TEXT UNIQUE,
  stage INTEGER NOT NULL DEFAULT 0 CHECK (stage BETWEEN 0 AND 6),
  kcv BLOB,
  register_counter TEXT,
  error_code TEXT,
  error_message TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX seeds_pending ON seeds (seed_type, id) WHERE token_serial IS NULL;
CREATE INDEX seeds_source_serial ON seeds (source_serial) WHERE token_serial IS NULL;
CREATE TRIGGER seeds_assign_once BEFORE UPDATE OF token_serial ON seeds
  WHEN OLD.token_serial IS NOT NULL AND NEW.token_serial IS NOT OLD.token_serial
  BEGIN SELECT RAISE(ABORT, 'seed already assigned to a token'); END;
CREATE TRIGGER seeds_stage_forward BEFORE UPDATE OF stage ON seeds
  WHEN NEW.stage < OLD.stage
  BEGIN SELECT RAISE(ABORT, 'seed stage cannot move back'); END;
CREATE TRIGGER seeds_stage_needs_token BEFORE UPDATE OF stage ON seeds
  WHEN NEW.stage > 0 AND NEW.token_serial IS NULL
  BEGIN SELECT RAISE(ABORT, 'a seed must be assigned before it advances'); END;
CREATE TRIGGER seeds_secret_immutable BEFORE UPDATE OF nonce, ciphertext, params ON seeds
  BEGIN SELECT RAISE(ABORT, 'seeds are immutable'); END;
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  target TEXT,
  token_serial TEXT,
  seed_id INTEGER,
  step TEXT NOT NULL,
  phase TEXT NOT NULL CHECK (phase IN ('begin', 'end', 'fail')),
  detail TEXT
) STRICT;
CREATE TABLE token_failures (
  target TEXT NOT NULL,
  token_serial TEXT,
  code TEXT NOT NULL,
  message TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (target)
) STRICT;
`;

/** A row of `seeds` as SQLite returns it. */
export interface SeedDbRow {
  id: number;
  source_serial: string;
  seed_type: string;
  params: string;
  nonce: Uint8Array;
  ciphertext: Uint8Array;
  token_serial: string | null;
  stage: number;
  kcv: Uint8Array | null;
  register_counter: string | null;
  error_code: string | null;
  error_message: string | null;
  attempts: number;
}

/** A seed's journal row without its secret. */
export interface SeedRow {
  id: number;
  sourceSerial: string;
  tokenSerial: string | null;
  stage: Stage;
  kcv: Uint8Array | null;
  /** Counter to register with the verifier (fixed by the check step). */
  registerCounter: bigint | null;
  errorCode: string | null;
  errorMessage: string | null;
  attempts: number;
}

export function stageName(rank: number): Stage {
  const s = STAGES[rank];
  if (s === undefined) throw new ProvisionFault('JOURNAL_CORRUPT', `journal has an unknown stage ${rank}`);
  return s;
}

export function toRow(r: SeedDbRow): SeedRow {
  return {
    id: r.id,
    sourceSerial: r.source_serial,
    tokenSerial: r.token_serial,
    stage: stageName(r.stage),
    kcv: r.kcv === null ? null : Uint8Array.from(r.kcv),
    registerCounter: r.register_counter === null ? null : BigInt(r.register_counter),
    errorCode: r.error_code,
    errorMessage: r.error_message,
    attempts: r.attempts,
  };
}

/** Opens an existing journal file: WAL, synchronous=FULL unless a caller relaxes it for a commit. */
export function openDb(path: string): Database.Database {
  const db = new Database(path, { fileMustExist: true });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  return db;
}

/** The statements the records run, prepared once per connection. */
export interface Statements {
  byToken: Database.Statement<[string], SeedDbRow>;
  byId: Database.Statement<[number], SeedDbRow>;
  pendingBySource: Database.Statement<[string], SeedDbRow>;
  firstPending: Database.Statement<[string, string, string], SeedDbRow>;
  setToken: Database.Statement<[string, number, number]>;
  advance: Database.Statement<[number, number, number]>;
  setKcv: Database.Statement<[Uint8Array, number]>;
  setCounter: Database.Statement<[string, number]>;
  setError: Database.Statement<[string, string, number, number]>;
  event: Database.Statement<[number, string | null, string | null, number | null, string, string, string | null]>;
  tokenFail: Database.Statement<[string, string | null, string, string, number]>;
  tokenClear: Database.Statement<[string]>;
  tokenHas: Database.Statement<[string], { target: string }>;
}

export function prepareStatements(db: Database.Database): Statements {
  return {
    byToken: db.prepare('SELECT * FROM seeds WHERE token_serial = ?'),
    byId: db.prepare('SELECT * FROM seeds WHERE id = ?'),
    pendingBySource: db.prepare('SELECT * FROM seeds WHERE token_serial IS NULL AND source_serial = ? ORDER BY id LIMIT 1'),
    firstPending: db.prepare('SELECT * FROM seeds WHERE token_serial IS NULL AND seed_type IN (?, ?, ?) ORDER BY id LIMIT 1'),
    setToken: db.prepare('UPDATE seeds SET token_serial = ?, stage = 1, updated_at = ? WHERE id = ? AND token_serial IS NULL'),
    advance: db.prepare('UPDATE seeds SET stage = MAX(stage, ?), error_code = NULL, error_message = NULL, updated_at = ? WHERE id = ?'),
    setKcv: db.prepare('UPDATE seeds SET kcv = ? WHERE id = ?'),
    setCounter: db.prepare('UPDATE seeds SET register_counter = ? WHERE id = ?'),
    setError: db.prepare('UPDATE seeds SET error_code = ?, error_message = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?'),
    event: db.prepare('INSERT INTO events (at, target, token_serial, seed_id, step, phase, detail) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    tokenFail: db.prepare('INSERT INTO token_failures (target, token_serial, code, message, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (target) DO UPDATE SET token_serial = excluded.token_serial, code = excluded.code, message = excluded.message, at = excluded.at'),
    tokenClear: db.prepare('DELETE FROM token_failures WHERE target = ?'),
    tokenHas: db.prepare('SELECT target FROM token_failures WHERE target = ?'),
  };
}
