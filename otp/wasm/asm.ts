/**
 * A tiny WebAssembly binary assembler (WebAssembly Core Specification 2.0, Chapter 5 "Binary Format"), just
 * big enough for the HMAC kernels (kernel-gen.ts): LEB128 immediates, the handful of numeric, SIMD (fixed-width
 * SIMD proposal, opcodes prefixed 0xFD), memory and control opcodes they use, and a module writer with one
 * memory. It lets the kernels be generated from readable TypeScript with no toolchain; the committed bytes
 * (kernels.generated.ts) are checked against it by a test, so they cannot drift from their source. Build
 * time only: the library does not import it.
 */

export const TYPE = { i32: 0x7f, i64: 0x7e, v128: 0x7b } as const;
export type ValType = (typeof TYPE)[keyof typeof TYPE];

/** Unsigned LEB128 (spec 5.2.2). */
export function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 of a bigint (spec 5.2.2), for i32.const / i64.const immediates. */
export function sleb(n: bigint): number[] {
  const out: number[] = [];
  let v = n;
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** Opcodes (spec 5.4). SIMD ops are [0xFD, ...uleb(sub-opcode)]. */
export const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  call: 0x10,
  select: 0x1b,
  local_get: 0x20,
  local_set: 0x21,
  local_tee: 0x22,
  i32_load: 0x28,
  i64_load: 0x29,
  i32_store: 0x36,
  i64_store: 0x37,
  i32_const: 0x41,
  i64_const: 0x42,
  i32_eqz: 0x45,
  i32_eq: 0x46,
  i32_ne: 0x47,
  i32_lt_u: 0x49,
  i32_add: 0x6a,
  i32_sub: 0x6b,
  i32_rem_u: 0x70,
  i32_and: 0x71,
  i32_or: 0x72,
  i32_xor: 0x73,
  i32_shl: 0x74,
  i32_shr_u: 0x76,
  i32_rotr: 0x78,
  i64_add: 0x7c,
  i64_sub: 0x7d,
  i64_and: 0x83,
  i64_or: 0x84,
  i64_xor: 0x85,
  i64_shl: 0x86,
  i64_shr_u: 0x88,
  i64_rotr: 0x8a,
  i32_wrap_i64: 0xa7,
  i64_extend_i32_u: 0xad,
} as const;

/** Fixed-width SIMD sub-opcodes (after the 0xFD prefix). */
export const SIMD = {
  v128_load: 0x00,
  v128_store: 0x0b,
  v128_const: 0x0c,
  i32x4_splat: 0x11,
  i64x2_splat: 0x12,
  i32x4_replace_lane: 0x1c,
  i64x2_replace_lane: 0x1e,
  v128_not: 0x4d,
  v128_and: 0x4e,
  v128_or: 0x50,
  v128_xor: 0x51,
  v128_bitselect: 0x52,
  i32x4_shl: 0xab,
  i32x4_shr_u: 0xad,
  i32x4_add: 0xae,
  i64x2_shl: 0xcb,
  i64x2_shr_u: 0xcd,
  i64x2_add: 0xce,
} as const;

export function simd(sub: number): number[] {
  return [0xfd, ...uleb(sub)];
}

/** memarg: alignment exponent and offset (spec 5.4.6). */
export function memarg(alignLog2: number, offset: number): number[] {
  return [...uleb(alignLog2), ...uleb(offset)];
}

/** A growable byte buffer: the kernels' bodies run to tens of thousands of bytes. */
export class ByteWriter {
  private buf = new Uint8Array(1024);
  length = 0;

  push(b: number): void {
    if (this.length === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = b;
  }

  pushAll(bytes: ArrayLike<number>): void {
    for (let i = 0; i < bytes.length; i++) this.push(bytes[i]!);
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

export interface FuncDef {
  readonly name: string | null;
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
  /** Types of the locals after the params, in index order. */
  readonly locals: readonly ValType[];
  /** Body bytes without the final `end`. */
  readonly body: Uint8Array;
}

/** Appends `src` to `dst` without spreading (bodies run to tens of thousands of bytes). */
function append(dst: number[], src: ArrayLike<number>): void {
  for (let i = 0; i < src.length; i++) dst.push(src[i]!);
}

function vec(items: readonly (readonly number[])[]): number[] {
  const out = uleb(items.length);
  for (const item of items) append(out, item);
  return out;
}

function section(id: number, payload: readonly number[]): number[] {
  const out = [id, ...uleb(payload.length)];
  append(out, payload);
  return out;
}

function nameBytes(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

/** A module with one exported memory "mem" of `pages` 64 KiB pages and the given functions (index = order). */
export function assembleModule(funcs: readonly FuncDef[], pages: number): Uint8Array {
  const types = funcs.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))]);
  const code = funcs.map((f) => {
    // Run-length groups of local types (spec 5.5.13).
    const groups: number[][] = [];
    let i = 0;
    while (i < f.locals.length) {
      let j = i;
      while (j < f.locals.length && f.locals[j] === f.locals[i]) j++;
      groups.push([...uleb(j - i), f.locals[i]!]);
      i = j;
    }
    const head = vec(groups);
    const out = uleb(head.length + f.body.length + 1);
    append(out, head);
    append(out, f.body);
    out.push(OP.end);
    return out;
  });
  const exports: number[][] = [[...nameBytes('mem'), 0x02, 0x00]];
  funcs.forEach((f, idx) => {
    if (f.name !== null) exports.push([...nameBytes(f.name), 0x00, ...uleb(idx)]);
  });
  const bytes = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  append(bytes, section(1, vec(types)));
  append(bytes, section(3, vec(funcs.map((_, idx) => uleb(idx)))));
  append(bytes, section(5, vec([[0x00, ...uleb(pages)]])));
  append(bytes, section(7, vec(exports)));
  append(bytes, section(10, vec(code)));
  return Uint8Array.from(bytes);
}
