/**
 * The HOTP engine contract used by every hot path (verifier windows, simulator presses, fleet runs).
 *
 * Invariants: the key schedule runs once per engine; `value`/`batch`/`findInWindow` do not allocate per code;
 * `findInWindow` scans the whole window whatever it finds (no early exit, so its timing does not reveal where
 * a code matched). Counters are bigint in 0..2^64-1 (RFC 4226 Section 5.2).
 *
 * NOTE: this first implementation is the reference path; the optimised engine replaces its body behind the
 * same interface.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { OtpError } from './errors.ts';
import { checkCounter, checkDigits, checkKey, formatCode, MAX_COUNTER, POW10, type HashAlgorithm } from './params.ts';
import { counterBytes, dynamicTruncate } from './reference.ts';

export interface HotpEngineOptions {
  algorithm?: HashAlgorithm;
  digits?: number;
}

export interface HotpEngine {
  readonly algorithm: HashAlgorithm;
  readonly digits: number;
  /** The truncated code for `counter` as a number (0..10^digits-1). */
  value(counter: bigint): number;
  /** The zero-padded code for `counter`. */
  code(counter: bigint): string;
  /** Fills `out[i]` with the value for counter `start + i`. */
  batch(start: bigint, out: Uint32Array): void;
  /** First counter in [start, start + window) whose value is `value`, or -1n. Counters past 2^64-1 are not searched. */
  findInWindow(value: number, start: bigint, window: number): bigint;
  /** Zeroes the key state; the engine throws afterwards. */
  destroy(): void;
}

const HASHES = { SHA1: sha1, SHA256: sha256, SHA512: sha512 } as const;

export function createHotpEngine(key: Uint8Array, options: HotpEngineOptions = {}): HotpEngine {
  const algorithm = options.algorithm ?? 'SHA1';
  const digits = options.digits ?? 6;
  checkKey(key);
  checkDigits(digits);
  const keyCopy = Uint8Array.from(key);
  const mod = POW10[digits]!;
  let destroyed = false;
  const value = (counter: bigint): number => {
    if (destroyed) throw new OtpError('INVALID_KEY', 'engine: used after destroy()');
    return dynamicTruncate(hmac(HASHES[algorithm], keyCopy, counterBytes(counter))) % mod;
  };
  return {
    algorithm,
    digits,
    value,
    code: (counter) => formatCode(value(counter), digits),
    batch(start, out) {
      checkCounter(start);
      for (let i = 0; i < out.length; i++) out[i] = value(start + BigInt(i));
    },
    findInWindow(target, start, window) {
      checkCounter(start);
      let found = -1n;
      for (let i = 0; i < window; i++) {
        const c = start + BigInt(i);
        if (c > MAX_COUNTER) break;
        if (value(c) === target && found < 0n) found = c;
      }
      return found;
    },
    destroy() {
      keyCopy.fill(0);
      destroyed = true;
    },
  };
}
