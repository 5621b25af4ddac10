/**
 * Build time only: the generator of the two WebAssembly HMAC kernel modules (scalar and SIMD) that
 * kernels.ts loads, and the source text of kernels.generated.ts. Run by build.ts and by the test that checks
 * the committed bytes; the library never imports it (nor gen.ts/asm.ts below it), so a process pays a base64
 * decode instead of generating code (test/otp/engine-wasm.test.ts checks the runtime's import graph).
 *
 * Per hash there is a "group" function that computes the HOTP values (RFC 4226 Section 5.3, truncated and
 * reduced mod 10^digits) of L consecutive counters — L = 4 for SHA-1/SHA-256 on i32x4, 2 for SHA-512 on
 * i64x2, 1 in the scalar module — and drivers around it: batch (values of n counters into the output area),
 * find (first index whose value matches, scanning all n without early exit: the match is folded in with
 * `select`, no branch depends on it) and one (a single value). Where they read and write is layout.ts.
 */
import { assembleModule, memarg, OP, SIMD, simd, sleb, TYPE, uleb, type FuncDef } from './asm.ts';
import { FnBuilder, get, Lanes, set, sha1Compress, sha256Compress, sha512Compress, type LaneKind } from './gen.ts';
import { DIG, OUT, PAD_IN, PAD_OUT, RES } from './layout.ts';
import { SHA256_K } from '../sha256.ts';
import { SHA512_K } from '../sha512.ts';

type Hash = 'SHA1' | 'SHA256' | 'SHA512';
const HASHES: readonly Hash[] = ['SHA1', 'SHA256', 'SHA512'];

const K512: readonly bigint[] = Array.from({ length: 80 }, (_, t) => (BigInt(SHA512_K[2 * t]! >>> 0) << 32n) | BigInt(SHA512_K[2 * t + 1]! >>> 0));

function i32c(fn: FnBuilder, v: number): void {
  fn.emit(OP.i32_const, ...sleb(BigInt(v | 0)));
}
function i64c(fn: FnBuilder, v: number | bigint): void {
  fn.emit(OP.i64_const, ...sleb(BigInt.asIntN(64, BigInt(v))));
}

/** group(c: i64, dst: i32, mod: i32): values of counters c..c+L-1 to dst[0..L). */
function groupFn(hash: Hash, kind: LaneKind): FuncDef {
  const fn = new FnBuilder([TYPE.i64, TYPE.i32, TYPE.i32], []);
  const C = 0;
  const DST = 1;
  const MOD = 2;
  const g = new Lanes(fn, kind);
  const L = g.lanes;
  const nw = hash === 'SHA1' ? 5 : 8;
  const zeros = (n: number) => Array.from({ length: n }, () => g.c(0));

  // The counter block: C (8 bytes, big-endian), 0x80, zeros, bit length of (block + 8) bytes.
  let block;
  if (g.bits === 32) {
    const hiL = fn.local(g.valType);
    const loL = fn.local(g.valType);
    for (const [local, high] of [[loL, false], [hiL, true]] as const) {
      for (let j = 0; j < L; j++) {
        get(fn, C);
        if (j > 0) {
          i64c(fn, j);
          fn.emit(OP.i64_add);
        }
        if (high) {
          i64c(fn, 32);
          fn.emit(OP.i64_shr_u);
        }
        fn.emit(OP.i32_wrap_i64);
        if (g.vector) fn.emit(...(j === 0 ? simd(SIMD.i32x4_splat) : [...simd(SIMD.i32x4_replace_lane), j]));
      }
      set(fn, local);
    }
    block = [g.loc(hiL), g.loc(loL), g.c(0x80000000), ...zeros(12), g.c((64 + 8) * 8)];
  } else {
    const cL = fn.local(g.valType);
    get(fn, C);
    if (g.vector) {
      fn.emit(...simd(SIMD.i64x2_splat));
      get(fn, C);
      i64c(fn, 1);
      fn.emit(OP.i64_add, ...simd(SIMD.i64x2_replace_lane), 1);
    }
    set(fn, cL);
    block = [g.loc(cL), g.c(1n << 63n), ...zeros(13), g.c((128 + 8) * 8)];
  }

  const pad = (base: number) =>
    Array.from({ length: nw }, (_, i) => {
      const local = fn.local(g.valType);
      if (g.bits === 32) {
        i32c(fn, 0);
        fn.emit(OP.i32_load, ...memarg(2, base + 4 * i));
        if (g.vector) fn.emit(...simd(SIMD.i32x4_splat));
      } else {
        i32c(fn, 0);
        fn.emit(OP.i32_load, ...memarg(2, base + 8 * i), OP.i64_extend_i32_u);
        i64c(fn, 32);
        fn.emit(OP.i64_shl);
        i32c(fn, 0);
        fn.emit(OP.i32_load, ...memarg(2, base + 8 * i + 4), OP.i64_extend_i32_u, OP.i64_or);
        if (g.vector) fn.emit(...simd(SIMD.i64x2_splat));
      }
      set(fn, local);
      return g.loc(local);
    });

  const compress = (h: ReturnType<typeof pad>, w: typeof block) =>
    hash === 'SHA1' ? sha1Compress(g, h, w) : hash === 'SHA256' ? sha256Compress(g, h, w, SHA256_K) : sha512Compress(g, h, w, K512);

  const innerDigest = compress(pad(PAD_IN), block);
  // The outer block: inner digest, 0x80, zeros, bit length of (block + digest) bytes.
  const outerBlock =
    g.bits === 32
      ? [...innerDigest, g.c(0x80000000), ...zeros(15 - nw - 1), g.c((64 + nw * 4) * 8)]
      : [...innerDigest, g.c(1n << 63n), ...zeros(15 - nw - 1), g.c((128 + 64) * 8)];
  const digest = compress(pad(PAD_OUT), outerBlock);

  // Store the digest words lane-interleaved, then truncate each lane with scalar code.
  const wordBytes = g.bits / 8;
  const stride = g.vector ? 16 : wordBytes;
  const strideLog = Math.log2(stride);
  digest.forEach((d, i) => {
    i32c(fn, 0);
    g.emitEx(d);
    if (g.vector) fn.emit(...simd(SIMD.v128_store), ...memarg(4, DIG + stride * i));
    else fn.emit(g.bits === 32 ? OP.i32_store : OP.i64_store, ...memarg(g.bits === 32 ? 2 : 3, DIG + stride * i));
  });
  const oL = fn.local(TYPE.i32);
  const aL = fn.local(TYPE.i32);
  const sL = fn.local(TYPE.i64);
  for (let j = 0; j < L; j++) {
    const lane = DIG + wordBytes * j;
    // offset = low nibble of the last digest byte (RFC 4226 Section 5.3)
    i32c(fn, 0);
    if (g.bits === 32) fn.emit(OP.i32_load, ...memarg(2, lane + stride * (nw - 1)));
    else fn.emit(OP.i64_load, ...memarg(3, lane + stride * (nw - 1)), OP.i32_wrap_i64);
    i32c(fn, 15);
    fn.emit(OP.i32_and);
    set(fn, oL);
    get(fn, DST);
    if (g.bits === 32) {
      // word k = offset/4 and word k+1 as one 64-bit value; shift out the leading (offset%4) bytes.
      get(fn, oL);
      i32c(fn, 2);
      fn.emit(OP.i32_shr_u);
      i32c(fn, strideLog);
      fn.emit(OP.i32_shl);
      set(fn, aL);
      get(fn, aL);
      fn.emit(OP.i32_load, ...memarg(2, lane), OP.i64_extend_i32_u);
      i64c(fn, 32);
      fn.emit(OP.i64_shl);
      get(fn, aL);
      fn.emit(OP.i32_load, ...memarg(2, lane + stride), OP.i64_extend_i32_u, OP.i64_or);
      i32c(fn, 32);
      get(fn, oL);
      i32c(fn, 3);
      fn.emit(OP.i32_and);
      i32c(fn, 3);
      fn.emit(OP.i32_shl, OP.i32_sub, OP.i64_extend_i32_u, OP.i64_shr_u, OP.i32_wrap_i64);
    } else {
      // 64-bit words m = offset/8 and m+1; take the top 32 bits of (x << s) | (y >> (64 - s)).
      get(fn, oL);
      i32c(fn, 3);
      fn.emit(OP.i32_shr_u);
      i32c(fn, strideLog);
      fn.emit(OP.i32_shl);
      set(fn, aL);
      get(fn, oL);
      i32c(fn, 7);
      fn.emit(OP.i32_and);
      i32c(fn, 3);
      fn.emit(OP.i32_shl, OP.i64_extend_i32_u);
      set(fn, sL);
      get(fn, aL);
      fn.emit(OP.i64_load, ...memarg(3, lane));
      get(fn, sL);
      fn.emit(OP.i64_shl);
      get(fn, aL);
      fn.emit(OP.i64_load, ...memarg(3, lane + stride));
      i64c(fn, 1);
      fn.emit(OP.i64_shr_u);
      i64c(fn, 63);
      get(fn, sL);
      fn.emit(OP.i64_sub, OP.i64_shr_u, OP.i64_or);
      i64c(fn, 32);
      fn.emit(OP.i64_shr_u, OP.i32_wrap_i64);
    }
    i32c(fn, 0x7fffffff);
    fn.emit(OP.i32_and);
    get(fn, MOD);
    fn.emit(OP.i32_rem_u, OP.i32_store, ...memarg(2, 4 * j));
  }
  return fn.def(null);
}

/** Emits c = (hi << 32) | lo into local `c` from params 0 and 1. */
function joinCounter(fn: FnBuilder, c: number): void {
  get(fn, 0);
  fn.emit(OP.i64_extend_i32_u);
  i64c(fn, 32);
  fn.emit(OP.i64_shl);
  get(fn, 1);
  fn.emit(OP.i64_extend_i32_u, OP.i64_or);
  set(fn, c);
}

/** batch(hi, lo, n, mod): values of counters hi:lo .. +n-1 into OUT. */
function batchFn(name: string, group: number, lanes: number): FuncDef {
  const fn = new FnBuilder([TYPE.i32, TYPE.i32, TYPE.i32, TYPE.i32], []);
  const c = fn.local(TYPE.i64);
  const i = fn.local(TYPE.i32);
  joinCounter(fn, c);
  fn.emit(OP.block, 0x40, OP.loop, 0x40);
  get(fn, i);
  get(fn, 2);
  fn.emit(OP.i32_lt_u, OP.i32_eqz, OP.br_if, 1);
  get(fn, c);
  get(fn, i);
  fn.emit(OP.i64_extend_i32_u, OP.i64_add);
  get(fn, i);
  i32c(fn, 2);
  fn.emit(OP.i32_shl);
  i32c(fn, OUT);
  fn.emit(OP.i32_add);
  get(fn, 3);
  fn.emit(OP.call, ...uleb(group));
  get(fn, i);
  i32c(fn, lanes);
  fn.emit(OP.i32_add);
  set(fn, i);
  fn.emit(OP.br, 0, OP.end, OP.end);
  return fn.def(name);
}

/** find(hi, lo, n, mod, target) -> first index < n whose value is target, or -1; always scans all n. */
function findFn(name: string, group: number, lanes: number): FuncDef {
  const fn = new FnBuilder([TYPE.i32, TYPE.i32, TYPE.i32, TYPE.i32, TYPE.i32], [TYPE.i32]);
  const c = fn.local(TYPE.i64);
  const i = fn.local(TYPE.i32);
  const found = fn.local(TYPE.i32);
  const idx = fn.local(TYPE.i32);
  joinCounter(fn, c);
  i32c(fn, -1);
  set(fn, found);
  fn.emit(OP.block, 0x40, OP.loop, 0x40);
  get(fn, i);
  get(fn, 2);
  fn.emit(OP.i32_lt_u, OP.i32_eqz, OP.br_if, 1);
  get(fn, c);
  get(fn, i);
  fn.emit(OP.i64_extend_i32_u, OP.i64_add);
  i32c(fn, RES);
  get(fn, 3);
  fn.emit(OP.call, ...uleb(group));
  for (let j = 0; j < lanes; j++) {
    get(fn, i);
    i32c(fn, j);
    fn.emit(OP.i32_add);
    set(fn, idx);
    get(fn, idx);
    get(fn, found);
    // take idx when: value == target AND idx < n AND nothing found yet
    i32c(fn, 0);
    fn.emit(OP.i32_load, ...memarg(2, RES + 4 * j));
    get(fn, 4);
    fn.emit(OP.i32_eq);
    get(fn, idx);
    get(fn, 2);
    fn.emit(OP.i32_lt_u, OP.i32_and);
    get(fn, found);
    i32c(fn, -1);
    fn.emit(OP.i32_eq, OP.i32_and, OP.select);
    set(fn, found);
  }
  get(fn, i);
  i32c(fn, lanes);
  fn.emit(OP.i32_add);
  set(fn, i);
  fn.emit(OP.br, 0, OP.end, OP.end);
  get(fn, found);
  return fn.def(name);
}

/** one(hi, lo, mod) -> value. */
function oneFn(name: string, group: number): FuncDef {
  const fn = new FnBuilder([TYPE.i32, TYPE.i32, TYPE.i32], [TYPE.i32]);
  const c = fn.local(TYPE.i64);
  joinCounter(fn, c);
  get(fn, c);
  i32c(fn, RES);
  get(fn, 2);
  fn.emit(OP.call, ...uleb(group));
  i32c(fn, 0);
  fn.emit(OP.i32_load, ...memarg(2, RES));
  return fn.def(name);
}

/** The module bytes: SIMD groups (lanes 4/4/2) or scalar groups (lane 1), with their drivers. */
export function kernelModuleBytes(vector: boolean): Uint8Array {
  const groups: FuncDef[] = [];
  const drivers: FuncDef[] = [];
  HASHES.forEach((hash, h) => {
    const kind: LaneKind = vector ? (hash === 'SHA512' ? 'i64x2' : 'i32x4') : hash === 'SHA512' ? 'i64' : 'i32';
    const lanes = vector ? (hash === 'SHA512' ? 2 : 4) : 1;
    groups.push(groupFn(hash, kind));
    drivers.push(batchFn(`batch${h}`, h, lanes), findFn(`find${h}`, h, lanes), oneFn(`one${h}`, h));
  });
  return assembleModule([...groups, ...drivers], 1);
}

/** The source text of kernels.generated.ts for the current generator. */
export function generatedSource(): string {
  const b64 = (vector: boolean) => Buffer.from(kernelModuleBytes(vector)).toString('base64');
  return [
    '/**',
    ' * GENERATED by `npx tsx otp/wasm/build.ts` from kernel-gen.ts/gen.ts — do not edit. The HMAC kernel modules',
    ' * (scalar: one lane; SIMD: i32x4 for SHA-1/SHA-256, i64x2 for SHA-512) as base64.',
    ' */',
    `export const SCALAR_WASM_BASE64 =\n  '${b64(false)}';`,
    `export const SIMD_WASM_BASE64 =\n  '${b64(true)}';`,
    '',
  ].join('\n');
}
