/**
 * Hostile inputs to the fast engine: each is rejected at the boundary with the layer's error code (or a
 * TypeError for a wrong type, as in @noble/hashes), on every path, before any work or any partial output.
 */
import { describe, expect, it } from 'vitest';
import { createHotpEngine, OtpError } from '../../otp/index.ts';
import { createHotpEngineWith, MAX_WINDOW } from '../../otp/engine.ts';
import { MAX, PATHS } from './engine.helpers.ts';

const KEY = new Uint8Array(20).fill(7);

describe('createHotpEngine rejects bad keys, digits and algorithms', () => {
  const cases: [string, () => unknown, string | typeof TypeError][] = [
    ['empty key', () => createHotpEngine(new Uint8Array(0)), 'INVALID_KEY'],
    ['key as a string', () => createHotpEngine('3132' as unknown as Uint8Array), TypeError],
    ['key as a number[]', () => createHotpEngine([1, 2, 3] as unknown as Uint8Array), TypeError],
    ['key as null', () => createHotpEngine(null as unknown as Uint8Array), TypeError],
    ['digits 5', () => createHotpEngine(KEY, { digits: 5 }), 'INVALID_DIGITS'],
    ['digits 11', () => createHotpEngine(KEY, { digits: 11 }), 'INVALID_DIGITS'],
    ['digits 6.5', () => createHotpEngine(KEY, { digits: 6.5 }), 'INVALID_DIGITS'],
    ['digits NaN', () => createHotpEngine(KEY, { digits: Number.NaN }), 'INVALID_DIGITS'],
    ['digits "6"', () => createHotpEngine(KEY, { digits: '6' as unknown as number }), 'INVALID_DIGITS'],
    ['algorithm md5', () => createHotpEngine(KEY, { algorithm: 'MD5' as never }), 'INVALID_ALGORITHM'],
    ['algorithm lower-case sha1', () => createHotpEngine(KEY, { algorithm: 'sha1' as never }), 'INVALID_ALGORITHM'],
  ];
  it.each(cases)('%s', (_name, call, want) => {
    if (typeof want === 'string') expect(call).toThrow(expect.objectContaining({ code: want }));
    else expect(call).toThrow(want);
  });
});

describe.each(PATHS)('%s path: bad counters, windows, targets and output arrays', (path) => {
  const e = createHotpEngineWith(KEY, { digits: 6 }, path);

  const cases: [string, () => unknown, string | typeof TypeError][] = [
    ['value(-1n)', () => e.value(-1n), 'INVALID_COUNTER'],
    ['value(2^64)', () => e.value(MAX + 1n), 'INVALID_COUNTER'],
    ['value(5) (a number, not a bigint)', () => e.value(5 as unknown as bigint), TypeError],
    ['code(-1n)', () => e.code(-1n), 'INVALID_COUNTER'],
    ['batch from -1n', () => e.batch(-1n, new Uint32Array(2)), 'INVALID_COUNTER'],
    ['batch from 2^64', () => e.batch(MAX + 1n, new Uint32Array(2)), 'INVALID_COUNTER'],
    ['batch into a Uint32Array that runs past 2^64-1', () => e.batch(MAX - 2n, new Uint32Array(4)), 'INVALID_COUNTER'],
    ['batch into an Int32Array', () => e.batch(0n, new Int32Array(4) as unknown as Uint32Array), TypeError],
    ['batch into a number[]', () => e.batch(0n, [0, 0] as unknown as Uint32Array), TypeError],
    ['window from -1n', () => e.findInWindow(1, -1n, 10), 'INVALID_COUNTER'],
    ['window from 2^64', () => e.findInWindow(1, MAX + 1n, 10), 'INVALID_COUNTER'],
    ['window -1', () => e.findInWindow(1, 0n, -1), 'INVALID_ARGUMENT'],
    ['window 2.5', () => e.findInWindow(1, 0n, 2.5), 'INVALID_ARGUMENT'],
    ['window NaN', () => e.findInWindow(1, 0n, Number.NaN), 'INVALID_ARGUMENT'],
    ['window Infinity', () => e.findInWindow(1, 0n, Number.POSITIVE_INFINITY), 'INVALID_ARGUMENT'],
    ['window above MAX_WINDOW', () => e.findInWindow(1, 0n, MAX_WINDOW + 1), 'INVALID_ARGUMENT'],
    ['window 10n (a bigint)', () => e.findInWindow(1, 0n, 10n as unknown as number), 'INVALID_ARGUMENT'],
    ['target -1', () => e.findInWindow(-1, 0n, 10), 'INVALID_CODE'],
    ['target 1.5', () => e.findInWindow(1.5, 0n, 10), 'INVALID_CODE'],
    ['target "123456"', () => e.findInWindow('123456' as unknown as number, 0n, 10), 'INVALID_CODE'],
  ];
  it.each(cases)('%s', (_name, call, want) => {
    if (typeof want === 'string') {
      expect(call).toThrow(OtpError);
      expect(call).toThrow(expect.objectContaining({ code: want }));
    } else {
      expect(call).toThrow(want);
    }
  });

  it('a rejected batch leaves the output untouched', () => {
    const out = new Uint32Array([1, 2, 3, 4]);
    expect(() => e.batch(MAX - 2n, out)).toThrow();
    expect([...out]).toEqual([1, 2, 3, 4]);
  });

  it('window 0 and an empty batch do nothing; a value of 10^digits or more never matches', () => {
    expect(e.findInWindow(e.value(0n), 0n, 0)).toBe(-1n);
    const out = new Uint32Array(0);
    e.batch(MAX, out);
    expect(e.findInWindow(1_000_000, 0n, 50)).toBe(-1n);
    expect(e.findInWindow(2 ** 32 + e.value(3n), 0n, 50)).toBe(-1n);
  });

  it('error messages name the argument and never contain key material', () => {
    for (const call of [() => e.value(-1n), () => e.findInWindow(1, 0n, -1), () => e.batch(MAX, new Uint32Array(2))]) {
      try {
        call();
        expect.unreachable();
      } catch (err) {
        const msg = (err as Error).message;
        expect(msg).toMatch(/^(counter|window|out): /);
        expect(msg).not.toMatch(/0707070707|7,7,7/);
      }
    }
  });
});
