/**
 * The registrar against the REAL verifier (`tokenforge verifier serve`, a child process on a free port):
 * created / existing (idempotent) / 409 conflict / refused key / verifier down, and the registered counter
 * is the one after the code the token showed during the check (never reused); and the request body, byte for
 * byte, for each token type.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hotp } from '../../otp/hotp.ts';
import { Secret } from '../../otp/secret.ts';
import { createHttpRegistrar, FatalRegistrarFault, registrationBody } from '../../provisioner/registrar.ts';
import type { SeedRecord } from '../../provisioner/seed.ts';
import { getToken, startVerifier, verifyCode, type RunningVerifier } from './provision.helpers.ts';

let dir: string;
let v: RunningVerifier;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tf-registrar-'));
  v = await startVerifier(dir);
});
afterAll(async () => {
  await v?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function seed(bytes: Uint8Array, over: Partial<SeedRecord> = {}): SeedRecord {
  return { serial: 'SRC', secret: Secret.copyOf(bytes), otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n }, ...over };
}

describe('registrar against the real verifier', () => {
  it('registers once, answers "existing" for the same seed, and 409 for another seed', async () => {
    const r = createHttpRegistrar({ url: v.url, apiKey: v.adminKey });
    await r.check();
    const key = Uint8Array.from(randomBytes(20));
    const serial = `REG${Date.now() % 100000}`;
    // The token showed the code for counter 7 during the check, so the verifier starts at 8.
    expect(await r.register(serial, seed(key), 8n)).toBe('created');
    expect(await r.register(serial, seed(key), 8n)).toBe('existing');
    const t = await getToken(v, serial);
    expect(t.status).toBe(200);
    expect(JSON.stringify(t.body)).not.toContain(Buffer.from(key).toString('hex'));
    await expect(r.register(serial, seed(Uint8Array.from(randomBytes(20))), 8n)).rejects.toMatchObject({ code: 'REGISTER_CONFLICT' });
    // The code shown during the check (counter 7) is not accepted; the next one is.
    expect(await verifyCode(v, serial, hotp(key, 7n))).not.toBe('ok');
    expect(await verifyCode(v, serial, hotp(key, 8n))).toBe('ok');
  });

  it('registers TOTP seeds with their period and T0', async () => {
    const r = createHttpRegistrar({ url: v.url, apiKey: v.adminKey });
    const key = Uint8Array.from(randomBytes(32));
    const serial = `TOT${Date.now() % 100000}`;
    expect(await r.register(serial, seed(key, { otp: { type: 'totp', algorithm: 'SHA256', digits: 8, periodSec: 60, t0Sec: 0n } }), 0n)).toBe('created');
    const step = BigInt(Math.floor(Date.now() / 1000 / 60));
    expect(await verifyCode(v, serial, hotp(key, step, { algorithm: 'SHA256', digits: 8 }))).toBe('ok');
  });

  it('stops the batch on a refused API key, and reports a verifier that does not answer', async () => {
    const bad = createHttpRegistrar({ url: v.url, apiKey: 'tf_not_a_key' });
    await expect(bad.check()).rejects.toBeInstanceOf(FatalRegistrarFault);
    await expect(bad.register('X1', seed(Uint8Array.from(randomBytes(20))), 1n)).rejects.toBeInstanceOf(FatalRegistrarFault);
    const verifyOnly = createHttpRegistrar({ url: v.url, apiKey: v.verifyKey });
    await expect(verifyOnly.check()).rejects.toMatchObject({ code: 'REGISTER_FAILED' });
    const down = createHttpRegistrar({ url: 'http://127.0.0.1:9', apiKey: v.adminKey, attempts: 2, sleep: async () => {} });
    await expect(down.register('X2', seed(Uint8Array.from(randomBytes(20))), 1n)).rejects.toMatchObject({ code: 'REGISTER_FAILED' });
    expect(() => createHttpRegistrar({ url: 'ftp://x', apiKey: 'k' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('a 400 from the verifier is a per-token failure naming the reason', async () => {
    const r = createHttpRegistrar({ url: v.url, apiKey: v.adminKey });
    // 10 bytes: under the 16-byte minimum of RFC 4226 R6, which the verifier refuses.
    await expect(r.register('SHORT1', seed(Uint8Array.from(randomBytes(10))), 1n)).rejects.toMatchObject({ code: 'REGISTER_FAILED', message: expect.stringContaining('secret') });
  });

  it('sends the same JSON body, byte for byte, for each token type', () => {
    const k = Uint8Array.from(Buffer.from('3132333435363738393031323334353637383930', 'hex'));
    const hex = '3132333435363738393031323334353637383930';
    expect(JSON.stringify(registrationBody('T1', seed(k, { user: 'alice', label: 'fob 1' }), 8n))).toBe(
      `{"serial":"T1","type":"hotp","algorithm":"SHA1","digits":6,"secret":"${hex}","secretEncoding":"hex","counter":"8","user":"alice","label":"fob 1"}`,
    );
    expect(JSON.stringify(registrationBody('T2', seed(k, { otp: { type: 'totp', algorithm: 'SHA256', digits: 8, periodSec: 60, t0Sec: 30n } }), 29_000_000n))).toBe(
      `{"serial":"T2","type":"totp","algorithm":"SHA256","digits":8,"secret":"${hex}","secretEncoding":"hex","period":60,"t0":"30","lastStep":"29000000"}`,
    );
    expect(JSON.stringify(registrationBody('T3', seed(k, { otp: { type: 'ocra', suite: 'OCRA-1:HOTP-SHA256-8:C-QN08', counter: 4n } }), 5n))).toBe(
      `{"serial":"T3","type":"ocra","algorithm":"SHA256","digits":8,"secret":"${hex}","secretEncoding":"hex","counter":"5","ocraSuite":"OCRA-1:HOTP-SHA256-8:C-QN08"}`,
    );
  });

  it('adds the batch id and the seed file fingerprint only when given', () => {
    const k = Uint8Array.from(Buffer.from('3132333435363738393031323334353637383930', 'hex'));
    const fp = 'ab'.repeat(32);
    const body = registrationBody('T4', seed(k), 0n, { batchId: 'fobs-2030-01', source: { fingerprint: fp, name: 'vendor.pskc' } });
    expect(body).toMatchObject({ batchId: 'fobs-2030-01', source: { fingerprint: fp, name: 'vendor.pskc' } });
    expect(Object.keys(registrationBody('T4', seed(k), 0n, { batchId: 'generated' }))).toContain('batchId');
    expect(registrationBody('T4', seed(k), 0n, { batchId: 'generated' })).not.toHaveProperty('source');
    expect(registrationBody('T4', seed(k), 0n)).not.toHaveProperty('batchId');
  });
});
