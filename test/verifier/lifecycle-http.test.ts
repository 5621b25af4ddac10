/**
 * Issue 11 routes through a real server process (SQLite): lost/revoke with a reason, PATCH with a version
 * precondition, DELETE ?reason=, registration with batchId/source/rekey and the 409 bodies; malformed input of
 * every new route is a 400 that writes nothing; docs/openapi.json lists every route the handler serves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHotpEngine } from '../../otp/engine.ts';
import { ROUTE_TEMPLATES } from '../../verifier/http/handler.ts';
import { call, createKey, ROOT, startServer, tempDir, type Reply, type ServerProc } from './verifier.helpers.ts';

const t = tempDir();
const db = join(t.dir, 'v.db');
let srv: ServerProc;
let admin: string;
let verifyKey: string;
const req = (method: string, path: string, key: string | null, body?: unknown, headers?: Record<string, string>): Promise<Reply> => call(srv.url, method, path, key, body, headers);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
async function auditHead(): Promise<number> {
  const r = await req('GET', '/v1/audit?limit=1000', admin);
  return (r.json['entries'] as unknown[]).length;
}

beforeAll(async () => {
  admin = createKey(db, 'admin');
  verifyKey = createKey(db, 'verify');
  srv = await startServer(db, join(t.dir, 'master.key'), ['--backoff-ms', '0']);
});
afterAll(async () => {
  await srv?.stop();
  t.cleanup();
});

describe('lifecycle over HTTP', { timeout: 90_000 }, () => {
  it('the issue repro over HTTP: verify 0-2, DELETE, register the same secret for another user, the counter-0 code is refused', async () => {
    const seed = randomBytes(20);
    const e = createHotpEngine(seed, { algorithm: 'SHA1', digits: 6 });
    expect((await req('POST', '/v1/tokens', admin, { serial: 'H-RP', type: 'hotp', secret: hex(seed), secretEncoding: 'hex', user: 'alice' })).status).toBe(201);
    for (const c of [0n, 1n, 2n]) expect((await req('POST', '/v1/verify', verifyKey, { serial: 'H-RP', code: e.code(c) })).json['result']).toBe('ok');
    expect((await req('DELETE', '/v1/tokens/H-RP?reason=reissue', admin)).status).toBe(204);
    const again = await req('POST', '/v1/tokens', admin, { serial: 'H-RP', type: 'hotp', secret: hex(seed), secretEncoding: 'hex', user: 'mallory' });
    expect(again.status).toBe(201);
    expect(again.json['token']).toMatchObject({ counter: '3', user: 'mallory', version: 1 });
    expect((await req('POST', '/v1/verify', verifyKey, { serial: 'H-RP', code: e.code(0n) })).json['result']).not.toBe('ok');
    const inUse = await req('POST', '/v1/tokens', admin, { serial: 'H-RP2', type: 'hotp', secret: hex(seed), secretEncoding: 'hex' });
    expect(inUse.status).toBe(409);
    expect(inUse.json['error']).toMatchObject({ code: 'SEED_IN_USE', serial: 'H-RP' });
    const moved = await req('POST', '/v1/tokens', admin, { serial: 'H-RP2', type: 'hotp', secret: hex(seed), secretEncoding: 'hex', rekey: true, batchId: 'B-1', source: { fingerprint: 'ab'.repeat(32), name: 'vendor.pskc' } });
    expect(moved.status).toBe(201);
    expect(moved.json['token']).toMatchObject({ counter: '3', batchId: 'B-1', source: { fingerprint: 'ab'.repeat(32), name: 'vendor.pskc' } });
    expect((await req('GET', '/v1/tokens/H-RP', admin)).status).toBe(404);
  });

  it('lost, revoke (terminal), PATCH with version, and the 409 bodies', async () => {
    const seed = randomBytes(20);
    expect((await req('POST', '/v1/tokens', admin, { serial: 'H-LR', type: 'hotp', secret: hex(seed), secretEncoding: 'hex', user: 'bob' })).status).toBe(201);
    const lost = await req('POST', '/v1/tokens/H-LR/lost', admin, { reason: 'left on a train' });
    expect(lost.json['token']).toMatchObject({ state: 'lost', stateReason: 'left on a train', version: 2 });
    const v = (lost.json['token'] as { version: number }).version;
    const stale = await req('PATCH', '/v1/tokens/H-LR', admin, { version: v - 1, user: 'carol' });
    expect(stale.status).toBe(409);
    expect(stale.json['error']).toMatchObject({ code: 'VERSION_MISMATCH', currentVersion: v });
    const moved = await req('PATCH', '/v1/tokens/H-LR', admin, { version: v, user: 'carol', label: 'spare' });
    expect(moved.json['token']).toMatchObject({ user: 'carol', label: 'spare', version: v + 1 });
    const rev = await req('POST', '/v1/tokens/H-LR/revoke', admin, { reason: 'replaced' });
    expect(rev.json['token']).toMatchObject({ state: 'revoked', stateReason: 'replaced' });
    const before = await auditHead();
    for (const a of ['enable', 'unlock', 'disable', 'lost', 'revoke']) {
      const r = await req('POST', `/v1/tokens/H-LR/${a}`, admin);
      expect(r.status).toBe(409);
      expect(r.json['error']).toMatchObject({ code: 'INVALID_TRANSITION', state: 'revoked' });
    }
    const p = await req('PATCH', '/v1/tokens/H-LR', admin, { version: v + 2, user: 'x' });
    expect(p.json['error']).toMatchObject({ code: 'INVALID_TRANSITION' });
    expect(await auditHead()).toBe(before);
    const audit = (await req('GET', '/v1/audit?serial=H-LR&action=reassign', admin)).json['entries'] as Array<{ detail: Record<string, unknown> }>;
    expect(audit[0]!.detail).toMatchObject({ oldUser: 'bob', newUser: 'carol' });
  });

  it('bad input on every new route: 400 naming the field, nothing written', async () => {
    await req('POST', '/v1/tokens', admin, { serial: 'H-BAD', type: 'hotp', secret: hex(randomBytes(20)), secretEncoding: 'hex' });
    const cases: Array<[string, string, unknown, string, number?]> = [
      ['PATCH', '/v1/tokens/H-BAD', { user: 'x' }, 'version'],
      ['PATCH', '/v1/tokens/H-BAD', { version: '1', user: 'x' }, 'version'],
      ['PATCH', '/v1/tokens/H-BAD', { version: 0, user: 'x' }, 'version'],
      ['PATCH', '/v1/tokens/H-BAD', { version: 1.5, user: 'x' }, 'version'],
      ['PATCH', '/v1/tokens/H-BAD', { version: 1 }, 'body'],
      ['PATCH', '/v1/tokens/H-BAD', { version: 1, serial: 'Y' }, 'serial'],
      ['PATCH', '/v1/tokens/H-BAD', { version: 1, lookAhead: -1 }, 'lookAhead'],
      ['PATCH', '/v1/tokens/H-BAD', { version: 1, user: 5 }, 'user'],
      ['PATCH', '/v1/tokens/H-BAD', '[1]', 'body'],
      ['POST', '/v1/tokens/H-BAD/lost', { reason: 5 }, 'reason'],
      ['POST', '/v1/tokens/H-BAD/revoke', { why: 'x' }, 'why'],
      ['POST', '/v1/tokens/H-BAD/revoke', { reason: '' }, 'reason'],
      ['DELETE', '/v1/tokens/H-BAD?force=1', undefined, 'force'],
      ['DELETE', '/v1/tokens/H-BAD?reason=', undefined, 'reason'],
      ['POST', '/v1/tokens', { serial: 'H-NEW', type: 'hotp', secret: hex(randomBytes(20)), secretEncoding: 'hex', rekey: 'yes' }, 'rekey'],
      ['POST', '/v1/tokens', { serial: 'H-NEW', type: 'hotp', secret: hex(randomBytes(20)), secretEncoding: 'hex', batchId: '' }, 'batchId'],
      ['POST', '/v1/tokens', { serial: 'H-NEW', type: 'hotp', secret: hex(randomBytes(20)), secretEncoding: 'hex', source: { fingerprint: 'xyz' } }, 'source.fingerprint'],
      ['POST', '/v1/tokens', { serial: 'H-NEW', type: 'hotp', secret: hex(randomBytes(20)), secretEncoding: 'hex', source: { fingerprint: 'ab'.repeat(32), extra: 1 } }, 'source.extra'],
      ['POST', '/v1/users/%ZZ/unlock', {}, 'user'],
      ['POST', '/v1/users/dave/unlock', { reason: 1 }, 'reason'],
    ];
    const before = await auditHead();
    for (const [m, path, body, field] of cases) {
      const r = await req(m, path, admin, body);
      expect(r.status, `${m} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(r.json['error'], `${m} ${path}`).toMatchObject({ code: 'INVALID_REQUEST', field });
    }
    expect(await auditHead()).toBe(before);
    expect((await req('GET', '/v1/tokens/H-NEW', admin)).status).toBe(404);
    expect((await req('GET', '/v1/tokens/H-BAD', admin)).json['token']).toMatchObject({ version: 1, state: 'active' });
    for (const [m, p] of [['PATCH', '/v1/tokens/H-BAD'], ['POST', '/v1/tokens/H-BAD/revoke'], ['POST', '/v1/users/dave/unlock']] as const) {
      expect((await req(m, p, verifyKey, { version: 1, user: 'x' })).status).toBe(403);
    }
  });

  it('list with filters and cursor, bulk with dry run, batch summary; their bad input is a 400 that changes nothing', async () => {
    const body = Array.from({ length: 5 }, (_, i) => ({ serial: `H-LS-${i}`, type: 'hotp', secret: hex(randomBytes(20)), secretEncoding: 'hex', batchId: 'H-BATCH', user: i < 3 ? 'erin' : 'frank' }));
    expect((await req('POST', '/v1/tokens:batch', admin, { tokens: body })).status).toBe(200);
    const p1 = await req('GET', '/v1/tokens?batch=H-BATCH&limit=2', admin);
    expect((p1.json['tokens'] as Array<{ serial: string }>).map((x) => x.serial)).toEqual(['H-LS-0', 'H-LS-1']);
    const p2 = await req('GET', `/v1/tokens?batch=H-BATCH&limit=2&cursor=${p1.json['nextCursor'] as string}`, admin);
    expect((p2.json['tokens'] as Array<{ serial: string }>).map((x) => x.serial)).toEqual(['H-LS-2', 'H-LS-3']);
    expect(JSON.stringify(p2.json)).not.toMatch(/seed|sealed|secret/i);
    expect((await req('GET', '/v1/tokens?user=frank&state=active&serialPrefix=H-LS', admin)).json).toMatchObject({ nextCursor: null, tokens: [{ serial: 'H-LS-3' }, { serial: 'H-LS-4' }] });
    const dry = await req('POST', '/v1/tokens:bulk', admin, { action: 'disable', filter: { batch: 'H-BATCH', user: 'erin' }, dryRun: true });
    expect(dry.json).toMatchObject({ action: 'disable', matched: 3, changed: 3, dryRun: true });
    expect((await req('GET', '/v1/batches/H-BATCH', admin)).json).toMatchObject({ batchId: 'H-BATCH', tokens: 5, byState: { active: 5 } });
    const before = await auditHead();
    const bad: Array<[string, string, unknown, string]> = [
      ['GET', '/v1/tokens?colour=red', undefined, 'colour'],
      ['GET', '/v1/tokens?state=gone', undefined, 'state'],
      ['GET', '/v1/tokens?limit=0', undefined, 'limit'],
      ['GET', '/v1/tokens?cursor=!!', undefined, 'cursor'],
      ['GET', '/v1/tokens?cursor=Zm9v_', undefined, 'cursor'],
      ['GET', '/v1/tokens?usedBefore=yesterday', undefined, 'usedBefore'],
      ['GET', '/v1/tokens?neverUsed=yes', undefined, 'neverUsed'],
      ['GET', '/v1/tokens?type=sms', undefined, 'type'],
      ['GET', '/v1/tokens?user=a&user=b', undefined, 'user'],
      ['POST', '/v1/tokens:bulk', { action: 'revoke' }, 'filter'],
      ['POST', '/v1/tokens:bulk', { action: 'revoke', filter: {} }, 'filter'],
      ['POST', '/v1/tokens:bulk', { action: 'revoke', filter: { colour: 'red' } }, 'filter.colour'],
      ['POST', '/v1/tokens:bulk', { action: 'revoke', filter: { batch: 'H-BATCH' }, all: true }, 'all'],
      ['POST', '/v1/tokens:bulk', { action: 'delete', filter: { batch: 'H-BATCH' } }, 'action'],
      ['POST', '/v1/tokens:bulk', { action: 'revoke', filter: { serials: [] } }, 'filter.serials'],
      ['POST', '/v1/tokens:bulk', { action: 'revoke', filter: { serials: ['ok', '../x'] } }, 'filter.serials[1]'],
      ['POST', '/v1/tokens:bulk', { action: 'revoke', filter: { state: 'gone' } }, 'filter.state'],
      ['POST', '/v1/tokens:bulk', { action: 'revoke', filter: { batch: 'H-BATCH' }, dryRun: 'yes' }, 'dryRun'],
      ['POST', '/v1/tokens:bulk', { action: 'revoke', filter: { batch: 'H-BATCH' }, extra: 1 }, 'extra'],
      ['GET', '/v1/batches/%ZZ', undefined, 'batchId'],
    ];
    for (const [m, path, b, field] of bad) {
      const r = await req(m, path, admin, b);
      expect(r.status, `${m} ${path} ${JSON.stringify(b)}`).toBe(400);
      expect(r.json['error'], `${m} ${path}`).toMatchObject({ code: 'INVALID_REQUEST', field });
    }
    expect(await auditHead()).toBe(before);
    expect((await req('GET', '/v1/batches/H-BATCH', admin)).json).toMatchObject({ byState: { active: 5 } });
    expect((await req('GET', '/v1/batches/NOPE', admin)).status).toBe(404);
    const done = await req('POST', '/v1/tokens:bulk', admin, { action: 'revoke', filter: { batch: 'H-BATCH' }, reason: 'leak' });
    expect(done.json).toMatchObject({ matched: 5, changed: 5, dryRun: false });
    expect(await auditHead()).toBe(before + 1);
    expect((await req('GET', '/v1/batches/H-BATCH', admin)).json).toMatchObject({ byState: { revoked: 5 } });
  });

  it('docs/openapi.json describes every route the handler serves', () => {
    const doc = JSON.parse(readFileSync(join(ROOT, 'docs', 'openapi.json'), 'utf8')) as { paths: Record<string, unknown> };
    for (const r of ROUTE_TEMPLATES) expect(Object.keys(doc.paths), r).toContain(r);
  });
});
