/**
 * The flag parsers of every command: one set of rules, and one-line UsageErrors (exit 2) that name the flag.
 * Flags that carry keys (trust anchors, PSKC key material) are read by cli/key-flags.ts on the same rules; it
 * is a module of its own so that commands that take none (otp) do not load the P-256 code it needs.
 *
 *   - Values arrive as yargs hands them over: a string, or an array when the flag repeats. A single-valued flag
 *     given more than once is an error (`single`); a repeatable one is read with `list` (each occurrence one
 *     value; no flag splits values on commas).
 *   - Integers are non-negative decimal digits, at most 40 of them (hex with 0x only where a flag says so):
 *     no sign, fraction, exponent, spaces or empty value. Numeric flags are therefore declared to yargs as
 *     strings; yargs's own number type lets 1e3, 0x10, " 5" and 2.0 through, turns "x" into NaN and rounds
 *     integers past 2^53. Every integer flag has a range, and a value outside it names the range:
 *       --counter: "-1" is not a non-negative integer; give a whole number in 0..18446744073709551615
 *       --max-failures must be an integer 1..100
 *   - Fractional numbers (rates, scales) are decimal: digits with an optional fraction and exponent.
 */
import { checkDigits, MAX_DIGITS, MIN_DIGITS, parseHashAlgorithm, type HashAlgorithm } from '../otp/params.ts';
import { UsageError } from './errors.ts';

/** yargs gives a string, or an array when a flag repeats; single-valued flags must not repeat. */
export function single(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) {
    if (v.length !== 1) throw new UsageError(`${name}: given ${v.length} times; give it once`);
    return String(v[0]);
  }
  return String(v);
}

/** Every value of a repeatable flag, in the order given (none when it is absent). */
export function list(v: unknown): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v.map(String) : [String(v)];
}

// ---- integers ----

export interface IntRange {
  min: number;
  max: number;
}

export interface BigIntRange {
  /** Default 0. */
  min?: bigint;
  max: bigint;
  /** Also accept hex written 0x... */
  hex?: boolean;
}

const DECIMAL = /^[0-9]+$/;
const DECIMAL_OR_HEX = /^(?:[0-9]+|0[xX][0-9a-fA-F]+)$/;
const MAX_INTEGER_CHARS = 40;

function integerText(text: string, name: string, min: bigint, max: bigint, hex: boolean): bigint {
  if (!(hex ? DECIMAL_OR_HEX : DECIMAL).test(text) || text.length > MAX_INTEGER_CHARS) {
    const forms = hex ? 'a whole number (decimal, or hex with 0x)' : 'a whole number';
    throw new UsageError(`${name}: "${text.slice(0, 24)}" is not a non-negative integer; give ${forms} in ${min}..${max}`);
  }
  const v = BigInt(text);
  if (v < min || v > max) throw new UsageError(`${name} must be an integer ${min}..${max}`);
  return v;
}

/** An integer flag as a bigint (counters, times: past 2^53); undefined when the flag is absent. */
export function optionalBigInteger(v: unknown, name: string, range: BigIntRange): bigint | undefined {
  const text = single(v, name);
  return text === undefined ? undefined : integerText(text, name, range.min ?? 0n, range.max, range.hex ?? false);
}

/** An integer flag that has a default or is required, as a bigint. */
export function bigInteger(v: unknown, name: string, range: BigIntRange): bigint {
  const n = optionalBigInteger(v, name, range);
  if (n === undefined) throw new UsageError(`${name}: required; give a whole number in ${range.min ?? 0n}..${range.max}`);
  return n;
}

/** An integer flag in a safe-integer range, as a number; undefined when the flag is absent. */
export function optionalInteger(v: unknown, name: string, range: IntRange): number | undefined {
  const n = optionalBigInteger(v, name, { min: BigInt(range.min), max: BigInt(range.max) });
  return n === undefined ? undefined : Number(n);
}

/** An integer flag that has a default or is required, as a number. */
export function integer(v: unknown, name: string, range: IntRange): number {
  return Number(bigInteger(v, name, { min: BigInt(range.min), max: BigInt(range.max) }));
}

// ---- fractional numbers ----

const DECIMAL_NUMBER = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;

/** A non-negative decimal number in min..max (rates, scales); undefined when the flag is absent. */
export function optionalNumber(v: unknown, name: string, range: IntRange): number | undefined {
  const text = single(v, name);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!DECIMAL_NUMBER.test(text) || text.length > MAX_INTEGER_CHARS || n < range.min || n > range.max) {
    throw new UsageError(`${name}: "${text.slice(0, 20)}" must be a number in ${range.min}..${range.max}`);
  }
  return n;
}

// ---- OTP parameters ----

/** A code length (RFC 4226: 6..10 digits). */
export function digits(v: unknown, name = '--digits'): number {
  const text = single(v, name);
  if (text === undefined || !DECIMAL.test(text) || text.length > 2) {
    throw new UsageError(`${name}: "${String(text ?? '').slice(0, 24)}" is not an integer; give ${MIN_DIGITS}..${MAX_DIGITS}`);
  }
  const d = Number(text);
  try {
    checkDigits(d);
  } catch {
    throw new UsageError(`${name}: ${d} is outside ${MIN_DIGITS}..${MAX_DIGITS}; give 6, 7, 8, 9 or 10`);
  }
  return d;
}

/** An HMAC hash: sha1, sha256 or sha512. */
export function hashAlgorithm(v: unknown, name = '--algorithm'): HashAlgorithm {
  const text = single(v, name) ?? '';
  try {
    return parseHashAlgorithm(text);
  } catch {
    throw new UsageError(`${name}: "${text.slice(0, 24)}" is not sha1, sha256 or sha512`);
  }
}
