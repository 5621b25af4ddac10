/**
 * The WebAssembly HMAC kernels behind `value`, `batch` and `findInWindow` of the fast engine (engine.ts):
 * loads the committed module bytes (kernels.generated.ts, written at build time by build.ts from
 * kernel-gen.ts) and wraps their exports. No code generation happens at run time.
 *
 * Each module exports, per hash kind h (0 SHA-1, 1 SHA-256, 2 SHA-512), batch{h} (values of n consecutive
 * counters into OUT), find{h} (first index whose value matches; always scans all n) and one{h} (a single
 * value), over the memory layout of layout.ts. The pad states of the engine that used the module last stay
 * resident, so repeated calls by one engine skip the copy; another engine's call overwrites them, and
 * `release` (from the engine's destroy()) zeroes them when they are that engine's.
 */
import { CHUNK, DIG, OUT, PAD_IN, PAD_OUT, RES } from './layout.ts';
import { SCALAR_WASM_BASE64, SIMD_WASM_BASE64 } from './kernels.generated.ts';

type Driver = {
  batch: (hi: number, lo: number, n: number, mod: number) => void;
  find: (hi: number, lo: number, n: number, mod: number, target: number) => number;
  one: (hi: number, lo: number, mod: number) => number;
};

/** The engine's view of a kernel module. `kind`: 0 SHA-1, 1 SHA-256, 2 SHA-512. `mod` 0 means 10 digits. */
export interface HmacKernels {
  readonly lanes: 'simd' | 'scalar';
  batch(kind: number, inner: Int32Array, outer: Int32Array, hi: number, lo: number, n: number, mod: number, out: Uint32Array): void;
  find(kind: number, inner: Int32Array, outer: Int32Array, hi: number, lo: number, n: number, mod: number, target: number): number;
  one(kind: number, inner: Int32Array, outer: Int32Array, hi: number, lo: number, mod: number): number;
  /** Zeroes the resident pad states if they are `inner`'s (the engine is being destroyed). */
  release(inner: Int32Array): void;
}

/** The slice of the WebAssembly JS API used here (tsconfig's lib has no DOM/WebAssembly typings). */
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => WasmInstance;
}

class WasmKernels implements HmacKernels {
  readonly lanes: 'simd' | 'scalar';
  private readonly drivers: readonly Driver[];
  private readonly i32: Int32Array;
  private readonly u32: Uint32Array;

  constructor(lanes: 'simd' | 'scalar', instance: WasmInstance) {
    this.lanes = lanes;
    const ex = instance.exports;
    const mem = ex['mem'] as { buffer: ArrayBuffer };
    this.i32 = new Int32Array(mem.buffer);
    this.u32 = new Uint32Array(mem.buffer);
    this.drivers = [0, 1, 2].map((h) => ({
      batch: ex[`batch${h}`] as Driver['batch'],
      find: ex[`find${h}`] as Driver['find'],
      one: ex[`one${h}`] as Driver['one'],
    }));
  }

  /** The inner pad array of the engine whose pad states are in memory (identity, not contents). */
  private resident: Int32Array | null = null;

  private load(inner: Int32Array, outer: Int32Array): void {
    if (this.resident === inner) return;
    this.i32.set(inner, PAD_IN / 4);
    this.i32.set(outer, PAD_OUT / 4);
    this.resident = inner;
  }

  /** Zeroes the digest scratch and the values of the last group. */
  private wipe(): void {
    this.i32.fill(0, DIG / 4, (RES + 16) / 4);
  }

  release(inner: Int32Array): void {
    if (this.resident !== inner) return;
    this.i32.fill(0, 0, (RES + 16) / 4);
    this.resident = null;
  }

  batch(kind: number, inner: Int32Array, outer: Int32Array, hi: number, lo: number, n: number, mod: number, out: Uint32Array): void {
    const d = this.drivers[kind]!;
    const m = mod === 0 ? 0x80000000 | 0 : mod;
    let h = hi >>> 0;
    let l = lo >>> 0;
    this.load(inner, outer);
    try {
      for (let off = 0; off < n; off += CHUNK) {
        const len = Math.min(CHUNK, n - off);
        d.batch(h, l, len, m);
        out.set(this.u32.subarray(OUT / 4, OUT / 4 + len), off);
        l += len;
        if (l >= 0x100000000) {
          l -= 0x100000000;
          h = (h + 1) >>> 0;
        }
      }
    } finally {
      this.wipe();
      this.u32.fill(0, OUT / 4, OUT / 4 + Math.min(n, CHUNK) + 4);
    }
  }

  find(kind: number, inner: Int32Array, outer: Int32Array, hi: number, lo: number, n: number, mod: number, target: number): number {
    const d = this.drivers[kind]!;
    const m = mod === 0 ? 0x80000000 | 0 : mod;
    // A target the truncation cannot produce still gets a full scan (same timing), against an impossible value.
    const t = target > 0x7fffffff ? -1 : target;
    let h = hi >>> 0;
    let l = lo >>> 0;
    let found = -1;
    this.load(inner, outer);
    try {
      for (let off = 0; off < n; off += CHUNK) {
        const len = Math.min(CHUNK, n - off);
        const r = d.find(h, l, len, m, t);
        found = found < 0 && r >= 0 ? off + r : found;
        l += len;
        if (l >= 0x100000000) {
          l -= 0x100000000;
          h = (h + 1) >>> 0;
        }
      }
    } finally {
      this.wipe();
    }
    return found;
  }

  one(kind: number, inner: Int32Array, outer: Int32Array, hi: number, lo: number, mod: number): number {
    this.load(inner, outer);
    return this.drivers[kind]!.one(hi, lo, mod === 0 ? 0x80000000 | 0 : mod);
  }
}

const cache: { simd?: HmacKernels | null; scalar?: HmacKernels | null } = {};

/** The kernels of one flavour, compiled on first use; null when the runtime cannot compile them (no SIMD). */
export function loadKernels(lanes: 'simd' | 'scalar' = 'simd'): HmacKernels | null {
  const hit = cache[lanes];
  if (hit !== undefined) return hit;
  let k: HmacKernels | null = null;
  try {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    const bytes = Buffer.from(lanes === 'simd' ? SIMD_WASM_BASE64 : SCALAR_WASM_BASE64, 'base64');
    if (wasm !== undefined && wasm.validate(bytes)) k = new WasmKernels(lanes, new wasm.Instance(new wasm.Module(bytes), {}));
  } catch {
    k = null;
  }
  cache[lanes] = k;
  return k;
}
