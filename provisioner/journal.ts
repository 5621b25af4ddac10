/**
 * The provisioning journal: a SQLite file (better-sqlite3, WAL, synchronous=FULL) that makes a batch
 * crash-safe. Every seed of the batch is in it (encrypted) before any token is touched; every step of the
 * pipeline is recorded before it runs and after it ran; `tokenforge provision --resume JOURNAL` continues from
 * what it says.
 *
 * Invariants (enforced by the schema, not only by the code that uses it):
 * - A seed is assigned to a token serial ONCE, in a committed transaction, BEFORE its bytes are sent to that
 *   token (`assign`). `seeds.token_serial` is UNIQUE (a token holds at most one seed of the batch) and a
 *   trigger forbids changing it once set (a seed never moves to a second token). On resume, a seed assigned
 *   to a token is only ever completed on that same token.
 * - `seeds.stage` only moves forward (trigger): pending → assigned → written → checked → locked → registered
 *   → committed. A failure does not move the stage back; it sets `error_code`/`error_message`, which the next
 *   attempt clears.
 * - The counter registered with the verifier (`register_counter`) is fixed in the same transaction that
 *   records the check, so a retried registration sends the identical request (idempotent on the verifier) and
 *   no code the token showed during the check can be accepted later.
 * - Durability against a killed process: every record is a committed WAL transaction before the next step
 *   runs. Against a power cut: the records a later side effect depends on — the seed→token assignment
 *   (before PUT_SLOT) and the check with its counter (before registering) — are fsync'ed
 *   (synchronous=FULL); the others (step-begin records, written/locked/registered/committed, failures)
 *   commit with synchronous=NORMAL, because recovery re-reads the token (GET_INFO, GET_SLOT's KCV) and
 *   re-sends idempotent requests instead of trusting them; the WAL keeps them in order, so a later fsync
 *   makes all earlier records durable too. The pipeline writes through the group-committed methods
 *   (`*Async`, see `#enqueue`): same guarantees, one transaction per tick for all workers, and the fsync a
 *   record needs done off the event loop before its promise settles.
 * - The journal is created complete or not at all: it is built under a temporary name and renamed into
 *   place after its single creation transaction committed and the WAL was checkpointed.
 *
 * Seeds at rest: AES-256-GCM, a fresh 12-byte random nonce per seed, the seed's row id in the associated
 * data (a ciphertext cannot be moved to another row). The 32-byte journal key is EITHER
 *   - random, in a key file `<journal>.key` beside the journal, created with mode 0600 (O_EXCL) and refused
 *     on open if group/other can read it — the default; or
 *   - derived from a passphrase with scrypt (N=2^15, r=8, p=1, 16-byte random salt kept in the journal).
 * A key check value (an encryption of a constant) in the journal makes a wrong key fail with JOURNAL_KEY
 * before anything else happens. Neither the key, nor the passphrase, nor a seed is ever written in clear.
 */
import Database from 'better-sqlite3';
import { createCipheriv, createDecipheriv, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { HashAlgorithm } from '../otp/params.ts';
import { Secret } from '../otp/secret.ts';
import type { SeedRecord, SeedType } from './seed.ts';
import { ProvisionFault, type ProvisionFaultCode } from './faults.ts';

export const STAGES = ['pending', 'assigned', 'written', 'checked', 'locked', 'registered', 'committed'] as const;
export type Stage = (typeof STAGES)[number];
/**
 * Stage changes committed with fsync (synchronous=FULL). The others are recovered from the token or repeated
 * idempotently if a power cut drops them: 'written' (recovery compares GET_SLOT's KCV), 'locked' (GET_INFO
 * says LOCKED), 'registered' (the verifier answers 200 to the same registration), 'committed' (re-derived).
 * 'checked' must survive: it fixes the counter the verifier will be given. Assignment (`assign`) is always
 * fsync'ed: it must be on disk before the seed is sent to the token.
 */
const FSYNC_STAGES: ReadonlySet<Stage> = new Set(['assigned', 'checked']);
const STAGE_RANK: Readonly<Record<Stage, number>> = { pending: 0, assigned: 1, written: 2, checked: 3, locked: 4, registered: 5, committed: 6 };

/** Pipeline steps as recorded in the event log. */
export type Step = 'identify' | 'authenticate' | 'assign' | 'write' | 'check' | 'lock' | 'register' | 'commit' | 'export';

/** How the journal key is kept. */
export type JournalKeyOptions = { kind: 'file' } | { kind: 'passphrase'; passphrase: string };

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

/** A token that failed before a seed was assigned to it (wrong PIN, already locked, unreachable...). */
export interface TokenFailure {
  target: string;
  tokenSerial: string | null;
  code: string;
  message: string;
}

/** Who and where an event-log record is about. */
export interface EventContext {
  target?: string;
  tokenSerial?: string | null;
  seedId?: number | null;
  detail?: string;
}

/** Fields recorded with a stage change. */
export interface AdvanceExtra {
  target?: string;
  kcv?: Uint8Array;
  registerCounter?: bigint;
  detail?: string;
}

interface QueuedRecord {
  durable: boolean;
  /** `run` executes exactly one write statement. */
  singleStatement: boolean;
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export interface JournalCounts {
  total: number;
  byStage: Record<Stage, number>;
  failedSeeds: number;
}

const SCHEMA_VERSION = '1';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_CHECK_PLAINTEXT = 'tokenforge journal key check v1';
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

const SCHEMA = `
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

interface SeedParamsJson {
  type: SeedType;
  algorithm: HashAlgorithm;
  digits: number;
  periodSec: number;
  t0: string;
  counter: string;
  ocraSuite?: string;
  label?: string;
  user?: string;
  issuer?: string;
  keyId?: string;
  manufacturer?: string;
}

interface SeedDbRow {
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

function fault(code: ProvisionFaultCode, message: string, cause?: unknown): ProvisionFault {
  return new ProvisionFault(code, message, cause === undefined ? undefined : { cause });
}

export function keyFilePath(journalPath: string): string {
  return `${journalPath}.key`;
}

function fsyncDir(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dirname(path), 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function writeKeyFile(path: string, key: Uint8Array): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, `${Buffer.from(key).toString('hex')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncDir(path);
}

function readKeyFile(path: string): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw fault('JOURNAL_KEY', `journal key file ${path} is missing; it is created beside the journal and needed to read its seeds (or pass the journal passphrase if the journal was made with one)`);
  }
  if ((st.mode & 0o077) !== 0) throw fault('JOURNAL_KEY', `journal key file ${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${path}`);
  const text = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(text)) throw fault('JOURNAL_KEY', `journal key file ${path} is not 64 hex digits`);
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

function deriveKey(passphrase: string, salt: Uint8Array): Uint8Array {
  if (passphrase.length < 8) throw fault('INVALID_ARGUMENT', 'the journal passphrase must be at least 8 characters');
  return Uint8Array.from(scryptSync(passphrase.normalize('NFC'), salt, KEY_BYTES, SCRYPT));
}

function seal(key: Uint8Array, plaintext: Uint8Array, aad: string): { nonce: Uint8Array; ciphertext: Uint8Array } {
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  return { nonce: Uint8Array.from(nonce), ciphertext: Uint8Array.from(body) };
}

function open(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad: string): Uint8Array {
  if (nonce.length !== NONCE_BYTES || ciphertext.length < TAG_BYTES) throw fault('JOURNAL_CORRUPT', 'journal ciphertext has a bad length');
  const d = createDecipheriv('aes-256-gcm', key, nonce);
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_BYTES));
  try {
    const out = Buffer.concat([d.update(ciphertext.subarray(0, ciphertext.length - TAG_BYTES)), d.final()]);
    return Uint8Array.from(out);
  } catch (e) {
    throw fault('JOURNAL_KEY', 'a journal record does not decrypt: wrong journal key/passphrase or a damaged journal', e);
  }
}

const seedAad = (id: number): string => `tokenforge-journal/v1/seed/${id}`;

function stageName(rank: number): Stage {
  const s = STAGES[rank];
  if (s === undefined) throw fault('JOURNAL_CORRUPT', `journal has an unknown stage ${rank}`);
  return s;
}

function toRow(r: SeedDbRow): SeedRow {
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

function openDb(path: string, readonly = false): Database.Database {
  const db = new Database(path, { fileMustExist: true, readonly });
  if (!readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
  }
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  return db;
}

export interface CreateJournalOptions {
  path: string;
  seeds: readonly SeedRecord[];
  /** Batch settings kept for --resume (never secrets: no API key, no export password). */
  settings: Readonly<Record<string, unknown>>;
  key: JournalKeyOptions;
  now?: () => number;
}

export class Journal {
  readonly path: string;
  #db: Database.Database;
  #key: Uint8Array;
  #now: () => number;
  #queue: QueuedRecord[] = [];
  #flushScheduled = false;
  #batches = { total: 0, durable: 0, records: 0 };
  #syncFailure: ProvisionFault | null = null;
  /** One transaction (BEGIN IMMEDIATE ... COMMIT) around a batch of queued records. */
  #batch: (fn: () => void) => void;
  /** Nested inside #batch, better-sqlite3 runs this as a SAVEPOINT: one record, rolled back alone if it throws. */
  #savepoint: (fn: () => unknown) => unknown;
  #stmt: {
    byToken: Database.Statement<[string], SeedDbRow>;
    byId: Database.Statement<[number], SeedDbRow>;
    pendingBySource: Database.Statement<[string], SeedDbRow>;
    firstPending: Database.Statement<[string, string, string], SeedDbRow>;
    setToken: Database.Statement<[string, number, number]>;
    advance: Database.Statement<[number, number, number]>;
    setKcv: Database.Statement<[Uint8Array, number]>;
    setCounter: Database.Statement<[string, number]>;
    setError: Database.Statement<[string, string, number, number]>;
    clearError: Database.Statement<[number, number]>;
    event: Database.Statement<[number, string | null, string | null, number | null, string, string, string | null]>;
    tokenFail: Database.Statement<[string, string | null, string, string, number]>;
    tokenClear: Database.Statement<[string]>;
    tokenHas: Database.Statement<[string], { target: string }>;
  };

  private constructor(path: string, db: Database.Database, key: Uint8Array, now: () => number) {
    this.path = path;
    this.#db = db;
    this.#key = key;
    this.#now = now;
    this.#batch = db.transaction((fn: () => void) => fn()).immediate;
    this.#savepoint = db.transaction((fn: () => unknown) => fn());
    this.#stmt = {
      byToken: db.prepare('SELECT * FROM seeds WHERE token_serial = ?'),
      byId: db.prepare('SELECT * FROM seeds WHERE id = ?'),
      pendingBySource: db.prepare('SELECT * FROM seeds WHERE token_serial IS NULL AND source_serial = ? ORDER BY id LIMIT 1'),
      firstPending: db.prepare('SELECT * FROM seeds WHERE token_serial IS NULL AND seed_type IN (?, ?, ?) ORDER BY id LIMIT 1'),
      setToken: db.prepare('UPDATE seeds SET token_serial = ?, stage = 1, updated_at = ? WHERE id = ? AND token_serial IS NULL'),
      advance: db.prepare('UPDATE seeds SET stage = MAX(stage, ?), error_code = NULL, error_message = NULL, updated_at = ? WHERE id = ?'),
      setKcv: db.prepare('UPDATE seeds SET kcv = ? WHERE id = ?'),
      setCounter: db.prepare('UPDATE seeds SET register_counter = ? WHERE id = ?'),
      setError: db.prepare('UPDATE seeds SET error_code = ?, error_message = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?'),
      clearError: db.prepare('UPDATE seeds SET error_code = NULL, error_message = NULL, updated_at = ? WHERE id = ?'),
      event: db.prepare('INSERT INTO events (at, target, token_serial, seed_id, step, phase, detail) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      tokenFail: db.prepare('INSERT INTO token_failures (target, token_serial, code, message, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (target) DO UPDATE SET token_serial = excluded.token_serial, code = excluded.code, message = excluded.message, at = excluded.at'),
      tokenClear: db.prepare('DELETE FROM token_failures WHERE target = ?'),
      tokenHas: db.prepare('SELECT target FROM token_failures WHERE target = ?'),
    };
  }

  /**
   * Creates a journal holding every seed (encrypted) and the batch settings. Refuses (JOURNAL_EXISTS) if a
   * journal is already at `path`. Either the whole journal appears at `path` or nothing does.
   */
  static create(o: CreateJournalOptions): Journal {
    const now = o.now ?? Date.now;
    if (existsSync(o.path)) throw fault('JOURNAL_EXISTS', `journal ${o.path} already exists; continue it with --resume ${o.path} or choose another --journal`);
    const tmp = `${o.path}.creating`;
    for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
    let key: Uint8Array;
    let kdf: Record<string, unknown>;
    if (o.key.kind === 'file') {
      const kf = keyFilePath(o.path);
      // A key file without its journal is left over from a creation that was interrupted: no seed of it was
      // ever used (the journal never appeared), so it is safe to replace.
      rmSync(kf, { force: true });
      key = Uint8Array.from(randomBytes(KEY_BYTES));
      writeKeyFile(kf, key);
      kdf = { kind: 'file' };
    } else {
      const salt = Uint8Array.from(randomBytes(16));
      key = deriveKey(o.key.passphrase, salt);
      kdf = { kind: 'scrypt', salt: Buffer.from(salt).toString('hex'), N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p };
    }
    const db = new Database(tmp);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(SCHEMA);
      const check = seal(key, new TextEncoder().encode(KEY_CHECK_PLAINTEXT), 'tokenforge-journal/v1/key-check');
      const meta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
      const ins = db.prepare('INSERT INTO seeds (id, source_serial, seed_type, params, nonce, ciphertext, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
      const t = now();
      db.transaction(() => {
        meta.run('schema', SCHEMA_VERSION);
        meta.run('kdf', JSON.stringify(kdf));
        meta.run('key_check', JSON.stringify({ nonce: Buffer.from(check.nonce).toString('hex'), ct: Buffer.from(check.ciphertext).toString('hex') }));
        meta.run('settings', JSON.stringify(o.settings));
        meta.run('created_at', String(t));
        // Source serials may repeat (RFC 6030 Figure 10: two keys of one device); seeds are told apart by id.
        o.seeds.forEach((s, i) => {
          const id = i + 1;
          const params: SeedParamsJson = { type: s.type, algorithm: s.algorithm, digits: s.digits, periodSec: s.periodSec, t0: s.t0.toString(), counter: s.counter.toString() };
          if (s.ocraSuite !== undefined) params.ocraSuite = s.ocraSuite;
          if (s.label !== undefined) params.label = s.label;
          if (s.user !== undefined) params.user = s.user;
          if (s.issuer !== undefined) params.issuer = s.issuer;
          if (s.keyId !== undefined) params.keyId = s.keyId;
          if (s.manufacturer !== undefined) params.manufacturer = s.manufacturer;
          const sealed = seal(key, s.secret.exposeSecretBytes(), seedAad(id));
          ins.run(id, s.serial, s.type, JSON.stringify(params), sealed.nonce, sealed.ciphertext, t);
        });
        meta.run('ready', '1');
      })();
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
    } catch (e) {
      if (db.open) db.close();
      for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
      if (o.key.kind === 'file') rmSync(keyFilePath(o.path), { force: true });
      throw e;
    }
    for (const f of [`${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
    chmodSync(tmp, 0o600); // the seeds in it are encrypted, but their parameters and serials need not be public
    renameSync(tmp, o.path);
    fsyncDir(o.path);
    return new Journal(o.path, openDb(o.path), key, now);
  }

  /** Opens an existing journal; checks its key before returning. */
  static open(path: string, keyOptions: JournalKeyOptions, now: () => number = Date.now): Journal {
    if (!existsSync(path)) throw fault('JOURNAL_CORRUPT', `no journal at ${path}${existsSync(`${path}.creating`) ? ' (its creation was interrupted before any token was touched; start the batch again)' : ''}`);
    let db: Database.Database;
    try {
      db = openDb(path);
    } catch (e) {
      throw fault('JOURNAL_CORRUPT', `${path} is not a readable SQLite journal`, e);
    }
    try {
      const meta = new Map<string, string>();
      for (const r of db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]) meta.set(r.key, r.value);
      if (meta.get('schema') !== SCHEMA_VERSION || meta.get('ready') !== '1') throw fault('JOURNAL_CORRUPT', `${path} is not a complete tokenforge journal (schema ${meta.get('schema') ?? 'none'})`);
      const kdf = JSON.parse(meta.get('kdf') ?? '{}') as { kind?: string; salt?: string };
      let key: Uint8Array;
      if (kdf.kind === 'file') {
        if (keyOptions.kind !== 'file') throw fault('JOURNAL_KEY', `journal ${path} uses a key file (${keyFilePath(path)}), not a passphrase`);
        key = readKeyFile(keyFilePath(path));
      } else if (kdf.kind === 'scrypt' && typeof kdf.salt === 'string') {
        if (keyOptions.kind !== 'passphrase') throw fault('JOURNAL_KEY', `journal ${path} was made with a passphrase; give it again to resume`);
        key = deriveKey(keyOptions.passphrase, Uint8Array.from(Buffer.from(kdf.salt, 'hex')));
      } else {
        throw fault('JOURNAL_CORRUPT', `journal ${path} names an unknown key derivation`);
      }
      const kc = JSON.parse(meta.get('key_check') ?? '{}') as { nonce?: string; ct?: string };
      const pt = open(key, Uint8Array.from(Buffer.from(kc.nonce ?? '', 'hex')), Uint8Array.from(Buffer.from(kc.ct ?? '', 'hex')), 'tokenforge-journal/v1/key-check');
      const expected = Buffer.from(KEY_CHECK_PLAINTEXT, 'utf8');
      if (pt.length !== expected.length || !timingSafeEqual(pt, expected)) throw fault('JOURNAL_KEY', 'the journal key does not open this journal');
      return new Journal(path, db, key, now);
    } catch (e) {
      db.close();
      if (e instanceof ProvisionFault) throw e;
      throw fault('JOURNAL_CORRUPT', `journal ${path} is damaged`, e);
    }
  }

  settings(): Record<string, unknown> {
    const r = this.#db.prepare("SELECT value FROM meta WHERE key = 'settings'").get() as { value: string } | undefined;
    return r ? (JSON.parse(r.value) as Record<string, unknown>) : {};
  }

  /** The row of the seed assigned to `tokenSerial`, if any. */
  findByToken(tokenSerial: string): SeedRow | undefined {
    const r = this.#stmt.byToken.get(tokenSerial);
    return r ? toRow(r) : undefined;
  }

  row(id: number): SeedRow {
    const r = this.#stmt.byId.get(id);
    if (!r) throw fault('JOURNAL_CORRUPT', `journal has no seed ${id}`);
    return toRow(r);
  }

  rows(): SeedRow[] {
    return (this.#db.prepare('SELECT * FROM seeds ORDER BY id').all() as SeedDbRow[]).map(toRow);
  }

  /**
   * Assigns a seed to `tokenSerial` in one committed transaction and returns it: the seed already assigned to
   * it if there is one (a resumed batch), else a free seed whose source serial equals the token serial, else
   * the first free seed in source order — among seeds of a type the token supports (`types`). NO_SEED_LEFT when no such seed is free.
   */
  assign(tokenSerial: string, target: string | null = null, types: readonly SeedType[] = ['hotp', 'totp', 'ocra']): SeedRow {
    return this.#db.transaction((): SeedRow => this.#assign(tokenSerial, target, types)).immediate();
  }

  /** `assign` group-committed (see `#enqueue`): resolves after the transaction holding it was fsync'ed. */
  assignAsync(tokenSerial: string, target: string | null = null, types: readonly SeedType[] = ['hotp', 'totp', 'ocra']): Promise<SeedRow> {
    return this.#enqueue(true, () => this.#assign(tokenSerial, target, types));
  }

  #assign(tokenSerial: string, target: string | null, types: readonly SeedType[]): SeedRow {
    {
      const mine = this.#stmt.byToken.get(tokenSerial);
      if (mine) return toRow(mine);
      let free = this.#stmt.pendingBySource.get(tokenSerial);
      if (free && !types.includes(free.seed_type as SeedType)) free = undefined;
      const [a, b, c] = [types[0] ?? '', types[1] ?? types[0] ?? '', types[2] ?? types[0] ?? ''];
      free ??= this.#stmt.firstPending.get(a, b, c);
      if (!free) throw fault('NO_SEED_LEFT', `no free seed of a type this token supports (${types.join('/')}) is left in the batch`);
      const t = this.#now();
      this.#stmt.event.run(t, target, tokenSerial, free.id, 'assign', 'begin', null);
      const changed = this.#stmt.setToken.run(tokenSerial, t, free.id).changes;
      if (changed !== 1) throw fault('JOURNAL_CORRUPT', `seed ${free.id} was assigned concurrently`);
      this.#stmt.event.run(t, target, tokenSerial, free.id, 'assign', 'end', null);
      return toRow(this.#stmt.byId.get(free.id)!);
    }
  }

  /** The full record (with its secret decrypted) of a seed row. */
  seed(row: Pick<SeedRow, 'id'>): SeedRecord {
    const r = this.#stmt.byId.get(row.id);
    if (!r) throw fault('JOURNAL_CORRUPT', `journal has no seed ${row.id}`);
    const p = JSON.parse(r.params) as SeedParamsJson;
    const out: SeedRecord = {
      serial: r.token_serial ?? r.source_serial,
      secret: new Secret(open(this.#key, r.nonce, r.ciphertext, seedAad(r.id))),
      type: p.type,
      algorithm: p.algorithm,
      digits: p.digits,
      periodSec: p.periodSec,
      t0: BigInt(p.t0),
      counter: BigInt(p.counter),
    };
    if (p.ocraSuite !== undefined) out.ocraSuite = p.ocraSuite;
    if (p.label !== undefined) out.label = p.label;
    if (p.user !== undefined) out.user = p.user;
    if (p.issuer !== undefined) out.issuer = p.issuer;
    if (p.keyId !== undefined) out.keyId = p.keyId;
    if (p.manufacturer !== undefined) out.manufacturer = p.manufacturer;
    return out;
  }

  /**
   * An event-log record that recovery never depends on, committed with synchronous=NORMAL: in WAL mode it is
   * in the log before the step runs and survives a killed process (only an OS crash or power cut can drop
   * it, and then the next FULL commit has not happened either, because the WAL is written in order). The
   * records recovery does depend on — assignment and stage changes — are committed with synchronous=FULL.
   */
  #relaxed(step: Step, phase: 'begin' | 'end', ctx: EventContext): void {
    this.#db.pragma('synchronous = NORMAL');
    try {
      this.#event(step, phase, ctx);
    } finally {
      this.#db.pragma('synchronous = FULL');
    }
  }

  #event(step: Step, phase: 'begin' | 'end', ctx: EventContext): void {
    this.#stmt.event.run(this.#now(), ctx.target ?? null, ctx.tokenSerial ?? null, ctx.seedId ?? null, step, phase, ctx.detail ?? null);
  }

  /** Records that `step` is about to run (in the log before the step's side effect happens). */
  begin(step: Step, ctx: EventContext): void {
    this.#relaxed(step, 'begin', ctx);
  }

  /** `begin` group-committed: resolves once the record is committed (synchronous=NORMAL unless batched with a durable record). */
  beginAsync(step: Step, ctx: EventContext): Promise<void> {
    return this.#enqueue(false, () => this.#event(step, 'begin', ctx), true);
  }

  /** Records that `step` finished without moving a seed (identify, authenticate). */
  note(step: Step, ctx: EventContext): void {
    this.#relaxed(step, 'end', ctx);
  }

  /** `note` group-committed. */
  noteAsync(step: Step, ctx: EventContext): Promise<void> {
    return this.#enqueue(false, () => this.#event(step, 'end', ctx), true);
  }

  /**
   * Records that `step` finished for seed `seedId` and moves its stage to `stage` (never back), in one
   * transaction; optional fields (KCV, counter to register) are written in the same transaction.
   */
  advance(seedId: number, step: Step, stage: Stage, extra: AdvanceExtra = {}): SeedRow {
    // fsync only where the next side effect depends on this record surviving a power cut (see the header).
    const durable = FSYNC_STAGES.has(stage);
    if (!durable) this.#db.pragma('synchronous = NORMAL');
    try {
      return this.#advance(seedId, step, stage, extra);
    } finally {
      if (!durable) this.#db.pragma('synchronous = FULL');
    }
  }

  /** `advance` group-committed: resolves after the transaction holding it committed — fsync'ed for 'assigned'/'checked'. */
  advanceAsync(seedId: number, step: Step, stage: Stage, extra: AdvanceExtra = {}): Promise<SeedRow> {
    return this.#enqueue(FSYNC_STAGES.has(stage), () => this.#advanceTx(seedId, step, stage, extra));
  }

  #advance(seedId: number, step: Step, stage: Stage, extra: AdvanceExtra): SeedRow {
    return this.#db.transaction((): SeedRow => this.#advanceTx(seedId, step, stage, extra))();
  }

  #advanceTx(seedId: number, step: Step, stage: Stage, extra: AdvanceExtra): SeedRow {
    {
      const r = this.#stmt.byId.get(seedId);
      if (!r) throw fault('JOURNAL_CORRUPT', `journal has no seed ${seedId}`);
      const t = this.#now();
      if (extra.kcv !== undefined) this.#stmt.setKcv.run(extra.kcv, seedId);
      if (extra.registerCounter !== undefined) {
        if (r.register_counter !== null && BigInt(r.register_counter) !== extra.registerCounter && r.stage >= STAGE_RANK.registered) {
          throw fault('JOURNAL_CORRUPT', `seed ${seedId} is registered with counter ${r.register_counter}; it cannot change`);
        }
        this.#stmt.setCounter.run(extra.registerCounter.toString(), seedId);
      }
      this.#stmt.advance.run(STAGE_RANK[stage], t, seedId);
      this.#stmt.event.run(t, extra.target ?? null, r.token_serial, seedId, step, 'end', extra.detail ?? null);
      return toRow(this.#stmt.byId.get(seedId)!);
    }
  }

  /** Records a failure of `step` for an assigned seed; the stage stays where it was. */
  failSeed(seedId: number, step: Step, code: string, message: string, target: string | null = null): void {
    this.#db.pragma('synchronous = NORMAL');
    try {
      this.#failSeed(seedId, step, code, message, target);
    } finally {
      this.#db.pragma('synchronous = FULL');
    }
  }

  #failSeed(seedId: number, step: Step, code: string, message: string, target: string | null): void {
    this.#db.transaction(() => this.#failSeedTx(seedId, step, code, message, target))();
  }

  #failSeedTx(seedId: number, step: Step, code: string, message: string, target: string | null): void {
    const t = this.#now();
    const r = this.#stmt.byId.get(seedId);
    this.#stmt.setError.run(code, message, t, seedId);
    this.#stmt.event.run(t, target, r?.token_serial ?? null, seedId, step, 'fail', `${code}: ${message}`);
  }

  /** `failSeed` group-committed (synchronous=NORMAL unless batched with a durable record). */
  failSeedAsync(seedId: number, step: Step, code: string, message: string, target: string | null = null): Promise<void> {
    return this.#enqueue(false, () => this.#failSeedTx(seedId, step, code, message, target));
  }

  /** Records a token that failed without a seed (wrong PIN, already locked, unreachable...). */
  failToken(target: string, tokenSerial: string | null, step: Step, code: string, message: string): void {
    this.#db.transaction(() => this.#failTokenTx(target, tokenSerial, step, code, message))();
  }

  #failTokenTx(target: string, tokenSerial: string | null, step: Step, code: string, message: string): void {
    const t = this.#now();
    this.#stmt.tokenFail.run(target, tokenSerial, code, message, t);
    this.#stmt.event.run(t, target, tokenSerial, null, step, 'fail', `${code}: ${message}`);
  }

  /** `failToken` group-committed (synchronous=NORMAL unless batched with a durable record: resume retries the token anyway). */
  failTokenAsync(target: string, tokenSerial: string | null, step: Step, code: string, message: string): Promise<void> {
    return this.#enqueue(false, () => this.#failTokenTx(target, tokenSerial, step, code, message));
  }

  /**
   * Group commit. Records asked for by concurrent workers are queued and written, at the next setImmediate,
   * in ONE transaction: each record in its own SAVEPOINT (a record that fails — NO_SEED_LEFT, a trigger —
   * is rolled back alone and rejects only its own promise), the whole batch committed once. Every promise
   * settles only AFTER that COMMIT returned, so a caller never acts on a record that is not durable to the
   * degree the record needs — the guarantee the synchronous methods give, at one commit (and at most one
   * fsync) per batch instead of one per record. Records of one worker stay in order (it awaits each).
   *
   * The COMMIT itself runs with synchronous=NORMAL: SQLite has written the batch's WAL frames (write(2)) when
   * it returns, which is all a killed process needs. If a record of the batch must also survive a power cut
   * ('assigned', 'checked'), the batch's promises settle only after an fsync of the WAL file that started after
   * the COMMIT — what synchronous=FULL does inside COMMIT, but on libuv's thread pool instead of the event
   * loop, so other workers run while the disk syncs. The WAL is append-ordered, so that fsync makes every
   * earlier record durable too; checkpoints keep SQLite's own syncs (NORMAL syncs the WAL before copying it
   * into the database). If an fsync fails, the journal refuses every later record (the kernel may have dropped
   * the unsynced pages), and the batch's callers get the error instead of a result.
   */
  #enqueue<T>(durable: boolean, run: () => T, singleStatement = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#syncFailure) {
        reject(this.#syncFailure);
        return;
      }
      this.#queue.push({ durable, singleStatement, run, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    const ops = this.#queue;
    this.#queue = [];
    if (ops.length === 0) return;
    const durable = ops.some((o) => o.durable);
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      if (!this.#db.open) throw fault('JOURNAL_CORRUPT', 'the journal was closed before its records were written');
      this.#db.pragma('synchronous = NORMAL');
      try {
        this.#batch(() => {
          for (const op of ops) {
            try {
              // One INSERT is atomic by itself (SQLite undoes a failed statement, not the transaction): no
              // SAVEPOINT needed, which saves two statements per event-log record.
              outcomes.push({ ok: true, value: op.singleStatement ? op.run() : this.#savepoint(op.run) });
            } catch (error) {
              outcomes.push({ ok: false, error });
            }
          }
        });
      } finally {
        if (this.#db.open) this.#db.pragma('synchronous = FULL');
      }
      this.#batches.total++;
      if (durable) this.#batches.durable++;
      this.#batches.records += ops.length;
    } catch (error) {
      // The batch did not commit: nothing of it is in the journal and no caller may act on any of it.
      for (const op of ops) op.reject(error);
      return;
    }
    const settle = (): void =>
      ops.forEach((op, i) => {
        const o = outcomes[i]!;
        if (o.ok) op.resolve(o.value);
        else op.reject(o.error);
      });
    if (!durable) {
      settle();
      return;
    }
    this.#syncWal().then(settle, (error: unknown) => {
      this.#syncFailure ??= fault('JOURNAL_CORRUPT', `the journal could not be synced to disk (${error instanceof Error ? error.message : String(error)}); its last records may not be durable: check the disk, then --resume`, error);
      for (const op of ops) op.reject(this.#syncFailure);
    });
  }

  /**
   * fsync of the WAL file, off the event loop (opened by name each time: always the file SQLite writes now).
   * No WAL file means close() checkpointed it into the database and removed it: the database is synced then.
   */
  async #syncWal(): Promise<void> {
    const fh = await openFile(`${this.path}-wal`, 'r').catch((e: unknown) => {
      if ((e as { code?: unknown }).code === 'ENOENT') return openFile(this.path, 'r');
      throw e;
    });
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /** Group-commit counters since the journal was opened: transactions, how many fsync'ed, records in them. */
  commitStats(): { transactions: number; durableTransactions: number; records: number } {
    return { transactions: this.#batches.total, durableTransactions: this.#batches.durable, records: this.#batches.records };
  }

  /** Forgets a target's earlier failure (it is being retried). */
  clearTokenFailure(target: string): void {
    if (this.#stmt.tokenHas.get(target)) this.#stmt.tokenClear.run(target);
  }

  tokenFailures(): TokenFailure[] {
    return (this.#db.prepare('SELECT target, token_serial, code, message FROM token_failures ORDER BY target').all() as { target: string; token_serial: string | null; code: string; message: string }[]).map(
      (r) => ({ target: r.target, tokenSerial: r.token_serial, code: r.code, message: r.message }),
    );
  }

  counts(): JournalCounts {
    const byStage = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
    let total = 0;
    for (const r of this.#db.prepare('SELECT stage, COUNT(*) AS n FROM seeds GROUP BY stage').all() as { stage: number; n: number }[]) {
      byStage[stageName(r.stage)] = r.n;
      total += r.n;
    }
    const failed = (this.#db.prepare('SELECT COUNT(*) AS n FROM seeds WHERE error_code IS NOT NULL').get() as { n: number }).n;
    return { total, byStage, failedSeeds: failed };
  }

  /** The event log (for tests and `--json` reports); details never contain secrets. */
  events(): { at: number; target: string | null; tokenSerial: string | null; seedId: number | null; step: string; phase: string; detail: string | null }[] {
    return (this.#db.prepare('SELECT at, target, token_serial, seed_id, step, phase, detail FROM events ORDER BY id').all() as {
      at: number;
      target: string | null;
      token_serial: string | null;
      seed_id: number | null;
      step: string;
      phase: string;
      detail: string | null;
    }[]).map((r) => ({ at: r.at, target: r.target, tokenSerial: r.token_serial, seedId: r.seed_id, step: r.step, phase: r.phase, detail: r.detail }));
  }

  /** Closes the journal; records still queued for a group commit are committed first. */
  close(): void {
    if (this.#db.open && this.#queue.length > 0) this.#flush();
    if (this.#db.open) this.#db.close();
    this.#key.fill(0);
  }
}
