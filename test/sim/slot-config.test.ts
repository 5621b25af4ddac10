/**
 * The slot configuration value on flash (docs/flash-format.md §3.5) after the move to the shared OtpParams
 * model: the hex literals below were written by the code before the move (kind/algorithm/digits/period/T0/
 * touch/suite/KCV/sealed seed, SlotKind 'HOTP' | 'TOTP' | 'OCRA'), so flash images written before decode to
 * the same slot and encode back to the same bytes.
 */
import { describe, expect, it } from 'vitest';
import { withCounter, type OtpParams } from '../../otp/otp-params.ts';
import { decodeSlot, encodeSlot, slotOtpOf, slotOtpWithCounter, type SlotConfig } from '../../firmware-sim/token-state.ts';

const kcv = Uint8Array.from([0xa1, 0xb2, 0xc3]);
const sealedSeed = Uint8Array.from({ length: 30 }, (_, i) => i);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

const captured: [string, string, SlotConfig][] = [
  [
    'HOTP SHA1 6 digits, touch',
    '01010106000000000000000000000000010003a1b2c31e000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d',
    { otp: { type: 'hotp', algorithm: 'SHA1', digits: 6 }, touch: true, kcv, sealedSeed },
  ],
  [
    'TOTP SHA256 8 digits, 60 s, T0 1234567890',
    '010202083c000000d202964900000000000003a1b2c31e000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d',
    { otp: { type: 'totp', algorithm: 'SHA256', digits: 8, periodSec: 60, t0Sec: 1234567890n }, touch: false, kcv, sealedSeed },
  ],
  [
    'OCRA with counter and a 1-minute time step',
    '010303083c0000000000000000000000011f4f4352412d313a484f54502d5348413531322d383a432d514e30382d54314d03a1b2c31e000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d',
    { otp: { type: 'ocra', suite: 'OCRA-1:HOTP-SHA512-8:C-QN08-T1M' }, touch: true, kcv, sealedSeed },
  ],
];

describe('slot configuration value: bytes unchanged by the OtpParams model', () => {
  for (const [name, h, config] of captured) {
    it(`decodes and re-encodes ${name} as before`, () => {
      expect(decodeSlot(bytes(h))).toEqual(config);
      expect(hex(encodeSlot(config))).toBe(h);
    });
  }

  it('rejects a kind or algorithm byte outside the registry, truncation and trailing bytes', () => {
    const good = bytes(captured[0]![1]);
    const withByte = (i: number, v: number) => {
      const b = good.slice();
      b[i] = v;
      return b;
    };
    for (const bad of [withByte(1, 0), withByte(1, 4), withByte(2, 0), withByte(2, 4), withByte(0, 2), good.slice(0, -1), Uint8Array.from([...good, 0])]) {
      expect(() => decodeSlot(bad)).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
    }
  });
});

describe('slot parameters without the counter', () => {
  const cases: OtpParams[] = [
    { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 5n },
    { type: 'totp', algorithm: 'SHA512', digits: 8, periodSec: 30, t0Sec: 0n },
    { type: 'ocra', suite: 'OCRA-1:HOTP-SHA1-6:C-QN08', counter: 9n },
    { type: 'ocra', suite: 'OCRA-1:HOTP-SHA1-6:QN08' },
  ];
  for (const p of cases) {
    it(`${p.type} ${'suite' in p ? p.suite : ''}: the stored form drops the counter and takes the live one back`, () => {
      const stored = slotOtpOf(p);
      expect('counter' in stored).toBe(false);
      expect(slotOtpWithCounter(stored, 42n)).toEqual(withCounter(p, 42n));
    });
  }
});
