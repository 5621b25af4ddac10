/** Base32 (RFC 4648): the RFC vectors, random round trips against Node's own view of the bits, and hostile input. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBase32, encodeBase32, OtpError } from '../../otp/index.ts';
import { loadKeyUri, loadRfc4648 } from '../../conformance/vectors.ts';

const enc = new TextEncoder();

describe('base32 vectors', () => {
  const file = loadRfc4648();
  it.each(file.vectors.map((v) => [v.ascii, v.base32] as const))('"%s" <-> %s', (ascii, b32) => {
    expect(encodeBase32(enc.encode(ascii), { pad: true })).toBe(b32);
    expect(encodeBase32(enc.encode(ascii))).toBe(b32.replace(/=+$/, ''));
    expect(decodeBase32(b32)).toEqual(enc.encode(ascii));
    expect(decodeBase32(b32.replace(/=+$/, ''))).toEqual(enc.encode(ascii));
    expect(decodeBase32(b32.toLowerCase())).toEqual(enc.encode(ascii));
  });

  it('decodes the Key Uri Format examples (keyuri.json)', () => {
    const k = loadKeyUri();
    expect(Buffer.from(decodeBase32('JBSWY3DPEHPK3PXP')).toString('hex')).toBe(k.wiki_examples[0]!.secret_hex);
    expect(Buffer.from(decodeBase32(k.derived_examples_NOT_FROM_WIKI.rfc4226_key_base32)).toString()).toBe('12345678901234567890');
  });
});

/** An independent bit-by-bit base32 encoder (no shared code with otp/base32.ts). */
function slowEncode(bytes: Uint8Array): string {
  const bits = Array.from(bytes, (b) => b.toString(2).padStart(8, '0')).join('');
  let s = '';
  for (let i = 0; i < bits.length; i += 5) s += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return s;
}

describe('base32 round trips', () => {
  it('random lengths 0..130 agree with an independent encoder and decode back', () => {
    for (let n = 0; n <= 130; n++) {
      const bytes = new Uint8Array(randomBytes(n));
      const b32 = encodeBase32(bytes);
      expect(b32).toBe(slowEncode(bytes));
      expect(decodeBase32(b32)).toEqual(bytes);
      const padded = encodeBase32(bytes, { pad: true });
      expect(padded.length % 8).toBe(0);
      expect(decodeBase32(padded)).toEqual(bytes);
    }
  });

  it('ignores spaces and hyphens used to group a secret', () => {
    expect(decodeBase32('jbsw y3dp-ehpk 3pxp')).toEqual(decodeBase32('JBSWY3DPEHPK3PXP'));
  });
});

describe('base32 malformed input', () => {
  const cases: [string, string, RegExp][] = [
    ['digit 1', 'JBSW1', /character 5 is '1'.*did you mean O or I/],
    ['digit 0', '0A', /character 1 is '0'/],
    ['digit 8', 'AB8C', /character 3 is '8'/],
    ['lower-case invalid', 'ab!c', /character 3 is '!'/],
    ['tab', 'AB\tCD', /character 3 is U\+0009/],
    ['newline', 'ABCD\n', /character 5 is U\+000A/],
    ['non-ASCII', 'ABÄC', /character 3 is U\+00C4/],
    ['length 1', 'A', /not a whole number of bytes/],
    ['length 3', 'ABC', /not a whole number of bytes/],
    ['length 6', 'ABCDEF', /not a whole number of bytes/],
    ['length 9', 'ABCDEFGHA', /not a whole number of bytes/],
    ['non-canonical trailing bits (2 chars)', 'MZ', /non-zero unused bits/],
    ['non-canonical trailing bits (7 chars)', 'MZXW6YR', /non-zero unused bits/],
    ['too little padding', 'MY=====', /padding/],
    ['too much padding', 'MY=======', /padding/],
    ['padding where none is needed', 'MZXW6YTB========', /padding/],
    ['data after padding', 'MY======MY', /follows the "=" padding/],
    ['padding in the middle', 'MZ=XQ', /follows the "=" padding/],
  ];
  it.each(cases)('%s', (_name, input, message) => {
    let caught: unknown;
    try {
      decodeBase32(input);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(OtpError);
    expect((caught as OtpError).code).toBe('INVALID_BASE32');
    expect((caught as OtpError).message).toMatch(message);
  });

  it('rejects a non-string with TypeError', () => {
    expect(() => decodeBase32(42 as unknown as string)).toThrow(TypeError);
    expect(() => encodeBase32('ab' as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('never repeats the whole input in the message', () => {
    const secretish = 'JBSWY3DPEHPK3PX1';
    try {
      decodeBase32(secretish);
    } catch (e) {
      expect((e as Error).message).not.toContain(secretish);
    }
  });
});
