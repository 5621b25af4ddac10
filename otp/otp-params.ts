/**
 * The one OTP parameter model (DESIGN.md "Second round: OTP parameters"): a tagged union that travels
 * unchanged from the seed source to the verifier row. Every layer adds only what it owns around it (the slot
 * and touch policy in the protocol, the serial and user in a seed record, the batch in the verifier) and never
 * re-maps these fields, so a new parameter is added here once and the compiler finds every user.
 *
 * - `hotp`: RFC 4226. `counter` is the moving factor the token starts from (Section 5.2: 8 bytes, so bigint).
 * - `totp`: RFC 6238 Section 4.1. `periodSec` is X, `t0Sec` is T0 in Unix seconds.
 * - `ocra`: RFC 6287. The suite (Section 6) names the hash, the digits and the data inputs; `counter` is
 *   present exactly when the suite has a `C` input.
 *
 * `checkOtpParams` is the boundary check for all three; it throws `OtpError` with a code naming the field.
 */
import { OtpError } from './errors.ts';
import { parseOcraSuite, type OcraSuite } from './ocra.ts';
import { checkCounter, checkDigits, HASH_ALGORITHMS, type HashAlgorithm } from './params.ts';

/** The token types, once (RFC 4226 HOTP, RFC 6238 TOTP, RFC 6287 OCRA). */
export const OTP_TYPES = ['hotp', 'totp', 'ocra'] as const;
export type OtpType = (typeof OTP_TYPES)[number];

/** TOTP time steps accepted everywhere: 1 s .. 1 day (RFC 6238 Section 5.2 recommends 30 s). */
export const MAX_PERIOD_SEC = 86_400;
export const DEFAULT_PERIOD_SEC = 30;

export interface HotpParams {
  readonly type: 'hotp';
  readonly algorithm: HashAlgorithm;
  readonly digits: number;
  /** The counter the token starts from (the next code it shows). */
  readonly counter: bigint;
}

export interface TotpParams {
  readonly type: 'totp';
  readonly algorithm: HashAlgorithm;
  readonly digits: number;
  readonly periodSec: number;
  readonly t0Sec: bigint;
}

export interface OcraParams {
  readonly type: 'ocra';
  /** RFC 6287 suite text exactly as given, e.g. "OCRA-1:HOTP-SHA1-6:QN08" (it is part of the HMAC input). */
  readonly suite: string;
  /** Present exactly when the suite has a counter input (C). */
  readonly counter?: bigint;
}

export type OtpParams = HotpParams | TotpParams | OcraParams;

export function isOtpType(v: unknown): v is OtpType {
  return typeof v === 'string' && (OTP_TYPES as readonly string[]).includes(v);
}

/** The parsed suite of OCRA parameters (throws OtpError('INVALID_OCRA_SUITE') for a bad suite). */
export function ocraSuiteOf(p: OcraParams): OcraSuite {
  return parseOcraSuite(p.suite);
}

/** The hash of any parameters (OCRA: named by the suite). */
export function otpAlgorithm(p: OtpParams): HashAlgorithm {
  return p.type === 'ocra' ? parseOcraSuite(p.suite).algorithm : p.algorithm;
}

/** The code length of any parameters (OCRA: named by the suite; 0 means the full HMAC as hex). */
export function otpDigits(p: OtpParams): number {
  return p.type === 'ocra' ? parseOcraSuite(p.suite).digits : p.digits;
}

/** The counter the parameters start from, or undefined for TOTP and counter-less OCRA suites. */
export function otpCounter(p: OtpParams): bigint | undefined {
  return p.type === 'totp' ? undefined : p.counter;
}

/** The same parameters starting from another counter (HOTP, and OCRA suites with C); TOTP unchanged. */
export function withCounter<P extends OtpParams>(p: P, counter: bigint): P {
  if (p.type === 'totp' || (p.type === 'ocra' && p.counter === undefined)) return p;
  return { ...p, counter };
}

/** Boundary check of a parameter set; throws OtpError naming the field. */
export function checkOtpParams(p: OtpParams): void {
  if (typeof p !== 'object' || p === null) throw new TypeError('params: must be an object');
  switch (p.type) {
    case 'hotp':
      checkAlgorithm(p.algorithm);
      checkDigits(p.digits);
      checkCounter(p.counter);
      return;
    case 'totp':
      checkAlgorithm(p.algorithm);
      checkDigits(p.digits);
      checkPeriodSec(p.periodSec);
      if (typeof p.t0Sec !== 'bigint' || p.t0Sec < 0n) throw new OtpError('INVALID_TIME', `t0Sec: ${String(p.t0Sec)} must be a non-negative bigint (Unix seconds)`);
      return;
    case 'ocra': {
      const suite = parseOcraSuite(p.suite);
      if (suite.counter && p.counter === undefined) throw new OtpError('INVALID_COUNTER', `counter: the suite ${p.suite} has a counter input (C), so a counter is needed`);
      if (!suite.counter && p.counter !== undefined) throw new OtpError('INVALID_COUNTER', `counter: the suite ${p.suite} has no counter input (C)`);
      if (p.counter !== undefined) checkCounter(p.counter);
      return;
    }
    default:
      throw new OtpError('INVALID_TYPE', `type: "${String((p as { type?: unknown }).type)}" is not one of ${OTP_TYPES.join(', ')}`);
  }
}

export function checkPeriodSec(periodSec: number): void {
  if (!Number.isInteger(periodSec) || periodSec < 1 || periodSec > MAX_PERIOD_SEC) {
    throw new OtpError('INVALID_PERIOD', `periodSec: ${periodSec} must be an integer in 1..${MAX_PERIOD_SEC}`);
  }
}

function checkAlgorithm(a: unknown): void {
  if (!(HASH_ALGORITHMS as readonly unknown[]).includes(a)) throw new OtpError('INVALID_ALGORITHM', `algorithm: "${String(a)}" is not one of ${HASH_ALGORITHMS.join(', ')}`);
}

/** The parameters as plain JSON values (bigints as decimal strings): for journals, reports and `--json`. */
export function otpParamsToJson(p: OtpParams): Record<string, string | number> {
  switch (p.type) {
    case 'hotp':
      return { type: 'hotp', algorithm: p.algorithm, digits: p.digits, counter: p.counter.toString() };
    case 'totp':
      return { type: 'totp', algorithm: p.algorithm, digits: p.digits, periodSec: p.periodSec, t0Sec: p.t0Sec.toString() };
    case 'ocra':
      return p.counter === undefined ? { type: 'ocra', suite: p.suite } : { type: 'ocra', suite: p.suite, counter: p.counter.toString() };
  }
}

/** Inverse of `otpParamsToJson`, strict: unknown keys, wrong types and bad values throw OtpError. */
export function otpParamsFromJson(j: unknown): OtpParams {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new OtpError('INVALID_TYPE', 'params: must be a JSON object');
  const o = j as Record<string, unknown>;
  const allowed: Record<OtpType, readonly string[]> = {
    hotp: ['type', 'algorithm', 'digits', 'counter'],
    totp: ['type', 'algorithm', 'digits', 'periodSec', 't0Sec'],
    ocra: ['type', 'suite', 'counter'],
  };
  if (!isOtpType(o['type'])) throw new OtpError('INVALID_TYPE', `type: "${String(o['type'])}" is not one of ${OTP_TYPES.join(', ')}`);
  const type = o['type'];
  for (const k of Object.keys(o)) if (!allowed[type].includes(k)) throw new OtpError('INVALID_TYPE', `params: unknown field "${k}" for ${type}`);
  const big = (k: string): bigint => {
    const v = o[k];
    if (typeof v !== 'string' || !/^(0|[1-9]\d{0,19})$/.test(v)) throw new OtpError('INVALID_COUNTER', `${k}: must be a decimal string`);
    return BigInt(v);
  };
  const num = (k: string): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new OtpError('INVALID_DIGITS', `${k}: must be an integer`);
    return v;
  };
  let p: OtpParams;
  switch (type) {
    case 'hotp':
      p = { type, algorithm: o['algorithm'] as HashAlgorithm, digits: num('digits'), counter: big('counter') };
      break;
    case 'totp':
      p = { type, algorithm: o['algorithm'] as HashAlgorithm, digits: num('digits'), periodSec: num('periodSec'), t0Sec: big('t0Sec') };
      break;
    case 'ocra': {
      if (typeof o['suite'] !== 'string') throw new OtpError('INVALID_OCRA_SUITE', 'suite: must be a string');
      p = o['counter'] === undefined ? { type, suite: o['suite'] } : { type, suite: o['suite'], counter: big('counter') };
      break;
    }
  }
  checkOtpParams(p);
  return p;
}
