/**
 * Group commit of journal records. Records asked for by concurrent workers are queued and written, at the
 * next setImmediate, in ONE transaction: each record in its own SAVEPOINT (a record that fails — NO_SEED_LEFT,
 * a trigger — is rolled back alone and rejects only its own promise), the whole batch committed once. Every
 * promise settles only AFTER that COMMIT returned, so a caller never acts on a record that is not durable to
 * the degree the record needs, at one commit (and at most one fsync) per batch instead of one per record.
 * Records of one worker stay in order (it awaits each).
 *
 * Durability. The COMMIT runs with synchronous=NORMAL: SQLite has written the batch's WAL frames (write(2))
 * when it returns, which is all a killed process needs. If a record of the batch must also survive a power
 * cut (`durable`: the seed→token assignment, the check with its counter), the batch's promises settle only
 * after an fsync of the WAL file that started after the COMMIT — what synchronous=FULL does inside COMMIT,
 * but on libuv's thread pool instead of the event loop, so other workers run while the disk syncs. The WAL
 * is append-ordered, so that fsync makes every earlier record durable too; checkpoints keep SQLite's own
 * syncs (NORMAL syncs the WAL before copying it into the database). If an fsync fails, the journal refuses
 * every later record (the kernel may have dropped the unsynced pages), and the batch's callers get the error
 * instead of a result.
 */
import type Database from 'better-sqlite3';
import { open as openFile } from 'node:fs/promises';
import { ProvisionFault } from '../faults.ts';

interface QueuedRecord {
  durable: boolean;
  /** `run` executes exactly one write statement. */
  singleStatement: boolean;
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export interface CommitStats {
  transactions: number;
  durableTransactions: number;
  records: number;
}

/** The state of the group commit of one journal connection. */
export interface GroupCommit {
  readonly db: Database.Database;
  /** The database file; its WAL is `${path}-wal`. */
  readonly path: string;
  /** One transaction (BEGIN IMMEDIATE ... COMMIT) around a batch of queued records. */
  readonly batch: (fn: () => void) => void;
  /** Nested inside `batch`, better-sqlite3 runs this as a SAVEPOINT: one record, rolled back alone if it throws. */
  readonly savepoint: (fn: () => unknown) => unknown;
  queue: QueuedRecord[];
  flushScheduled: boolean;
  stats: CommitStats;
  syncFailure: ProvisionFault | null;
}

export function createGroupCommit(db: Database.Database, path: string): GroupCommit {
  return {
    db,
    path,
    batch: db.transaction((fn: () => void) => fn()).immediate,
    savepoint: db.transaction((fn: () => unknown) => fn()),
    queue: [],
    flushScheduled: false,
    stats: { transactions: 0, durableTransactions: 0, records: 0 },
    syncFailure: null,
  };
}

/**
 * Queues a record for the next batch. `run` does the record's writes (inside the batch's transaction) and
 * returns its result; the promise settles with it once the batch committed (and, if `durable`, was synced).
 * `singleStatement` marks a record that runs exactly one statement: it needs no SAVEPOINT.
 */
export function enqueue<T>(gc: GroupCommit, durable: boolean, run: () => T, singleStatement = false): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (gc.syncFailure) {
      reject(gc.syncFailure);
      return;
    }
    gc.queue.push({ durable, singleStatement, run, resolve: resolve as (v: unknown) => void, reject });
    if (!gc.flushScheduled) {
      gc.flushScheduled = true;
      setImmediate(() => flush(gc));
    }
  });
}

/** Writes the queued records in one transaction now (also called by close()). */
export function flush(gc: GroupCommit): void {
  gc.flushScheduled = false;
  const ops = gc.queue;
  gc.queue = [];
  if (ops.length === 0) return;
  const durable = ops.some((o) => o.durable);
  let outcomes: Outcome[];
  try {
    outcomes = commitBatch(gc, ops);
  } catch (error) {
    // The batch did not commit: nothing of it is in the journal and no caller may act on any of it.
    for (const op of ops) op.reject(error);
    return;
  }
  gc.stats.transactions++;
  if (durable) gc.stats.durableTransactions++;
  gc.stats.records += ops.length;
  if (!durable) {
    settle(ops, outcomes);
    return;
  }
  syncWal(gc.path).then(
    () => settle(ops, outcomes),
    (error: unknown) => {
      gc.syncFailure ??= new ProvisionFault('JOURNAL_CORRUPT', `the journal could not be synced to disk (${error instanceof Error ? error.message : String(error)}); its last records may not be durable: check the disk, then --resume`, { cause: error });
      for (const op of ops) op.reject(gc.syncFailure);
    },
  );
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Runs every record of a batch in one transaction committed with synchronous=NORMAL; throws if it did not commit. */
function commitBatch(gc: GroupCommit, ops: readonly QueuedRecord[]): Outcome[] {
  const outcomes: Outcome[] = [];
  if (!gc.db.open) throw new ProvisionFault('JOURNAL_CORRUPT', 'the journal was closed before its records were written');
  gc.db.pragma('synchronous = NORMAL');
  try {
    gc.batch(() => {
      for (const op of ops) {
        try {
          // One INSERT is atomic by itself (SQLite undoes a failed statement, not the transaction): no
          // SAVEPOINT needed, which saves two statements per event-log record.
          outcomes.push({ ok: true, value: op.singleStatement ? op.run() : gc.savepoint(op.run) });
        } catch (error) {
          outcomes.push({ ok: false, error });
        }
      }
    });
  } finally {
    if (gc.db.open) gc.db.pragma('synchronous = FULL');
  }
  return outcomes;
}

function settle(ops: readonly QueuedRecord[], outcomes: readonly Outcome[]): void {
  ops.forEach((op, i) => {
    const o = outcomes[i]!;
    if (o.ok) op.resolve(o.value);
    else op.reject(o.error);
  });
}

/**
 * fsync of the WAL file, off the event loop (opened by name each time: always the file SQLite writes now).
 * No WAL file means close() checkpointed it into the database and removed it: the database is synced then.
 */
async function syncWal(path: string): Promise<void> {
  const fh = await openFile(`${path}-wal`, 'r').catch((e: unknown) => {
    if ((e as { code?: unknown }).code === 'ENOENT') return openFile(path, 'r');
    throw e;
  });
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
