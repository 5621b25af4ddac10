/**
 * One-shot HOTP (RFC 4226 Section 5.3): HOTP(K, C) = Truncate(HMAC(K, C)) mod 10^digits, zero-padded.
 *
 * A convenience over the engine (engine.ts) for callers that compute one code per key (the CLI, tests,
 * the provisioner's check of a freshly loaded token). Hot paths keep an engine per key instead: this function
 * runs the key schedule on every call.
 */
import { createHotpEngine } from './engine.ts';
import type { HashAlgorithm } from './params.ts';

export interface OtpOptions {
  /** HMAC hash; default SHA1. */
  algorithm?: HashAlgorithm;
  /** Code length 6..10; default 6. */
  digits?: number;
}

export function hotp(key: Uint8Array, counter: bigint, options: OtpOptions = {}): string {
  const engine = createHotpEngine(key, options);
  try {
    return engine.code(counter);
  } finally {
    engine.destroy();
  }
}
