/**
 * Shared helpers for the engine tests: a seeded RNG (failures replay from the printed seed) and HOTP values
 * computed by node:crypto's createHmac — an implementation independent of both the engine and the reference.
 */
import { createHmac } from 'node:crypto';
import type { HashAlgorithm } from '../../otp/index.ts';

export const ALGORITHMS: readonly HashAlgorithm[] = ['SHA1', 'SHA256', 'SHA512'];
export const PATHS = ['auto', 'simd', 'wasm-scalar', 'js'] as const;
export const MAX = (1n << 64n) - 1n;

/** splitmix64 over bigint: small, well-mixed, seedable. */
export function seeded(seed: bigint): { u64(): bigint; int(n: number): number; bytes(n: number): Uint8Array } {
  let s = seed;
  const u64 = (): bigint => {
    s = BigInt.asUintN(64, s + 0x9e3779b97f4a7c15n);
    let z = s;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  };
  return {
    u64,
    int: (n) => Number(u64() % BigInt(n)),
    bytes: (n) => Uint8Array.from({ length: n }, () => Number(u64() & 0xffn)),
  };
}

/** HOTP value (RFC 4226 Section 5.3) through node:crypto. */
export function nodeValue(algorithm: HashAlgorithm, key: Uint8Array, counter: bigint, digits: number): number {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(counter);
  const mac = createHmac(algorithm.toLowerCase(), key).update(msg).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  return (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
}
