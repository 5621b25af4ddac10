/**
 * Generator of the HMAC-SHA kernels (FIPS 180-4 Sections 6.1.2, 6.2.2, 6.4.2; RFC 2104; RFC 4226 Section 5.3)
 * as WebAssembly functions, assembled by asm.ts. Build time only (kernel-gen.ts, build.ts); the library
 * loads the committed bytes instead.
 *
 * Each compression is emitted fully unrolled as straight-line code over "lanes": scalar i32/i64, or SIMD
 * i32x4 (four counters at once, SHA-1/SHA-256) and i64x2 (two counters, SHA-512). Every intermediate goes to
 * a fresh local (SSA style), which leaves register allocation to V8's optimising compiler. Message words
 * that are constant (the padding of the counter block and of the inner digest) are folded at generation
 * time, so the schedule and rounds only compute what depends on the counter. Unrolling here is safe: the
 * size limits on optimisable functions are a JavaScript-tier matter; wasm functions compile whole.
 */
import { ByteWriter, OP, SIMD, simd, sleb, TYPE, uleb, type FuncDef, type ValType } from './asm.ts';

export type LaneKind = 'i32' | 'i64' | 'i32x4' | 'i64x2';

type Ex =
  | { readonly k: 'c'; readonly v: bigint }
  | { readonly k: 'l'; readonly i: number }
  | { readonly k: 'bin'; readonly op: 'add' | 'xor' | 'and' | 'or'; readonly a: Ex; readonly b: Ex }
  | { readonly k: 'rotr' | 'shr'; readonly x: Ex; readonly n: number }
  | { readonly k: 'ch'; readonly e: Ex; readonly f: Ex; readonly g: Ex }
  | { readonly k: 'maj'; readonly a: Ex; readonly b: Ex; readonly c: Ex };

/** A function under construction: params, locals and body bytes. */
export class FnBuilder {
  readonly params: ValType[];
  readonly results: ValType[];
  readonly locals: ValType[] = [];
  readonly body = new ByteWriter();

  constructor(params: ValType[], results: ValType[]) {
    this.params = params;
    this.results = results;
  }

  local(t: ValType): number {
    this.locals.push(t);
    return this.params.length + this.locals.length - 1;
  }

  emit(...bytes: number[]): void {
    this.body.pushAll(bytes);
  }

  def(name: string | null): FuncDef {
    return { name, params: this.params, results: this.results, locals: this.locals, body: this.body.bytes() };
  }
}

/** Expression builder with constant folding for one lane kind; `mat` emits into the function. */
export class Lanes {
  readonly kind: LaneKind;
  readonly bits: 32 | 64;
  readonly lanes: number;
  readonly vector: boolean;
  readonly valType: ValType;
  private readonly fn: FnBuilder;
  private readonly mask: bigint;

  constructor(fn: FnBuilder, kind: LaneKind) {
    this.fn = fn;
    this.kind = kind;
    this.bits = kind === 'i32' || kind === 'i32x4' ? 32 : 64;
    this.lanes = kind === 'i32x4' ? 4 : kind === 'i64x2' ? 2 : 1;
    this.vector = this.lanes > 1;
    this.valType = this.vector ? TYPE.v128 : this.bits === 32 ? TYPE.i32 : TYPE.i64;
    this.mask = (1n << BigInt(this.bits)) - 1n;
  }

  c(v: bigint | number): Ex {
    return { k: 'c', v: BigInt(v) & this.mask };
  }

  loc(i: number): Ex {
    return { k: 'l', i };
  }

  private bin(op: 'add' | 'xor' | 'and' | 'or', a: Ex, b: Ex): Ex {
    if (a.k === 'c' && b.k === 'c') {
      const v = op === 'add' ? a.v + b.v : op === 'xor' ? a.v ^ b.v : op === 'and' ? a.v & b.v : a.v | b.v;
      return this.c(v);
    }
    if ((op === 'add' || op === 'xor' || op === 'or') && a.k === 'c' && a.v === 0n) return b;
    if ((op === 'add' || op === 'xor' || op === 'or') && b.k === 'c' && b.v === 0n) return a;
    return { k: 'bin', op, a, b };
  }

  add(...xs: Ex[]): Ex {
    // Fold all constants into one term so each sum carries at most one constant add.
    let konst = 0n;
    let acc: Ex | null = null;
    for (const x of xs) {
      if (x.k === 'c') konst += x.v;
      else acc = acc === null ? x : this.bin('add', acc, x);
    }
    const k = this.c(konst);
    return acc === null ? k : this.bin('add', acc, k);
  }

  xor(...xs: Ex[]): Ex {
    return xs.reduce((acc, x) => this.bin('xor', acc, x));
  }

  and(a: Ex, b: Ex): Ex {
    return this.bin('and', a, b);
  }

  or(a: Ex, b: Ex): Ex {
    return this.bin('or', a, b);
  }

  rotr(x: Ex, n: number): Ex {
    if (x.k === 'c') {
      const w = BigInt(this.bits);
      const s = BigInt(n);
      return this.c((x.v >> s) | (x.v << (w - s)));
    }
    return { k: 'rotr', x: this.mat(x), n };
  }

  shr(x: Ex, n: number): Ex {
    if (x.k === 'c') return this.c(x.v >> BigInt(n));
    return { k: 'shr', x: this.mat(x), n };
  }

  /** Ch(e,f,g) = (e AND f) XOR (NOT e AND g), FIPS 180-4 Section 4.1. */
  ch(e: Ex, f: Ex, g: Ex): Ex {
    return { k: 'ch', e: this.mat(e), f: this.mat(f), g: this.mat(g) };
  }

  /** Maj(a,b,c), FIPS 180-4 Section 4.1. */
  maj(a: Ex, b: Ex, c: Ex): Ex {
    return { k: 'maj', a: this.mat(a), b: this.mat(b), c: this.mat(c) };
  }

  /** Emits `x` into a fresh local unless it is a constant or already a local. */
  mat(x: Ex): Ex {
    if (x.k === 'c' || x.k === 'l') return x;
    const i = this.fn.local(this.valType);
    this.emitEx(x);
    set(this.fn, i);
    return this.loc(i);
  }

  /** Emits `x` as a local.set into a fresh local and returns its index. */
  matLocal(x: Ex): number {
    const i = this.fn.local(this.valType);
    this.emitEx(x);
    set(this.fn, i);
    return i;
  }

  private emitShiftCount(n: number): void {
    // Scalar i64 shifts take an i64 count; SIMD shifts and scalar i32 shifts take an i32.
    if (!this.vector && this.bits === 64) this.fn.emit(OP.i64_const, ...sleb(BigInt(n)));
    else this.fn.emit(OP.i32_const, ...sleb(BigInt(n)));
  }

  private opBytes(op: 'add' | 'xor' | 'and' | 'or' | 'shl' | 'shr_u' | 'rotr'): number[] {
    if (this.vector) {
      if (op === 'xor') return simd(SIMD.v128_xor);
      if (op === 'and') return simd(SIMD.v128_and);
      if (op === 'or') return simd(SIMD.v128_or);
      const s32 = { add: SIMD.i32x4_add, shl: SIMD.i32x4_shl, shr_u: SIMD.i32x4_shr_u } as const;
      const s64 = { add: SIMD.i64x2_add, shl: SIMD.i64x2_shl, shr_u: SIMD.i64x2_shr_u } as const;
      if (op === 'rotr') throw new Error('gen: no SIMD rotate');
      return simd((this.bits === 32 ? s32 : s64)[op]);
    }
    const o32 = { add: OP.i32_add, xor: OP.i32_xor, and: OP.i32_and, or: OP.i32_or, shl: OP.i32_shl, shr_u: OP.i32_shr_u, rotr: OP.i32_rotr } as const;
    const o64 = { add: OP.i64_add, xor: OP.i64_xor, and: OP.i64_and, or: OP.i64_or, shl: OP.i64_shl, shr_u: OP.i64_shr_u, rotr: OP.i64_rotr } as const;
    return [(this.bits === 32 ? o32 : o64)[op]];
  }

  emitEx(x: Ex): void {
    const f = this.fn;
    switch (x.k) {
      case 'c': {
        if (!this.vector) {
          const signed = BigInt.asIntN(this.bits, x.v);
          f.emit(this.bits === 32 ? OP.i32_const : OP.i64_const, ...sleb(signed));
        } else {
          const bytes: number[] = [];
          const laneBytes = this.bits / 8;
          for (let l = 0; l < this.lanes; l++) for (let b = 0; b < laneBytes; b++) bytes.push(Number((x.v >> BigInt(8 * b)) & 0xffn));
          f.emit(...simd(SIMD.v128_const), ...bytes);
        }
        return;
      }
      case 'l':
        get(f, x.i);
        return;
      case 'bin':
        this.emitEx(x.a);
        this.emitEx(x.b);
        f.emit(...this.opBytes(x.op));
        return;
      case 'shr':
        this.emitEx(x.x);
        this.emitShiftCount(x.n);
        f.emit(...this.opBytes('shr_u'));
        return;
      case 'rotr':
        if (!this.vector) {
          this.emitEx(x.x);
          this.emitShiftCount(x.n);
          f.emit(...this.opBytes('rotr'));
        } else {
          this.emitEx(x.x);
          this.emitShiftCount(x.n);
          f.emit(...this.opBytes('shr_u'));
          this.emitEx(x.x);
          this.emitShiftCount(this.bits - x.n);
          f.emit(...this.opBytes('shl'));
          f.emit(...this.opBytes('or'));
        }
        return;
      case 'ch':
        if (this.vector) {
          // bitselect(v1, v2, m) = (v1 AND m) OR (v2 AND NOT m): f where e is 1, g where e is 0.
          this.emitEx(x.f);
          this.emitEx(x.g);
          this.emitEx(x.e);
          f.emit(...simd(SIMD.v128_bitselect));
        } else {
          this.emitEx(this.bin('xor', x.g, this.bin('and', x.e, this.bin('xor', x.f, x.g))));
        }
        return;
      case 'maj':
        if (this.vector) {
          // Where a = c the majority is a; elsewhere it is b.
          this.emitEx(x.b);
          this.emitEx(x.a);
          this.emitEx(this.bin('xor', x.a, x.c));
          f.emit(...simd(SIMD.v128_bitselect));
        } else {
          this.emitEx(this.bin('or', this.bin('and', x.a, x.b), this.bin('and', x.c, this.bin('or', x.a, x.b))));
        }
        return;
    }
  }
}

/** Emits `local.get i` / `local.set i` with a LEB128 index. */
export function get(fn: FnBuilder, i: number): void {
  fn.emit(OP.local_get, ...uleb(i));
}
export function set(fn: FnBuilder, i: number): void {
  fn.emit(OP.local_set, ...uleb(i));
}

// ---- The three compression functions over symbolic words -------------------------------------------------

const SHA1_K = [0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xca62c1d6] as const;

/** FIPS 180-4 Section 6.1.2; returns H + compress(H, W) as locals/constants. */
export function sha1Compress(g: Lanes, h: readonly Ex[], block: readonly Ex[]): Ex[] {
  const w = block.slice();
  let [a, b, c, d, e] = h as [Ex, Ex, Ex, Ex, Ex];
  for (let t = 0; t < 80; t++) {
    if (t >= 16) w[t & 15] = g.mat(g.rotr(g.xor(w[(t - 3) & 15]!, w[(t - 8) & 15]!, w[(t - 14) & 15]!, w[t & 15]!), 31));
    const f = t < 20 ? g.ch(b, c, d) : t < 40 || t >= 60 ? g.xor(b, c, d) : g.maj(b, c, d);
    const temp = g.mat(g.add(g.rotr(a, 27), f, e, g.c(SHA1_K[Math.floor(t / 20)]!), w[t & 15]!));
    e = d;
    d = c;
    c = g.mat(g.rotr(b, 2));
    b = a;
    a = temp;
  }
  return [a, b, c, d, e].map((x, i) => g.mat(g.add(h[i]!, x)));
}

/** FIPS 180-4 Section 6.2.2 (k: the 64 round constants). */
export function sha256Compress(g: Lanes, h: readonly Ex[], block: readonly Ex[], k: ArrayLike<number>): Ex[] {
  const w = block.slice();
  let [a, b, c, d, e, f, gg, hh] = h as [Ex, Ex, Ex, Ex, Ex, Ex, Ex, Ex];
  for (let t = 0; t < 64; t++) {
    if (t >= 16) {
      const x = w[(t - 15) & 15]!;
      const y = w[(t - 2) & 15]!;
      const s0 = g.xor(g.rotr(x, 7), g.rotr(x, 18), g.shr(x, 3));
      const s1 = g.xor(g.rotr(y, 17), g.rotr(y, 19), g.shr(y, 10));
      w[t & 15] = g.mat(g.add(s1, w[(t - 7) & 15]!, s0, w[t & 15]!));
    }
    const S1 = g.xor(g.rotr(e, 6), g.rotr(e, 11), g.rotr(e, 25));
    const t1 = g.mat(g.add(hh, S1, g.ch(e, f, gg), g.c(k[t]! >>> 0), w[t & 15]!));
    const S0 = g.xor(g.rotr(a, 2), g.rotr(a, 13), g.rotr(a, 22));
    const t2 = g.add(S0, g.maj(a, b, c));
    hh = gg;
    gg = f;
    f = e;
    e = g.mat(g.add(d, t1));
    d = c;
    c = b;
    b = a;
    a = g.mat(g.add(t1, t2));
  }
  return [a, b, c, d, e, f, gg, hh].map((x, i) => g.mat(g.add(h[i]!, x)));
}

/** FIPS 180-4 Section 6.4.2 (k: the 80 round constants as bigint). */
export function sha512Compress(g: Lanes, h: readonly Ex[], block: readonly Ex[], k: readonly bigint[]): Ex[] {
  const w = block.slice();
  let [a, b, c, d, e, f, gg, hh] = h as [Ex, Ex, Ex, Ex, Ex, Ex, Ex, Ex];
  for (let t = 0; t < 80; t++) {
    if (t >= 16) {
      const x = w[(t - 15) & 15]!;
      const y = w[(t - 2) & 15]!;
      const s0 = g.xor(g.rotr(x, 1), g.rotr(x, 8), g.shr(x, 7));
      const s1 = g.xor(g.rotr(y, 19), g.rotr(y, 61), g.shr(y, 6));
      w[t & 15] = g.mat(g.add(s1, w[(t - 7) & 15]!, s0, w[t & 15]!));
    }
    const S1 = g.xor(g.rotr(e, 14), g.rotr(e, 18), g.rotr(e, 41));
    const t1 = g.mat(g.add(hh, S1, g.ch(e, f, gg), g.c(k[t]!), w[t & 15]!));
    const S0 = g.xor(g.rotr(a, 28), g.rotr(a, 34), g.rotr(a, 39));
    const t2 = g.add(S0, g.maj(a, b, c));
    hh = gg;
    gg = f;
    f = e;
    e = g.mat(g.add(d, t1));
    d = c;
    c = b;
    b = a;
    a = g.mat(g.add(t1, t2));
  }
  return [a, b, c, d, e, f, gg, hh].map((x, i) => g.mat(g.add(h[i]!, x)));
}

