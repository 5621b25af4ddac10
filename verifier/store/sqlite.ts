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
import { withDynamic, type TokenDynamic, type TokenRecord } from '../domain/types.ts';
import { VerifierError } from '../errors.ts';
import { MIGRATIONS } from './migrations.ts';
import { apiKeyFromRow, auditFromRow, auditSelect, DYNAMIC_COLUMNS, dynamicValues, TOKEN_COLUMNS, tokenFromRow, tokenValues, type Row } from './rows.ts';
import type { ApiKeyRecord, RegisterOutcome, UpdateOutcome, VerifierStore } from './types.ts';

export interface SqliteOptions {
  busyTimeoutMs?: number;
  synchronous?: 'normal' | 'full';
  /** SQLite page cache in MiB (default 64). */
  cacheMiB?: number;
  /** Committed token rows remembered to skip the SELECT of a verification (default 10000; 0 disables). */
  rowCache?: number;
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

  const q = {
    getToken: db.prepare(`SELECT * FROM tokens WHERE serial = ?`),
    byUser: db.prepare(`SELECT * FROM tokens WHERE user_name = ? ORDER BY created_at_ms, serial LIMIT ?`),
    insertToken: db.prepare(`INSERT INTO tokens (${TOKEN_COLUMNS.join(', ')}) VALUES (${TOKEN_COLUMNS.map(() => '?').join(', ')})`),
    update: db.prepare(
      `UPDATE tokens SET ${DYNAMIC_COLUMNS.map((c) => `${c} = ?`).join(', ')}, version = version + 1, updated_at_ms = ?
       WHERE serial = ? AND uid = ? AND version = ?`,
    ),
    deleteToken: db.prepare(`DELETE FROM tokens WHERE serial = ?`),
    head: db.prepare(`SELECT seq, hash FROM audit_head WHERE id = 1`),
    setHead: db.prepare(`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`),
    insertAudit: db.prepare(
      `INSERT INTO audit (seq, at_ms, actor, action, serial, result, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertKey: db.prepare(`INSERT INTO api_keys (id, role, hash, label, created_at_ms, revoked_at_ms) VALUES (?, ?, ?, ?, ?, ?)`),
    getKey: db.prepare(`SELECT * FROM api_keys WHERE id = ?`),
    allSeeds: db.prepare(`SELECT serial, seed_kid, seed_sealed FROM tokens ORDER BY serial`),
    setSeed: db.prepare(`UPDATE tokens SET seed_kid = ?, seed_sealed = ?, version = version + 1 WHERE serial = ?`),
    count: db.prepare(`SELECT COUNT(*) AS n FROM tokens`),
  };

  // Inside a group transaction the head is read once and written once (groupHead); otherwise per append.
  let groupHead: { seq: number; hash: string } | null = null;
  const append = (input: AuditInput): AuditEntry => {
    if (groupHead) {
      const e = chainEntry(groupHead.seq, groupHead.hash, input);
      q.insertAudit.run(e.seq, e.atMs, e.actor, e.action, e.serial, e.result, e.detail, e.prevHash, e.hash);
      groupHead = { seq: e.seq, hash: e.hash };
      return e;
    }
    const head = q.head.get() as Row;
    const e = chainEntry(Number(head['seq']), String(head['hash']), input);
    q.insertAudit.run(e.seq, e.atMs, e.actor, e.action, e.serial, e.result, e.detail, e.prevHash, e.hash);
    q.setHead.run(e.seq, e.hash);
    return e;
  };
  const getToken = (serial: string): TokenRecord | undefined => {
    const r = q.getToken.get(serial) as Row | undefined;
    return r ? tokenFromRow(r) : undefined;
  };

  /*
   * Row cache: the last COMMITTED state of recently updated tokens, so that a verification needs no SELECT.
   * A cached record is only a guess: the decision taken on it is written with the compare-and-set
   * `WHERE serial AND uid AND version`, under the writer lock. (uid, version) names exactly one committed state
   * (versions only grow, a re-registration gets a new uid, and entries are stored only after their COMMIT), so a
   * successful compare-and-set proves the guess was the row as it is now — also when another process shares the
   * file. When it fails, or the decision writes nothing (so nothing would check it), or decide throws, the item
   * is decided again on a fresh SELECT, as without the cache.
   */
  const rowCacheMax = options.rowCache ?? 10_000;
  const rowCache = new Map<string, TokenRecord>();
  const remember = (serial: string, t: TokenRecord | undefined): void => {
    rowCache.delete(serial);
    if (!t || rowCacheMax === 0) return;
    rowCache.set(serial, t);
    if (rowCache.size > rowCacheMax) rowCache.delete(rowCache.keys().next().value as string);
  };
  /** Cache changes of the running group; applied only after its COMMIT. */
  let groupSeen: Array<[string, TokenRecord | undefined]> = [];

  const wrap = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof VerifierError) throw e;
      if ((e as { code?: string }).code === 'SQLITE_BUSY') throw new VerifierError('BUSY', `${what}: database is busy; retry`, { cause: e });
      throw new VerifierError('STORE', `${what}: ${(e as Error).message}`, { cause: e });
    }
  };

  /**
   * One token's read-decide-write, run inside the group transaction. No savepoint is needed: `decide` throws
   * (unknown serial, bad request) before this item writes anything, and a failing statement aborts the group.
   */
  const write = (serial: string, t: TokenRecord, n: TokenDynamic, nowMs: number): TokenRecord | null => {
    const info = q.update.run(...dynamicValues(n), nowMs, serial, t.uid, t.version);
    return info.changes === 1 ? withDynamic(t, n, nowMs) : null;
  };
  const updateOne = <R>(serial: string, decide: (t: TokenRecord | undefined) => UpdateOutcome<R>, nowMs: number): R => {
    const cached = rowCache.get(serial);
    if (cached) {
      let guess: UpdateOutcome<R> | null = null;
      try {
        guess = decide(cached);
      } catch {
        guess = null; // decided again below on the row as read
      }
      if (guess?.next) {
        const after = write(serial, cached, guess.next, nowMs);
        if (after) {
          if (guess.audit) append(guess.audit);
          groupSeen.push([serial, after]);
          return guess.value;
        }
      }
    }
    const t = getToken(serial);
    const out = decide(t);
    let after = t;
    if (out.next && t) {
      const w = write(serial, t, out.next, nowMs);
      if (!w) throw new VerifierError('BUSY', `token ${serial} changed during verification; retry`);
      after = w;
    }
    if (out.audit) append(out.audit);
    groupSeen.push([serial, after]);
    return out.value;
  };

  // Group commit: updates that arrive in the same event-loop turn share one BEGIN IMMEDIATE ... COMMIT; an
  // update whose decide throws is answered with that error and writes nothing. Callers are answered only after the COMMIT, so the
  // durability and atomicity of each update are unchanged; only the per-commit cost is shared.
  type Pending = { serial: string; decide: (t: TokenRecord | undefined) => UpdateOutcome<unknown>; resolve(v: unknown): void; reject(e: unknown): void };
  let queue: Pending[] = [];
  let scheduled = false;
  const MAX_GROUP = 256;
  const flush = (): void => {
    scheduled = false;
    const group = queue.splice(0, MAX_GROUP);
    if (queue.length > 0) {
      scheduled = true;
      setImmediate(flush);
    }
    const results: Array<{ ok: boolean; v: unknown }> = [];
    groupSeen = [];
    try {
      db.transaction(() => {
        const now = Date.now();
        const h = q.head.get() as Row;
        const start = { seq: Number(h['seq']), hash: String(h['hash']) };
        groupHead = start;
        try {
          runGroup(now);
        } finally {
          const end = groupHead;
          groupHead = null;
          if (end.seq !== start.seq) q.setHead.run(end.seq, end.hash);
        }
      }).immediate();
      for (const [serial, t] of groupSeen) remember(serial, t);
      groupSeen = [];
    } catch (e) {
      groupHead = null;
      groupSeen = [];
      for (const p of group) rowCache.delete(p.serial);
      for (const p of group) {
        try {
          wrap('update token', () => {
            throw e;
          });
        } catch (w) {
          p.reject(w);
        }
      }
      return;
    }
    function runGroup(now: number): void {
        for (const p of group) {
          let v: unknown;
          try {
            v = updateOne(p.serial, p.decide, now);
          } catch (e) {
            // A decision error (VerifierError from decide) concerns this item only; anything else aborts the group.
            if (!(e instanceof VerifierError) || e.code === 'BUSY') throw e;
            results.push({ ok: false, v: e });
            continue;
          }
          results.push({ ok: true, v });
        }
    }
    group.forEach((p, i) => {
      const r = results[i]!;
      if (r.ok) p.resolve(r.v);
      else
        try {
          wrap('update token', () => {
            throw r.v;
          });
        } catch (w) {
          p.reject(w);
        }
    });
  };

  const txRegister = db.transaction(
    (
      tokens: readonly TokenRecord[],
      same: (a: TokenRecord, b: TokenRecord) => boolean,
      audit: (o: readonly RegisterOutcome[]) => AuditInput[],
    ): RegisterOutcome[] => {
      const outcomes: RegisterOutcome[] = [];
      for (const t of tokens) {
        const existing = getToken(t.serial);
        if (existing) {
          if (!same(existing, t)) throw new VerifierError('CONFLICT', `serial ${t.serial} is already registered with a different secret`);
          outcomes.push({ serial: t.serial, status: 'exists' });
        } else {
          q.insertToken.run(...tokenValues(t));
          outcomes.push({ serial: t.serial, status: 'created' });
        }
      }
      for (const a of audit(outcomes)) append(a);
      return outcomes;
    },
  );

  const store: VerifierStore = {
    kind: 'sqlite',
    async getToken(serial) {
      return wrap('read token', () => getToken(serial));
    },
    async findTokensByUser(user, limit) {
      return wrap('read tokens', () => (q.byUser.all(user, limit) as Row[]).map(tokenFromRow));
    },
    async registerTokens(tokens, sameSecret, audit) {
      return wrap('register', () => txRegister.immediate(tokens, sameSecret, audit));
    },
    updateToken<R>(serial: string, decide: (t: TokenRecord | undefined) => UpdateOutcome<R>): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        queue.push({ serial, decide, resolve: resolve as (v: unknown) => void, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    async deleteToken(serial, audit) {
      return wrap('delete token', () =>
        db.transaction(() => {
          rowCache.delete(serial);
          const n = q.deleteToken.run(serial).changes;
          if (n === 1) append(audit);
          return n === 1;
        }).immediate(),
      );
    },
    async appendAudit(input) {
      return wrap('audit', () => db.transaction(() => append(input)).immediate());
    },
    async listAudit(f: AuditFilter) {
      const { sql, args } = auditSelect(f, () => '?');
      return wrap('read audit', () => (db.prepare(sql).all(...args) as Row[]).map(auditFromRow));
    },
    async auditHead() {
      return wrap('read audit head', () => {
        const r = q.head.get() as Row;
        return { seq: Number(r['seq']), hash: String(r['hash']) };
      });
    },
    async createApiKey(rec: ApiKeyRecord, audit) {
      wrap('create API key', () =>
        db.transaction(() => {
          q.insertKey.run(rec.id, rec.role, rec.hash, rec.label, rec.createdAtMs, rec.revokedAtMs);
          append(audit);
        }).immediate(),
      );
    },
    async getApiKey(id) {
      return wrap('read API key', () => {
        const r = q.getKey.get(id) as Row | undefined;
        return r ? apiKeyFromRow(r) : undefined;
      });
    },
    async resealAll(reseal, audit) {
      return wrap('re-seal seeds', () =>
        db.transaction(() => {
          let n = 0;
          rowCache.clear();
          for (const r of q.allSeeds.all() as Row[]) {
            const sealed = r['seed_sealed'] as Uint8Array;
            const out = reseal(String(r['serial']), String(r['seed_kid']), new Uint8Array(sealed));
            q.setSeed.run(out.kid, Buffer.from(out.sealed), r['serial']);
            n++;
          }
          append({ ...audit, detail: { ...audit.detail, tokens: n } });
          return n;
        }).immediate(),
      );
    },
    async countTokens() {
      return wrap('count tokens', () => Number((q.count.get() as Row)['n']));
    },
    async ping() {
      wrap('ping', () => db.prepare('SELECT 1').get());
    },
    async close() {
      if (db.open) db.close();
    },
  };
  return store;
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
