/**
 * Shared OTP parameters and their boundary checks (RFC 4226 Section 5.3: 6 to 10 digits here; RFC 6238 1.2
 * for the hash choices). Checks throw `OtpError` with a code naming the argument.
 */
import { OtpError } from './errors.ts';

export const HASH_ALGORITHMS = ['SHA1', 'SHA256', 'SHA512'] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

export const MIN_DIGITS = 6;
export const MAX_DIGITS = 10;
export const MAX_COUNTER = (1n << 64n) - 1n;

/** 10^d for d in 0..10 (index = digits). */
export const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10] as const;

export function parseHashAlgorithm(name: string): HashAlgorithm {
  const n = name.toUpperCase().replace(/-/g, '');
  if (n === 'SHA1' || n === 'SHA256' || n === 'SHA512') return n;
  throw new OtpError('INVALID_ALGORITHM', `algorithm: "${name}" is not one of sha1, sha256, sha512`);
}

export function checkDigits(digits: number): void {
  if (!Number.isInteger(digits) || digits < MIN_DIGITS || digits > MAX_DIGITS) {
    throw new OtpError('INVALID_DIGITS', `digits: ${digits} is outside ${MIN_DIGITS}..${MAX_DIGITS}`);
  }
}

export function checkCounter(counter: bigint): void {
  if (typeof counter !== 'bigint') throw new TypeError('counter: must be a bigint');
  if (counter < 0n || counter > MAX_COUNTER) {
    throw new OtpError('INVALID_COUNTER', `counter: ${counter} is outside 0..2^64-1`);
  }
}

export function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) throw new TypeError('key: must be a Uint8Array');
  if (key.length === 0) throw new OtpError('INVALID_KEY', 'key: is empty; give at least one byte (RFC 4226 recommends 20)');
}

/** Zero-pads a truncated value to `digits` characters. */
export function formatCode(value: number, digits: number): string {
  return value.toString().padStart(digits, '0');
}

/** Largest value a dynamic truncation produces (RFC 4226 Section 5.3: a 31-bit number). */
const MAX_TRUNCATED = 0x7fffffff;

/**
 * The bulk form of `formatCode`: writes `values` as zero-padded `digits`-character codes, each followed by
 * '\n', as ASCII into `out` from `offset`, and returns the offset after the last byte. Same bytes as
 * `formatCode(v, digits) + '\n'` per value, without a string per code (the CLI's `--window` output). Values
 * are truncated HOTP values (below 2^31 and 10^digits), so the digits come from 32-bit integer division,
 * which V8 compiles to a multiply; no allocation.
 */
export function writeCodeLines(values: Uint32Array, digits: number, out: Uint8Array, offset: number): number {
  checkDigits(digits);
  if (!(values instanceof Uint32Array)) throw new TypeError('values: must be a Uint32Array');
  if (!(out instanceof Uint8Array)) throw new TypeError('out: must be a Uint8Array');
  const line = digits + 1;
  const n = values.length;
  if (!Number.isInteger(offset) || offset < 0 || offset + n * line > out.length) {
    throw new RangeError(`out: ${n} codes of ${digits} digits need ${n * line} bytes from offset ${offset}; out has ${out.length}`);
  }
  const limit = Math.min(POW10[digits]!, MAX_TRUNCATED + 1);
  let p = offset;
  for (let i = 0; i < n; i++) {
    const value = values[i]!;
    if (value >= limit) throw new RangeError(`values[${i}]: ${value} is not a ${digits}-digit truncated HOTP value`);
    let v = value | 0;
    let k = p + digits;
    out[k] = 10;
    while (k > p) {
      const q = (v / 10) | 0;
      out[--k] = 48 + v - q * 10;
      v = q;
    }
    p += line;
  }
  return p;
}
