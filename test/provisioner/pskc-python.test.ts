/**
 * Interoperability with the two independent PSKC implementations on this machine:
 * - files written by python3-pskc (plain, pre-shared key with AES-CBC and KW-AES, password/PBKDF2 in the
 *   xenc11 namespace python-pskc uses, encrypted counters) import with the right secrets and parameters;
 * - files we export (plain, pre-shared key, password) pass `pskctool -q --validate` (OATH Toolkit, XML Schema)
 *   and load in python3-pskc with the right secrets.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Secret } from '../../otp/secret.ts';
import { exportSeeds } from '../../provisioner/exports/index.ts';
import type { SeedRecord } from '../../provisioner/seed.ts';
import { loadSeeds } from '../../provisioner/sources/index.ts';
import { hex, PYTHON, run, tempDir } from './pskc.helpers.ts';

const tmp = tempDir('tf-pskc-py-');
afterAll(() => tmp.cleanup());

const WRITE_PY = String.raw`
import json, sys, pskc
out = sys.argv[1]
def add(p, serial, secret, algorithm, **kw):
    k = p.add_key(serial=serial, secret=bytes.fromhex(secret), algorithm=algorithm, **kw)
    return k
files = {}
# plain
p = pskc.PSKC()
add(p, 'PY-PLAIN-1', '3132333435363738393031323334353637383930', 'urn:ietf:params:xml:ns:keyprov:pskc:hotp', counter=42, response_length=8, response_encoding='DECIMAL', manufacturer='Python', id='k1')
add(p, 'PY-PLAIN-2', 'a1b2c3d4e5f60718293a4b5c6d7e8f9001122334', 'urn:ietf:params:xml:ns:keyprov:pskc:totp', time_interval=60, response_length=6, response_encoding='DECIMAL', id='k2')
p.write(out + '/plain.pskcxml')
# pre-shared key, AES-128-CBC + default MAC
p = pskc.PSKC()
add(p, 'PY-PSK-1', '0123456789abcdef0123456789abcdef01234567', 'urn:ietf:params:xml:ns:keyprov:pskc:hotp', counter=7, response_length=6, id='p1')
p.encryption.setup_preshared_key(key=bytes.fromhex('000102030405060708090a0b0c0d0e0f'), key_name='psk1', fields=['secret', 'counter'])
p.write(out + '/psk128.pskcxml')
# pre-shared key, AES-256-CBC + HMAC-SHA256
p = pskc.PSKC()
add(p, 'PY-PSK-2', 'ffeeddccbbaa99887766554433221100ffeeddcc', 'urn:ietf:params:xml:ns:keyprov:pskc#totp', time_interval=30, response_length=8, id='p2')
p.encryption.setup_preshared_key(key=bytes.fromhex('00' * 31 + '01'), algorithm='aes256-cbc')
p.mac.setup(algorithm='hmac-sha256')
p.write(out + '/psk256.pskcxml')
# pre-shared key, KW-AES-128 (RFC 3394; 32-byte secret, a multiple of 8)
p = pskc.PSKC()
add(p, 'PY-KW-1', '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'urn:ietf:params:xml:ns:keyprov:pskc:hotp', counter=0, response_length=6, id='w1')
p.encryption.setup_preshared_key(key=bytes.fromhex('0f0e0d0c0b0a09080706050403020100'), algorithm='kw-aes128')
p.write(out + '/kw.pskcxml')
# password (PBKDF2)
p = pskc.PSKC()
add(p, 'PY-PW-1', '3132333435363738393031323334353637383930', 'urn:ietf:params:xml:ns:keyprov:pskc:hotp', counter=5, response_length=6, id='w')
p.encryption.setup_pbkdf2('correct horse', iterations=2000)
p.write(out + '/password.pskcxml')
`;

const READ_PY = String.raw`
import json, sys, pskc
path, mode, secret = sys.argv[1], sys.argv[2], sys.argv[3]
p = pskc.PSKC(path)
if mode == 'psk': p.encryption.key = bytes.fromhex(secret)
if mode == 'password': p.encryption.derive_key(secret)
print(json.dumps([dict(serial=k.serial, secret=k.secret.hex(), algorithm=k.algorithm, counter=k.counter,
  interval=k.time_interval, digits=k.response_length, suite=k.algorithm_suite, userid=k.key_userid) for k in p.keys]))
`;

describe('files written by python3-pskc import correctly', () => {
  let written: Promise<void> | undefined;
  const ensureWritten = (): Promise<void> =>
    (written ??= run(PYTHON, ['-c', WRITE_PY, tmp.dir]).then((r) => {
      if (r.code !== 0) throw new Error(`python3-pskc failed: ${r.stderr}`);
    }));
  const summary = (rs: SeedRecord[]): unknown[] => rs.map((r) => ({ serial: r.serial, secret: hex(r.secret.exposeSecretBytes()), otp: r.otp }));

  it('plain', async () => {
    await ensureWritten();
    expect(summary(await loadSeeds({ kind: 'pskc', file: join(tmp.dir, 'plain.pskcxml') }))).toEqual([
      { serial: 'PY-PLAIN-1', secret: '3132333435363738393031323334353637383930', otp: { type: 'hotp', algorithm: 'SHA1', digits: 8, counter: 42n } },
      { serial: 'PY-PLAIN-2', secret: 'a1b2c3d4e5f60718293a4b5c6d7e8f9001122334', otp: { type: 'totp', algorithm: 'SHA1', digits: 6, periodSec: 60, t0Sec: 0n } },
    ]);
  });
  it('pre-shared key, AES-128-CBC + HMAC-SHA1, encrypted counter', async () => {
    await ensureWritten();
    expect(summary(await loadSeeds({ kind: 'pskc', file: join(tmp.dir, 'psk128.pskcxml'), psk: '000102030405060708090a0b0c0d0e0f' }))).toEqual([
      { serial: 'PY-PSK-1', secret: '0123456789abcdef0123456789abcdef01234567', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 7n } },
    ]);
  });
  it('pre-shared key, AES-256-CBC + HMAC-SHA256, the #totp URN', async () => {
    await ensureWritten();
    expect(summary(await loadSeeds({ kind: 'pskc', file: join(tmp.dir, 'psk256.pskcxml'), psk: `${'00'.repeat(31)}01` }))).toEqual([
      { serial: 'PY-PSK-2', secret: 'ffeeddccbbaa99887766554433221100ffeeddcc', otp: { type: 'totp', algorithm: 'SHA1', digits: 8, periodSec: 30, t0Sec: 0n } },
    ]);
  });
  it('pre-shared key, KW-AES-128 (RFC 3394)', async () => {
    await ensureWritten();
    expect(summary(await loadSeeds({ kind: 'pskc', file: join(tmp.dir, 'kw.pskcxml'), psk: '0f0e0d0c0b0a09080706050403020100' }))).toEqual([
      { serial: 'PY-KW-1', secret: '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } },
    ]);
    await expect(loadSeeds({ kind: 'pskc', file: join(tmp.dir, 'kw.pskcxml'), psk: '0f0e0d0c0b0a09080706050403020101' })).rejects.toMatchObject({ code: 'INVALID_DECRYPTION' });
  });
  it('password (PBKDF2 with python-pskc’s xenc11:PBKDF2-params)', async () => {
    await ensureWritten();
    expect(readFileSync(join(tmp.dir, 'password.pskcxml'), 'utf8')).toContain('xenc11:PBKDF2-params');
    expect(summary(await loadSeeds({ kind: 'pskc', file: join(tmp.dir, 'password.pskcxml'), password: 'correct horse' }))).toEqual([
      { serial: 'PY-PW-1', secret: '3132333435363738393031323334353637383930', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 5n } },
    ]);
    await expect(loadSeeds({ kind: 'pskc', file: join(tmp.dir, 'password.pskcxml'), password: 'wrong horse' })).rejects.toMatchObject({
      code: expect.stringMatching(/^INVALID_(DECRYPTION|MAC)$/),
    });
  });
});

describe('PSKC files we export validate with pskctool and load in python3-pskc', () => {
  const records = (): SeedRecord[] => [
    { serial: 'TF00000001', secret: Secret.copyOf(Buffer.from('3132333435363738393031323334353637383930', 'hex')), otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 17n }, user: 'alice', issuer: 'Example & Co <test>' },
    { serial: 'TF00000002', secret: Secret.copyOf(Buffer.from('3132333435363738393031323334353637383930313233343536373839303132', 'hex')), otp: { type: 'totp', algorithm: 'SHA256', digits: 8, periodSec: 60, t0Sec: 0n }, label: 'fob "2"' },
    { serial: 'TF00000003', secret: Secret.copyOf(Buffer.alloc(64, 0xab)), otp: { type: 'totp', algorithm: 'SHA512', digits: 6, periodSec: 30, t0Sec: 1_000n } },
  ];
  const expected = [
    { serial: 'TF00000001', secret: '3132333435363738393031323334353637383930', algorithm: 'urn:ietf:params:xml:ns:keyprov:pskc:hotp', counter: 17, interval: null, digits: 6, suite: null, userid: 'alice' },
    { serial: 'TF00000002', secret: '3132333435363738393031323334353637383930313233343536373839303132', algorithm: 'urn:ietf:params:xml:ns:keyprov:pskc:totp', counter: null, interval: 60, digits: 8, suite: 'HMAC-SHA256', userid: null },
    { serial: 'TF00000003', secret: 'ab'.repeat(64), algorithm: 'urn:ietf:params:xml:ns:keyprov:pskc:totp', counter: null, interval: 30, digits: 6, suite: 'HMAC-SHA512', userid: null },
  ];

  it.each([
    ['plain', { allowPlain: true }, 'plain', ''],
    ['pre-shared key', { psk: '00112233445566778899aabbccddeeff' }, 'psk', '00112233445566778899aabbccddeeff'],
    ['password', { password: 'export pw', iterations: 2000 }, 'password', 'export pw'],
  ] as const)('%s', async (name, opts, mode, secret) => {
    const file = join(tmp.dir, `export-${mode}.pskcxml`);
    await exportSeeds(records(), { format: 'pskc', file, ...opts });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const v = await run('pskctool', ['-q', '--validate', file]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).not.toMatch(/Schemas validity error/);
    const py = await run(PYTHON, ['-c', READ_PY, file, mode, secret]);
    expect(py.code, py.stderr).toBe(0);
    expect(JSON.parse(py.stdout)).toEqual(expected);
    // ... and our own reader gives the records back.
    const back = await loadSeeds({ kind: 'pskc', file, ...(mode === 'psk' ? { psk: secret } : mode === 'password' ? { password: secret } : {}) });
    expect(back.map((r) => [r.serial, r.otp, hex(r.secret.exposeSecretBytes())])).toEqual(records().map((r) => [r.serial, r.otp, hex(r.secret.exposeSecretBytes())]));
    if (name !== 'plain') expect(readFileSync(file, 'utf8')).not.toMatch(/PlainValue>[A-Za-z0-9+/]{20,}/);
  });

  it('a tampered export is refused by python3-pskc too (the MAC we write is the RFC one)', async () => {
    const file = join(tmp.dir, 'export-psk.pskcxml');
    const xml = readFileSync(file, 'utf8');
    const tampered = xml.replace(/(<pskc:ValueMAC>)(.)/, (_m, a: string, c: string) => `${a}${c === 'A' ? 'B' : 'A'}`);
    const bad = join(tmp.dir, 'tampered.pskcxml');
    writeFileSync(bad, tampered);
    const py = await run(PYTHON, ['-c', READ_PY, bad, 'psk', '00112233445566778899aabbccddeeff']);
    expect(py.code).not.toBe(0);
    expect(py.stderr).toMatch(/MAC value does not match/);
    await expect(loadSeeds({ kind: 'pskc', file: bad, psk: '00112233445566778899aabbccddeeff' })).rejects.toMatchObject({ code: 'INVALID_MAC' });
  });
});
