/**
 * SQLite store (better-sqlite3, WAL). Every write is one BEGIN IMMEDIATE transaction, which takes SQLite's
 * single writer lock up front: the read-decide-write of `updateToken` is therefore atomic across processes that
 * share the file, and busy_timeout makes a second process wait instead of failing. Statements are prepared once.
 *
 * Concurrent updateToken calls of one process are group-committed (see flush below).
 *
 * Durability: synchronous=NORMAL (default) survives a killed process — the WAL is in the OS page cache — but a
 * power cut may drop the last commits; `synchronous: 'full'` fsyncs each commit (see docs/verifier.md).
 */
import Database from 'better-sqlite3';
import { chainEntry, type AuditEntry, type AuditFilter, type AuditInput } from '../domain/audit.ts';
import { admitSeed, tombstoneOf } from '../domain/lifecycle.ts';
import { withDynamic, type TokenDynamic, type TokenRecord } from '../domain/types.ts';
import type { UserRecord } from '../domain/users.ts';
import { VerifierError } from '../errors.ts';
import { MIGRATIONS } from './migrations.ts';
import {
  apiKeyFromRow, auditFromRow, auditSelect, DYNAMIC_COLUMNS, dynamicValues, TOKEN_COLUMNS, tokenFromRow, tokenValues, TOMBSTONE_COLUMNS,
  tombstoneFromRow, tombstoneValues, userFromRow, userValues, tokenSelect, tokenWhere, batchFromRows, BATCH_GROUP_SQL, BATCH_SOURCE_SQL, type Row,
} from './rows.ts';
import type { ApiKeyRecord, BulkOutcome, RegisterOptions, RegisterOutcome, TokenEdit, TokenFilter, UpdateOutcome, VerifierStore } from './types.ts';

export interface SqliteOptions {
  busyTimeoutMs?: number;
  synchronous?: 'normal' | 'full';
  /** SQLite page cache in MiB (default 64). */
  cacheMiB?: number;
  /** Committed token rows remembered to skip the SELECT of a verification (default 10000; 0 disables). */
  rowCache?: number;
}

type Statements = ReturnType<typeof prepare>;
type Decide = (t: TokenRecord | undefined) => UpdateOutcome<unknown>;
type Pending = { serial: string; decide: Decide; resolve(v: unknown): void; reject(e: unknown): void };

/** Updates that arrive in one event-loop turn share one transaction, at most this many. */
const MAX_GROUP = 256;

/** The open store: the connection, its statements, the row cache and the group-commit queue. */
interface SqliteState {
  readonly db: Database.Database;
  readonly q: Statements;
  /** Inside a group transaction the chain head is read once and written once (append keeps it here). */
  groupHead: { seq: number; hash: string } | null;
  /** Committed rows by serial (see the row cache comment at updateOne); at most rowCacheMax, 0 disables. */
  readonly rowCache: Map<string, TokenRecord>;
  readonly rowCacheMax: number;
  /** Cache changes of the running group; applied only after its COMMIT. */
  groupSeen: Array<[string, TokenRecord | undefined]>;
  readonly queue: Pending[];
  /** A flush is scheduled (setImmediate) for the queue. */
  scheduled: boolean;
}

export function openSqliteStore(file: string, options: SqliteOptions = {}): VerifierStore {
  let db: Database.Database;
  try {
    db = new Database(file);
  } catch (e) {
    throw new VerifierError('STORE', `cannot open SQLite database ${file}: ${(e as Error).message}`, { cause: e });
  }
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  // Page cache per connection (SQLite's default is 2 MiB). The verify path touches token pages at random and
  // the audit_serial index at random; once they outgrow 2 MiB every statement re-reads pages through pread()
  // (measured: ~10-25% more server CPU per verification with the default). It is a cache: SQLite drops it when
  // another connection commits, so sharing the file between processes stays correct.
  db.pragma(`cache_size = ${-Math.round((options.cacheMiB ?? 64) * 1024)}`);
  migrate(db);
  const s: SqliteState = {
    db,
    q: prepare(db),
    groupHead: null,
    rowCache: new Map(),
    rowCacheMax: options.rowCache ?? 10_000,
    groupSeen: [],
    queue: [],
    scheduled: false,
  };
  return {
    kind: 'sqlite',
    getToken: async (serial) => guard('read token', () => readToken(s, serial)),
    findTokensByUser: async (user, limit) => guard('read tokens', () => (s.q.byUser.all(user, limit) as Row[]).map(tokenFromRow)),
    registerTokens: async (tokens, sameSecret, audit, opts) => guard('register', () => s.db.transaction(() => register(s, tokens, sameSecret, audit, opts)).immediate()),
    updateToken: <R>(serial: string, decide: (t: TokenRecord | undefined) => UpdateOutcome<R>) => enqueue<R>(s, serial, decide),
    deleteToken: async (serial, audit, reason) => guard('delete token', () => s.db.transaction(() => deleteToken(s, serial, audit, reason ?? null)).immediate()),
    editToken: async (serial, decide) => guard('edit token', () => s.db.transaction(() => editToken(s, serial, decide)).immediate()),
    getUser: async (user) => guard('read user', () => readUser(s, user)),
    updateUser: async (user, decide) => guard('update user', () => s.db.transaction(() => updateUser(s, user, decide)).immediate()),
    listTokens: async (f) => guard('list tokens', () => listTokens(s, f)),
    bulkUpdate: async (f, decide, audit, dryRun) => guard('bulk update', () => s.db.transaction(() => bulkUpdate(s, f, decide, audit, dryRun)).immediate()),
    batchSummary: async (id) => guard('read batch', () => batchFromRows(id, s.db.prepare(BATCH_GROUP_SQL('?')).all(id) as Row[], s.db.prepare(BATCH_SOURCE_SQL('?')).get(id) as Row | undefined)),
    listTombstones: async (fp) => guard('read tombstones', () => (s.q.tombsByFp.all(fp) as Row[]).map(tombstoneFromRow)),
    appendAudit: async (input) => guard('audit', () => s.db.transaction(() => append(s, input)).immediate()),
    listAudit: async (f) => guard('read audit', () => listAudit(s, f)),
    auditHead: async () => guard('read audit head', () => auditHead(s)),
    createApiKey: async (rec, audit) => guard('create API key', () => s.db.transaction(() => createApiKey(s, rec, audit)).immediate()),
    getApiKey: async (id) => guard('read API key', () => getApiKey(s, id)),
    listApiKeys: async () => guard('list API keys', () => (s.q.listKeys.all() as Row[]).map(apiKeyFromRow)),
    revokeApiKey: async (id, atMs, audit) =>
      guard('revoke API key', () =>
        s.db.transaction(() => {
          if (s.q.revokeKey.run(atMs, id).changes !== 1) return undefined;
          append(s, audit);
          return getApiKey(s, id);
        }).immediate(),
      ),
    touchApiKey: async (id, atMs) => {
      guard('touch API key', () => s.q.touchKey.run(atMs, id, atMs));
    },
    resealAll: async (reseal, audit) => guard('re-seal seeds', () => s.db.transaction(() => resealAll(s, reseal, audit)).immediate()),
    countTokens: async () => guard('count tokens', () => Number((s.q.count.get() as Row)['n'])),
    ping: async () => {
      guard('ping', () => s.db.prepare('SELECT 1').get());
    },
    close: async () => {
      if (s.db.open) s.db.close();
    },
  };
}

function prepare(db: Database.Database) {
  return {
    getToken: db.prepare(`SELECT * FROM tokens WHERE serial = ?`),
    byUser: db.prepare(`SELECT * FROM tokens WHERE user_name = ? ORDER BY created_at_ms, serial LIMIT ?`),
    insertToken: db.prepare(`INSERT INTO tokens (${TOKEN_COLUMNS.join(', ')}) VALUES (${TOKEN_COLUMNS.map(() => '?').join(', ')})`),
    update: db.prepare(
      `UPDATE tokens SET ${DYNAMIC_COLUMNS.map((c) => `${c} = ?`).join(', ')}, version = version + 1, updated_at_ms = ?
       WHERE serial = ? AND uid = ? AND version = ?`,
    ),
    deleteToken: db.prepare(`DELETE FROM tokens WHERE serial = ?`),
    liveByFp: db.prepare(`SELECT * FROM tokens WHERE seed_fp = ? AND serial <> ? ORDER BY serial`),
    tombsByFp: db.prepare(`SELECT * FROM tombstones WHERE seed_fp = ? ORDER BY deleted_at_ms, uid`),
    insertTomb: db.prepare(`INSERT INTO tombstones (${TOMBSTONE_COLUMNS.join(', ')}) VALUES (${TOMBSTONE_COLUMNS.map(() => '?').join(', ')})`),
    getUser: db.prepare(`SELECT * FROM users WHERE user_name = ?`),
    insertUser: db.prepare(`INSERT INTO users (user_name, fail_count, throttled_until_ms, locked_at_ms, version, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?)`),
    updateUser: db.prepare(`UPDATE users SET fail_count = ?, throttled_until_ms = ?, locked_at_ms = ?, version = ?, updated_at_ms = ? WHERE user_name = ? AND version = ?`),
    edit: db.prepare(
      `UPDATE tokens SET user_name = ?, label = ?, look_ahead = ?, window_back = ?, window_forward = ?, resync_window = ?,
       version = version + 1, updated_at_ms = ? WHERE serial = ? AND uid = ? AND version = ?`,
    ),
    head: db.prepare(`SELECT seq, hash FROM audit_head WHERE id = 1`),
    setHead: db.prepare(`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`),
    insertAudit: db.prepare(
      `INSERT INTO audit (seq, at_ms, actor, action, serial, result, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertKey: db.prepare(`INSERT INTO api_keys (id, role, hash, label, created_at_ms, revoked_at_ms, expires_at_ms, last_used_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    listKeys: db.prepare(`SELECT * FROM api_keys ORDER BY created_at_ms, id`),
    revokeKey: db.prepare(`UPDATE api_keys SET revoked_at_ms = COALESCE(revoked_at_ms, ?) WHERE id = ?`),
    touchKey: db.prepare(`UPDATE api_keys SET last_used_at_ms = ? WHERE id = ? AND (last_used_at_ms IS NULL OR last_used_at_ms < ?)`),
    getKey: db.prepare(`SELECT * FROM api_keys WHERE id = ?`),
    allSeeds: db.prepare(`SELECT serial, seed_kid, seed_sealed FROM tokens ORDER BY serial`),
    setSeed: db.prepare(`UPDATE tokens SET seed_kid = ?, seed_sealed = ?, version = version + 1 WHERE serial = ?`),
    count: db.prepare(`SELECT COUNT(*) AS n FROM tokens`),
  };
}

/** The error a caller sees: VerifierErrors as they are, SQLITE_BUSY as BUSY, anything else as STORE. */
function storeError(what: string, e: unknown): unknown {
  if (e instanceof VerifierError) return e;
  if ((e as { code?: string }).code === 'SQLITE_BUSY') return new VerifierError('BUSY', `${what}: database is busy; retry`, { cause: e });
  return new VerifierError('STORE', `${what}: ${(e as Error).message}`, { cause: e });
}

function guard<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw storeError(what, e);
  }
}

/** Appends to the audit chain; must run inside a write transaction. */
function append(s: SqliteState, input: AuditInput): AuditEntry {
  if (s.groupHead) {
    const e = chainEntry(s.groupHead.seq, s.groupHead.hash, input);
    s.q.insertAudit.run(e.seq, e.atMs, e.actor, e.action, e.serial, e.result, e.detail, e.prevHash, e.hash);
    s.groupHead = { seq: e.seq, hash: e.hash };
    return e;
  }
  const head = s.q.head.get() as Row;
  const e = chainEntry(Number(head['seq']), String(head['hash']), input);
  s.q.insertAudit.run(e.seq, e.atMs, e.actor, e.action, e.serial, e.result, e.detail, e.prevHash, e.hash);
  s.q.setHead.run(e.seq, e.hash);
  return e;
}

function readToken(s: SqliteState, serial: string): TokenRecord | undefined {
  const r = s.q.getToken.get(serial) as Row | undefined;
  return r ? tokenFromRow(r) : undefined;
}

function remember(s: SqliteState, serial: string, t: TokenRecord | undefined): void {
  s.rowCache.delete(serial);
  if (!t || s.rowCacheMax === 0) return;
  s.rowCache.set(serial, t);
  if (s.rowCache.size > s.rowCacheMax) s.rowCache.delete(s.rowCache.keys().next().value as string);
}

/** The compare-and-set write of one decision: the record after it, or null when the row has moved on. */
function writeDynamic(s: SqliteState, serial: string, t: TokenRecord, n: TokenDynamic, nowMs: number): TokenRecord | null {
  const info = s.q.update.run(...dynamicValues(n), nowMs, serial, t.uid, t.version);
  return info.changes === 1 ? withDynamic(t, n, nowMs) : null;
}

/*
 * Row cache: the last COMMITTED state of recently updated tokens, so that a verification needs no SELECT.
 * A cached record is only a guess: the decision taken on it is written with the compare-and-set
 * `WHERE serial AND uid AND version`, under the writer lock. (uid, version) names exactly one committed state
 * (versions only grow, a re-registration gets a new uid, and entries are stored only after their COMMIT), so a
 * successful compare-and-set proves the guess was the row as it is now — also when another process shares the
 * file. When it fails, or the decision writes nothing (so nothing would check it), or decide throws, the item
 * is decided again on a fresh SELECT, as without the cache.
 */

/**
 * One token's read-decide-write, run inside the group transaction. No savepoint is needed: `decide` throws
 * (unknown serial, bad request) before this item writes anything, and a failing statement aborts the group.
 */
function updateOne<R>(s: SqliteState, serial: string, decide: (t: TokenRecord | undefined) => UpdateOutcome<R>, nowMs: number): R {
  const cached = s.rowCache.get(serial);
  if (cached) {
    let guess: UpdateOutcome<R> | null = null;
    try {
      guess = decide(cached);
    } catch {
      guess = null; // decided again below on the row as read
    }
    if (guess?.next) {
      const after = writeDynamic(s, serial, cached, guess.next, nowMs);
      if (after) {
        if (guess.audit) append(s, guess.audit);
        s.groupSeen.push([serial, after]);
        return guess.value;
      }
    }
  }
  const t = readToken(s, serial);
  const out = decide(t);
  let after = t;
  if (out.next && t) {
    const w = writeDynamic(s, serial, t, out.next, nowMs);
    if (!w) throw new VerifierError('BUSY', `token ${serial} changed during verification; retry`);
    after = w;
  }
  if (out.audit) append(s, out.audit);
  s.groupSeen.push([serial, after]);
  return out.value;
}

// Group commit: updates that arrive in the same event-loop turn share one BEGIN IMMEDIATE ... COMMIT; an
// update whose decide throws is answered with that error and writes nothing. Callers are answered only after
// the COMMIT, so the durability and atomicity of each update are unchanged; only the per-commit cost is shared.

function enqueue<R>(s: SqliteState, serial: string, decide: (t: TokenRecord | undefined) => UpdateOutcome<R>): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    s.queue.push({ serial, decide, resolve: resolve as (v: unknown) => void, reject });
    if (!s.scheduled) {
      s.scheduled = true;
      setImmediate(() => flush(s));
    }
  });
}

/** Runs the next group of queued updates in one transaction and answers each caller after the COMMIT. */
function flush(s: SqliteState): void {
  s.scheduled = false;
  const group = s.queue.splice(0, MAX_GROUP);
  if (s.queue.length > 0) {
    s.scheduled = true;
    setImmediate(() => flush(s));
  }
  const results: Array<{ ok: boolean; v: unknown }> = [];
  s.groupSeen = [];
  try {
    s.db.transaction(() => {
      const now = Date.now();
      const h = s.q.head.get() as Row;
      const start = { seq: Number(h['seq']), hash: String(h['hash']) };
      s.groupHead = start;
      try {
        runGroup(s, group, now, results);
      } finally {
        const end = s.groupHead;
        s.groupHead = null;
        if (end.seq !== start.seq) s.q.setHead.run(end.seq, end.hash);
      }
    }).immediate();
    for (const [serial, t] of s.groupSeen) remember(s, serial, t);
    s.groupSeen = [];
  } catch (e) {
    s.groupHead = null;
    s.groupSeen = [];
    for (const p of group) s.rowCache.delete(p.serial);
    for (const p of group) p.reject(storeError('update token', e));
    return;
  }
  group.forEach((p, i) => {
    const r = results[i]!;
    if (r.ok) p.resolve(r.v);
    else p.reject(storeError('update token', r.v));
  });
}

/** The group's items in arrival order; a decision error (VerifierError from decide) concerns its item only. */
function runGroup(s: SqliteState, group: readonly Pending[], now: number, results: Array<{ ok: boolean; v: unknown }>): void {
  for (const p of group) {
    let v: unknown;
    try {
      v = updateOne(s, p.serial, p.decide, now);
    } catch (e) {
      // Anything else (a failed statement, a lost compare-and-set) aborts the whole group.
      if (!(e instanceof VerifierError) || e.code === 'BUSY') throw e;
      results.push({ ok: false, v: e });
      continue;
    }
    results.push({ ok: true, v });
  }
}

/** All-or-nothing registration; runs inside a write transaction. */
function register(
  s: SqliteState,
  tokens: readonly TokenRecord[],
  same: (a: TokenRecord, b: TokenRecord) => boolean,
  audit: (o: readonly RegisterOutcome[]) => AuditInput[],
  opts: RegisterOptions = {},
): RegisterOutcome[] {
  const outcomes: RegisterOutcome[] = [];
  const now = opts.nowMs ?? Date.now();
  for (const t of tokens) {
    const existing = readToken(s, t.serial);
    if (existing) {
      if (!same(existing, t)) throw new VerifierError('CONFLICT', `serial ${t.serial} is already registered with a different secret`);
      outcomes.push({ serial: t.serial, status: 'exists' });
      continue;
    }
    let record = t;
    const out: RegisterOutcome = { serial: t.serial, status: 'created' };
    if (t.seedFingerprint !== null) {
      const live = (s.q.liveByFp.all(t.seedFingerprint, t.serial) as Row[]).map(tokenFromRow);
      const tombstones = (s.q.tombsByFp.all(t.seedFingerprint) as Row[]).map(tombstoneFromRow);
      const a = admitSeed(t, { live, tombstones }, opts.rekey?.has(t.serial) ?? false);
      for (const old of live) retire(s, old, `rekey to ${t.serial}`, now);
      if (a.retire.length > 0) out.retired = a.retire;
      record = a.record;
    }
    s.q.insertToken.run(...tokenValues(record));
    outcomes.push(out);
  }
  for (const a of audit(outcomes)) append(s, a);
  return outcomes;
}

/** Deletes a row and writes its tombstone (inside a write transaction). */
function retire(s: SqliteState, t: TokenRecord, reason: string | null, nowMs: number): void {
  s.rowCache.delete(t.serial);
  s.q.deleteToken.run(t.serial);
  const x = tombstoneOf(t, reason, nowMs);
  if (x) s.q.insertTomb.run(...tombstoneValues(x));
}

function deleteToken(s: SqliteState, serial: string, audit: AuditInput, reason: string | null): boolean {
  const t = readToken(s, serial);
  if (!t) {
    s.rowCache.delete(serial);
    return false;
  }
  retire(s, t, reason, audit.atMs);
  append(s, audit);
  return true;
}

function readUser(s: SqliteState, user: string): UserRecord | undefined {
  const r = s.q.getUser.get(user) as Row | undefined;
  return r ? userFromRow(r) : undefined;
}

function updateUser<R>(s: SqliteState, user: string, decide: (u: UserRecord | undefined) => { next: UserRecord | null; audit: AuditInput | null; value: R }): R {
  const u = readUser(s, user);
  const out = decide(u);
  if (out.next) {
    const n = out.next;
    if (!u) s.q.insertUser.run(...userValues(n));
    else if (s.q.updateUser.run(n.failCount, n.throttledUntilMs, n.lockedAtMs, n.version, n.updatedAtMs, user, u.version).changes !== 1) {
      throw new VerifierError('BUSY', 'user changed during verification; retry');
    }
  }
  if (out.audit) append(s, out.audit);
  return out.value;
}

const sqliteList = { param: () => '?', inList: () => 'serial IN (SELECT value FROM json_each(?))', toList: (a: readonly string[]) => JSON.stringify(a) };

function listTokens(s: SqliteState, f: TokenFilter): TokenRecord[] {
  const { sql, args } = tokenSelect(f, sqliteList.param, sqliteList.inList, sqliteList.toList);
  return (s.db.prepare(sql).all(...args) as Row[]).map(tokenFromRow);
}

function bulkUpdate(s: SqliteState, f: TokenFilter, decide: (t: TokenRecord) => TokenDynamic | null, audit: (o: BulkOutcome) => AuditInput, dryRun: boolean): BulkOutcome {
  const { where, args } = tokenWhere({ ...f, limit: 0 }, sqliteList.param, sqliteList.inList, sqliteList.toList);
  const rows = (s.db.prepare(`SELECT * FROM tokens ${where.length ? `WHERE ${where.join(' AND ')} ` : ''}ORDER BY serial`).all(...args) as Row[]).map(tokenFromRow);
  const now = Date.now();
  let changed = 0;
  for (const t of rows) {
    const next = decide(t);
    if (!next) continue;
    changed++;
    if (dryRun) continue;
    s.rowCache.delete(t.serial);
    if (!writeDynamic(s, t.serial, t, next, now)) throw new VerifierError('BUSY', `token ${t.serial} changed during the bulk operation; retry`);
  }
  const out = { matched: rows.length, changed };
  if (!dryRun) append(s, audit(out));
  return out;
}

function editToken(s: SqliteState, serial: string, decide: (t: TokenRecord | undefined) => { edit: TokenEdit; audit: AuditInput }): TokenRecord {
  s.rowCache.delete(serial);
  const t = readToken(s, serial);
  const { edit, audit } = decide(t);
  if (!t) throw new VerifierError('NOT_FOUND', `no token with serial ${serial}`);
  const now = audit.atMs;
  const n = s.q.edit.run(edit.user, edit.label, edit.lookAhead, edit.windowBack, edit.windowForward, edit.resyncWindow, now, serial, t.uid, t.version).changes;
  if (n !== 1) throw new VerifierError('BUSY', `token ${serial} changed during the update; retry`);
  append(s, audit);
  return { ...t, ...edit, version: t.version + 1, updatedAtMs: now };
}


function listAudit(s: SqliteState, f: AuditFilter): AuditEntry[] {
  const { sql, args } = auditSelect(f, () => '?');
  return (s.db.prepare(sql).all(...args) as Row[]).map(auditFromRow);
}

function auditHead(s: SqliteState): { seq: number; hash: string } {
  const r = s.q.head.get() as Row;
  return { seq: Number(r['seq']), hash: String(r['hash']) };
}

function createApiKey(s: SqliteState, rec: ApiKeyRecord, audit: AuditInput): void {
  s.q.insertKey.run(rec.id, rec.role, rec.hash, rec.label, rec.createdAtMs, rec.revokedAtMs, rec.expiresAtMs, rec.lastUsedAtMs);
  append(s, audit);
}

function getApiKey(s: SqliteState, id: string): ApiKeyRecord | undefined {
  const r = s.q.getKey.get(id) as Row | undefined;
  return r ? apiKeyFromRow(r) : undefined;
}

function resealAll(s: SqliteState, reseal: (serial: string, kid: string, sealed: Uint8Array) => { kid: string; sealed: Uint8Array }, audit: AuditInput): number {
  let n = 0;
  s.rowCache.clear();
  for (const r of s.q.allSeeds.all() as Row[]) {
    const sealed = r['seed_sealed'] as Uint8Array;
    const out = reseal(String(r['serial']), String(r['seed_kid']), new Uint8Array(sealed));
    s.q.setSeed.run(out.kid, Buffer.from(out.sealed), r['serial']);
    n++;
  }
  append(s, { ...audit, detail: { ...audit.detail, tokens: n } });
  return n;
}

function migrate(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)`);
  db.transaction(() => {
    const done = new Set((db.prepare('SELECT id FROM schema_migrations').all() as Row[]).map((r) => Number(r['id'])));
    for (const m of MIGRATIONS) {
      if (done.has(m.id)) continue;
      for (const sql of m.sqlite) db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (id, name, applied_at_ms) VALUES (?, ?, ?)').run(m.id, m.name, Date.now());
    }
  }).immediate();
}
