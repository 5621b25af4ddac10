/**
 * Canonical CBOR for the message layer (docs/protocol.md §4.1): the subset the protocol uses, encoded one way
 * only, and a strict decoder that accepts exactly what the encoder produces.
 *
 * Allowed items: unsigned and negative integers (to 64 bits), byte strings, UTF-8 text strings, arrays,
 * maps whose keys are unsigned integers, `true`, `false`. Canonical (RFC 8949 §4.2.1 "core deterministic"):
 * shortest-form heads, definite lengths only, map keys strictly ascending (so no duplicates). Everything else
 * — tags, floats, null, undefined, indefinite lengths, non-shortest heads, text that is not UTF-8, trailing
 * bytes, nesting deeper than MAX_DEPTH — is rejected.
 *
 * The decoder runs a bounds-checked validation pass first (every declared length or count is checked against
 * the bytes that remain, so nothing is allocated from a length field alone), then lets cbor-x build the
 * values, then normalises them (integers that fit a safe JS number become `number`, others `bigint`; byte
 * strings are copied into plain Uint8Arrays that do not alias the input). It never throws: it returns
 * `undefined` for anything that is not canonical CBOR.
 */
import { Decoder } from 'cbor-x';
import { ByteWriter } from './bytes.ts';

export type CborValue = number | bigint | string | boolean | Uint8Array | CborValue[] | CborMap;
export type CborMap = Map<number, CborValue>;

/** Maximum nesting of arrays/maps (messages use at most 3). */
export const MAX_DEPTH = 4;

const decoder = new Decoder({ mapsAsObjects: false, useRecords: false, int64AsType: 'bigint' } as ConstructorParameters<typeof Decoder>[0]);
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---------------------------------------------------------------------------------------------------------
// Encoder

/** The head of an item: major type and argument, in the shortest form (RFC 8949 §3, §4.2.1). */
function head(w: ByteWriter, major: number, value: bigint): void {
  const m = major << 5;
  if (value < 24n) w.u8(m | Number(value));
  else if (value < 0x100n) w.u8(m | 24).u8(Number(value));
  else if (value < 0x10000n) w.u8(m | 25).u16(Number(value));
  else if (value < 0x100000000n) w.u8(m | 26).u32(Number(value));
  else w.u8(m | 27).u64(value);
}

const U64_MAX = (1n << 64n) - 1n;

function encodeItem(w: ByteWriter, v: CborValue, depth: number): void {
  if (depth > MAX_DEPTH) throw new RangeError('cbor: nesting deeper than MAX_DEPTH');
  if (typeof v === 'number' || typeof v === 'bigint') {
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new RangeError(`cbor: ${v} is not a safe integer`);
    const b = BigInt(v);
    if (b >= 0n) {
      if (b > U64_MAX) throw new RangeError('cbor: integer above 2^64-1');
      head(w, 0, b);
    } else {
      if (-1n - b > U64_MAX) throw new RangeError('cbor: integer below -2^64');
      head(w, 1, -1n - b);
    }
  } else if (typeof v === 'string') {
    const b = utf8.encode(v);
    head(w, 3, BigInt(b.length));
    w.bytes(b);
  } else if (typeof v === 'boolean') {
    w.u8(v ? 0xf5 : 0xf4);
  } else if (v instanceof Uint8Array) {
    head(w, 2, BigInt(v.length));
    w.bytes(v);
  } else if (Array.isArray(v)) {
    head(w, 4, BigInt(v.length));
    for (const item of v) encodeItem(w, item, depth + 1);
  } else if (v instanceof Map) {
    const keys = [...v.keys()];
    for (const k of keys) if (!Number.isSafeInteger(k) || k < 0) throw new RangeError(`cbor: map key ${k} is not an unsigned integer`);
    keys.sort((a, b) => a - b);
    head(w, 5, BigInt(keys.length));
    for (const k of keys) {
      head(w, 0, BigInt(k));
      encodeItem(w, v.get(k)!, depth + 1);
    }
  } else {
    throw new TypeError('cbor: value of an unsupported type');
  }
}

/** Canonical encoding of `value`. Throws TypeError/RangeError for values outside the subset (a caller bug). */
export function encodeCanonical(value: CborValue): Uint8Array {
  const w = new ByteWriter({ endian: 'big', what: 'cbor', capacity: 256 });
  encodeItem(w, value, 0);
  return w.done();
}

// ---------------------------------------------------------------------------------------------------------
// Strict validation (no allocation from length fields)

/** Returns the offset after the item starting at `pos`, or -1 if it is not canonical CBOR of the subset. */
function validateItem(b: Uint8Array, pos: number, end: number, depth: number): number {
  if (depth > MAX_DEPTH || pos >= end) return -1;
  const ib = b[pos]!;
  const major = ib >> 5;
  const ai = ib & 31;
  pos++;
  if (major === 7) return ib === 0xf4 || ib === 0xf5 ? pos : -1;
  if (major === 6) return -1;
  let value: number; // lengths above 2^53 can never fit in `end` anyway
  if (ai < 24) value = ai;
  else if (ai === 24) {
    if (pos + 1 > end) return -1;
    value = b[pos]!;
    pos += 1;
    if (value < 24) return -1;
  } else if (ai === 25) {
    if (pos + 2 > end) return -1;
    value = (b[pos]! << 8) | b[pos + 1]!;
    pos += 2;
    if (value < 0x100) return -1;
  } else if (ai === 26) {
    if (pos + 4 > end) return -1;
    value = ((b[pos]! << 24) >>> 0) + ((b[pos + 1]! << 16) | (b[pos + 2]! << 8) | b[pos + 3]!);
    pos += 4;
    if (value < 0x10000) return -1;
  } else if (ai === 27) {
    if (pos + 8 > end) return -1;
    const hi = ((b[pos]! << 24) >>> 0) + ((b[pos + 1]! << 16) | (b[pos + 2]! << 8) | b[pos + 3]!);
    const lo = ((b[pos + 4]! << 24) >>> 0) + ((b[pos + 5]! << 16) | (b[pos + 6]! << 8) | b[pos + 7]!);
    pos += 8;
    if (hi === 0) return -1; // would fit in 4 bytes
    value = hi * 0x100000000 + lo;
  } else return -1; // 28..30 reserved, 31 indefinite
  switch (major) {
    case 0:
    case 1:
      return pos;
    case 2:
      return value <= end - pos ? pos + value : -1;
    case 3: {
      if (value > end - pos) return -1;
      try {
        utf8Strict.decode(b.subarray(pos, pos + value));
      } catch {
        return -1;
      }
      return pos + value;
    }
    case 4: {
      if (value > end - pos) return -1; // every item takes at least one byte
      for (let i = 0; i < value; i++) {
        pos = validateItem(b, pos, end, depth + 1);
        if (pos < 0) return -1;
      }
      return pos;
    }
    case 5: {
      if (value > (end - pos) / 2) return -1;
      let prevKey = -1;
      for (let i = 0; i < value; i++) {
        // keys: unsigned integers, strictly ascending
        const kb = b[pos];
        if (kb === undefined || kb >> 5 !== 0) return -1;
        const keyStart = pos;
        pos = validateItem(b, pos, end, depth + 1);
        if (pos < 0) return -1;
        const key = readUintKey(b, keyStart);
        if (key <= prevKey) return -1;
        prevKey = key;
        pos = validateItem(b, pos, end, depth + 1);
        if (pos < 0) return -1;
      }
      return pos;
    }
    default:
      return -1;
  }
}

/** Value of an already-validated unsigned integer head (keys above 2^53 compare as large floats: fine). */
function readUintKey(b: Uint8Array, pos: number): number {
  const ai = b[pos]! & 31;
  if (ai < 24) return ai;
  let v = 0;
  const n = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : 8;
  for (let i = 1; i <= n; i++) v = v * 256 + b[pos + i]!;
  return v;
}

/** True when `bytes` is exactly one canonical CBOR item of the subset (no trailing bytes). */
export function isCanonicalCbor(bytes: Uint8Array): boolean {
  return validateItem(bytes, 0, bytes.length, 0) === bytes.length;
}

function normalise(v: unknown, depth: number): CborValue | undefined {
  if (depth > MAX_DEPTH) return undefined;
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof Uint8Array) return Uint8Array.prototype.slice.call(v) as Uint8Array;
  if (Array.isArray(v)) {
    const out: CborValue[] = [];
    for (const item of v) {
      const n = normalise(item, depth + 1);
      if (n === undefined) return undefined;
      out.push(n);
    }
    return out;
  }
  if (v instanceof Map) {
    const out: CborMap = new Map();
    for (const [k, item] of v) {
      const key = typeof k === 'bigint' ? Number(k) : k;
      if (typeof key !== 'number' || !Number.isSafeInteger(key) || key < 0) return undefined;
      const n = normalise(item, depth + 1);
      if (n === undefined) return undefined;
      out.set(key, n);
    }
    return out;
  }
  return undefined;
}

/**
 * Decodes exactly one canonical item occupying all of `bytes`; `undefined` for anything else. Never throws.
 * Negative integers below -2^53 come back as bigint (the protocol never uses them).
 */
export function decodeCanonical(bytes: Uint8Array): CborValue | undefined {
  if (!(bytes instanceof Uint8Array) || !isCanonicalCbor(bytes)) return undefined;
  let raw: unknown;
  try {
    raw = decoder.decode(bytes);
  } catch {
    return undefined;
  }
  return normalise(raw, 0);
}
