/**
 * The fast engine (otp/engine.ts) on every path — auto, SIMD wasm, scalar wasm, plain JavaScript — for value,
 * code, batch and findInWindow, against the @noble/hashes reference (otp/reference.ts) and node:crypto, over
 * seeded random keys (1-128 bytes, so longer than the SHA-1/SHA-256 block too), random counters over the
 * whole 0..2^64-1 range, the 2^32 carry and the 2^64-1 end, digits 6..10, and the RFC vectors from
 * conformance/vectors/*.json (copies of ../shared/reference with their source per row).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createHotpEngine, hexToBytes, hotpValueReference, type HashAlgorithm } from '../../otp/index.ts';
import { createHotpEngineWith } from '../../otp/engine.ts';
import { ALGORITHMS, MAX, nodeValue, PATHS, seeded } from './engine.helpers.ts';

const vectorsDir = new URL('../../conformance/vectors/', import.meta.url);
const rfc4226 = JSON.parse(readFileSync(new URL('rfc4226.json', vectorsDir), 'utf8')) as {
  key_hex: string;
  vectors: { counter: number; expected: string; expected_8_digits_computed: string; truncated_decimal: number }[];
};
const rfc6238 = JSON.parse(readFileSync(new URL('rfc6238.json', vectorsDir), 'utf8')) as {
  vectors: { time: number; T_hex: string; mode: HashAlgorithm; key_hex: string; digits: number; expected: string }[];
};

describe('RFC vectors on every path', () => {
  it('has the vectors it expects (RFC 4226: 10 rows, RFC 6238: 18 rows)', () => {
    expect(rfc4226.vectors).toHaveLength(10);
    expect(rfc6238.vectors).toHaveLength(18);
  });

  for (const path of PATHS) {
    it(`${path}: RFC 4226 Appendix D (value, code, batch, window)`, () => {
      const key = hexToBytes(rfc4226.key_hex);
      const e6 = createHotpEngineWith(key, { digits: 6 }, path);
      const e10 = createHotpEngineWith(key, { digits: 10 }, path);
      for (const v of rfc4226.vectors) {
        expect(e6.code(BigInt(v.counter))).toBe(v.expected);
        // 10 digits: the 31-bit truncated value itself (RFC 4226 Table 2 "Decimal" column).
        expect(e10.value(BigInt(v.counter))).toBe(v.truncated_decimal);
      }
      const out = new Uint32Array(rfc4226.vectors.length);
      e6.batch(0n, out);
      expect([...out].map((x) => String(x).padStart(6, '0'))).toEqual(rfc4226.vectors.map((v) => v.expected));
      const last = rfc4226.vectors[9]!;
      expect(e6.findInWindow(Number(last.expected), 0n, 10)).toBe(9n);
      expect(e6.findInWindow(Number(last.expected), 0n, 9)).toBe(-1n);
    });

    it(`${path}: RFC 6238 Appendix B (18 rows, 8 digits, time steps past 2038)`, () => {
      for (const v of rfc6238.vectors) {
        const step = BigInt(`0x${v.T_hex}`);
        const e = createHotpEngineWith(hexToBytes(v.key_hex), { algorithm: v.mode, digits: v.digits }, path);
        expect(e.code(step)).toBe(v.expected);
        const out = new Uint32Array(1);
        e.batch(step, out);
        expect(String(out[0]).padStart(8, '0')).toBe(v.expected);
        expect(e.findInWindow(Number(v.expected), step > 3n ? step - 3n : 0n, 5)).toBe(step);
      }
    });
  }
});

/** Expected values of `n` counters from `start`, by the reference and cross-checked with node:crypto. */
function expected(algorithm: HashAlgorithm, key: Uint8Array, start: bigint, n: number, digits: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    const c = start + BigInt(i);
    const ref = hotpValueReference(key, c, algorithm, digits);
    expect(nodeValue(algorithm, key, c, digits), `node vs reference at ${c}`).toBe(ref);
    return ref;
  });
}

function firstIndex(values: readonly number[], target: number): number {
  return values.indexOf(target);
}

describe.each(ALGORITHMS)('%s: random keys and counters against the reference and node:crypto', (algorithm) => {
  for (const path of PATHS) {
    it(`${path}: value, code, batch, findInWindow`, () => {
      const seed = BigInt(0x5eed0000 + ALGORITHMS.indexOf(algorithm) * 16 + PATHS.indexOf(path));
      const rng = seeded(seed);
      for (let t = 0; t < 24; t++) {
        const keyLen = t < 4 ? [1, 64, 65, 128][t]! : 1 + rng.int(128);
        const key = rng.bytes(keyLen);
        const digits = 6 + (t % 5);
        // Mostly uniform over 0..2^64-1, sometimes small, sometimes just below a 2^32 boundary.
        const shape = t % 4;
        const start =
          shape === 0 ? rng.u64() : shape === 1 ? BigInt(rng.int(1000)) : shape === 2 ? (rng.u64() | 0xffffffffn) - BigInt(rng.int(5)) : rng.u64() >> 1n;
        const n = 1 + rng.int(11);
        const s = start > MAX - BigInt(n - 1) ? MAX - BigInt(n - 1) : start;
        const want = expected(algorithm, key, s, n, digits);
        const e = createHotpEngineWith(key, { algorithm, digits }, path);
        const ctx = `seed ${seed} case ${t} key ${keyLen} B, start ${s}, n ${n}, digits ${digits}`;
        expect(e.value(s), ctx).toBe(want[0]);
        expect(e.code(s), ctx).toBe(String(want[0]).padStart(digits, '0'));
        const out = new Uint32Array(n);
        e.batch(s, out);
        expect([...out], ctx).toEqual(want);
        const pick = want[rng.int(n)]!;
        expect(e.findInWindow(pick, s, n), ctx).toBe(s + BigInt(firstIndex(want, pick)));
        e.destroy();
      }
    });
  }
});

describe.each(ALGORITHMS)('%s: counter boundaries', (algorithm) => {
  const key = seeded(42n).bytes(20);
  for (const path of PATHS) {
    it(`${path}: carries across 0xFFFFFFFF -> 0x100000000 inside a batch and a window`, () => {
      const e = createHotpEngineWith(key, { algorithm, digits: 8 }, path);
      for (const start of [0xfffffffdn, 0x1fffffffen, 0xfffffffffffffffan - 0x100000000n]) {
        const want = expected(algorithm, key, start, 7, 8);
        const out = new Uint32Array(7);
        e.batch(start, out);
        expect([...out]).toEqual(want);
        for (let i = 0; i < 7; i++) expect(e.value(start + BigInt(i))).toBe(want[i]);
        expect(e.findInWindow(want[5]!, start, 7)).toBe(start + BigInt(firstIndex(want, want[5]!)));
      }
    });

    it(`${path}: ends exactly at 2^64-1 and never searches past it`, () => {
      const e = createHotpEngineWith(key, { algorithm, digits: 6 }, path);
      const want = expected(algorithm, key, MAX - 4n, 5, 6);
      const out = new Uint32Array(5);
      e.batch(MAX - 4n, out);
      expect([...out]).toEqual(want);
      expect(e.value(MAX)).toBe(want[4]);
      expect(e.findInWindow(want[4]!, MAX - 2n, 1000)).toBe(MAX - 2n + BigInt(firstIndex(want.slice(2), want[4]!)));
      // A value that only counters 0.. (past the wrap) would have: the window must not reach them.
      const past = expected(algorithm, key, 0n, 8, 6).find((v) => !want.slice(2).includes(v));
      expect(past).toBeDefined();
      expect(e.findInWindow(past!, MAX - 2n, 1000)).toBe(-1n);
      expect(e.findInWindow(want[4]!, MAX, 1)).toBe(MAX);
    });
  }
});

describe('long batches and windows: SIMD lanes and chunk boundaries agree with the JavaScript path', () => {
  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: 4101 counters across a chunk edge and a 2^32 carry`, () => {
      const key = seeded(7n).bytes(33);
      const start = 0x100000000n - 4096n + 3n;
      const n = 4101;
      const fast = createHotpEngine(key, { algorithm, digits: 7 });
      const js = createHotpEngineWith(key, { algorithm, digits: 7 }, 'js');
      const a = new Uint32Array(n);
      const b = new Uint32Array(n);
      fast.batch(start, a);
      js.batch(start, b);
      expect(a).toEqual(b);
      for (const i of [0, 1, 4092, 4093, 4095, 4096, 4097, n - 1]) {
        expect(a[i], `index ${i}`).toBe(nodeValue(algorithm, key, start + BigInt(i), 7));
      }
      // The only match of a value is found wherever it sits, including in the second chunk and the last lane.
      for (const i of [0, 4095, 4096, n - 1]) {
        const target = a[i]!;
        expect(fast.findInWindow(target, start, n)).toBe(start + BigInt(a.indexOf(target)));
        expect(js.findInWindow(target, start, n)).toBe(start + BigInt(a.indexOf(target)));
      }
    });
  }

  it('a window holding two matches returns the first one', () => {
    // Two equal 6-digit values among 3000 counters are likely (birthday bound) but not certain, so try seeded
    // keys until one has a duplicate; node:crypto confirms both counters really carry that value.
    const rng = seeded(99n);
    for (let attempt = 0; attempt < 20; attempt++) {
      const key = rng.bytes(20);
      const e = createHotpEngine(key, { digits: 6 });
      const vals = new Uint32Array(3000);
      e.batch(0n, vals);
      const seen = new Map<number, number>();
      let dup = -1;
      for (let i = 0; i < vals.length && dup < 0; i++) {
        if (seen.has(vals[i]!)) dup = i;
        else seen.set(vals[i]!, i);
      }
      if (dup < 0) continue;
      const target = vals[dup]!;
      const first = seen.get(target)!;
      expect(nodeValue('SHA1', key, BigInt(dup), 6)).toBe(target);
      expect(nodeValue('SHA1', key, BigInt(first), 6)).toBe(target);
      expect(e.findInWindow(target, 0n, 3000)).toBe(BigInt(first));
      expect(createHotpEngineWith(key, { digits: 6 }, 'js').findInWindow(target, 0n, 3000)).toBe(BigInt(first));
      return;
    }
    throw new Error('no duplicate found in 20 keys; the birthday bound makes this practically impossible');
  });
});

describe('destroy()', () => {
  for (const path of PATHS) {
    it(`${path}: wipes the key state and every method throws INVALID_KEY afterwards`, () => {
      const e = createHotpEngineWith(seeded(5n).bytes(20), {}, path);
      const before = e.value(1n);
      expect(before).toBeGreaterThanOrEqual(0);
      e.destroy();
      for (const call of [() => e.value(1n), () => e.code(1n), () => e.batch(0n, new Uint32Array(4)), () => e.findInWindow(before, 0n, 4)]) {
        expect(call).toThrow(expect.objectContaining({ code: 'INVALID_KEY' }));
      }
      // The pad states (the key's only trace in the engine) are zero.
      const st = (e as unknown as { st: { inner: Int32Array; outer: Int32Array } }).st;
      for (const buf of [st.inner, st.outer]) expect(buf.every((x) => x === 0)).toBe(true);
    });
  }
});
