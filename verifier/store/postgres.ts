/**
 * PostgreSQL store (pg), for several verifier instances sharing state. `updateToken` runs
 * BEGIN; SELECT ... FOR UPDATE; decide; UPDATE ... WHERE serial = $ AND version = $ (compare-and-set); audit;
 * COMMIT — the row lock queues concurrent verifications of one token (in any process) behind each other, and
 * the version check makes a lost update impossible even if the lock were missing. Audit appends lock the
 * single audit_head row, which serialises the hash chain across instances.
 *
 * Concurrent updateToken calls of one process are group-committed (see flush below).
 *
 * Schema: `schema` (or a `schema=` parameter in the URL, removed before connecting) selects a PostgreSQL schema
 * via search_path; it is created if missing. Migrations run under an advisory lock so that instances starting
 * together do not race.
 */
import pg from 'pg';
import { chainEntry, type AuditEntry, type AuditFilter, type AuditInput } from '../domain/audit.ts';
import { admitSeed, tombstoneOf } from '../domain/lifecycle.ts';
import { withDynamic, type TokenDynamic, type TokenRecord } from '../domain/types.ts';
import type { UserRecord } from '../domain/users.ts';
import { VerifierError } from '../errors.ts';
import { MIGRATIONS } from './migrations.ts';
import {
  apiKeyFromRow, auditFromRow, auditSelect, DYNAMIC_COLUMNS, dynamicValues, TOKEN_COLUMNS, tokenFromRow, tokenValues, TOMBSTONE_COLUMNS,
  tombstoneFromRow, tombstoneValues, userFromRow, tokenSelect, tokenWhere, batchFromRows, BATCH_GROUP_SQL, BATCH_SOURCE_SQL, type DynamicColumn, type Row,
} from './rows.ts';
import type { ApiKeyRecord, BulkOutcome, RegisterOptions, RegisterOutcome, TokenEdit, TokenFilter, UpdateOutcome, VerifierStore } from './types.ts';

export interface PostgresOptions {
  schema?: string;
  poolSize?: number;
}

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;
const MIGRATION_LOCK = 0x7466_7631; // "tfv1"

type Client = pg.PoolClient;

/** PostgreSQL array type of each dynamic column's values (dynamicValues), for the unnest of a group's UPDATE. */
const DYNAMIC_PG_TYPES: { readonly [C in DynamicColumn]: string } = {
  counter: 'text',
  last_step: 'text',
  drift_steps: 'int',
  fail_count: 'int',
  throttled_until_ms: 'bigint',
  state: 'text',
  pending_resync: 'text',
  pending_at_ms: 'bigint',
  last_used_at_ms: 'bigint',
  state_reason: 'text',
  lost_at_ms: 'bigint',
  revoked_at_ms: 'bigint',
};

/**
 * One UPDATE for every changed row of a group: $1 serials, then one array per dynamic column, then the new
 * versions, the versions read (the compare-and-set) and the update times.
 */
const UPDATE_DYNAMIC_SQL = (() => {
  const n = DYNAMIC_COLUMNS.length;
  const arrays = ['$1::text[]', ...DYNAMIC_COLUMNS.map((c, i) => `$${i + 2}::${DYNAMIC_PG_TYPES[c]}[]`), `$${n + 2}::bigint[]`, `$${n + 3}::bigint[]`, `$${n + 4}::bigint[]`];
  return `UPDATE tokens AS t SET ${DYNAMIC_COLUMNS.map((c) => `${c} = v.${c}`).join(', ')}, version = v.version, updated_at_ms = v.updated_at_ms
   FROM unnest(${arrays.join(', ')}) AS v(serial, ${DYNAMIC_COLUMNS.join(', ')}, version, old_version, updated_at_ms)
   WHERE t.serial = v.serial AND t.version = v.old_version`;
})();

const INSERT_TOMBSTONE_SQL = `INSERT INTO tombstones (${TOMBSTONE_COLUMNS.join(', ')}) VALUES (${TOMBSTONE_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;

const INSERT_TOKEN_SQL = `INSERT INTO tokens (${TOKEN_COLUMNS.join(', ')}) VALUES (${TOKEN_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;

type Decide = (t: TokenRecord | undefined) => UpdateOutcome<unknown>;
type Pending = { serial: string; decide: Decide; resolve(v: unknown): void; reject(e: unknown): void };

/** Updates queued while a group is in flight form the next group, at most this many. */
const MAX_GROUP = 256;

/** The open store: the pool and the group-commit queue. */
interface PgState {
  readonly pool: pg.Pool;
  readonly queue: Pending[];
  /** A flush loop is draining the queue. */
  running: boolean;
}

export async function openPostgresStore(url: string, options: PostgresOptions = {}): Promise<VerifierStore> {
  const u = new URL(url);
  const schema = options.schema ?? u.searchParams.get('schema') ?? undefined;
  u.searchParams.delete('schema');
  if (schema !== undefined && !SCHEMA_RE.test(schema)) {
    throw new VerifierError('INVALID_REQUEST', `PostgreSQL schema "${schema.slice(0, 64)}" must be lower-case letters, digits and _`);
  }
  const pool = new pg.Pool({
    connectionString: u.toString(),
    max: options.poolSize ?? 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  pool.on('error', () => {
    /* an idle client died (server restart); the pool replaces it on the next query */
  });
  await guard('migrate', () => migrate(pool, schema));
  const s: PgState = { pool, queue: [], running: false };
  return {
    kind: 'postgres',
    getToken: (serial) => guard('read token', () => readToken(pool, serial, false)),
    findTokensByUser: (user, limit) => guard('read tokens', () => findTokensByUser(pool, user, limit)),
    registerTokens: (tokens, sameSecret, audit, opts) => tx(s, 'register', (c) => register(c, tokens, sameSecret, audit, opts)),
    updateToken: <R>(serial: string, decide: (t: TokenRecord | undefined) => UpdateOutcome<R>) => enqueue<R>(s, serial, decide),
    deleteToken: (serial, audit, reason) => tx(s, 'delete token', (c) => deleteToken(c, serial, audit, reason ?? null)),
    editToken: (serial, decide) => tx(s, 'edit token', (c) => editToken(c, serial, decide)),
    getUser: (user) => guard('read user', async () => {
      const r = (await pool.query('SELECT * FROM users WHERE user_name = $1', [user])).rows[0] as Row | undefined;
      return r ? userFromRow(r) : undefined;
    }),
    updateUser: (user, decide) => tx(s, 'update user', (c) => updateUser(c, user, decide)),
    listTokens: (f) => guard('list tokens', async () => {
      const { sql, args } = tokenSelect(f, pgList.param, pgList.inList, pgList.toList);
      return (await pool.query(sql, args)).rows.map((r) => tokenFromRow(r as Row));
    }),
    bulkUpdate: (f, decide, audit, dryRun) => tx(s, 'bulk update', (c) => bulkUpdate(c, f, decide, audit, dryRun)),
    batchSummary: (id) => guard('read batch', async () => batchFromRows(id, (await pool.query(BATCH_GROUP_SQL('$1'), [id])).rows as Row[], (await pool.query(BATCH_SOURCE_SQL('$1'), [id])).rows[0] as Row | undefined)),
    listTombstones: (fp) => guard('read tombstones', async () => (await pool.query('SELECT * FROM tombstones WHERE seed_fp = $1 ORDER BY deleted_at_ms, uid', [fp])).rows.map((r) => tombstoneFromRow(r as Row))),
    appendAudit: (input) => tx(s, 'audit', (c) => append(c, input)),
    listAudit: (f) => guard('read audit', () => listAudit(pool, f)),
    auditHead: () => guard('read audit head', () => auditHead(pool)),
    createApiKey: async (rec, audit) => {
      await tx(s, 'create API key', (c) => createApiKey(c, rec, audit));
    },
    getApiKey: (id) => guard('read API key', () => getApiKey(pool, id)),
    listApiKeys: () => guard('list API keys', async () => (await pool.query('SELECT * FROM api_keys ORDER BY created_at_ms, id')).rows.map((r) => apiKeyFromRow(r as Row))),
    revokeApiKey: (id, atMs, audit) =>
      tx(s, 'revoke API key', async (c) => {
        const r = await c.query('UPDATE api_keys SET revoked_at_ms = COALESCE(revoked_at_ms, $1) WHERE id = $2 RETURNING *', [atMs, id]);
        if (r.rowCount !== 1) return undefined;
        await append(c, audit);
        return apiKeyFromRow(r.rows[0] as Row);
      }),
    touchApiKey: async (id, atMs) => {
      await guard('touch API key', () => pool.query('UPDATE api_keys SET last_used_at_ms = $1 WHERE id = $2 AND (last_used_at_ms IS NULL OR last_used_at_ms < $1)', [atMs, id]));
    },
    resealAll: (reseal, audit) => tx(s, 're-seal seeds', (c) => resealAll(c, reseal, audit)),
    countTokens: () => guard('count tokens', async () => Number((await pool.query('SELECT COUNT(*) AS n FROM tokens')).rows[0]['n'])),
    ping: async () => {
      await guard('ping', () => pool.query('SELECT 1'));
    },
    close: () => pool.end(),
  };
}

/** Runs `fn`, turning errors into the caller's: VerifierErrors as they are, contention as BUSY, else STORE. */
async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof VerifierError) throw e;
    const code = (e as { code?: string }).code;
    if (code === '40001' || code === '40P01' || code === '55P03') throw new VerifierError('BUSY', `${what}: contention; retry`, { cause: e });
    throw new VerifierError('STORE', `${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** `fn` in one transaction on a pooled client (ROLLBACK on any error). */
function tx<T>(s: PgState, what: string, fn: (c: Client) => Promise<T>): Promise<T> {
  return guard(what, async () => {
    const c = await s.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  });
}

/** Applies the missing migrations under an advisory lock; on failure the pool is closed. */
async function migrate(pool: pg.Pool, schema: string | undefined): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    if (schema) await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await c.query(`CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)`);
    const done = new Set((await c.query('SELECT id FROM schema_migrations')).rows.map((r: Row) => Number(r['id'])));
    for (const m of MIGRATIONS) {
      if (done.has(m.id)) continue;
      for (const sql of m.postgres) await c.query(sql);
      await c.query('INSERT INTO schema_migrations (id, name, applied_at_ms) VALUES ($1, $2, $3)', [m.id, m.name, Date.now()]);
    }
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    await pool.end();
    throw e;
  } finally {
    c.release();
  }
}

/** Appends to the audit chain under the head row's lock. */
async function append(c: Client, input: AuditInput): Promise<AuditEntry> {
  const h = (await c.query('SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE')).rows[0] as Row;
  const e = chainEntry(Number(h['seq']), String(h['hash']), input);
  await c.query(
    `WITH a AS (INSERT INTO audit (seq, at_ms, actor, action, serial, result, detail, prev_hash, hash)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9))
     UPDATE audit_head SET seq = $1, hash = $9 WHERE id = 1`,
    [e.seq, e.atMs, e.actor, e.action, e.serial, e.result, e.detail, e.prevHash, e.hash],
  );
  return e;
}

/** Appends several entries with one head lock and one INSERT (the chain is computed here, in order). */
async function appendMany(c: Client, inputs: readonly AuditInput[]): Promise<void> {
  const h = (await c.query('SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE')).rows[0] as Row;
  let seq = Number(h['seq']);
  let hash = String(h['hash']);
  const es: AuditEntry[] = [];
  for (const input of inputs) {
    const e = chainEntry(seq, hash, input);
    es.push(e);
    seq = e.seq;
    hash = e.hash;
  }
  const col = <T>(f: (e: AuditEntry) => T): T[] => es.map(f);
  await c.query(
    `WITH a AS (INSERT INTO audit (seq, at_ms, actor, action, serial, result, detail, prev_hash, hash)
                SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[]))
     UPDATE audit_head SET seq = $10, hash = $11 WHERE id = 1`,
    [col((e) => e.seq), col((e) => e.atMs), col((e) => e.actor), col((e) => e.action), col((e) => e.serial), col((e) => e.result), col((e) => e.detail), col((e) => e.prevHash), col((e) => e.hash), seq, hash],
  );
}

async function readToken(c: Client | pg.Pool, serial: string, lock: boolean): Promise<TokenRecord | undefined> {
  const r = await c.query(`SELECT * FROM tokens WHERE serial = $1${lock ? ' FOR UPDATE' : ''}`, [serial]);
  return r.rows[0] ? tokenFromRow(r.rows[0] as Row) : undefined;
}

async function findTokensByUser(pool: pg.Pool, user: string, limit: number): Promise<TokenRecord[]> {
  return (await pool.query('SELECT * FROM tokens WHERE user_name = $1 ORDER BY created_at_ms, serial LIMIT $2', [user, limit])).rows.map((r) => tokenFromRow(r as Row));
}

async function register(
  c: Client,
  tokens: readonly TokenRecord[],
  sameSecret: (existing: TokenRecord, incoming: TokenRecord) => boolean,
  audit: (outcomes: readonly RegisterOutcome[]) => AuditInput[],
  opts: RegisterOptions = {},
): Promise<RegisterOutcome[]> {
  const outcomes: RegisterOutcome[] = [];
  const now = opts.nowMs ?? Date.now();
  // Registrations of one seed are serialised on its fingerprint (a transaction-scoped advisory lock), so two
  // instances registering the same seed under two serials cannot both pass the holder check.
  const fps = [...new Set(tokens.map((t) => t.seedFingerprint).filter((f): f is string => f !== null))].sort();
  if (fps.length > 0) {
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended(f, 0)) FROM (SELECT f FROM unnest($1::text[]) AS f ORDER BY f) AS s', [fps]);
  }
  for (const t of tokens) {
    const existing = await readToken(c, t.serial, true);
    if (existing) {
      if (!sameSecret(existing, t)) throw new VerifierError('CONFLICT', `serial ${t.serial} is already registered with a different secret`);
      outcomes.push({ serial: t.serial, status: 'exists' });
      continue;
    }
    let record = t;
    const out: RegisterOutcome = { serial: t.serial, status: 'created' };
    if (t.seedFingerprint !== null) {
      const live = (await c.query('SELECT * FROM tokens WHERE seed_fp = $1 AND serial <> $2 ORDER BY serial FOR UPDATE', [t.seedFingerprint, t.serial])).rows.map((r) => tokenFromRow(r as Row));
      const tombstones = (await c.query('SELECT * FROM tombstones WHERE seed_fp = $1 ORDER BY deleted_at_ms, uid', [t.seedFingerprint])).rows.map((r) => tombstoneFromRow(r as Row));
      const a = admitSeed(t, { live, tombstones }, opts.rekey?.has(t.serial) ?? false);
      for (const old of live) await retire(c, old, `rekey to ${t.serial}`, now);
      if (a.retire.length > 0) out.retired = a.retire;
      record = a.record;
    }
    const ins = await c.query(`${INSERT_TOKEN_SQL} ON CONFLICT (serial) DO NOTHING`, tokenValues(record));
    if (ins.rowCount !== 1) throw new VerifierError('BUSY', `serial ${t.serial} was registered concurrently; retry`);
    outcomes.push(out);
  }
  for (const a of audit(outcomes)) await append(c, a);
  return outcomes;
}

/** Deletes a row and writes its tombstone (inside a transaction). */
async function retire(c: Client, t: TokenRecord, reason: string | null, nowMs: number): Promise<void> {
  await c.query('DELETE FROM tokens WHERE serial = $1', [t.serial]);
  const x = tombstoneOf(t, reason, nowMs);
  if (x) await c.query(INSERT_TOMBSTONE_SQL, tombstoneValues(x));
}

async function updateUser<R>(c: Client, user: string, decide: (u: UserRecord | undefined) => { next: UserRecord | null; audit: AuditInput | null; value: R }): Promise<R> {
  // The row is created first (if missing) so that FOR UPDATE always has a row to lock: concurrent first
  // failures of a new user queue on it instead of both inserting.
  await c.query('INSERT INTO users (user_name, fail_count, throttled_until_ms, locked_at_ms, version, updated_at_ms) VALUES ($1, 0, 0, NULL, 0, 0) ON CONFLICT (user_name) DO NOTHING', [user]);
  const u = userFromRow((await c.query('SELECT * FROM users WHERE user_name = $1 FOR UPDATE', [user])).rows[0] as Row);
  const out = decide(u.version === 0 ? undefined : u);
  if (out.next) {
    const n = out.next;
    const r = await c.query('UPDATE users SET fail_count = $1, throttled_until_ms = $2, locked_at_ms = $3, version = $4, updated_at_ms = $5 WHERE user_name = $6 AND version = $7', [
      n.failCount, n.throttledUntilMs, n.lockedAtMs, n.version, n.updatedAtMs, user, u.version,
    ]);
    if (r.rowCount !== 1) throw new VerifierError('BUSY', 'user changed during verification; retry');
  }
  if (out.audit) await append(c, out.audit);
  return out.value;
}

const pgList = { param: (n: number) => `$${n}`, inList: (n: number) => `serial = ANY($${n}::text[])`, toList: (a: readonly string[]) => [...a] };

/** Locks every matching row (in serial order, like the verification groups: no deadlock), decides, writes. */
async function bulkUpdate(c: Client, f: TokenFilter, decide: (t: TokenRecord) => TokenDynamic | null, audit: (o: BulkOutcome) => AuditInput, dryRun: boolean): Promise<BulkOutcome> {
  const { where, args } = tokenWhere({ ...f, limit: 0 }, pgList.param, pgList.inList, pgList.toList);
  const rows = (await c.query(`SELECT * FROM tokens ${where.length ? `WHERE ${where.join(' AND ')} ` : ''}ORDER BY serial${dryRun ? '' : ' FOR UPDATE'}`, args)).rows.map((r) => tokenFromRow(r as Row));
  const now = Date.now();
  const dirty: TokenRecord[] = [];
  const oldVersion: number[] = [];
  for (const t of rows) {
    const next = decide(t);
    if (!next) continue;
    dirty.push(withDynamic(t, next, now));
    oldVersion.push(t.version);
  }
  const out = { matched: rows.length, changed: dirty.length };
  if (dryRun) return out;
  if (dirty.length > 0) {
    const values = dirty.map(dynamicValues);
    const r = await c.query(UPDATE_DYNAMIC_SQL, [
      dirty.map((t) => t.serial),
      ...DYNAMIC_COLUMNS.map((_, i) => values.map((v) => v[i])),
      dirty.map((t) => t.version),
      oldVersion,
      dirty.map((t) => t.updatedAtMs),
    ]);
    if (r.rowCount !== dirty.length) throw new VerifierError('BUSY', 'a token changed during the bulk operation; retry');
  }
  await append(c, audit(out));
  return out;
}

async function editToken(c: Client, serial: string, decide: (t: TokenRecord | undefined) => { edit: TokenEdit; audit: AuditInput }): Promise<TokenRecord> {
  const t = await readToken(c, serial, true);
  const { edit, audit } = decide(t);
  if (!t) throw new VerifierError('NOT_FOUND', `no token with serial ${serial}`);
  const now = audit.atMs;
  const r = await c.query(
    `UPDATE tokens SET user_name = $1, label = $2, look_ahead = $3, window_back = $4, window_forward = $5, resync_window = $6,
     version = version + 1, updated_at_ms = $7 WHERE serial = $8 AND uid = $9 AND version = $10`,
    [edit.user, edit.label, edit.lookAhead, edit.windowBack, edit.windowForward, edit.resyncWindow, now, serial, t.uid, t.version],
  );
  if (r.rowCount !== 1) throw new VerifierError('BUSY', `token ${serial} changed during the update; retry`);
  await append(c, audit);
  return { ...t, ...edit, version: t.version + 1, updatedAtMs: now };
}

// Group commit. Updates queued while a group is in flight form the next group (at most MAX_GROUP), run in ONE
// transaction: lock all their rows (sorted by serial, so instances lock in the same order and cannot deadlock),
// apply the pure decisions in arrival order in memory (an update sees the previous ones of its group), write
// every changed row with a compare-and-set on version (a miss aborts the whole group), append the audit
// entries under the head lock, COMMIT. Callers are answered only after the COMMIT. Round trips and fsyncs are
// per group, not per verification.

function enqueue<R>(s: PgState, serial: string, decide: (t: TokenRecord | undefined) => UpdateOutcome<R>): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    s.queue.push({ serial, decide, resolve: resolve as (v: unknown) => void, reject });
    if (!s.running) void flush(s);
  });
}

/** Drains the queue group by group; each caller is answered after its group's COMMIT (or its failure). */
async function flush(s: PgState): Promise<void> {
  s.running = true;
  while (s.queue.length > 0) {
    const group = s.queue.splice(0, MAX_GROUP);
    const results: Array<{ ok: boolean; v: unknown }> = [];
    try {
      await tx(s, 'update token', (c) => runGroup(c, group, results));
    } catch (e) {
      for (const p of group) p.reject(e);
      continue;
    }
    group.forEach((p, i) => {
      const r = results[i]!;
      if (r.ok) p.resolve(r.v);
      else p.reject(r.v);
    });
  }
  s.running = false;
}

/** One group's transaction body (see the group-commit comment); `results` gets one entry per item, in order. */
async function runGroup(c: Client, group: readonly Pending[], results: Array<{ ok: boolean; v: unknown }>): Promise<void> {
  results.length = 0;
  const serials = [...new Set(group.map((p) => p.serial))].sort();
  const rows = (await c.query('SELECT * FROM tokens WHERE serial = ANY($1::text[]) ORDER BY serial FOR UPDATE', [serials])).rows as Row[];
  const state = new Map<string, TokenRecord>();
  for (const r of rows) {
    const t = tokenFromRow(r);
    state.set(t.serial, t);
  }
  const oldVersion = new Map([...state].map(([k, t]) => [k, t.version]));
  const audits: AuditInput[] = [];
  const now = Date.now();
  for (const p of group) {
    const t = state.get(p.serial);
    try {
      const out = p.decide(t);
      if (out.next && t) state.set(p.serial, withDynamic(t, out.next, now));
      if (out.audit) audits.push(out.audit);
      results.push({ ok: true, v: out.value });
    } catch (e) {
      results.push({ ok: false, v: e });
    }
  }
  const dirty = [...state.values()].filter((t) => t.version !== oldVersion.get(t.serial));
  if (dirty.length > 0) {
    const values = dirty.map(dynamicValues);
    const r = await c.query(UPDATE_DYNAMIC_SQL, [
      dirty.map((t) => t.serial),
      ...DYNAMIC_COLUMNS.map((_, i) => values.map((v) => v[i])),
      dirty.map((t) => t.version),
      dirty.map((t) => oldVersion.get(t.serial)!),
      dirty.map((t) => t.updatedAtMs),
    ]);
    if (r.rowCount !== dirty.length) throw new VerifierError('BUSY', 'a token changed during verification; retry');
  }
  if (audits.length > 0) await appendMany(c, audits);
}

async function deleteToken(c: Client, serial: string, audit: AuditInput, reason: string | null): Promise<boolean> {
  const t = await readToken(c, serial, true);
  if (!t) return false;
  await retire(c, t, reason, audit.atMs);
  await append(c, audit);
  return true;
}

async function listAudit(pool: pg.Pool, f: AuditFilter): Promise<AuditEntry[]> {
  const { sql, args } = auditSelect(f, (n) => `$${n}`);
  return (await pool.query(sql, args)).rows.map((r) => auditFromRow(r as Row));
}

async function auditHead(pool: pg.Pool): Promise<{ seq: number; hash: string }> {
  const r = (await pool.query('SELECT seq, hash FROM audit_head WHERE id = 1')).rows[0] as Row;
  return { seq: Number(r['seq']), hash: String(r['hash']) };
}

async function createApiKey(c: Client, rec: ApiKeyRecord, audit: AuditInput): Promise<void> {
  await c.query('INSERT INTO api_keys (id, role, hash, label, created_at_ms, revoked_at_ms, expires_at_ms, last_used_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
    rec.id, rec.role, rec.hash, rec.label, rec.createdAtMs, rec.revokedAtMs, rec.expiresAtMs, rec.lastUsedAtMs,
  ]);
  await append(c, audit);
}

async function getApiKey(pool: pg.Pool, id: string): Promise<ApiKeyRecord | undefined> {
  const r = (await pool.query('SELECT * FROM api_keys WHERE id = $1', [id])).rows[0] as Row | undefined;
  return r ? apiKeyFromRow(r) : undefined;
}

async function resealAll(c: Client, reseal: (serial: string, kid: string, sealed: Uint8Array) => { kid: string; sealed: Uint8Array }, audit: AuditInput): Promise<number> {
  const rows = (await c.query('SELECT serial, seed_kid, seed_sealed FROM tokens ORDER BY serial FOR UPDATE')).rows as Row[];
  for (const r of rows) {
    const sealed = r['seed_sealed'] as Uint8Array;
    const out = reseal(String(r['serial']), String(r['seed_kid']), new Uint8Array(sealed));
    await c.query('UPDATE tokens SET seed_kid = $1, seed_sealed = $2, version = version + 1 WHERE serial = $3', [
      out.kid, Buffer.from(out.sealed), r['serial'],
    ]);
  }
  await append(c, { ...audit, detail: { ...audit.detail, tokens: rows.length } });
  return rows.length;
}
