/**
 * The WebAssembly side of the engine: the committed kernel bytes are exactly what the in-repo generator
 * produces (so the binary cannot drift from its readable source), the runtime's import graph never reaches
 * the generator (generation is build time only), the assembler's LEB128 encodings match the
 * spec's examples, both modules validate, and the SIMD and scalar kernels agree lane by lane with node:crypto
 * for every group position (lanes 0..3 of i32x4, 0..1 of i64x2) and for n that are not multiples of the lanes.
 */
import { describe, expect, it } from 'vitest';
import { sleb, uleb } from '../../otp/wasm/asm.ts';
import { generatedSource, kernelModuleBytes } from '../../otp/wasm/kernel-gen.ts';
import { loadKernels } from '../../otp/wasm/kernels.ts';
import { SCALAR_WASM_BASE64, SIMD_WASM_BASE64 } from '../../otp/wasm/kernels.generated.ts';
import { HASH_SHAPES, hmacPadStates } from '../../otp/hmac-pads.ts';
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALGORITHMS, nodeValue, seeded } from './engine.helpers.ts';

/** tsconfig's lib has no WebAssembly typings; this is the one call the test needs. */
const wasm = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;

describe('assembler encodings (WebAssembly Core Spec 5.2.2)', () => {
  it.each([
    [0, [0x00]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [624485, [0xe5, 0x8e, 0x26]],
    [0xffffffff, [0xff, 0xff, 0xff, 0xff, 0x0f]],
  ])('uleb(%i)', (n, bytes) => expect(uleb(n)).toEqual(bytes));

  it.each([
    [0n, [0x00]],
    [-1n, [0x7f]],
    [63n, [0x3f]],
    [64n, [0xc0, 0x00]],
    [-64n, [0x40]],
    [-65n, [0xbf, 0x7f]],
    [-123456n, [0xc0, 0xbb, 0x78]],
    [-(1n << 63n), [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f]],
  ])('sleb(%s)', (n, bytes) => expect(sleb(n)).toEqual(bytes));
});

describe('generated kernels', () => {
  it('kernels.generated.ts is exactly what the generator produces (rerun `npx tsx otp/wasm/build.ts` if not)', () => {
    const committed = readFileSync(new URL('../../otp/wasm/kernels.generated.ts', import.meta.url), 'utf8');
    expect(committed === generatedSource()).toBe(true);
    expect(Buffer.from(SIMD_WASM_BASE64, 'base64').equals(Buffer.from(kernelModuleBytes(true)))).toBe(true);
    expect(Buffer.from(SCALAR_WASM_BASE64, 'base64').equals(Buffer.from(kernelModuleBytes(false)))).toBe(true);
  });

  it('the library never imports the generator: the import graph of otp/index.ts stops at the committed bytes', () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of readFileSync(file, 'utf8').matchAll(/(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\s*\(\s*['"](\.[^'"]+)['"]\s*\)|import\s+['"](\.[^'"]+)['"]/g)) {
        visit(resolve(dirname(file), (m[1] ?? m[2] ?? m[3])!));
      }
    };
    visit(resolve(root, 'otp/index.ts'));
    const reached = [...seen].map((f) => relative(root, f));
    expect(reached).toContain('otp/wasm/kernels.ts');
    expect(reached).toContain('otp/wasm/kernels.generated.ts');
    for (const buildOnly of ['otp/wasm/kernel-gen.ts', 'otp/wasm/gen.ts', 'otp/wasm/asm.ts', 'otp/wasm/build.ts']) expect(reached).not.toContain(buildOnly);
  });

  it('both modules validate and load', () => {
    expect(wasm.validate(kernelModuleBytes(true))).toBe(true);
    expect(wasm.validate(kernelModuleBytes(false))).toBe(true);
    expect(loadKernels('simd')?.lanes).toBe('simd');
    expect(loadKernels('scalar')?.lanes).toBe('scalar');
  });
});

describe.each(ALGORITHMS)('%s kernels lane by lane', (algorithm) => {
  const kind = ALGORITHMS.indexOf(algorithm);
  for (const lanes of ['simd', 'scalar'] as const) {
    it(`${lanes}: every n in 1..9 from several starts, every digit count, matches node:crypto`, () => {
      const k = loadKernels(lanes)!;
      const rng = seeded(BigInt(1000 + kind * 2 + (lanes === 'simd' ? 1 : 0)));
      for (let t = 0; t < 10; t++) {
        const key = rng.bytes(1 + rng.int(128));
        const digits = 6 + (t % 5);
        const mod = digits === 10 ? 0 : 10 ** digits;
        const { inner, outer } = hmacPadStates(HASH_SHAPES[algorithm], key);
        const start = t % 2 === 0 ? rng.u64() >> 2n : 0xfffffffcn + BigInt(t);
        const hi = Number(start >> 32n);
        const lo = Number(start & 0xffffffffn);
        const n = 1 + (t % 9);
        const want = Array.from({ length: n }, (_, i) => nodeValue(algorithm, key, start + BigInt(i), digits));
        const out = new Uint32Array(n);
        k.batch(kind, inner, outer, hi, lo, n, mod, out);
        expect([...out], `start ${start} n ${n}`).toEqual(want);
        expect(k.one(kind, inner, outer, hi, lo, mod)).toBe(want[0]);
        // Each lane position in turn holds the target; the first occurrence wins.
        for (let i = 0; i < n; i++) expect(k.find(kind, inner, outer, hi, lo, n, mod, want[i]!)).toBe(want.indexOf(want[i]!));
        // A match in the slack lanes past n (the group computes them) must not count.
        const beyond = nodeValue(algorithm, key, start + BigInt(n), digits);
        if (!want.includes(beyond)) expect(k.find(kind, inner, outer, hi, lo, n, mod, beyond)).toBe(-1);
      }
    });
  }
});

describe('resident pad states in the shared wasm memory', () => {
  it('stay only while their engine lives: destroy() zeroes them, another engine overwrites them', async () => {
    const { createHotpEngineWith } = await import('../../otp/engine.ts');
    for (const lanes of ['scalar', 'simd'] as const) {
      const k = loadKernels(lanes)! as unknown as { i32: Int32Array };
      const pads = () => [...k.i32.subarray(0, 32)];
      const keyA = seeded(11n).bytes(20);
      const a = createHotpEngineWith(keyA, {}, lanes === 'simd' ? 'simd' : 'wasm-scalar');
      // value() runs on the scalar module, batch() on the path's batch module.
      if (lanes === 'scalar') a.value(1n);
      else a.batch(0n, new Uint32Array(4));
      const { inner, outer } = hmacPadStates(HASH_SHAPES.SHA1, keyA);
      expect(pads().slice(0, 5)).toEqual([...inner]);
      expect(pads().slice(16, 21)).toEqual([...outer]);
      const b = createHotpEngineWith(seeded(12n).bytes(20), {}, lanes === 'simd' ? 'simd' : 'wasm-scalar');
      if (lanes === 'scalar') b.value(1n);
      else b.batch(0n, new Uint32Array(4));
      expect(pads().slice(0, 5)).not.toEqual([...inner]);
      // Destroying a, whose pads are no longer resident, leaves b's alone; destroying b zeroes them.
      a.destroy();
      expect(pads().some((x) => x !== 0)).toBe(true);
      b.destroy();
      expect(pads().every((x) => x === 0)).toBe(true);
    }
  });
});
