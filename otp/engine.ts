/**
 * The fast HOTP engine (RFC 4226 Section 5.3; RFC 2104 HMAC): the contract used by every hot path (verifier
 * windows, simulator presses, fleet runs, conformance runs).
 *
 * How it is fast: the HMAC key schedule runs once per engine (hmac-pads.ts: the chaining state after the
 * K0^ipad and K0^opad blocks). An 8-byte counter plus padding fits one block, and so does the inner digest plus
 * padding, so a code costs exactly two compressions (SHA-1, SHA-256 and SHA-512 alike). The message schedules
 * are preallocated with their constant padding words already in place; per code only the two counter words
 * are written, and the inner compression writes its digest straight into the outer block. Counters cross the
 * API as bigint and are split once per call into hi/lo 32-bit numbers.
 *
 * Three implementations of the same two compressions, all tested against each other, the reference and
 * node:crypto: plain JavaScript (sha1.ts, sha256.ts, sha512.ts; the fallback), scalar WebAssembly (one
 * counter; `value`/`code`, where it measured about 3x faster than the JavaScript) and WebAssembly SIMD (four
 * SHA-1/SHA-256 counters per i32x4, two SHA-512 counters per i64x2; `batch`/`findInWindow`). See
 * docs/performance.md for the figures.
 *
 * Invariants: no allocation per code; `findInWindow` scans the whole window whatever it finds (no early exit,
 * so its timing does not reveal where a code matched) and never searches past 2^64-1; counters are bigint in
 * 0..2^64-1 (RFC 4226 Section 5.2); `destroy()` zeroes every buffer derived from the key and the engine
 * throws afterwards. Engine methods live on a class prototype and the per-algorithm code in module functions,
 * so V8 optimises them once for all engines (a new engine per request starts hot) and each call site stays
 * monomorphic.
 */
import { OtpError } from './errors.ts';
import { HASH_SHAPES, hmacPadStates } from './hmac-pads.ts';
import { checkCounter, checkDigits, checkKey, formatCode, HASH_ALGORITHMS, MAX_COUNTER, POW10, type HashAlgorithm } from './params.ts';
import { sha1Block } from './sha1.ts';
import { sha256Block } from './sha256.ts';
import { sha512Block } from './sha512.ts';
import { loadKernels, type HmacKernels } from './wasm/kernels.ts';

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

/**
 * Which implementation runs: 'auto' (scalar wasm for single codes, SIMD wasm for batch/window; JavaScript
 * when the runtime lacks WebAssembly or SIMD), 'simd' and 'wasm-scalar' (throw when unavailable), 'js'.
 */
export type EnginePath = 'auto' | 'simd' | 'wasm-scalar' | 'js';

/** Largest window `findInWindow` accepts (a full scan of it takes minutes; larger is a caller bug). */
export const MAX_WINDOW = 0x7fffffff;

const KIND = { SHA1: 0, SHA256: 1, SHA512: 2 } as const;
type Kind = (typeof KIND)[HashAlgorithm];

/**
 * Message schedules shared by all engines of an algorithm (the process is single-threaded and a code is
 * computed synchronously, so no two computations overlap). Inner schedule: the two counter words, then the
 * padding of a (block + 8)-byte message; outer: the inner digest (written by the inner compression), then
 * the padding of a (block + digest)-byte message (FIPS 180-4 Section 5.1). The padding words never change, so
 * per code only the counter is written. Sharing them means an engine allocates only its two pad states: a
 * schedule is larger than V8's 64-byte limit for on-heap typed arrays, and the off-heap ones made engine
 * creation (hotp() creates one per code) slower than node:crypto.
 */
class Schedules {
  readonly wIn: Int32Array;
  readonly wOut: Int32Array;
  readonly dig: Int32Array;
  private readonly algorithm: HashAlgorithm;

  constructor(algorithm: HashAlgorithm) {
    const shape = HASH_SHAPES[algorithm];
    this.algorithm = algorithm;
    this.wIn = new Int32Array(shape.scheduleWords);
    this.wOut = new Int32Array(shape.scheduleWords);
    this.dig = new Int32Array(shape.digestWords);
    this.reset();
  }

  /** Zeroes everything (the last code's intermediates) and puts the padding words back. */
  reset(): void {
    const shape = HASH_SHAPES[this.algorithm];
    const dw = shape.digestWords;
    const blockWords = shape.blockBytes / 4;
    this.wIn.fill(0);
    this.wOut.fill(0);
    this.dig.fill(0);
    // The counter occupies 2 words (SHA-512: one 64-bit word = 2 ints); then 0x80 and the bit length.
    this.wIn[2] = 0x80000000 | 0;
    this.wIn[blockWords - 1] = (shape.blockBytes + 8) * 8;
    this.wOut[dw] = 0x80000000 | 0;
    this.wOut[blockWords - 1] = (shape.blockBytes + dw * 4) * 8;
  }
}

const S1 = new Schedules('SHA1');
const S256 = new Schedules('SHA256');
const S512 = new Schedules('SHA512');
const SCHEDULES = [S1, S256, S512] as const;

/** Per-key state: the HMAC pad states (at most 64 bytes each, so V8 keeps them on its heap). */
class KeyState {
  readonly inner: Int32Array;
  readonly outer: Int32Array;

  constructor(algorithm: HashAlgorithm, key: Uint8Array) {
    const pads = hmacPadStates(HASH_SHAPES[algorithm], key);
    this.inner = pads.inner;
    this.outer = pads.outer;
  }

  wipe(): void {
    this.inner.fill(0);
    this.outer.fill(0);
  }
}

/**
 * Dynamic truncation (RFC 4226 Section 5.3) over the digest as big-endian 32-bit words: the offset is the low
 * nibble of the last byte; the 4 bytes at that offset straddle words k and k+1. `(x >>> 1) >>> (31 - s)` is
 * `x >>> (32 - s)` without JS's shift-by-32-is-shift-by-0 trap when s = 0. `mod` 0 means 10 digits: the
 * 31-bit value is already below 10^10.
 */
function truncate(d: Int32Array, last: number, mod: number): number {
  const o = d[last]! & 15;
  const k = o >> 2;
  const s = (o & 3) << 3;
  const v = ((d[k]! << s) | ((d[k + 1]! >>> 1) >>> (31 - s))) & 0x7fffffff;
  return mod === 0 ? v : v % mod;
}

function sha1Value(st: KeyState, hi: number, lo: number, mod: number): number {
  const w = S1.wIn;
  w[0] = hi;
  w[1] = lo;
  sha1Block(st.inner, w, S1.wOut);
  sha1Block(st.outer, S1.wOut, S1.dig);
  return truncate(S1.dig, 4, mod);
}

function sha256Value(st: KeyState, hi: number, lo: number, mod: number): number {
  const w = S256.wIn;
  w[0] = hi;
  w[1] = lo;
  sha256Block(st.inner, w, S256.wOut);
  sha256Block(st.outer, S256.wOut, S256.dig);
  return truncate(S256.dig, 7, mod);
}

function sha512Value(st: KeyState, hi: number, lo: number, mod: number): number {
  const w = S512.wIn;
  w[0] = hi;
  w[1] = lo;
  sha512Block(st.inner, w, S512.wOut);
  sha512Block(st.outer, S512.wOut, S512.dig);
  return truncate(S512.dig, 15, mod);
}

function scalarValue(kind: Kind, st: KeyState, hi: number, lo: number, mod: number): number {
  return kind === 0 ? sha1Value(st, hi, lo, mod) : kind === 1 ? sha256Value(st, hi, lo, mod) : sha512Value(st, hi, lo, mod);
}

/** Scalar batch: values for `n` consecutive counters from hi:lo into out[offset..offset+n). */
function scalarBatch(kind: Kind, st: KeyState, hi: number, lo: number, n: number, mod: number, out: Uint32Array, offset: number): void {
  let h = hi | 0;
  let l = lo | 0;
  for (let i = 0; i < n; i++) {
    out[offset + i] = scalarValue(kind, st, h, l, mod);
    l = (l + 1) | 0;
    if (l === 0) h = (h + 1) | 0;
  }
}

/** Scalar window scan: index of the first of `n` counters from hi:lo whose value is `target`, or -1. No early exit. */
function scalarFind(kind: Kind, st: KeyState, hi: number, lo: number, n: number, mod: number, target: number): number {
  let h = hi | 0;
  let l = lo | 0;
  let found = -1;
  for (let i = 0; i < n; i++) {
    const v = scalarValue(kind, st, h, l, mod);
    // "First match" folded in without leaving the loop: found stays -1 until a match, then keeps its index.
    const hit = v === target ? 1 : 0;
    found = found < 0 && hit === 1 ? i : found;
    l = (l + 1) | 0;
    if (l === 0) h = (h + 1) | 0;
  }
  return found;
}

/**
 * Splitting a bigint counter: storing it into a BigUint64Array and reading the two 32-bit halves back costs a
 * few nanoseconds, where `c >> 32n` and `BigInt.asUintN` allocate new bigints (about ten times slower).
 * Callers have range-checked the counter. The half order is probed once, so byte order does not matter.
 */
const SPLIT64 = new BigUint64Array(1);
const SPLIT32 = new Int32Array(SPLIT64.buffer);
SPLIT64[0] = 1n;
const LO = SPLIT32[0] === 1 ? 0 : 1;
const HI = 1 - LO;

function checkWindow(window: number): void {
  if (typeof window !== 'number' || !Number.isInteger(window) || window < 0 || window > MAX_WINDOW) {
    throw new OtpError('INVALID_ARGUMENT', `window: ${String(window)} must be an integer in 0..${MAX_WINDOW}`);
  }
}

class FastHotpEngine implements HotpEngine {
  readonly algorithm: HashAlgorithm;
  readonly digits: number;
  private readonly kind: Kind;
  private readonly mod: number;
  private readonly st: KeyState;
  /** Kernels for batch/findInWindow and for value, or null for the JavaScript loops. */
  private readonly kernels: HmacKernels | null;
  private readonly single: HmacKernels | null;
  private destroyed = false;

  constructor(key: Uint8Array, algorithm: HashAlgorithm, digits: number, kernels: HmacKernels | null, single: HmacKernels | null) {
    this.algorithm = algorithm;
    this.digits = digits;
    this.kind = KIND[algorithm];
    this.mod = digits === 10 ? 0 : POW10[digits]!;
    this.st = new KeyState(algorithm, key);
    this.kernels = kernels;
    this.single = single;
  }

  private live(): void {
    if (this.destroyed) throw new OtpError('INVALID_KEY', 'engine: used after destroy(); create a new engine');
  }

  value(counter: bigint): number {
    this.live();
    checkCounter(counter);
    SPLIT64[0] = counter;
    const hi = SPLIT32[HI]!;
    const lo = SPLIT32[LO]!;
    if (this.single === null) return scalarValue(this.kind, this.st, hi, lo, this.mod);
    return this.single.one(this.kind, this.st.inner, this.st.outer, hi, lo, this.mod);
  }

  code(counter: bigint): string {
    return formatCode(this.value(counter), this.digits);
  }

  batch(start: bigint, out: Uint32Array): void {
    this.live();
    checkCounter(start);
    if (!(out instanceof Uint32Array)) throw new TypeError('out: must be a Uint32Array');
    const n = out.length;
    if (n === 0) return;
    if (start + BigInt(n - 1) > MAX_COUNTER) {
      throw new OtpError('INVALID_COUNTER', `out: ${n} counters from ${start} run past 2^64-1; pass a shorter array`);
    }
    SPLIT64[0] = start;
    const hi = SPLIT32[HI]!;
    const lo = SPLIT32[LO]!;
    if (this.kernels === null) {
      scalarBatch(this.kind, this.st, hi, lo, n, this.mod, out, 0);
      return;
    }
    this.kernels.batch(this.kind, this.st.inner, this.st.outer, hi, lo, n, this.mod, out);
  }

  findInWindow(target: number, start: bigint, window: number): bigint {
    this.live();
    checkCounter(start);
    checkWindow(window);
    if (typeof target !== 'number' || !Number.isInteger(target) || target < 0) {
      throw new OtpError('INVALID_CODE', 'value: must be a non-negative integer code value');
    }
    // Counters past 2^64-1 are not searched.
    const room = MAX_COUNTER - start + 1n;
    const n = room < BigInt(window) ? Number(room) : window;
    SPLIT64[0] = start;
    const hi = SPLIT32[HI]!;
    const lo = SPLIT32[LO]!;
    const idx =
      this.kernels === null
        ? scalarFind(this.kind, this.st, hi, lo, n, this.mod, target)
        : this.kernels.find(this.kind, this.st.inner, this.st.outer, hi, lo, n, this.mod, target);
    return idx < 0 ? -1n : start + BigInt(idx);
  }

  destroy(): void {
    // Release first: the kernels recognise the resident pad states by the identity of `inner`.
    this.kernels?.release(this.st.inner);
    this.single?.release(this.st.inner);
    this.st.wipe();
    SCHEDULES[this.kind].reset();
    this.destroyed = true;
  }
}

function checkAlgorithm(algorithm: unknown): asserts algorithm is HashAlgorithm {
  if (!(HASH_ALGORITHMS as readonly unknown[]).includes(algorithm)) {
    throw new OtpError('INVALID_ALGORITHM', `algorithm: ${String(algorithm)} is not one of SHA1, SHA256, SHA512`);
  }
}

/** Like `createHotpEngine`, choosing the implementation (tests and benchmarks compare them). */
export function createHotpEngineWith(key: Uint8Array, options: HotpEngineOptions, path: EnginePath): HotpEngine {
  const algorithm = options.algorithm ?? 'SHA1';
  const digits = options.digits ?? 6;
  checkKey(key);
  checkAlgorithm(algorithm);
  checkDigits(digits);
  const simd = path === 'auto' || path === 'simd' ? loadKernels('simd') : null;
  const scalar = path === 'js' ? null : loadKernels('scalar');
  if (path === 'simd' && simd === null) throw new OtpError('INVALID_ARGUMENT', 'path: WebAssembly SIMD is not available in this runtime; use "auto"');
  if (path === 'wasm-scalar' && scalar === null) throw new OtpError('INVALID_ARGUMENT', 'path: WebAssembly is not available in this runtime; use "auto"');
  // auto without SIMD: the scalar kernels still beat the JavaScript loop.
  const batchKernels = path === 'wasm-scalar' ? scalar : (simd ?? scalar);
  return new FastHotpEngine(key, algorithm, digits, batchKernels, scalar);
}

export function createHotpEngine(key: Uint8Array, options: HotpEngineOptions = {}): HotpEngine {
  return createHotpEngineWith(key, options, 'auto');
}
