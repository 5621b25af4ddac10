/**
 * Reference HOTP/TOTP (RFC 4226 Section 5.3, RFC 6238 Section 4): the plainest possible code, built on
 * @noble/hashes' HMAC. It allocates freely and is slow; it exists so that the fast engine (engine.ts) can be
 * tested against something obviously right. Never used on a hot path.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { checkCounter, checkDigits, checkKey, formatCode, POW10, type HashAlgorithm } from './params.ts';

const HASHES = { SHA1: sha1, SHA256: sha256, SHA512: sha512 } as const;

export function hmacReference(algorithm: HashAlgorithm, key: Uint8Array, message: Uint8Array): Uint8Array {
  return hmac(HASHES[algorithm], key, message);
}

/** 8-byte big-endian encoding of a counter (RFC 4226 Section 5.2). */
export function counterBytes(counter: bigint): Uint8Array {
  checkCounter(counter);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, counter, false);
  return out;
}

/** Dynamic truncation (RFC 4226 Section 5.3): 31-bit value from the HMAC at the offset in its last nibble. */
export function dynamicTruncate(mac: Uint8Array): number {
  const offset = mac[mac.length - 1]! & 0x0f;
  return (
    ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!
  );
}

export function hotpValueReference(key: Uint8Array, counter: bigint, algorithm: HashAlgorithm, digits: number): number {
  checkKey(key);
  checkDigits(digits);
  return dynamicTruncate(hmacReference(algorithm, key, counterBytes(counter))) % POW10[digits]!;
}

export function hotpReference(key: Uint8Array, counter: bigint, algorithm: HashAlgorithm = 'SHA1', digits = 6): string {
  return formatCode(hotpValueReference(key, counter, algorithm, digits), digits);
}
