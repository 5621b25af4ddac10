/**
 * The provisioning journal (DESIGN.md "The provisioner"): a SQLite file (better-sqlite3, WAL) that makes a
 * batch crash-safe. Every seed of the batch is in it (sealed, see sealing.ts) before any token is touched;
 * every step of the pipeline is recorded before it runs and after it ran; `tokenforge provision --resume
 * JOURNAL` continues from what it says.
 *
 * Invariants:
 * - A seed is assigned to a token serial ONCE, in a committed transaction, BEFORE its bytes are sent to that
 *   token (`assign`); the schema keeps it there (schema.ts). On resume, a seed assigned to a token is only
 *   ever completed on that same token.
 * - The stage only moves forward; the counter registered with the verifier is fixed in the transaction that
 *   records the check (records.ts).
 * - Durability against a killed process: every record's promise settles only after the transaction holding
 *   it committed, before the next step runs. Against a power cut: the records a later side effect depends on
 *   — the seed→token assignment (before PUT_SLOT) and the check with its counter (before registering) — are
 *   fsync'ed before their promise settles; the others (step-begin records, written/locked/registered/
 *   committed, failures) are not, because recovery re-reads the token (GET_INFO, GET_SLOT's KCV) and re-sends
 *   idempotent requests instead of trusting them; the WAL keeps them in order, so a later fsync makes all
 *   earlier records durable too. All records are group-committed (group-commit.ts): one transaction per tick
 *   for all workers, the fsync a batch needs done off the event loop.
 * - The journal is created complete or not at all: it is built under a temporary name and renamed into
 *   place after its single creation transaction committed and the WAL was checkpointed.
 */
import Database from 'better-sqlite3';
import { chmodSync, existsSync, renameSync, rmSync } from 'node:fs';
import { OTP_TYPES, type OtpType } from '../../otp/otp-params.ts';
import { Secret } from '../../otp/secret.ts';
import { ProvisionFault } from '../faults.ts';
import type { SeedRecord } from '../seed.ts';
import { createGroupCommit, enqueue, flush, type CommitStats, type GroupCommit } from './group-commit.ts';
import { advanceSeed, assignSeed, failSeed, failToken, writeEvent, type AdvanceExtra, type EventContext, type RecordContext } from './records.ts';
import { FSYNC_STAGES, openDb, prepareStatements, SCHEMA, SCHEMA_VERSION, stageName, STAGES, toRow, type SeedDbRow, type SeedRow, type Stage, type Statements, type Step } from './schema.ts';
import { discardJournalKey, fsyncDir, journalKey, keyCheckMeta, newJournalKey, openSeed, sealSeed, type JournalKeyOptions } from './sealing.ts';
import { seedFromJson, seedParamsToJson } from './seed-json.ts';

/** A token that failed before a seed was assigned to it (wrong PIN, already locked, unreachable...). */
export interface TokenFailure {
  target: string;
  tokenSerial: string | null;
  code: string;
  message: string;
}

export interface JournalCounts {
  total: number;
  byStage: Record<Stage, number>;
  failedSeeds: number;
}

export interface JournalEvent {
  at: number;
  target: string | null;
  tokenSerial: string | null;
  seedId: number | null;
  step: string;
  phase: string;
  detail: string | null;
}

export interface CreateJournalOptions {
  path: string;
  seeds: readonly SeedRecord[];
  /** Batch settings kept for --resume (never secrets: no API key, no export password). */
  settings: Readonly<Record<string, unknown>>;
  key: JournalKeyOptions;
  now?: () => number;
}

const creationFiles = (tmp: string): string[] => [tmp, `${tmp}-wal`, `${tmp}-shm`];

/** Writes the schema, the meta values and every sealed seed into a new database file, in one transaction. */
function writeNewJournal(db: Database.Database, o: CreateJournalOptions, key: Uint8Array, kdf: string, t: number): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(SCHEMA);
  const meta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
  const ins = db.prepare('INSERT INTO seeds (id, source_serial, seed_type, params, nonce, ciphertext, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
  db.transaction(() => {
    meta.run('schema', SCHEMA_VERSION);
    meta.run('kdf', kdf);
    meta.run('key_check', keyCheckMeta(key));
    meta.run('settings', JSON.stringify(o.settings));
    meta.run('created_at', String(t));
    // Source serials may repeat (RFC 6030 Figure 10: two keys of one device); seeds are told apart by id.
    o.seeds.forEach((s, i) => {
      const id = i + 1;
      const sealed = sealSeed(key, id, s.secret.exposeSecretBytes());
      ins.run(id, s.serial, s.otp.type, seedParamsToJson(s), sealed.nonce, sealed.ciphertext, t);
    });
    meta.run('ready', '1');
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
}

function readMeta(db: Database.Database): Map<string, string> {
  const meta = new Map<string, string>();
  for (const r of db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]) meta.set(r.key, r.value);
  return meta;
}

export class Journal {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #key: Uint8Array;
  readonly #stmt: Statements;
  readonly #records: RecordContext;
  readonly #gc: GroupCommit;

  private constructor(path: string, db: Database.Database, key: Uint8Array, now: () => number) {
    this.path = path;
    this.#db = db;
    this.#key = key;
    this.#stmt = prepareStatements(db);
    this.#records = { stmt: this.#stmt, now };
    this.#gc = createGroupCommit(db, path);
  }

  /**
   * Creates a journal holding every seed (sealed) and the batch settings. Refuses (JOURNAL_EXISTS) if a
   * journal is already at `path`. Either the whole journal appears at `path` or nothing does.
   */
  static create(o: CreateJournalOptions): Journal {
    const now = o.now ?? Date.now;
    if (existsSync(o.path)) throw new ProvisionFault('JOURNAL_EXISTS', `journal ${o.path} already exists; continue it with --resume ${o.path} or choose another --journal`);
    const tmp = `${o.path}.creating`;
    for (const f of creationFiles(tmp)) rmSync(f, { force: true });
    const { key, kdf } = newJournalKey(o.path, o.key);
    const db = new Database(tmp);
    try {
      writeNewJournal(db, o, key, kdf, now());
      db.close();
    } catch (e) {
      if (db.open) db.close();
      for (const f of creationFiles(tmp)) rmSync(f, { force: true });
      discardJournalKey(o.path, o.key);
      throw e;
    }
    for (const f of creationFiles(tmp).slice(1)) rmSync(f, { force: true });
    chmodSync(tmp, 0o600); // the seeds in it are sealed, but their parameters and serials need not be public
    renameSync(tmp, o.path);
    fsyncDir(o.path);
    return new Journal(o.path, openDb(o.path), key, now);
  }

  /** Opens an existing journal; checks its key before returning. */
  static open(path: string, keyOptions: JournalKeyOptions, now: () => number = Date.now): Journal {
    if (!existsSync(path)) throw new ProvisionFault('JOURNAL_CORRUPT', `no journal at ${path}${existsSync(`${path}.creating`) ? ' (its creation was interrupted before any token was touched; start the batch again)' : ''}`);
    let db: Database.Database;
    try {
      db = openDb(path);
    } catch (e) {
      throw new ProvisionFault('JOURNAL_CORRUPT', `${path} is not a readable SQLite journal`, { cause: e });
    }
    try {
      const meta = readMeta(db);
      if (meta.get('schema') !== SCHEMA_VERSION || meta.get('ready') !== '1') throw new ProvisionFault('JOURNAL_CORRUPT', `${path} is not a complete tokenforge journal (schema ${meta.get('schema') ?? 'none'})`);
      const key = journalKey(path, meta.get('kdf'), meta.get('key_check'), keyOptions);
      return new Journal(path, db, key, now);
    } catch (e) {
      db.close();
      if (e instanceof ProvisionFault) throw e;
      throw new ProvisionFault('JOURNAL_CORRUPT', `journal ${path} is damaged`, { cause: e });
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
    return toRow(this.#dbRow(id));
  }

  rows(): SeedRow[] {
    return (this.#db.prepare('SELECT * FROM seeds ORDER BY id').all() as SeedDbRow[]).map(toRow);
  }

  /** The full record (with its secret opened) of a seed row. The caller wipes the secret. */
  seed(row: Pick<SeedRow, 'id'>): SeedRecord {
    const r = this.#dbRow(row.id);
    return seedFromJson(r.token_serial ?? r.source_serial, new Secret(openSeed(this.#key, r.id, r.nonce, r.ciphertext)), r.params);
  }

  #dbRow(id: number): SeedDbRow {
    const r = this.#stmt.byId.get(id);
    if (!r) throw new ProvisionFault('JOURNAL_CORRUPT', `journal has no seed ${id}`);
    return r;
  }

  /**
   * Assigns a seed to `tokenSerial` (records.ts `assignSeed`) and resolves with its row once the transaction
   * holding the assignment committed and was fsync'ed. NO_SEED_LEFT when no seed of `types` is free.
   */
  assign(tokenSerial: string, target: string | null = null, types: readonly OtpType[] = OTP_TYPES): Promise<SeedRow> {
    return enqueue(this.#gc, true, () => assignSeed(this.#records, tokenSerial, target, types));
  }

  /** Records that `step` is about to run; resolves once the record committed (in the log before the step acts). */
  begin(step: Step, ctx: EventContext): Promise<void> {
    return enqueue(this.#gc, false, () => writeEvent(this.#records, step, 'begin', ctx), true);
  }

  /** Records that `step` finished without moving a seed (identify, authenticate). */
  note(step: Step, ctx: EventContext): Promise<void> {
    return enqueue(this.#gc, false, () => writeEvent(this.#records, step, 'end', ctx), true);
  }

  /**
   * Records that `step` finished for seed `seedId` and moves its stage to `stage` (never back), with the
   * optional fields (KCV, counter to register) in the same transaction. Resolves after that transaction
   * committed — fsync'ed for 'assigned'/'checked' (schema.ts FSYNC_STAGES).
   */
  advance(seedId: number, step: Step, stage: Stage, extra: AdvanceExtra = {}): Promise<SeedRow> {
    return enqueue(this.#gc, FSYNC_STAGES.has(stage), () => advanceSeed(this.#records, seedId, step, stage, extra));
  }

  /** Records a failure of `step` for an assigned seed; the stage stays where it was. */
  failSeed(seedId: number, step: Step, code: string, message: string, target: string | null = null): Promise<void> {
    return enqueue(this.#gc, false, () => failSeed(this.#records, seedId, step, code, message, target));
  }

  /** Records a token that failed without a seed (not fsync'ed on its own: resume retries the token anyway). */
  failToken(target: string, tokenSerial: string | null, step: Step, code: string, message: string): Promise<void> {
    return enqueue(this.#gc, false, () => failToken(this.#records, target, tokenSerial, step, code, message));
  }

  /** Forgets a target's earlier failure (it is being retried). */
  clearTokenFailure(target: string): void {
    if (this.#stmt.tokenHas.get(target)) this.#stmt.tokenClear.run(target);
  }

  /** Group-commit counters since the journal was opened: transactions, how many fsync'ed, records in them. */
  commitStats(): CommitStats {
    return { ...this.#gc.stats };
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
  events(): JournalEvent[] {
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
    if (this.#db.open && this.#gc.queue.length > 0) flush(this.#gc);
    if (this.#db.open) this.#db.close();
    this.#key.fill(0);
  }
}
