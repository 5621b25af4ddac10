/**
 * writeCodeLines (otp/params.ts), the bulk code formatter behind the CLI's `--window` output: for every digit
 * count 6..10 it writes exactly the bytes of `value.toString().padStart(digits, '0') + '\n'` per value (the
 * expected text is built with String/padStart here, not with the code under test), at any offset, and
 * rejects hostile arguments: wrong types and a short buffer before writing anything, a value no truncation
 * produces (more digits than asked for, or above 2^31-1) at that value.
 */
import { describe, expect, it } from 'vitest';
import { writeCodeLines } from '../../otp/params.ts';
import { seeded } from './engine.helpers.ts';

const expected = (values: Iterable<number>, digits: number): string => [...values].map((v) => `${String(v).padStart(digits, '0')}\n`).join('');

describe('writeCodeLines', () => {
  for (const digits of [6, 7, 8, 9, 10]) {
    it(`${digits} digits: edge values and 5000 random values, same bytes as padStart`, () => {
      const top = digits === 10 ? 0x7fffffff : 10 ** digits - 1;
      const edges = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 10 ** (digits - 1) - 1, 10 ** (digits - 1), top - 1, top, 0x7fffffff % (top + 1)];
      const rng = seeded(BigInt(digits));
      const values = Uint32Array.from([...edges, ...Array.from({ length: 5000 }, () => rng.int(top + 1))]);
      const out = new Uint8Array(values.length * (digits + 1) + 3).fill(0xee);
      const end = writeCodeLines(values, digits, out, 3);
      expect(end).toBe(3 + values.length * (digits + 1));
      expect([...out.subarray(0, 3)]).toEqual([0xee, 0xee, 0xee]);
      expect(Buffer.from(out.subarray(3)).toString('latin1') === expected(values, digits)).toBe(true);
    });
  }

  it('an empty batch writes nothing', () => {
    expect(writeCodeLines(new Uint32Array(0), 6, new Uint8Array(0), 0)).toBe(0);
  });

  const cases: [string, () => unknown, string | typeof TypeError | typeof RangeError][] = [
    ['digits 5', () => writeCodeLines(new Uint32Array(1), 5, new Uint8Array(16), 0), 'INVALID_DIGITS'],
    ['digits 11', () => writeCodeLines(new Uint32Array(1), 11, new Uint8Array(16), 0), 'INVALID_DIGITS'],
    ['values as number[]', () => writeCodeLines([1] as unknown as Uint32Array, 6, new Uint8Array(16), 0), TypeError],
    ['out as number[]', () => writeCodeLines(new Uint32Array(1), 6, [] as unknown as Uint8Array, 0), TypeError],
    ['out one byte short', () => writeCodeLines(new Uint32Array(2), 6, new Uint8Array(13), 0), RangeError],
    ['offset pushes past the end', () => writeCodeLines(new Uint32Array(2), 6, new Uint8Array(14), 1), RangeError],
    ['negative offset', () => writeCodeLines(new Uint32Array(1), 6, new Uint8Array(14), -1), RangeError],
    ['fractional offset', () => writeCodeLines(new Uint32Array(1), 6, new Uint8Array(14), 0.5), RangeError],
    ['a value with more digits than asked', () => writeCodeLines(Uint32Array.of(5, 1_000_000), 6, new Uint8Array(14), 0), RangeError],
    ['a 10-digit value above 2^31-1 (no truncation gives one)', () => writeCodeLines(Uint32Array.of(0x80000000), 10, new Uint8Array(11), 0), RangeError],
  ];
  it.each(cases)('rejects %s', (_name, call, want) => {
    if (typeof want === 'string') expect(call).toThrow(expect.objectContaining({ code: want }));
    else expect(call).toThrow(want);
  });
});
