/** cli/flags.ts and cli/key-flags.ts in-process: the one set of rules every command's flags follow, against a table of hostile values. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../cli/errors.ts';
import {
  bigInteger,
  digits,
  hashAlgorithm,
  integer,
  list,
  optionalBigInteger,
  optionalInteger,
  optionalNumber,
  single,
} from '../../cli/flags.ts';
import { pskcExportKeys, pskcKeys, trustAnchors } from '../../cli/key-flags.ts';
import { bytesToHex } from '../../otp/hex.ts';
import { TEST_ATTESTATION_PUBLIC_KEY } from '../../protocol/test-attestation-key.ts';

const usage = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('no error');
};

describe('single and list', () => {
  it('a single-valued flag given twice is an error; a repeatable one keeps every value in order', () => {
    expect(single(undefined, '--x')).toBeUndefined();
    expect(single('a', '--x')).toBe('a');
    expect(single(['a'], '--x')).toBe('a');
    expect(usage(() => single(['a', 'b'], '--x'))).toBe('--x: given 2 times; give it once');
    expect(list(undefined)).toEqual([]);
    expect(list('a,b')).toEqual(['a,b']);
    expect(list(['b', 'a'])).toEqual(['b', 'a']);
  });
});

describe('integers', () => {
  const range = { min: 1, max: 100 };
  it.each(['', ' 5', '5 ', '+5', '-1', '1.5', '5.0', '1e3', '0x10', '1_000', 'x', 'true', '٣', '0'.repeat(41)])('refuses %j as not an integer', (text) => {
    expect(usage(() => integer(text, '--n', range))).toBe(`--n: "${text.slice(0, 24)}" is not a non-negative integer; give a whole number in 1..100`);
  });

  it('names the range when the value is outside it', () => {
    expect(usage(() => integer('0', '--max-failures', range))).toBe('--max-failures must be an integer 1..100');
    expect(usage(() => integer('101', '--max-failures', range))).toBe('--max-failures must be an integer 1..100');
    expect(usage(() => integer('0'.repeat(37) + '101', '--n', range))).toBe('--n must be an integer 1..100');
  });

  it('accepts decimal digits in range, leading zeros included; absent is undefined, or an error when required', () => {
    expect(integer('1', '--n', range)).toBe(1);
    expect(integer('0100', '--n', range)).toBe(100);
    expect(integer(['7'], '--n', range)).toBe(7);
    expect(optionalInteger(undefined, '--n', range)).toBeUndefined();
    expect(usage(() => integer(undefined, '--n', range))).toBe('--n: required; give a whole number in 1..100');
    expect(usage(() => integer(['1', '2'], '--n', range))).toBe('--n: given 2 times; give it once');
  });

  it('bigints go past 2^53 exactly, and take hex only where asked', () => {
    const max = (1n << 64n) - 1n;
    expect(bigInteger('18446744073709551615', '--counter', { max })).toBe(max);
    expect(bigInteger('9007199254740993', '--counter', { max })).toBe(9007199254740993n);
    expect(usage(() => bigInteger('18446744073709551616', '--counter', { max }))).toBe('--counter must be an integer 0..18446744073709551615');
    expect(usage(() => bigInteger('0x10', '--counter', { max }))).toMatch(/^--counter: "0x10" is not a non-negative integer; give a whole number in 0\.\./);
    expect(bigInteger('0x132d0b6', '--timestamp', { max, hex: true })).toBe(0x132d0b6n);
    expect(bigInteger('0X10', '--timestamp', { max, hex: true })).toBe(16n);
    expect(usage(() => bigInteger('0x', '--timestamp', { max, hex: true }))).toMatch(/give a whole number \(decimal, or hex with 0x\) in 0\.\./);
    expect(usage(() => bigInteger('0', '--period', { min: 1n, max: 10n }))).toBe('--period must be an integer 1..10');
    expect(optionalBigInteger(undefined, '--t', { max })).toBeUndefined();
  });
});

describe('fractional numbers', () => {
  const range = { min: 0, max: 1 };
  it.each(['0', '1', '0.5', '.5', '5e-1', '1.', '0.0001'])('accepts %j', (text) => {
    expect(optionalNumber(text, '--rate', range)).toBe(Number(text));
  });
  it.each(['', ' ', '-0.5', '0x1', 'NaN', 'Infinity', '1.5', '2', '0.5.1', '1e'])('refuses %j', (text) => {
    expect(usage(() => optionalNumber(text, '--rate', range))).toBe(`--rate: "${text}" must be a number in 0..1`);
  });
});

describe('OTP parameters', () => {
  it('digits 6..10 only, algorithms sha1/sha256/sha512 only', () => {
    expect(digits('6')).toBe(6);
    expect(digits('10')).toBe(10);
    expect(usage(() => digits('5'))).toBe('--digits: 5 is outside 6..10; give 6, 7, 8, 9 or 10');
    expect(usage(() => digits('11'))).toBe('--digits: 11 is outside 6..10; give 6, 7, 8, 9 or 10');
    for (const bad of ['', 'x', '6.0', '-6', '006']) expect(usage(() => digits(bad))).toMatch(/^--digits: "[^"]*" is not an integer; give 6\.\.10$/);
    expect(hashAlgorithm('SHA256')).toBe('SHA256');
    expect(hashAlgorithm('sha512')).toBe('SHA512');
    expect(usage(() => hashAlgorithm('md5'))).toBe('--algorithm: "md5" is not sha1, sha256 or sha512');
  });
});

describe('trust anchors', () => {
  const TEST = bytesToHex(TEST_ATTESTATION_PUBLIC_KEY);
  const form = '--trust-anchor: must be an uncompressed P-256 public key, 130 hex digits starting with 04';
  it('takes uncompressed points on the curve, repeated, and adds the TEST key only when asked', () => {
    expect(trustAnchors(undefined, false)).toEqual([]);
    expect(trustAnchors(undefined, true)).toEqual([TEST_ATTESTATION_PUBLIC_KEY]);
    expect(trustAnchors([TEST, TEST.toUpperCase()], false)).toEqual([TEST_ATTESTATION_PUBLIC_KEY, TEST_ATTESTATION_PUBLIC_KEY]);
  });
  it.each([
    ['not hex', 'zz'],
    ['odd length', TEST.slice(0, 129)],
    ['too short', TEST.slice(0, 128)],
    ['too long', `${TEST}00`],
    ['compressed', `02${TEST.slice(2, 66)}`],
    ['prefix 05', `05${TEST.slice(2)}`],
  ])('refuses %s', (_name, hex) => {
    expect(usage(() => trustAnchors(hex, false))).toBe(form);
  });
  it('refuses a point that is not on the curve', () => {
    const off = `${TEST.slice(0, 128)}${TEST.slice(128) === '00' ? '01' : '00'}`;
    expect(usage(() => trustAnchors(off, false))).toBe('--trust-anchor: not a point on the P-256 curve; give the factory attestation public key');
  });
});

describe('PSKC key material', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tf-flags-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('--psk and --password as given, --private-key read from its file', () => {
    const pem = join(dir, 'k.pem');
    writeFileSync(pem, '-----BEGIN PRIVATE KEY-----\n');
    expect(pskcKeys({})).toEqual({});
    expect(pskcKeys({ psk: '00ff', password: ' p w ', 'private-key': pem })).toEqual({ psk: '00ff', password: ' p w ', privateKey: '-----BEGIN PRIVATE KEY-----\n' });
    expect(usage(() => pskcKeys({ psk: ['a', 'b'] }))).toBe('--psk: given 2 times; give it once');
  });

  it('an unreadable --private-key is an I/O error (exit 1), not a usage error', () => {
    const missing = join(dir, 'none.pem');
    expect(() => pskcKeys({ 'private-key': missing })).toThrow(expect.objectContaining({ code: 'IO_ERROR', message: `--private-key: cannot read ${missing} (ENOENT)` }));
  });

  it('export protection as given', () => {
    expect(pskcExportKeys({})).toEqual({});
    expect(pskcExportKeys({ 'export-psk': '00', 'export-password': 'p', 'export-plain': true })).toEqual({ psk: '00', password: 'p', allowPlain: true });
    expect(pskcExportKeys({ 'export-plain': false })).toEqual({});
  });
});
