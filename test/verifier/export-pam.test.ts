/**
 * `tokenforge verifier export` against a registry that has been used: after verifications through a real
 * `verifier serve` process, the exported pam_oath users file, driven by the real PAM stack (pamtester with
 * pam_oath.so and a temporary service file, as in test/provisioner/pam-oath.test.ts), refuses every code the verifier
 * already accepted and accepts the next one, for HOTP (current counter) and TOTP (last accepted code). Exported
 * files are 0600, hold only active tokens (never revoked, lost or disabled ones), and follow the --batch and
 * --user filters; CSV carries the current counters; an existing file is not replaced without --overwrite.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hotp } from '../../otp/hotp.ts';
import { totp } from '../../otp/totp.ts';
import { canUsePam, pamService } from '../provisioner/pam.helpers.ts';
import { call, createKey, runCli, startServer, tempDir, type ServerProc } from './verifier.helpers.ts';

const t = tempDir('tf-export-pam-');
const db = join(t.dir, 'verifier.db');
const masterKey = join(t.dir, 'master.key');
const usersFile = join(t.dir, 'users.oath');
const pam = pamService('tokenforge-export', usersFile, 'test/verifier/export-pam.test.ts');
const tag = randomBytes(3).toString('hex');
const user = (n: string): string => `tf-exp-${tag}-${n}`;
let admin: string;
let srv: ServerProc;
const seeds = new Map<string, Uint8Array>();
/** Codes the verifier accepted, per serial. */
const accepted = new Map<string, string[]>();
let totpStepAccepted = 0;

async function register(serial: string, type: 'hotp' | 'totp', u: string, batchId: string): Promise<void> {
  const seed = Uint8Array.from(randomBytes(20));
  seeds.set(serial, seed);
  const body = { serial, type, secret: Buffer.from(seed).toString('hex'), secretEncoding: 'hex', user: u, batchId, ...(type === 'totp' ? { period: 30 } : {}) };
  const r = await call(srv.url, 'POST', '/v1/tokens', admin, body);
  expect(r.status, r.text).toBe(201);
}

async function verifyOk(serial: string, code: string): Promise<void> {
  const r = await call(srv.url, 'POST', '/v1/verify', admin, { serial, code });
  expect(r.json['result'], `${serial} ${code}`).toBe('ok');
  accepted.set(serial, [...(accepted.get(serial) ?? []), code]);
}

const pamAuth = (u: string, code: string) => pam.auth(u, code);
const exportCli = (args: string[]) => runCli(['verifier', 'export', '--db', db, '--master-key-file', masterKey, ...args], t.dir);

beforeAll(async () => {
  admin = createKey(db, 'admin', t.dir);
  srv = await startServer(db, masterKey, [], t.dir);
  await register('EXP-1', 'hotp', user('alice'), 'exp-a');
  await register('EXP-2', 'hotp', user('bob'), 'exp-a');
  await register('EXP-T', 'totp', user('tim'), 'exp-b');
  for (const [s, u] of [['EXP-R', 'rita'], ['EXP-L', 'lou'], ['EXP-D', 'dan']] as const) await register(s, 'hotp', user(u), 'exp-b');
  const k1 = seeds.get('EXP-1')!;
  for (const c of [0n, 1n, 2n]) await verifyOk('EXP-1', hotp(k1, c));
  const k2 = seeds.get('EXP-2')!;
  await verifyOk('EXP-2', hotp(k2, 0n));
  await verifyOk('EXP-2', hotp(k2, 6n)); // pressed away from the desk: the look-ahead skips 1..5
  // Stay clear of a step boundary so that "now" is the same step for the verifier and for pamtester.
  if (Date.now() % 30_000 > 25_000) await new Promise((r) => setTimeout(r, 30_000 - (Date.now() % 30_000) + 200));
  totpStepAccepted = Math.floor(Date.now() / 30_000);
  await verifyOk('EXP-T', totp(seeds.get('EXP-T')!, totpStepAccepted * 30));
  for (const [s, action] of [['EXP-R', 'revoke'], ['EXP-L', 'lost'], ['EXP-D', 'disable']] as const) {
    await verifyOk(s, hotp(seeds.get(s)!, 0n));
    expect((await call(srv.url, 'POST', `/v1/tokens/${s}/${action}`, admin)).status).toBe(200);
  }
  if (canUsePam) {
    pam.install();
  }
}, 120_000);

afterAll(async () => {
  pam.remove();
  await srv?.stop();
  t.cleanup();
});

describe('verifier export', { timeout: 120_000 }, () => {
  it('writes the active tokens with their current counters, mode 0600, never a revoked, lost or disabled one', () => {
    const r = exportCli(['--format', 'pam-oath', '--out', usersFile]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`exported 3 active tokens to ${usersFile} (pam-oath)\n`);
    expect(statSync(usersFile).mode & 0o777).toBe(0o600);
    const text = readFileSync(usersFile, 'utf8');
    const lines = text.trim().split('\n').slice(1).map((l) => l.split('\t'));
    expect(lines.map((l) => [l[0], l[1], l[4]])).toEqual([
      ['HOTP/E/6', user('alice'), '3'],
      ['HOTP/E/6', user('bob'), '7'],
      ['HOTP/T30/6', user('tim'), '0'],
    ]);
    expect(lines[2]![5]).toBe(accepted.get('EXP-T')![0]);
    for (const s of ['EXP-R', 'EXP-L', 'EXP-D']) expect(text).not.toContain(Buffer.from(seeds.get(s)!).toString('hex'));
    for (const u of ['rita', 'lou', 'dan']) expect(text).not.toContain(user(u));
  });

  it.skipIf(!canUsePam)('pamtester refuses every HOTP code the verifier accepted and accepts the next one', async () => {
    for (const serial of ['EXP-1', 'EXP-2']) {
      for (const code of accepted.get(serial)!) expect((await pamAuth(user(serial === 'EXP-1' ? 'alice' : 'bob'), code)).code, `${serial} ${code}`).not.toBe(0);
    }
    // The codes the look-ahead skipped on EXP-2 are behind the verifier's counter too.
    for (const c of [1n, 2n, 5n]) expect((await pamAuth(user('bob'), hotp(seeds.get('EXP-2')!, c))).code).not.toBe(0);
    const a = await pamAuth(user('alice'), hotp(seeds.get('EXP-1')!, 3n));
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout + a.stderr).toMatch(/successfully authenticated/);
    const b = await pamAuth(user('bob'), hotp(seeds.get('EXP-2')!, 7n));
    expect(b.code, b.stderr).toBe(0);
  });

  it.skipIf(!canUsePam)('pamtester refuses the TOTP code the verifier accepted and accepts the next step', async () => {
    const k = seeds.get('EXP-T')!;
    expect((await pamAuth(user('tim'), accepted.get('EXP-T')![0]!)).code).not.toBe(0);
    expect((await pamAuth(user('tim'), totp(k, (totpStepAccepted - 1) * 30))).code).not.toBe(0);
    const r = await pamAuth(user('tim'), totp(k, (totpStepAccepted + 1) * 30));
    expect(r.code, r.stderr).toBe(0);
  });

  it('CSV carries the current counters; --batch and --user select; an existing file needs --overwrite', () => {
    const csv = join(t.dir, 'a.csv');
    const r = exportCli(['--format', 'csv', '--out', csv, '--batch', 'exp-a']);
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(csv).mode & 0o777).toBe(0o600);
    const rows = readFileSync(csv, 'utf8').trim().split('\r\n').slice(1).map((l) => l.split(','));
    expect(rows.map((x) => [x[0], x[2], x[6], x[9]])).toEqual([
      ['EXP-1', 'hotp', '3', user('alice')],
      ['EXP-2', 'hotp', '7', user('bob')],
    ]);
    const again = exportCli(['--format', 'csv', '--out', csv, '--user', user('bob')]);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/already exists; choose another name or pass --overwrite/);
    const over = exportCli(['--format', 'csv', '--out', csv, '--user', user('bob'), '--overwrite']);
    expect(over.status, over.stderr).toBe(0);
    expect(readFileSync(csv, 'utf8').trim().split('\r\n')).toHaveLength(2);
    const revokedOnly = exportCli(['--format', 'csv', '--out', join(t.dir, 'none.csv'), '--user', user('rita')]);
    expect(revokedOnly.status, revokedOnly.stderr).toBe(0);
    expect(revokedOnly.stdout).toMatch(/^exported 0 active tokens/);
  });

  it('PSKC needs a key or password from a file or the environment; usage errors exit 2 and write nothing', () => {
    const pskc = join(t.dir, 'out.pskc');
    const none = exportCli(['--format', 'pskc', '--out', pskc]);
    expect(none.status).toBe(2);
    writeFileSync(join(t.dir, 'psk.hex'), `${'11'.repeat(16)}\n`, { mode: 0o600 });
    const ok = exportCli(['--format', 'pskc', '--out', pskc, '--psk-file', join(t.dir, 'psk.hex')]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(statSync(pskc).mode & 0o777).toBe(0o600);
    const doc = readFileSync(pskc, 'utf8');
    expect(doc).toContain('<pskc:SerialNo>EXP-1</pskc:SerialNo>');
    expect(doc).not.toContain('EXP-R');
    for (const args of [['--format', 'xml', '--out', join(t.dir, 'x')], ['--format', 'csv'], ['--format', 'csv', '--out', join(t.dir, 'y'), '--state', 'revoked']]) {
      const r = exportCli(args);
      expect(r.status, args.join(' ')).toBe(2);
    }
    expect(() => statSync(join(t.dir, 'x'))).toThrow();
  });
});
