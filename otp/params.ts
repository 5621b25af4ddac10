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
