/**
 * Serial carriage: CRC-32 parameters, COBS (published examples), frames under any chunking, and the
 * malformed-frame table (bad CRC, truncated, overlong, garbage, stray delimiters).
 */
import { describe, expect, it } from 'vitest';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { bytesToHex, hexToBytes } from '../../otp/hex.ts';
import { seededRng } from '../../protocol/reference-responder.ts';
import { crc32 } from '../../protocol/crc32.ts';
import { cobsDecode, cobsEncode, encodeFrame, encodeFrames, FRAME_WIRE_SIZE, FrameDecoder } from '../../protocol/serial.ts';

const report = (seed: number): Uint8Array => seededRng(seed)(64);

describe('CRC-32', () => {
  it('has the IEEE check value CRC("123456789") = 0xCBF43926', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
  it('agrees with zlib on random inputs', () => {
    const rng = seededRng(5);
    for (let i = 0; i < 50; i++) {
      const b = rng(i * 7);
      expect(crc32(b)).toBe((zlibCrc32 as (d: Uint8Array) => number)(b));
    }
  });
});

describe('COBS', () => {
  // Examples from Cheshire & Baker, "Consistent Overhead Byte Stuffing" (1999), as tabulated on Wikipedia.
  it.each([
    ['00', '0101'],
    ['0000', '010101'],
    ['001100', '01021101'],
    ['11220033', '03112202' + '33'],
    ['11223344', '0511223344'],
    ['11000000', '02110101' + '01'],
  ])('%s ⇄ %s', (plain, encoded) => {
    expect(bytesToHex(cobsEncode(hexToBytes(plain)))).toBe(encoded);
    expect(bytesToHex(cobsDecode(hexToBytes(encoded))!)).toBe(plain);
  });
  it('handles runs of 254 and 255 non-zero bytes', () => {
    for (const n of [253, 254, 255, 300, 600]) {
      const data = new Uint8Array(n).fill(7);
      const enc = cobsEncode(data);
      expect(enc.includes(0)).toBe(false);
      expect(bytesToHex(cobsDecode(enc)!)).toBe(bytesToHex(data));
    }
  });
  it('rejects a code byte pointing past the end and an embedded zero', () => {
    expect(cobsDecode(hexToBytes('0511'))).toBeUndefined();
    expect(cobsDecode(hexToBytes('031100'))).toBeUndefined();
  });
});

describe('frames', () => {
  it('are 71 bytes with zeros only at both ends, and decode back under any chunking', () => {
    const reports = Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? new Uint8Array(64) : report(i)));
    const wire = encodeFrames(reports);
    expect(wire.length).toBe(20 * FRAME_WIRE_SIZE);
    for (let i = 0; i < 20; i++) {
      const f = wire.subarray(i * 71, i * 71 + 71);
      expect(f[0]).toBe(0);
      expect(f[70]).toBe(0);
      expect(f.subarray(1, 70).includes(0)).toBe(false);
    }
    const rng = seededRng(9);
    for (const maxChunk of [1, 2, 7, 71, 500, wire.length]) {
      const d = new FrameDecoder();
      const got: string[] = [];
      for (let o = 0; o < wire.length; ) {
        const n = 1 + (rng(1)[0]! % maxChunk);
        for (const r of d.push(wire.subarray(o, o + n))) got.push(bytesToHex(r));
        o += n;
      }
      expect(got).toEqual(reports.map(bytesToHex));
      expect(d.stats).toEqual({ frames: 20, crcErrors: 0, lengthErrors: 0, overflows: 0 });
    }
  });

  it('rejects a report that is not 64 bytes', () => {
    expect(() => encodeFrame(new Uint8Array(63))).toThrow(RangeError);
  });

  const good = encodeFrame(report(1));
  const flip = (f: Uint8Array, pos: number, bit: number): Uint8Array => {
    const c = f.slice();
    c[pos]! ^= 1 << bit;
    return c;
  };
  it.each([
    ['a flipped bit in the report', () => flip(good, 10, 3), 'crcErrors'],
    ['a flipped bit in the CRC', () => flip(good, 68, 0), 'crcErrors'],
    ['a flipped COBS code byte', () => flip(good, 1, 6), 'lengthErrors'],
    ['a truncated frame', () => Uint8Array.of(...good.subarray(0, 40), 0), 'lengthErrors'],
    ['a frame with an extra byte (70 > 69)', () => Uint8Array.of(...good.subarray(0, 70), 0x42, 0), 'overflows'],
    ['an overlong run', () => Uint8Array.of(0, ...new Uint8Array(500).fill(0x55), 0), 'overflows'],
    ['garbage only', () => Uint8Array.of(0, 1, 2, 3, 0), 'lengthErrors'],
  ] as const)('drops %s, counts it, and still decodes the next frame', (_name, make, counter) => {
    const d = new FrameDecoder();
    expect(d.push(make())).toEqual([]);
    expect(d.stats[counter]).toBeGreaterThan(0);
    expect(d.push(good).map(bytesToHex)).toEqual([bytesToHex(report(1))]);
  });

  it('garbage without a delimiter before a frame does not cost the frame (leading 0x00)', () => {
    const d = new FrameDecoder();
    expect(d.push(Uint8Array.of(0x13, 0x37, 0x99, ...good)).length).toBe(1);
  });

  it('never holds more than 69 bytes and never emits a partial frame', () => {
    const d = new FrameDecoder();
    const rng = seededRng(11);
    for (let i = 0; i < 200; i++) {
      const chunk = rng(1 + (rng(1)[0]! % 200)).map((b) => b | 1);
      expect(d.push(chunk)).toEqual([]);
      expect(d.buffered).toBeLessThanOrEqual(69);
    }
    expect(d.push(good).length).toBe(1);
  });

  it('empty frames between delimiters are ignored silently', () => {
    const d = new FrameDecoder();
    expect(d.push(new Uint8Array(10))).toEqual([]);
    expect(d.stats).toEqual({ frames: 0, crcErrors: 0, lengthErrors: 0, overflows: 0 });
  });
});
