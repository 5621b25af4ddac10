/**
 * The HTTP API through a real server process on a real socket (SQLite store): bad input gets a 4xx JSON error
 * and writes nothing; roles; idempotent and all-or-nothing registration; no registered seed ever appears in a
 * response, a log line or the database files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeBase32 } from '../../otp/base32.ts';
import { createHotpEngine } from '../../otp/engine.ts';
import { call, createKey, RFC_KEY_HEX, startServer, tempDir, type Reply, type ServerProc } from './verifier.helpers.ts';

const t = tempDir();
const db = join(t.dir, 'v.db');
const keyFile = join(t.dir, 'master.key');
let srv: ServerProc;
let admin: string;
let verifyKey: string;
const replies: string[] = [];
const seeds: Uint8Array[] = [];

async function req(method: string, path: string, key: string | null, body?: unknown, headers?: Record<string, string>): Promise<Reply> {
  const r = await call(srv.url, method, path, key, body, headers);
  replies.push(r.text);
  return r;
}
async function auditCount(): Promise<number> {
  const r = await req('GET', '/v1/audit?limit=1000', admin);
  return (r.json['entries'] as unknown[]).length;
}
function seed(): Uint8Array {
  const s = randomBytes(20);
  seeds.push(s);
  return s;
}

beforeAll(async () => {
  admin = createKey(db, 'admin');
  verifyKey = createKey(db, 'verify');
  srv = await startServer(db, keyFile, ['--backoff-ms', '0']);
});
afterAll(async () => {
  await srv?.stop();
  t.cleanup();
});

describe('bad input gets a clear 4xx JSON error and writes nothing', { timeout: 60_000 }, () => {
  const good = () => ({ serial: 'BAD-1', type: 'hotp', secret: Buffer.from(seed()).toString('hex'), secretEncoding: 'hex' });
  const cases: Array<[string, () => { body: unknown; headers?: Record<string, string> }, number, string, string?]> = [
    ['malformed JSON', () => ({ body: '{"serial": "BAD-1", ' }), 400, 'INVALID_REQUEST', 'body'],
    ['empty body', () => ({ body: '' }), 400, 'INVALID_REQUEST', 'body'],
    ['not an object', () => ({ body: '[1,2]' }), 400, 'INVALID_REQUEST', 'body'],
    ['wrong type (digits as string)', () => ({ body: { ...good(), digits: '6' } }), 400, 'INVALID_REQUEST', 'digits'],
    ['wrong type (serial as number)', () => ({ body: { ...good(), serial: 7 } }), 400, 'INVALID_REQUEST', 'serial'],
    ['unknown field', () => ({ body: { ...good(), seed: 'x' } }), 400, 'INVALID_REQUEST', 'seed'],
    ['__proto__ field', () => ({ body: `{"serial":"BAD-1","type":"hotp","secret":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ","__proto__":{"x":1}}` }), 400, 'INVALID_REQUEST', '__proto__'],
    ['bad base32', () => ({ body: { ...good(), secret: 'GEZDGNBVGY3TQOJQ!EZDGNBVGY3TQOJQ', secretEncoding: 'base32' } }), 400, 'INVALID_REQUEST', 'secret'],
    ['bad hex', () => ({ body: { ...good(), secret: 'zz' + RFC_KEY_HEX } }), 400, 'INVALID_REQUEST', 'secret'],
    ['short secret', () => ({ body: { ...good(), secret: '00112233' } }), 400, 'INVALID_REQUEST', 'secret'],
    ['digits out of range', () => ({ body: { ...good(), digits: 11 } }), 400, 'INVALID_REQUEST', 'digits'],
    ['lastStep on a hotp token', () => ({ body: { ...good(), lastStep: '5' } }), 400, 'INVALID_REQUEST', 'lastStep'],
    ['counter negative', () => ({ body: { ...good(), counter: -1 } }), 400, 'INVALID_REQUEST', 'counter'],
    ['period on hotp', () => ({ body: { ...good(), period: 30 } }), 400, 'INVALID_REQUEST', 'period'],
    ['bad serial', () => ({ body: { ...good(), serial: '../etc' } }), 400, 'INVALID_REQUEST', 'serial'],
    ['wrong content type', () => ({ body: JSON.stringify(good()), headers: { 'content-type': 'text/plain' } }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['body over the limit', () => ({ body: { ...good(), label: 'x'.repeat(70_000) } }), 413, 'PAYLOAD_TOO_LARGE'],
  ];
  for (const [name, make, status, code, field] of cases) {
    it(name, async () => {
      const before = await auditCount();
      const { body, headers } = make();
      const r = await req('POST', '/v1/tokens', admin, body, headers);
      expect(r.status).toBe(status);
      expect(r.json['error']).toMatchObject({ code, ...(field ? { field } : {}) });
      expect(typeof (r.json['error'] as { message: string }).message).toBe('string');
      expect((await req('GET', '/v1/tokens/BAD-1', admin)).status).toBe(404);
      expect(await auditCount()).toBe(before);
    });
  }
  it('verify: unknown field, both serial and user, non-digit code', async () => {
    for (const body of [{ serial: 'X', code: '123456', extra: 1 }, { serial: 'X', user: 'u', code: '123456' }, { serial: 'X', code: '12a456' }, { serial: 'X', code: 123456 }]) {
      const r = await req('POST', '/v1/verify', verifyKey, body);
      expect(r.status).toBe(400);
      expect(r.json['error']).toMatchObject({ code: 'INVALID_REQUEST' });
    }
  });
  it('audit query: unknown parameter and bad limit', async () => {
    expect((await req('GET', '/v1/audit?foo=1', admin)).status).toBe(400);
    expect((await req('GET', '/v1/audit?limit=0', admin)).status).toBe(400);
  });
});

describe('API keys and roles', { timeout: 90_000 }, () => {
  it('missing key and wrong key are 401; a verify key on an admin route is 403; nothing is written', async () => {
    const before = await auditCount();
    const body = { serial: 'ROLE-1', type: 'hotp', secret: Buffer.from(seed()).toString('hex'), secretEncoding: 'hex' };
    const none = await req('POST', '/v1/tokens', null, body);
    expect(none.status).toBe(401);
    expect(none.json['error']).toMatchObject({ code: 'UNAUTHENTICATED' });
    const wrong = await req('POST', '/v1/tokens', admin.slice(0, -4) + 'AAAA', body);
    expect(wrong.status).toBe(401);
    expect((await req('POST', '/v1/tokens', 'not-a-key', body)).status).toBe(401);
    const role = await req('POST', '/v1/tokens', verifyKey, body);
    expect(role.status).toBe(403);
    expect(role.json['error']).toMatchObject({ code: 'FORBIDDEN' });
    for (const [m, p] of [['GET', '/v1/audit'], ['GET', '/v1/tokens/ROLE-1'], ['DELETE', '/v1/tokens/ROLE-1'], ['POST', '/v1/tokens/ROLE-1/unlock']] as const) {
      expect((await req(m, p, verifyKey)).status).toBe(403);
    }
    expect(await auditCount()).toBe(before);
    expect((await req('GET', '/v1/tokens/ROLE-1', admin)).status).toBe(404);
    // The verify key can verify (404 here: no such token).
    expect((await req('POST', '/v1/verify', verifyKey, { serial: 'ROLE-1', code: '123456' })).status).toBe(404);
  });
});

describe('registration', { timeout: 90_000 }, () => {
  it('a totp token registered with lastStep never accepts that step (the provisioning check code)', async () => {
    const key = seed();
    const r = await req('POST', '/v1/tokens', admin, { serial: 'TOTP-LAST', type: 'totp', secret: Buffer.from(key).toString('hex'), secretEncoding: 'hex', lastStep: String(Math.floor(Date.now() / 30_000)) });
    expect(r.status).toBe(201);
    const step = BigInt(Math.floor(Date.now() / 30_000));
    const code = createHotpEngine(key).code(step);
    const v = await req('POST', '/v1/verify', verifyKey, { serial: 'TOTP-LAST', code });
    expect(v.json['result']).not.toBe('ok');
    const meta = await req('GET', '/v1/tokens/TOTP-LAST', admin);
    expect(BigInt((meta.json['token'] as { lastStep: string }).lastStep)).toBeGreaterThanOrEqual(step - 1n);
  });

  it('is idempotent per serial: 201, then 200 for the same secret, 409 for another', async () => {
    const s = seed();
    const body = { serial: 'IDEM-1', type: 'totp', secret: encodeBase32(s), user: 'carol' };
    expect((await req('POST', '/v1/tokens', admin, body)).status).toBe(201);
    const again = await req('POST', '/v1/tokens', admin, { ...body, secret: Buffer.from(s).toString('hex'), secretEncoding: 'hex' });
    expect(again.status).toBe(200);
    expect(again.json['status']).toBe('exists');
    const other = await req('POST', '/v1/tokens', admin, { ...body, secret: encodeBase32(seed()) });
    expect(other.status).toBe(409);
    expect(other.json['error']).toMatchObject({ code: 'CONFLICT' });
  });
  it('batch is all or nothing (bad entry -> 400, conflict -> 409, over 10,000 -> 400), and 10,000 register at once', async () => {
    const mk = (i: number) => ({ serial: `B-${i}`, type: 'hotp', secret: Buffer.from(seed()).toString('hex'), secretEncoding: 'hex' });
    const bad = await req('POST', '/v1/tokens:batch', admin, { tokens: [mk(1), { ...mk(2), digits: 99 }] });
    expect(bad.status).toBe(400);
    expect(bad.json['error']).toMatchObject({ field: 'tokens[1].digits' });
    const conflict = await req('POST', '/v1/tokens:batch', admin, { tokens: [mk(3), { ...mk(4), serial: 'IDEM-1' }] });
    expect(conflict.status).toBe(409);
    for (const s of ['B-1', 'B-2', 'B-3', 'B-4']) expect((await req('GET', `/v1/tokens/${s}`, admin)).status).toBe(404);
    const tooMany = Array.from({ length: 10_001 }, (_, i) => ({ serial: `M-${i}`, type: 'hotp', secret: RFC_KEY_HEX, secretEncoding: 'hex' }));
    expect((await req('POST', '/v1/tokens:batch', admin, { tokens: tooMany })).status).toBe(400);
    // The first 100 of these seeds join the leak search (all 10,000 would make the search slow, not stronger).
    const big = Array.from({ length: 10_000 }, (_, i) => ({ serial: `BIG-${i}`, type: 'hotp', secret: Buffer.from(i < 100 ? seed() : randomBytes(20)).toString('hex'), secretEncoding: 'hex' }));
    const ok = await req('POST', '/v1/tokens:batch', admin, { tokens: big });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ created: 10_000, existing: 0 });
    expect((await req('GET', '/v1/tokens/BIG-9999', admin)).json['token']).toMatchObject({ serial: 'BIG-9999', counter: '0' });
  });
  it('metadata, enable/disable/unlock, delete, verify by user, healthz, metrics, openapi', async () => {
    const s = seed();
    await req('POST', '/v1/tokens', admin, { serial: 'LIFE-1', type: 'hotp', secret: Buffer.from(s).toString('hex'), secretEncoding: 'hex', user: 'dave' });
    const meta = (await req('GET', '/v1/tokens/LIFE-1', admin)).json['token'] as Record<string, unknown>;
    expect(meta).toMatchObject({ serial: 'LIFE-1', state: 'active', counter: '0', failCount: 0, user: 'dave' });
    expect(Object.keys(meta).some((k) => /secret|seed|sealed/i.test(k))).toBe(false);
    expect((await req('POST', '/v1/tokens/LIFE-1/disable', admin)).json['token']).toMatchObject({ state: 'disabled' });
    expect((await req('POST', '/v1/verify', verifyKey, { user: 'dave', code: '000000' })).json['result']).toBe('disabled');
    expect((await req('POST', '/v1/tokens/LIFE-1/enable', admin)).json['token']).toMatchObject({ state: 'active' });
    expect((await req('POST', '/v1/verify', verifyKey, { user: 'dave', code: '000000' })).json).toMatchObject({ result: 'invalid', serial: 'LIFE-1' });
    expect((await req('POST', '/v1/tokens/LIFE-1/unlock', admin)).json['token']).toMatchObject({ failCount: 0 });
    expect((await req('POST', '/v1/tokens/LIFE-1/unlock', admin, { x: 1 })).status).toBe(400);
    expect((await req('DELETE', '/v1/tokens/LIFE-1', admin)).status).toBe(204);
    expect((await req('DELETE', '/v1/tokens/LIFE-1', admin)).status).toBe(404);
    expect((await req('GET', '/healthz', null)).json).toMatchObject({ status: 'ok', store: 'sqlite' });
    const m = await req('GET', '/metrics', null);
    expect(m.text).toMatch(/tokenforge_verifications_total\{result="invalid"\} \d+/);
    expect((await req('GET', '/openapi.json', null)).json['openapi']).toBe('3.1.0');
    expect((await req('GET', '/nope', admin)).status).toBe(404);
    expect((await req('PUT', '/v1/verify', verifyKey, {})).status).toBe(405);
    const audit = (await req('GET', '/v1/audit?serial=LIFE-1&action=verify', admin)).json['entries'] as Array<Record<string, unknown>>;
    expect(audit.map((e) => e['result'])).toEqual(['disabled', 'invalid']);
  });
});

describe('seeds never leak', { timeout: 90_000 }, () => {
  it('no registered seed (hex, base32, raw bytes) appears in any response, the logs, or the database files', async () => {
    // Drive a few verifications so engines are built and state is written, then stop the server (flush logs).
    for (const s of ['IDEM-1', 'B-0', 'BIG-1']) await req('POST', '/v1/verify', verifyKey, { serial: s, code: '123456' });
    await srv.stop();
    const haystacks: Array<[string, Buffer]> = [
      ['responses', Buffer.from(replies.join('\n'))],
      ['server stdout', Buffer.from(srv.stdout())],
      ['server stderr', Buffer.from(srv.stderr())],
      ...readdirSync(t.dir).filter((f) => f.startsWith('v.db')).map((f) => [f, readFileSync(join(t.dir, f))] as [string, Buffer]),
    ];
    expect(seeds.length).toBeGreaterThan(100);
    for (const s of seeds) {
      const needles = [Buffer.from(s).toString('hex'), Buffer.from(s).toString('hex').toUpperCase(), encodeBase32(s), encodeBase32(s).toLowerCase()];
      for (const [name, hay] of haystacks) {
        const text = hay.toString('latin1');
        for (const n of needles) expect(text.includes(n), `${name} contains a seed`).toBe(false);
        expect(hay.includes(Buffer.from(s)), `${name} contains raw seed bytes`).toBe(false);
      }
    }
  });
});
