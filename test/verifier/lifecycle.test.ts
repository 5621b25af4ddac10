/**
 * Issue 11, lifecycle through the service (verifier/service.ts) on real stores, SQLite and PostgreSQL: the replay
 * hole of delete + re-register, lost/revoked states, PATCH with a version precondition, verify by user.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createHotpEngine } from '../../otp/engine.ts';
import { activeTokensWithSeeds } from '../../verifier/admin.ts';
import { DEFAULT_POLICY, type Policy } from '../../verifier/domain/types.ts';
import type { RegisterRequest } from '../../verifier/domain/requests.ts';
import { createKeyring } from '../../verifier/keyring.ts';
import { createMetrics } from '../../verifier/metrics.ts';
import { createVerifierService, type VerifierService } from '../../verifier/service.ts';
import { openPostgresStore } from '../../verifier/store/postgres.ts';
import { openSqliteStore } from '../../verifier/store/sqlite.ts';
import type { VerifierStore } from '../../verifier/store/types.ts';
import { pgSchema, tempDir } from './verifier.helpers.ts';

const ring = createKeyring([{ kid: 'k1', key: new Uint8Array(32).fill(3) }]);
let now = Date.UTC(2026, 11, 1, 12, 0, 0);
let uid = 0;

function service(store: VerifierStore, policy: Partial<Policy> = {}): VerifierService {
  return createVerifierService({
    store,
    keyring: () => ring,
    policy: { ...DEFAULT_POLICY, backoffBaseMs: 0, ...policy },
    clock: { nowMs: () => now },
    metrics: createMetrics(),
    randomId: () => `uid-${++uid}`,
  });
}

function reg(serial: string, seed: Uint8Array, over: Partial<RegisterRequest> = {}): RegisterRequest {
  return {
    serial, otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n }, lastStep: null, secret: Uint8Array.from(seed), user: null, label: null,
    lookAhead: null, windowBack: null, windowForward: null, resyncWindow: null, batchId: null, source: null, rekey: false, ...over,
  };
}

const totpParams = { type: 'totp', algorithm: 'SHA1', digits: 6, periodSec: 30, t0Sec: 0n } as const;
const stepNow = (): bigint => BigInt(Math.floor(now / 30_000));

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const backends: Array<[string, () => Promise<VerifierStore>]> = [
  ['sqlite', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    return openSqliteStore(join(t.dir, 'v.db'));
  }],
  ['postgres', async () => {
    const s = await pgSchema('life');
    cleanups.push(s.drop);
    return openPostgresStore(s.url);
  }],
];

for (const [name, open] of backends) {
  describe.sequential(`lifecycle: ${name}`, () => {
    let store: VerifierStore;
    let svc: VerifierService;
    beforeAll(async () => {
      store = await open();
      cleanups.push(() => store.close());
      svc = service(store);
      cleanups.push(() => svc.close());
    });

    it('the replay hole is closed: verify 0-2, DELETE, register the same secret for another user, the counter-0 code is not ok', async () => {
      const seed = randomBytes(20);
      const e = createHotpEngine(seed, { algorithm: 'SHA1', digits: 6 });
      await svc.register([reg('RP-1', seed, { user: 'alice' })], 'test');
      for (const c of [0n, 1n, 2n]) expect((await svc.verify({ serial: 'RP-1', user: null, code: e.code(c), counter: null }, 'test')).result).toBe('ok');
      await svc.remove('RP-1', 'test', 'reissue');
      await svc.register([reg('RP-1', seed, { user: 'mallory' })], 'test');
      expect((await svc.getToken('RP-1'))['counter']).toBe('3');
      for (const c of [0n, 1n, 2n]) expect((await svc.verify({ serial: 'RP-1', user: null, code: e.code(c), counter: null }, 'test')).result).not.toBe('ok');
      expect((await svc.verify({ user: 'mallory', serial: null, code: e.code(0n), counter: null }, 'test')).result).not.toBe('ok');
      // Under another serial: refused without rekey, and with rekey the counter carries over.
      await expect(svc.register([reg('RP-2', seed)], 'test')).rejects.toMatchObject({ code: 'SEED_IN_USE', details: { serial: 'RP-1' } });
      await svc.register([reg('RP-2', seed, { rekey: true })], 'test');
      await expect(svc.getToken('RP-1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      for (const c of [0n, 1n, 2n]) expect((await svc.verify({ serial: 'RP-2', user: null, code: e.code(c), counter: null }, 'test')).result).not.toBe('ok');
      expect((await svc.verify({ serial: 'RP-2', user: null, code: e.code(3n), counter: null }, 'test')).result).toBe('ok');
      const rekey = await svc.auditLog({ action: 'rekey', limit: 10 });
      expect(rekey.map((x) => [x.serial, JSON.parse(x.detail)])).toEqual([['RP-1', { to: 'RP-2' }]]);
    });

    it('TOTP analogue: the accepted step never verifies again after delete + re-register (same or another serial)', async () => {
      const seed = randomBytes(20);
      const e = createHotpEngine(seed, { algorithm: 'SHA1', digits: 6 });
      await svc.register([reg('RPT-1', seed, { otp: totpParams })], 'test');
      const code = e.code(stepNow());
      expect((await svc.verify({ serial: 'RPT-1', user: null, code, counter: null }, 'test')).result).toBe('ok');
      await svc.remove('RPT-1', 'test', null);
      await svc.register([reg('RPT-1', seed, { otp: totpParams, user: 'eve' })], 'test');
      expect((await svc.verify({ serial: 'RPT-1', user: null, code, counter: null }, 'test')).result).not.toBe('ok');
      await svc.register([reg('RPT-2', seed, { otp: totpParams, rekey: true })], 'test');
      expect((await svc.verify({ serial: 'RPT-2', user: null, code, counter: null }, 'test')).result).not.toBe('ok');
      now += 30_000;
      expect((await svc.verify({ serial: 'RPT-2', user: null, code: e.code(stepNow()), counter: null }, 'test')).result).toBe('ok');
    });

    it('lost and revoked: lost stops verifying, enable finds it again; revoked is terminal and its seed never returns', async () => {
      const seed = randomBytes(20);
      const e = createHotpEngine(seed, { algorithm: 'SHA1', digits: 6 });
      await svc.register([reg('LR-1', seed)], 'test');
      expect(await svc.setState('LR-1', 'lost', 'key:admin', 'left on a train')).toMatchObject({ state: 'lost', stateReason: 'left on a train', lostAt: new Date(now).toISOString() });
      expect((await svc.verify({ serial: 'LR-1', user: null, code: e.code(0n), counter: null }, 'test')).result).toBe('disabled');
      expect(await svc.setState('LR-1', 'enable', 'key:admin', 'found')).toMatchObject({ state: 'active', lostAt: null });
      expect((await svc.verify({ serial: 'LR-1', user: null, code: e.code(0n), counter: null }, 'test')).result).toBe('ok');
      const r = await svc.setState('LR-1', 'revoke', 'key:admin', 'leak');
      expect(r).toMatchObject({ state: 'revoked', revokedAt: new Date(now).toISOString(), stateReason: 'leak' });
      expect((await svc.verify({ serial: 'LR-1', user: null, code: e.code(1n), counter: null }, 'test')).result).toBe('disabled');
      for (const a of ['enable', 'unlock', 'disable', 'lost', 'revoke'] as const) {
        await expect(svc.setState('LR-1', a, 'key:admin')).rejects.toMatchObject({ code: 'INVALID_TRANSITION' });
      }
      await expect(svc.update('LR-1', { version: Number(r['version']), user: 'x' }, 'key:admin')).rejects.toMatchObject({ code: 'INVALID_TRANSITION' });
      expect((await svc.getToken('LR-1'))['version']).toBe(r['version']);
      await expect(svc.register([reg('LR-2', seed, { rekey: true })], 'test')).rejects.toMatchObject({ code: 'SEED_REVOKED' });
      await svc.remove('LR-1', 'test', 'cleanup');
      await expect(svc.register([reg('LR-1', seed)], 'test')).rejects.toMatchObject({ code: 'SEED_REVOKED' });
      const audit = await svc.auditLog({ serial: 'LR-1', action: 'lost', limit: 10 });
      expect(JSON.parse(audit[0]!.detail)).toMatchObject({ reason: 'left on a train', from: 'active', state: 'lost' });
    });

    it('verify by user: 25 tokens, token 25 logs in and tokens 1-24 are charged nothing; 100 wrong codes across them lock the user', async () => {
      const seeds = Array.from({ length: 25 }, () => randomBytes(20));
      await svc.register(seeds.map((sd, i) => reg(`U25-${String(i + 1).padStart(2, '0')}`, sd, { user: 'carol' })), 'test');
      const e25 = createHotpEngine(seeds[24]!, { algorithm: 'SHA1', digits: 6 });
      expect(await svc.verify({ user: 'carol', serial: null, code: e25.code(0n), counter: null }, 'test')).toMatchObject({ result: 'ok', serial: 'U25-25' });
      for (let i = 1; i <= 24; i++) expect((await svc.getToken(`U25-${String(i).padStart(2, '0')}`))['failCount']).toBe(0);
      // A wrong code: one failure of the user, none of any token.
      let wrong = '000000';
      for (let c = 0n; seeds.some((sd) => createHotpEngine(sd, { algorithm: 'SHA1', digits: 6 }).findInWindow(Number(wrong), 0n, 200) >= 0n); c++) wrong = String(100000 + Number(c));
      for (let i = 1; i <= 99; i++) {
        expect((await svc.verify({ user: 'carol', serial: null, code: wrong, counter: null }, 'test')).result).toBe('invalid');
      }
      expect((await store.getUser('carol'))!.failCount).toBe(99);
      for (let i = 1; i <= 25; i++) expect((await svc.getToken(`U25-${String(i).padStart(2, '0')}`))['failCount']).toBe(0);
      expect(await svc.verify({ user: 'carol', serial: null, code: wrong, counter: null }, 'test')).toEqual({ result: 'locked', serial: null, detail: {} });
      // Locked: even the right code answers only `locked`, and no token moves.
      expect(await svc.verify({ user: 'carol', serial: null, code: e25.code(1n), counter: null }, 'test')).toEqual({ result: 'locked', serial: null, detail: {} });
      expect((await svc.getToken('U25-25'))['counter']).toBe('1');
      await svc.unlockUser('carol', 'key:admin', 'called the help desk');
      expect((await svc.verify({ user: 'carol', serial: null, code: e25.code(1n), counter: null }, 'test')).result).toBe('ok');
    }, 60_000);

    it('verify by user: a success resets the user count; a locked token among them answers only locked', async () => {
      const a = randomBytes(20);
      const b = randomBytes(20);
      await svc.register([reg('UL-1', a, { user: 'dan' }), reg('UL-2', b, { user: 'dan' })], 'test');
      const ea = createHotpEngine(a, { algorithm: 'SHA1', digits: 6 });
      const eb = createHotpEngine(b, { algorithm: 'SHA1', digits: 6 });
      expect((await svc.verify({ user: 'dan', serial: null, code: '1234567', counter: null }, 'test')).result).toBe('invalid');
      expect((await store.getUser('dan'))!.failCount).toBe(1);
      expect((await svc.verify({ user: 'dan', serial: null, code: eb.code(0n), counter: null }, 'test')).serial).toBe('UL-2');
      expect((await store.getUser('dan'))!.failCount).toBe(0);
      expect((await svc.getToken('UL-1'))['failCount']).toBe(0);
      await svc.setState('UL-1', 'disable', 'key:admin');
      expect((await svc.verify({ user: 'dan', serial: null, code: ea.code(0n), counter: null }, 'test')).result).not.toBe('ok');
    });

    it('export read: only active tokens, with current counters/last steps and their seeds, in pages', async () => {
      const seeds = Array.from({ length: 5 }, () => randomBytes(20));
      await svc.register(seeds.map((sd, i) => reg(`EX-${i}`, sd, { batchId: 'EXP', ...(i === 4 ? { otp: totpParams } : {}) })), 'test');
      const e0 = createHotpEngine(seeds[0]!, { algorithm: 'SHA1', digits: 6 });
      for (const c of [0n, 1n]) expect((await svc.verify({ serial: 'EX-0', user: null, code: e0.code(c), counter: null }, 'test')).result).toBe('ok');
      const e4 = createHotpEngine(seeds[4]!, { algorithm: 'SHA1', digits: 6 });
      expect((await svc.verify({ serial: 'EX-4', user: null, code: e4.code(stepNow()), counter: null }, 'test')).result).toBe('ok');
      await svc.setState('EX-1', 'revoke', 'test');
      await svc.setState('EX-2', 'lost', 'test');
      const got: Array<[string, string, string | null, string]> = [];
      for await (const x of activeTokensWithSeeds(store, ring, { batch: 'EXP' }, 1)) {
        got.push([x.record.serial, x.record.counter.toString(), x.record.lastStep?.toString() ?? null, Buffer.from(x.seed).toString('hex')]);
        x.seed.fill(0);
      }
      expect(got).toEqual([
        ['EX-0', '2', null, seeds[0]!.toString('hex')],
        ['EX-3', '0', null, seeds[3]!.toString('hex')],
        ['EX-4', '0', stepNow().toString(), seeds[4]!.toString('hex')],
      ]);
    });

    it('PATCH: version precondition, reassignment audited with old and new user, only given fields change', async () => {
      await svc.register([reg('PT-1', randomBytes(20), { user: 'alice', label: 'fob' })], 'test');
      const v = Number((await svc.getToken('PT-1'))['version']);
      await expect(svc.update('PT-1', { version: v + 1, user: 'bob' }, 'key:a')).rejects.toMatchObject({ code: 'VERSION_MISMATCH', details: { currentVersion: v } });
      const after = await svc.update('PT-1', { version: v, user: 'bob', lookAhead: 2 }, 'key:a');
      expect(after).toMatchObject({ user: 'bob', label: 'fob', lookAhead: 2, version: v + 1 });
      await expect(svc.update('PT-1', { version: v, label: null }, 'key:a')).rejects.toMatchObject({ code: 'VERSION_MISMATCH' });
      const e = await svc.auditLog({ serial: 'PT-1', action: 'reassign', limit: 10 });
      expect(e.map((x) => [x.actor, JSON.parse(x.detail)])).toEqual([['key:a', { changed: ['user', 'lookAhead'], version: v + 1, oldUser: 'alice', newUser: 'bob' }]]);
    });
  });
}
