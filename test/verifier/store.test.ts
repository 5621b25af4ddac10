/**
 * The store contract suite (verifier/store/types.ts), run against SQLite (a real file) and PostgreSQL (the
 * real server, a fresh schema per run).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { verifyAuditChain } from '../../verifier/admin.ts';
import type { AuditInput } from '../../verifier/domain/audit.ts';
import type { TokenRecord } from '../../verifier/domain/types.ts';
import { VerifierError } from '../../verifier/errors.ts';
import { createKeyring } from '../../verifier/keyring.ts';
import { openPostgresStore } from '../../verifier/store/postgres.ts';
import { openSqliteStore } from '../../verifier/store/sqlite.ts';
import type { VerifierStore } from '../../verifier/store/types.ts';
import { pgQuery, pgSchema, tempDir } from './verifier.helpers.ts';

const ring = createKeyring([{ kid: 'k1', key: new Uint8Array(32).fill(7) }]);
const ring2 = createKeyring([{ kid: 'k1', key: new Uint8Array(32).fill(7) }, { kid: 'k2', key: new Uint8Array(32).fill(9) }]);

let uidN = 0;
function token(serial: string, over: Partial<TokenRecord> = {}, seed = new Uint8Array(20).fill(1)): TokenRecord {
  const { kid, sealed } = ring.seal(serial, seed);
  return {
    uid: `uid-${++uidN}-${serial}`, serial, user: null, label: null, otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n },
    counter: 0n, lastStep: null, driftSteps: 0, failCount: 0, throttledUntilMs: 0, state: 'active',
    pendingResync: null, pendingAtMs: 0, lastUsedAtMs: null, lookAhead: null, windowBack: null, windowForward: null,
    resyncWindow: null, seedKid: kid, seedSealed: sealed, version: 1, createdAtMs: 1000, updatedAtMs: 1000,
    stateReason: null, lostAtMs: null, revokedAtMs: null, seedFingerprint: null, batchId: null, source: null, ...over,
  };
}
const audit = (action: string, serial: string | null = null): AuditInput => ({ atMs: 5, actor: 'test', action, serial, result: 'ok', detail: { n: 1 } });
const sameSeed = (a: TokenRecord, b: TokenRecord): boolean =>
  Buffer.from(ring.open(a.serial, a.seedKid, a.seedSealed)).equals(Buffer.from(ring.open(b.serial, b.seedKid, b.seedSealed)));

interface Backend {
  name: string;
  open(): Promise<VerifierStore>;
  /** Runs raw SQL against the backend (to tamper with the audit log). */
  raw(sql: string): Promise<void>;
  cleanup(): Promise<void>;
}

function sqliteBackend(): Backend {
  const t = tempDir();
  const file = join(t.dir, 'v.db');
  return {
    name: 'sqlite',
    open: async () => openSqliteStore(file),
    raw: async (sql) => {
      const db = new Database(file);
      db.exec(sql);
      db.close();
    },
    cleanup: async () => t.cleanup(),
  };
}

async function postgresBackend(): Promise<Backend> {
  const s = await pgSchema('store');
  return {
    name: 'postgres',
    open: () => openPostgresStore(s.url),
    raw: async (sql) => {
      await pgQuery(s.schema, sql);
    },
    cleanup: () => s.drop(),
  };
}

for (const [name, make] of [['sqlite', async () => sqliteBackend()], ['postgres', postgresBackend]] as const) {
  describe.sequential(`store contract: ${name}`, () => {
    let b: Backend;
    let store: VerifierStore;
    beforeAll(async () => {
      b = await make();
      store = await b.open();
    });
    afterAll(async () => {
      await store?.close();
      await b?.cleanup();
    });

    it('round-trips a token record exactly, and migrations are idempotent', async () => {
      const t = token('RT-1', { seedFingerprint: 'ab'.repeat(32), batchId: 'B-2026-12', source: { fingerprint: 'cd'.repeat(32), name: 'vendor.pskc' }, stateReason: 'r', lostAtMs: 5, revokedAtMs: null, otp: { type: 'totp', algorithm: 'SHA1', digits: 6, periodSec: 60, t0Sec: -12345n }, user: 'alice', label: 'fob', lastStep: (1n << 63n) + 5n, driftSteps: -2, counter: (1n << 64n) - 1n, lookAhead: 4, resyncWindow: 50 });
      expect(await store.registerTokens([t], sameSeed, () => [audit('register', 'RT-1')])).toEqual([{ serial: 'RT-1', status: 'created' }]);
      const got = await store.getToken('RT-1');
      expect({ ...got, seedSealed: Buffer.from(got!.seedSealed).toString('hex') }).toEqual({ ...t, seedSealed: Buffer.from(t.seedSealed).toString('hex') });
      const again = await b.open();
      expect((await again.getToken('RT-1'))?.serial).toBe('RT-1');
      await again.close();
      expect(await store.getToken('nope')).toBeUndefined();
      expect((await store.findTokensByUser('alice', 10)).map((x) => x.serial)).toEqual(['RT-1']);
    });

    it('round-trips the OTP parameters of every type (hotp, ocra with and without a counter input)', async () => {
      const ts = [
        token('RT-H', { otp: { type: 'hotp', algorithm: 'SHA512', digits: 8, counter: 42n }, counter: 42n }),
        token('RT-OC', { otp: { type: 'ocra', suite: 'OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1', counter: 7n }, counter: 7n }),
        token('RT-OQ', { otp: { type: 'ocra', suite: 'OCRA-1:HOTP-SHA1-6:QN08' } }),
      ];
      await store.registerTokens(ts, sameSeed, () => []);
      for (const t of ts) {
        const got = await store.getToken(t.serial);
        expect({ ...got, seedSealed: Buffer.from(got!.seedSealed).toString('hex') }).toEqual({ ...t, seedSealed: Buffer.from(t.seedSealed).toString('hex') });
      }
    });

    it('re-registration: same secret is "exists", a different secret is CONFLICT and the whole batch writes nothing', async () => {
      await store.registerTokens([token('ID-1')], sameSeed, () => []);
      expect(await store.registerTokens([token('ID-1')], sameSeed, () => [])).toEqual([{ serial: 'ID-1', status: 'exists' }]);
      const headBefore = await store.auditHead();
      const batch = [token('ID-2'), token('ID-1', {}, new Uint8Array(20).fill(2))];
      await expect(store.registerTokens(batch, sameSeed, () => [audit('register-batch')])).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await store.getToken('ID-2')).toBeUndefined();
      expect(await store.auditHead()).toEqual(headBefore);
    });

    it('updateToken: concurrent read-decide-write never loses an update (compare-and-set on version)', async () => {
      await store.registerTokens([token('CAS-1')], sameSeed, () => []);
      const inc = () =>
        store.updateToken('CAS-1', (t) => ({ next: { ...t!, counter: t!.counter + 1n }, audit: audit('verify', 'CAS-1'), value: t!.counter }));
      const seen = await Promise.all(Array.from({ length: 40 }, inc));
      expect(new Set(seen.map(String)).size).toBe(40);
      const t = await store.getToken('CAS-1');
      expect(t!.counter).toBe(40n);
      expect(t!.version).toBe(41);
    });

    it('updateToken: a second store on the same database sees every committed change (no stale state after its own updates)', async () => {
      const other = await b.open();
      try {
        await store.registerTokens([token('MP-1')], sameSeed, () => []);
        const seen = (s: VerifierStore) =>
          s.updateToken('MP-1', (t) => {
            if (!t) throw new VerifierError('NOT_FOUND', 'gone');
            return { next: { ...t, counter: t.counter + 1n }, audit: audit('verify', 'MP-1'), value: `${t.uid}@${t.counter}` };
          });
        const peek = (s: VerifierStore) =>
          s.updateToken('MP-1', (t) => ({ next: null, audit: null, value: t ? `${t.uid}@${t.counter}` : 'none' }));
        const uid1 = (await store.getToken('MP-1'))!.uid;
        expect(await seen(store)).toBe(`${uid1}@0`);
        expect(await seen(other)).toBe(`${uid1}@1`);
        expect(await seen(other)).toBe(`${uid1}@2`);
        // store updated MP-1 before other did: its decision must be taken on other's counter, with or without a write
        expect(await peek(store)).toBe(`${uid1}@3`);
        expect(await seen(store)).toBe(`${uid1}@3`);
        // deleted and registered again elsewhere, brought to the same version: a new registration, not the old row
        expect(await other.deleteToken('MP-1', audit('delete', 'MP-1'))).toBe(true);
        const again = token('MP-1', { counter: 100n, version: 5 });
        await other.registerTokens([again], sameSeed, () => []);
        expect(await seen(store)).toBe(`${again.uid}@100`);
        expect(await other.deleteToken('MP-1', audit('delete', 'MP-1'))).toBe(true);
        await expect(seen(store)).rejects.toMatchObject({ code: 'NOT_FOUND' });
        expect(await peek(store)).toBe('none');
      } finally {
        await other.close();
      }
    });

    it('updateToken: a decide that throws writes nothing, not even audit', async () => {
      const head = await store.auditHead();
      await expect(store.updateToken('missing', (t) => {
        if (!t) throw new VerifierError('NOT_FOUND', 'x');
        return { next: null, audit: null, value: 0 };
      })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await store.auditHead()).toEqual(head);
    });

    it('audit: hash chain verifies, filters work, and tampering is detected', async () => {
      await store.appendAudit({ atMs: 10, actor: 'x', action: 'special', serial: 'F-1', result: 'invalid', detail: {} });
      const r = await verifyAuditChain(store);
      expect(r.ok).toBe(true);
      const head = await store.auditHead();
      expect(r.entries).toBe(head.seq);
      const f = await store.listAudit({ action: 'special', result: 'invalid', limit: 10 });
      expect(f.map((e) => e.serial)).toEqual(['F-1']);
      expect(await store.listAudit({ serial: 'CAS-1', afterSeq: 0, limit: 5 })).toHaveLength(5);
      await b.raw(`UPDATE audit SET result = 'ok' WHERE seq = ${f[0]!.seq}`);
      const broken = await verifyAuditChain(store);
      expect(broken).toMatchObject({ ok: false, brokenAt: f[0]!.seq });
      await b.raw(`UPDATE audit SET result = 'invalid' WHERE seq = ${f[0]!.seq}`);
      expect((await verifyAuditChain(store)).ok).toBe(true);
      await b.raw(`DELETE FROM audit WHERE seq = ${head.seq}`);
      expect(await verifyAuditChain(store)).toMatchObject({ ok: false });
    });

    it('tombstones: delete leaves one; a re-registration of the seed never starts below it (same or another serial)', async () => {
      const seed = new Uint8Array(20).fill(0x41);
      const fp = ring.fingerprint(seed);
      const t1 = token('TB-1', { seedFingerprint: fp, user: 'alice' }, seed);
      await store.registerTokens([t1], sameSeed, () => []);
      await store.updateToken('TB-1', (t) => ({ next: { ...t!, counter: 3n }, audit: null, value: 0 }));
      expect(await store.deleteToken('TB-1', audit('delete', 'TB-1'), 'lost')).toBe(true);
      expect(await store.listTombstones(fp)).toMatchObject([{ serial: 'TB-1', seedFingerprint: fp, counter: 3n, reason: 'lost', wasRevoked: false }]);
      // Same serial, another user, requested counter 0: starts at 3.
      const again = token('TB-1', { seedFingerprint: fp, user: 'bob' }, seed);
      expect(await store.registerTokens([again], sameSeed, () => [])).toEqual([{ serial: 'TB-1', status: 'created' }]);
      expect((await store.getToken('TB-1'))!.counter).toBe(3n);
      // Another serial without rekey: SEED_IN_USE naming the holder, nothing written.
      const head = await store.auditHead();
      const other = token('TB-2', { seedFingerprint: fp }, seed);
      await expect(store.registerTokens([token('TB-X'), other], sameSeed, () => [audit('register-batch')])).rejects.toMatchObject({ code: 'SEED_IN_USE', details: { serial: 'TB-1' } });
      expect(await store.getToken('TB-X')).toBeUndefined();
      expect(await store.auditHead()).toEqual(head);
      // With rekey: TB-1 is retired (tombstone) and TB-2 carries its counter on.
      await store.updateToken('TB-1', (t) => ({ next: { ...t!, counter: 9n }, audit: null, value: 0 }));
      const out = await store.registerTokens([other], sameSeed, () => [], { rekey: new Set(['TB-2']) });
      expect(out).toEqual([{ serial: 'TB-2', status: 'created', retired: ['TB-1'] }]);
      expect(await store.getToken('TB-1')).toBeUndefined();
      expect((await store.getToken('TB-2'))!.counter).toBe(9n);
      // TOTP analogue: lastStep carries over.
      const tseed = new Uint8Array(20).fill(0x42);
      const tfp = ring.fingerprint(tseed);
      const totp = { type: 'totp', algorithm: 'SHA1', digits: 6, periodSec: 30, t0Sec: 0n } as const;
      await store.registerTokens([token('TB-T', { otp: totp, seedFingerprint: tfp }, tseed)], sameSeed, () => []);
      await store.updateToken('TB-T', (t) => ({ next: { ...t!, lastStep: 1000n }, audit: null, value: 0 }));
      await store.deleteToken('TB-T', audit('delete', 'TB-T'));
      await store.registerTokens([token('TB-T', { otp: totp, seedFingerprint: tfp, lastStep: 10n }, tseed)], sameSeed, () => []);
      expect((await store.getToken('TB-T'))!.lastStep).toBe(1000n);
    });

    it('a revoked seed never comes back: SEED_REVOKED while the row lives and after its delete, also with rekey', async () => {
      const seed = new Uint8Array(20).fill(0x43);
      const fp = ring.fingerprint(seed);
      await store.registerTokens([token('RV-1', { seedFingerprint: fp }, seed)], sameSeed, () => []);
      await store.updateToken('RV-1', (t) => ({ next: { ...t!, state: 'revoked', revokedAtMs: 77, stateReason: 'leak' }, audit: null, value: 0 }));
      expect(await store.getToken('RV-1')).toMatchObject({ state: 'revoked', revokedAtMs: 77, stateReason: 'leak' });
      const rekey = { rekey: new Set(['RV-2']) };
      await expect(store.registerTokens([token('RV-2', { seedFingerprint: fp }, seed)], sameSeed, () => [], rekey)).rejects.toMatchObject({ code: 'SEED_REVOKED' });
      await store.deleteToken('RV-1', audit('delete', 'RV-1'));
      expect((await store.listTombstones(fp))[0]).toMatchObject({ wasRevoked: true });
      await expect(store.registerTokens([token('RV-1', { seedFingerprint: fp }, seed)], sameSeed, () => [])).rejects.toMatchObject({ code: 'SEED_REVOKED' });
      await expect(store.registerTokens([token('RV-2', { seedFingerprint: fp }, seed)], sameSeed, () => [], rekey)).rejects.toMatchObject({ code: 'SEED_REVOKED' });
    });

    it('editToken: writes user/label/windows with a version bump; a row cached by another store is never written back over it', async () => {
      const other = await b.open();
      try {
        await store.registerTokens([token('ED-1', { user: 'alice' })], sameSeed, () => []);
        // other caches the row (SQLite row cache) by updating it once
        await other.updateToken('ED-1', (t) => ({ next: { ...t!, counter: 1n }, audit: null, value: 0 }));
        const v = (await store.getToken('ED-1'))!.version;
        const after = await store.editToken('ED-1', (t) => ({ edit: { user: 'bob', label: 'fob', lookAhead: 3, windowBack: null, windowForward: null, resyncWindow: null }, audit: audit('reassign', t!.serial) }));
        expect(after).toMatchObject({ user: 'bob', label: 'fob', lookAhead: 3, version: v + 1 });
        await other.updateToken('ED-1', (t) => ({ next: { ...t!, counter: t!.counter + 1n }, audit: null, value: 0 }));
        expect(await store.getToken('ED-1')).toMatchObject({ user: 'bob', label: 'fob', counter: 2n, version: v + 2 });
        await expect(store.editToken('ED-1', () => {
          throw new VerifierError('VERSION_MISMATCH', 'x');
        })).rejects.toMatchObject({ code: 'VERSION_MISMATCH' });
        await expect(store.editToken('nope', (t) => {
          if (!t) throw new VerifierError('NOT_FOUND', 'x');
          return { edit: { user: null, label: null, lookAhead: null, windowBack: null, windowForward: null, resyncWindow: null }, audit: audit('x') };
        })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      } finally {
        await other.close();
      }
    });

    it('listTokens pages by serial with every filter; bulkUpdate is one transaction with one audit entry; batchSummary', async () => {
      const src = { fingerprint: 'ef'.repeat(32), name: 'leak.csv' };
      const ts = Array.from({ length: 12 }, (_, i) => token(`LS-${String(i).padStart(2, '0')}`, {
        batchId: i < 8 ? 'BATCH-A' : 'BATCH-B', source: i < 8 ? src : null, user: i % 2 ? 'odd' : 'even', createdAtMs: 1000 + i,
        lastUsedAtMs: i < 4 ? 5000 + i : null, ...(i === 11 ? { otp: { type: 'totp', algorithm: 'SHA1', digits: 6, periodSec: 30, t0Sec: 0n } as const } : {}),
      }));
      await store.registerTokens(ts, sameSeed, () => []);
      const serials = async (f: Parameters<VerifierStore['listTokens']>[0]) => (await store.listTokens(f)).map((t) => t.serial);
      expect(await serials({ serialPrefix: 'LS-', limit: 5 })).toEqual(['LS-00', 'LS-01', 'LS-02', 'LS-03', 'LS-04']);
      expect(await serials({ serialPrefix: 'LS-', afterSerial: 'LS-09', limit: 5 })).toEqual(['LS-10', 'LS-11']);
      expect(await serials({ batch: 'BATCH-B', limit: 10 })).toEqual(['LS-08', 'LS-09', 'LS-10', 'LS-11']);
      expect(await serials({ batch: 'BATCH-A', user: 'odd', limit: 10 })).toEqual(['LS-01', 'LS-03', 'LS-05', 'LS-07']);
      expect(await serials({ serialPrefix: 'LS-', type: 'totp', limit: 10 })).toEqual(['LS-11']);
      expect(await serials({ serialPrefix: 'LS-', usedBeforeMs: 5002, limit: 10 })).toEqual(['LS-00', 'LS-01']);
      expect(await serials({ serialPrefix: 'LS-', usedAfterMs: 5002, limit: 10 })).toEqual(['LS-02', 'LS-03']);
      expect((await serials({ serialPrefix: 'LS-', neverUsed: true, limit: 100 })).length).toBe(8);
      expect(await serials({ serials: ['LS-03', 'LS-07', 'nope'], limit: 10 })).toEqual(['LS-03', 'LS-07']);
      const head = await store.auditHead();
      const revoke = (t: TokenRecord) => (t.state === 'revoked' ? null : { ...t, state: 'revoked' as const, revokedAtMs: 9 });
      expect(await store.bulkUpdate({ batch: 'BATCH-A', limit: 0 }, revoke, (o) => audit(`bulk ${o.changed}`), true)).toEqual({ matched: 8, changed: 8 });
      expect(await store.auditHead()).toEqual(head);
      expect(await serials({ batch: 'BATCH-A', state: 'active', limit: 100 })).toHaveLength(8);
      const before = (await store.getToken('LS-00'))!.version;
      expect(await store.bulkUpdate({ batch: 'BATCH-A', limit: 0 }, revoke, (o) => audit(`bulk-revoke ${o.matched}/${o.changed}`), false)).toEqual({ matched: 8, changed: 8 });
      expect((await store.auditHead()).seq).toBe(head.seq + 1);
      expect((await store.listAudit({ afterSeq: head.seq, limit: 10 })).map((e) => e.action)).toEqual(['bulk-revoke 8/8']);
      expect(await store.getToken('LS-00')).toMatchObject({ state: 'revoked', version: before + 1 });
      expect(await store.bulkUpdate({ batch: 'BATCH-A', limit: 0 }, revoke, () => audit('again'), false)).toEqual({ matched: 8, changed: 0 });
      expect(await store.batchSummary('BATCH-A')).toEqual({ batchId: 'BATCH-A', source: src, tokens: 8, byState: { revoked: 8 }, firstRegisteredAtMs: 1000, lastRegisteredAtMs: 1007 });
      expect(await store.batchSummary('BATCH-B')).toMatchObject({ source: null, tokens: 4, byState: { active: 4 } });
      expect(await store.batchSummary('nope')).toBeUndefined();
    });

    it('delete, API keys, count, reseal', async () => {
      expect(await store.deleteToken('ID-1', audit('delete', 'ID-1'))).toBe(true);
      expect(await store.deleteToken('ID-1', audit('delete', 'ID-1'))).toBe(false);
      await store.createApiKey({ id: 'abc', role: 'verify', hash: 'h', label: null, createdAtMs: 1, revokedAtMs: null, expiresAtMs: null, lastUsedAtMs: null }, audit('api-key-create'));
      expect(await store.getApiKey('abc')).toEqual({ id: 'abc', role: 'verify', hash: 'h', label: null, createdAtMs: 1, revokedAtMs: null, expiresAtMs: null, lastUsedAtMs: null });
      await store.createApiKey({ id: 'def', role: 'admin', hash: 'h2', label: 'ops', createdAtMs: 2, revokedAtMs: null, expiresAtMs: 99, lastUsedAtMs: null }, audit('api-key-create'));
      await store.touchApiKey('abc', 50);
      await store.touchApiKey('abc', 40);
      expect((await store.listApiKeys()).map((k) => [k.id, k.expiresAtMs, k.lastUsedAtMs])).toEqual([['abc', null, 50], ['def', 99, null]]);
      const head = await store.auditHead();
      expect(await store.revokeApiKey('def', 60, audit('api-key-revoke'))).toMatchObject({ id: 'def', revokedAtMs: 60 });
      expect(await store.revokeApiKey('def', 70, audit('api-key-revoke'))).toMatchObject({ revokedAtMs: 60 });
      expect(await store.revokeApiKey('nope', 70, audit('api-key-revoke'))).toBeUndefined();
      expect((await store.auditHead()).seq).toBe(head.seq + 2);
      const n = await store.countTokens();
      const resealed = await store.resealAll((serial, kid, sealed) => {
        const seed = ring2.open(serial, kid, sealed);
        return ring2.seal(serial, seed);
      }, audit('rotate-key'));
      expect(resealed).toBe(n);
      const t = await store.getToken('CAS-1');
      expect(t!.seedKid).toBe('k2');
      expect(Buffer.from(ring2.open('CAS-1', 'k2', t!.seedSealed))).toEqual(Buffer.alloc(20, 1));
      await store.ping();
    });
  });
}
