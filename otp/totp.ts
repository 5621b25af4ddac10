/**
 * TOTP time steps (RFC 6238 Section 4.2): T = floor((unixTime - T0) / X), as a bigint so that steps past 2038
 * (and past 2^53 seconds) are exact. TOTP is HOTP of the time step; codes come from the HOTP engine.
 */
import { OtpError } from './errors.ts';
import { hotp, type OtpOptions } from './hotp.ts';
import type { HashAlgorithm } from './params.ts';

export function toBigIntSeconds(t: bigint | number, what: string): bigint {
  if (typeof t === 'bigint') return t;
  if (!Number.isFinite(t)) throw new OtpError('INVALID_TIME', `${what}: ${t} is not a finite number`);
  return BigInt(Math.floor(t));
}

export function totpStep(timeSec: bigint | number, periodSec: bigint | number = 30n, t0Sec: bigint | number = 0n): bigint {
  const t = toBigIntSeconds(timeSec, 'time');
  const x = toBigIntSeconds(periodSec, 'period');
  const t0 = toBigIntSeconds(t0Sec, 't0');
  if (x <= 0n) throw new OtpError('INVALID_PERIOD', `period: ${x} must be a positive number of seconds`);
  if (t < t0) throw new OtpError('INVALID_TIME', `time: ${t} is before t0 ${t0}`);
  return (t - t0) / x;
}

export interface TotpOptions {
  /** HMAC hash; default SHA1. */
  algorithm?: HashAlgorithm;
  /** Code length 6..10; default 6 (RFC 6238 Appendix B uses 8). */
  digits?: number;
  /** Time step X in seconds; default 30. */
  periodSec?: bigint | number;
  /** Unix time T0 at which step 0 starts; default 0. */
  t0Sec?: bigint | number;
}

/** TOTP (RFC 6238 Section 4.2): HOTP of the time step that contains `timeSec`. */
export function totp(key: Uint8Array, timeSec: bigint | number, options: TotpOptions = {}): string {
  const step = totpStep(timeSec, options.periodSec ?? 30n, options.t0Sec ?? 0n);
  const hotpOptions: OtpOptions = {};
  if (options.algorithm !== undefined) hotpOptions.algorithm = options.algorithm;
  if (options.digits !== undefined) hotpOptions.digits = options.digits;
  return hotp(key, step, hotpOptions);
}
