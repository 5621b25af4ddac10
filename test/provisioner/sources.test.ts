/**
 * Seed sources: the CSPRNG generator (through a seeded rng port), the CSV source (formats, defaults and a
 * malformed-input table), and loadSeeds/readSeeds over real files.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeBase32 } from '../../otp/base32.ts';
import { otpAlgorithm, otpCounter, otpDigits } from '../../otp/otp-params.ts';
import { ProvisionerError, type SeedRecord } from '../../provisioner/seed.ts';
import { csvToSeeds, generateSeeds, loadSeeds, nodeRng, readSeeds, type Rng } from '../../provisioner/sources/index.ts';
import { hex, tempDir } from './pskc.helpers.ts';

const tmp = tempDir('tf-sources-');
afterAll(() => tmp.cleanup());

/** Deterministic rng for tests: SHA-256 in counter mode over a seed. */
function seededRng(seed: string): Rng {
  let counter = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += 32) {
      const block = createHash('sha256').update(`${seed}:${counter++}`).digest();
      out.set(block.subarray(0, Math.min(32, n - off)), off);
    }
    return out;
  };
}

describe('generate', () => {
  it('seed length follows the hash: 20, 32, 64 bytes', () => {
    for (const [algorithm, len] of [['SHA1', 20], ['SHA256', 32], ['SHA512', 64]] as const) {
      const [r] = generateSeeds(1, { algorithm, type: 'totp' }, nodeRng);
      expect(r!.secret.length).toBe(len);
      expect(r!.otp).toEqual({ type: 'totp', algorithm, digits: 6, periodSec: 30, t0Sec: 0n });
    }
  });
  it('uses the injected rng (replayable) and never repeats a serial in a batch', () => {
    const a = generateSeeds(50, {}, seededRng('x'));
    const b = generateSeeds(50, {}, seededRng('x'));
    expect(a.map((r) => [r.serial, hex(r.secret.exposeSecretBytes())])).toEqual(b.map((r) => [r.serial, hex(r.secret.exposeSecretBytes())]));
    expect(new Set(a.map((r) => r.serial)).size).toBe(50);
    expect(new Set(a.map((r) => hex(r.secret.exposeSecretBytes()))).size).toBe(50);
    expect(a[0]!.serial).toMatch(/^TF[0-9A-F]{10}$/);
  });
  it('an rng that repeats itself still yields unique serials', () => {
    let calls = 0;
    const stuck: Rng = (n) => new Uint8Array(n).fill(n === 5 ? Math.min(calls++, 3) : 7);
    expect(new Set(generateSeeds(3, {}, stuck).map((r) => r.serial)).size).toBe(3);
  });
  it('profile options: sequential serials, digits, period, counter, OCRA', () => {
    const hotp = generateSeeds(3, { serialPrefix: 'LAB-', serialStart: 98, serialWidth: 4, digits: 8, counter: 5n }, nodeRng);
    expect(hotp.map((r) => [r.serial, r.otp])).toEqual(['LAB-0098', 'LAB-0099', 'LAB-0100'].map((s) => [s, { type: 'hotp', algorithm: 'SHA1', digits: 8, counter: 5n }]));
    const [totp] = generateSeeds(1, { type: 'totp', periodSec: 60, t0: 100n }, nodeRng);
    expect(totp!.otp).toEqual({ type: 'totp', algorithm: 'SHA1', digits: 6, periodSec: 60, t0Sec: 100n });
    const [ocra] = generateSeeds(1, { type: 'ocra', ocraSuite: 'OCRA-1:HOTP-SHA256-8:QN08' }, nodeRng);
    expect(ocra!.otp).toEqual({ type: 'ocra', suite: 'OCRA-1:HOTP-SHA256-8:QN08' });
    expect([otpAlgorithm(ocra!.otp), otpDigits(ocra!.otp)]).toEqual(['SHA256', 8]);
    expect(ocra!.secret.length).toBe(32);
  });
  it.each([
    ['zero count', () => generateSeeds(0, {}, nodeRng)],
    ['fractional count', () => generateSeeds(1.5, {}, nodeRng)],
    ['digits 5', () => generateSeeds(1, { digits: 5 }, nodeRng)],
    ['short seed', () => generateSeeds(1, { seedBytes: 8 }, nodeRng)],
    ['OCRA without suite', () => generateSeeds(1, { type: 'ocra' }, nodeRng)],
    ['bad OCRA suite', () => generateSeeds(1, { type: 'ocra', ocraSuite: 'OCRA-2:x' }, nodeRng)],
    ['period 0', () => generateSeeds(1, { type: 'totp', periodSec: 0 }, nodeRng)],
    ['rng returning too few bytes', () => generateSeeds(1, {}, () => new Uint8Array(3))],
  ])('refuses %s', (_n, f) => {
    expect(f).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
  it('loadSeeds({kind: generate}) defaults to the node CSPRNG', async () => {
    const rs = await loadSeeds({ kind: 'generate', count: 3, profile: { algorithm: 'SHA256' } });
    expect(rs.map((r) => r.secret.length)).toEqual([32, 32, 32]);
  });
});

describe('CSV', () => {
  const K = '3132333435363738393031323334353637383930';
  const summary = (rs: SeedRecord[]): unknown[] => rs.map((r) => [r.serial, hex(r.secret.exposeSecretBytes()), r.otp, r.user ?? null]);
  it('hex, base32 and prefixed secrets; defaults; any column order; quoting; comments', () => {
    const b32 = encodeBase32(Buffer.from(K, 'hex'));
    const text = [
      'Serial,Type,Secret,Digits,Period,Counter,User,Algorithm,T0',
      '# a comment line',
      `A1,hotp,${K},8,,42,alice,,`,
      `A2,totp,base32:${b32.toLowerCase()},,60,,"bob, jr",sha256,1000`,
      '',
      `"A3",,hex:${K.toUpperCase()},,,,,,`,
    ].join('\r\n');
    expect(summary(csvToSeeds(text))).toEqual([
      ['A1', K, { type: 'hotp', algorithm: 'SHA1', digits: 8, counter: 42n }, 'alice'],
      ['A2', K, { type: 'totp', algorithm: 'SHA256', digits: 6, periodSec: 60, t0Sec: 1000n }, 'bob, jr'],
      ['A3', K, { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n }, null],
    ]);
    const b = csvToSeeds(`serial,secret_base32\nB1,${b32.replace(/(.{4})/g, '$1 ')}\n`);
    expect(hex(b[0]!.secret.exposeSecretBytes())).toBe(K);
    const o = csvToSeeds(`serial,secret_hex,type,ocra_suite\nO1,${K},ocra,OCRA-1:HOTP-SHA1-6:QN08\n`);
    expect(o[0]!.otp).toEqual({ type: 'ocra', suite: 'OCRA-1:HOTP-SHA1-6:QN08' });
    expect([otpAlgorithm(o[0]!.otp), otpDigits(o[0]!.otp)]).toEqual(['SHA1', 6]);
    expect(otpCounter(csvToSeeds(`serial,secret\nC1,${K}\n`)[0]!.otp)).toBe(0n);
    expect(otpCounter(csvToSeeds(`serial,secret,counter\nC1,${K},18446744073709551615\n`)[0]!.otp)).toBe(18446744073709551615n);
  });

  it.each([
    ['empty file', '', /empty/],
    ['no serial column', `secret\n${K}\n`, /no serial column/],
    ['no secret column', 'serial\nA\n', /exactly one of secret/],
    ['two secret columns', `serial,secret,secret_base32\nA,${K},AA\n`, /exactly one of secret/],
    ['unknown column (typo)', `serial,secret,couter\nA,${K},1\n`, /unknown column "couter"/],
    ['duplicate column', `serial,secret,serial\nA,${K},B\n`, /appears twice/],
    ['odd-length hex', `serial,secret\nA,${K}1\n`, /line 2: secret has an odd number of hex digits/],
    ['non-hex in secret', `serial,secret\nA,JBSWY3DPEHPK3PXP\n`, /not hex .*secret_base32/],
    ['bad base32', `serial,secret_base32\nA,JBSW1Y3DP\n`, /line 2/],
    ['empty secret', 'serial,secret\nA,\n', /secret is empty/],
    ['empty serial', `serial,secret\n,${K}\n`, /serial is empty/],
    ['field count', `serial,secret\nA,${K},x\n`, /3 fields, but the header has 2/],
    ['unterminated quote', `serial,secret\n"A,${K}\n`, /unterminated quoted field/],
    ['quote in unquoted field', `serial,secret\nA"B,${K}\n`, /quote inside an unquoted field/],
    ['text after closing quote', `serial,secret\n"A"x,${K}\n`, /text after a closing quote/],
    ['bad type', `serial,secret,type\nA,${K},motp\n`, /type "motp"/],
    ['digits out of range', `serial,secret,digits\nA,${K},12\n`, /digits/],
    ['negative counter', `serial,secret,counter\nA,${K},-1\n`, /counter "-1"/],
    ['counter too big', `serial,secret,counter\nA,${K},18446744073709551616\n`, /too large/],
    ['counter on TOTP', `serial,secret,type,counter\nA,${K},totp,5\n`, /TOTP seed has no counter/],
    ['bad algorithm', `serial,secret,algorithm\nA,${K},md5\n`, /md5/],
    ['OCRA suite disagreeing with digits', `serial,secret,type,ocra_suite,digits\nA,${K},ocra,OCRA-1:HOTP-SHA1-6:QN08,8\n`, /OCRA suite/],
    ['OCRA without a suite', `serial,secret,type\nA,${K},ocra\n`, /needs an ocra_suite/],
    ['OCRA suite on another type', `serial,secret,type,ocra_suite\nA,${K},hotp,OCRA-1:HOTP-SHA1-6:QN08\n`, /for type ocra only/],
    ['counter on an OCRA suite without C', `serial,secret,type,ocra_suite,counter\nA,${K},ocra,OCRA-1:HOTP-SHA1-6:QN08,5\n`, /no counter input/],
    ['period 0', `serial,secret,period\nA,${K},0\n`, /period/],
    ['serial with a control character', `serial,secret\n"A\tB",${K}\n`, /serial must be/],
  ])('%s', (_n, text, message) => {
    let err: unknown;
    try {
      csvToSeeds(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProvisionerError);
    expect((err as ProvisionerError).code).toBe('INVALID_CSV');
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain(K);
  });

  it('row limit', () => {
    expect(() => csvToSeeds(`serial,secret\n${Array.from({ length: 20 }, (_, i) => `S${i},${K}`).join('\n')}\n`, { maxRows: 10 })).toThrow(
      expect.objectContaining({ code: 'INVALID_TOO_LARGE' }),
    );
  });
});

describe('loadSeeds / readSeeds over files', () => {
  it('reads a CSV file and yields every record; a bad row fails the whole file', async () => {
    const file = join(tmp.dir, 'seeds.csv');
    writeFileSync(file, 'serial,secret_hex,type\nS1,00112233445566778899aabbccddeeff,hotp\nS2,00112233445566778899aabbccddeeff00,totp\n');
    const got: string[] = [];
    for await (const r of readSeeds({ kind: 'csv', file })) got.push(`${r.serial}/${r.otp.type}`);
    expect(got).toEqual(['S1/hotp', 'S2/totp']);
    const bad = join(tmp.dir, 'bad.csv');
    writeFileSync(bad, 'serial,secret_hex\nS1,00112233445566778899aabbccddeeff\nS2,zz\n');
    const yielded: string[] = [];
    await expect(
      (async () => {
        for await (const r of readSeeds({ kind: 'csv', file: bad })) yielded.push(r.serial);
      })(),
    ).rejects.toMatchObject({ code: 'INVALID_CSV' });
    expect(yielded).toEqual([]); // nothing reaches a token before the whole file is validated
  });
  it('file-system errors are IO_ERROR; non-UTF-8 and oversize input are input errors', async () => {
    await expect(loadSeeds({ kind: 'csv', file: join(tmp.dir, 'missing.csv') })).rejects.toMatchObject({ code: 'IO_ERROR', message: expect.stringMatching(/no such file/) });
    await expect(loadSeeds({ kind: 'pskc', file: tmp.dir })).rejects.toMatchObject({ code: 'IO_ERROR' });
    const bin = join(tmp.dir, 'bin.csv');
    writeFileSync(bin, Buffer.from([0xff, 0xfe, 0x00, 0x41]));
    await expect(loadSeeds({ kind: 'csv', file: bin })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/UTF-8/) });
    const big = join(tmp.dir, 'big.csv');
    writeFileSync(big, 'serial,secret\n'.padEnd(2000, '#'));
    await expect(loadSeeds({ kind: 'csv', file: big, maxBytes: 1000 })).rejects.toMatchObject({ code: 'INVALID_TOO_LARGE' });
  });
});
