/**
 * protocol/bytes.ts: the one bounds-checked byte reader and writer. Known layouts in both byte orders (expected
 * bytes written out by hand, not computed by the code under test), then a table of hostile inputs: truncation
 * at every offset, trailing bytes, u64 extremes, length prefixes over the limit or past the end, invalid
 * UTF-8, and values a field cannot hold. Errors must come from the caller's factory with the right fault.
 */
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../../otp/hex.ts';
import { ByteReader, ByteWriter, type ByteErrorFactory, type ByteFault, type Endian } from '../../protocol/bytes.ts';
import { ProtocolError } from '../../protocol/errors.ts';
import { SimError } from '../../firmware-sim/errors.ts';
import { decodeSlot } from '../../firmware-sim/token-state.ts';

class Fault extends Error {
  readonly fault: ByteFault;
  constructor(fault: ByteFault, message: string) {
    super(message);
    this.fault = fault;
  }
}
const factory: ByteErrorFactory = (fault, message) => new Fault(fault, message);
const reader = (hex: string, endian: Endian, what = 'thing'): ByteReader => new ByteReader(hexToBytes(hex), { endian, what, error: factory });
const writer = (endian: Endian): ByteWriter => new ByteWriter({ endian, what: 'thing', error: factory, capacity: 1 });

function faultOf(f: () => unknown): ByteFault | 'none' {
  try {
    f();
  } catch (e) {
    if (e instanceof Fault) return e.fault;
    throw e;
  }
  return 'none';
}

// u8 0x7f | u16 0x0102 | u32 0x03040506 | u64 0x0708090a0b0c0d0e | bytes8 "ab" | str8 "é" (c3 a9)
const LAYOUT: Record<Endian, string> = {
  big: '7f' + '0102' + '03040506' + '0708090a0b0c0d0e' + '02' + '6162' + '02' + 'c3a9',
  little: '7f' + '0201' + '06050403' + '0e0d0c0b0a090807' + '02' + '6162' + '02' + 'c3a9',
};
function writeLayout(w: ByteWriter): Uint8Array {
  return w.u8(0x7f).u16(0x0102).u32(0x03040506).u64(0x0708090a0b0c0d0en).bytes8(Uint8Array.of(0x61, 0x62)).str8('é').done();
}
function readLayout(r: ByteReader): unknown[] {
  const out = [r.u8(), r.u16(), r.u32(), r.u64(), bytesToHex(r.bytes8()), r.str8()];
  r.end();
  return out;
}
const VALUES = [0x7f, 0x0102, 0x03040506, 0x0708090a0b0c0d0en, '6162', 'é'];

describe.each(['big', 'little'] as const)('ByteReader / ByteWriter, %s-endian', (endian) => {
  it('writes and reads the reference layout byte for byte', () => {
    expect(bytesToHex(writeLayout(writer(endian)))).toBe(LAYOUT[endian]);
    expect(readLayout(reader(LAYOUT[endian], endian))).toEqual(VALUES);
  });

  it('a value cut at any offset is truncated, never a short or undefined read', () => {
    const full = LAYOUT[endian];
    for (let n = 0; n < full.length / 2; n++) {
      expect([n, faultOf(() => readLayout(reader(full.slice(0, 2 * n), endian)))]).toEqual([n, 'truncated']);
    }
  });

  it('trailing bytes are refused by end()', () => {
    for (const extra of ['00', 'ff', '0000000000']) expect(faultOf(() => readLayout(reader(LAYOUT[endian] + extra, endian)))).toBe('trailing');
    const r = reader('', endian);
    expect(() => r.end()).not.toThrow();
  });

  it.each([
    [0n, '0000000000000000'],
    [1n, endian === 'big' ? '0000000000000001' : '0100000000000000'],
    [0xffffffffn, endian === 'big' ? '00000000ffffffff' : 'ffffffff00000000'],
    [0x100000000n, endian === 'big' ? '0000000100000000' : '0000000001000000'],
    [1n << 63n, endian === 'big' ? '8000000000000000' : '0000000000000080'],
    [(1n << 64n) - 1n, 'ffffffffffffffff'],
  ])('u64 %s', (v, hex) => {
    expect(bytesToHex(writer(endian).u64(v).done())).toBe(hex);
    const r = reader(hex, endian);
    expect(r.u64()).toBe(v);
    r.end();
  });

  it('u32 keeps the top bit unsigned', () => {
    expect(reader('ffffffff', endian).u32()).toBe(0xffffffff);
    expect(reader(endian === 'big' ? '80000000' : '00000080', endian).u32()).toBe(0x80000000);
  });

  it.each([
    ['a length prefix over the limit', '05' + '0102030405', (r: ByteReader) => r.bytes8(4), 'over-limit'],
    ['a length prefix past the end', 'ff' + '0102', (r: ByteReader) => r.bytes8(), 'truncated'],
    ['a string over its byte limit', '03' + '616263', (r: ByteReader) => r.str8(2), 'over-limit'],
    ['invalid UTF-8', '02' + 'c328', (r: ByteReader) => r.str8(), 'invalid-utf8'],
    ['a lone continuation byte', '01' + '80', (r: ByteReader) => r.str8(), 'invalid-utf8'],
    ['fixed bytes past the end', '0102', (r: ByteReader) => r.bytes(3), 'truncated'],
    ['u16 from one byte', '01', (r: ByteReader) => r.u16(), 'truncated'],
    ['u64 from seven bytes', '01020304050607', (r: ByteReader) => r.u64(), 'truncated'],
  ] as const)('reader refuses %s', (_name, hex, read, fault) => {
    expect(faultOf(() => read(reader(hex, endian)))).toBe(fault);
  });

  it('a length prefix at the limit is accepted (boundary)', () => {
    expect(bytesToHex(reader('04' + '01020304', endian).bytes8(4))).toBe('01020304');
    expect(reader('00', endian).str8()).toBe('');
  });

  it.each([
    ['u8 256', (w: ByteWriter) => w.u8(256)],
    ['u8 -1', (w: ByteWriter) => w.u8(-1)],
    ['u8 1.5', (w: ByteWriter) => w.u8(1.5)],
    ['u16 0x10000', (w: ByteWriter) => w.u16(0x10000)],
    ['u32 2^32', (w: ByteWriter) => w.u32(2 ** 32)],
    ['u32 NaN', (w: ByteWriter) => w.u32(Number.NaN)],
    ['u64 -1', (w: ByteWriter) => w.u64(-1n)],
    ['u64 2^64', (w: ByteWriter) => w.u64(1n << 64n)],
    ['bytes8 of 256 bytes', (w: ByteWriter) => w.bytes8(new Uint8Array(256))],
    ['bytes8 over its limit', (w: ByteWriter) => w.bytes8(new Uint8Array(5), 4)],
    ['str8 of 128 two-byte characters', (w: ByteWriter) => w.str8('é'.repeat(128))],
    ['padTo shorter than written', (w: ByteWriter) => w.u32(0).padTo(3)],
  ] as const)('writer refuses %s', (_name, write) => {
    expect(faultOf(() => write(writer(endian)))).toBe('out-of-range');
  });

  it('the writer grows past its capacity and pads fixed layouts', () => {
    expect(bytesToHex(writer(endian).u8(1).u8(2).u8(3).bytes(Uint8Array.of(4, 5)).u8(6).done())).toBe('010203040506');
    const w = writer(endian).bytes(new Uint8Array(100).fill(7)).padTo(130, 0xff);
    const out = w.done();
    expect(out.length).toBe(130);
    expect(out[99]).toBe(7);
    expect(out[100]).toBe(0xff);
    expect(w.length).toBe(130);
  });

  it('returned byte strings are copies, not views of the input', () => {
    const input = hexToBytes('020102');
    const got = new ByteReader(input, { endian }).bytes8();
    input[1] = 0xee;
    expect(bytesToHex(got)).toBe('0102');
  });
});

describe('error factories keep each layer its own code', () => {
  it('without a factory a fault is a RangeError naming what was read', () => {
    const r = new ByteReader(Uint8Array.of(1), { endian: 'big', what: 'INIT response' });
    expect(() => r.u32()).toThrow(RangeError);
    expect(() => new ByteReader(Uint8Array.of(1), { endian: 'big', what: 'INIT response' }).u32()).toThrow('INIT response: truncated value');
    expect(() => new ByteWriter({ endian: 'big' }).u8(300)).toThrow(RangeError);
  });

  it('the protocol can throw its own ProtocolError', () => {
    const r = new ByteReader(Uint8Array.of(1, 2), { endian: 'big', what: 'answer', error: (_f, m) => new ProtocolError('BAD_RESPONSE', m) });
    expect(() => r.u32()).toThrow(expect.objectContaining({ code: 'BAD_RESPONSE', message: 'answer: truncated value' }));
  });

  it('the simulator keeps SimError STORE_CORRUPT for a short stored value', () => {
    for (const bytes of [new Uint8Array(0), Uint8Array.of(1)]) {
      let err: unknown;
      try {
        decodeSlot(bytes);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SimError);
      expect(err).toMatchObject({ code: 'STORE_CORRUPT', message: 'slot config: truncated value' });
    }
  });
});
