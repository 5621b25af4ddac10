/**
 * Base32 (RFC 4648 Section 6, alphabet A-Z 2-7) for OTP secrets.
 *
 * Decoding rules (strict, documented in docs/otp.md):
 * - letters in either case;
 * - ASCII spaces and hyphens are ignored anywhere before the padding, because authenticator apps and token
 *   datasheets print secrets in groups ("JBSW Y3DP EHPK 3PXP"); every other character is rejected;
 * - padding is optional, but when present it must be exactly the RFC 4648 padding for the data length
 *   (total a multiple of 8, nothing after the first "=");
 * - the last group must be a length the encoder can produce (0, 2, 4, 5 or 7 characters of a group of 8), and
 *   its unused low bits must be zero (RFC 4648 Section 3.5: canonical encoding), so that two different strings
 *   never decode to the same key.
 * Errors are `OtpError('INVALID_BASE32')`, name the position (1-based, counted in the string as given) and
 * the fix, and never repeat the input (it is usually a secret).
 *
 * Encoding emits upper case without padding by default (the Key Uri Format says padding "should be omitted");
 * `{ pad: true }` gives RFC 4648 padding.
 */
import { OtpError } from './errors.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Character code -> 5-bit value, -1 for anything else. */
const DECODE = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) {
    t[ALPHABET.charCodeAt(i)] = i;
    t[ALPHABET.toLowerCase().charCodeAt(i)] = i;
  }
  return t;
})();

/** Data characters in the last group of 8 -> padding characters needed (RFC 4648 Section 6, cases 1-5). */
const PAD_FOR_REMAINDER: Readonly<Record<number, number>> = { 0: 0, 2: 6, 4: 4, 5: 3, 7: 1 };

function describeChar(c: string): string {
  const code = c.charCodeAt(0);
  if (code < 0x21 || code > 0x7e) return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `'${c}'`;
}

export function decodeBase32(text: string, what = 'base32'): Uint8Array {
  if (typeof text !== 'string') throw new TypeError(`${what}: must be a string`);
  const values: number[] = [];
  let padStart = -1;
  let padCount = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '=') {
      if (padStart < 0) padStart = i;
      padCount++;
      continue;
    }
    if (padStart >= 0) {
      throw new OtpError('INVALID_BASE32', `${what}: character ${i + 1} follows the "=" padding; padding may only end the text`);
    }
    if (c === ' ' || c === '-') continue;
    const code = c.charCodeAt(0);
    const v = code < 128 ? DECODE[code]! : -1;
    if (v < 0) {
      const hint = c === '0' || c === '1' ? ' (0 and 1 are not base32 digits: did you mean O or I?)' : '';
      throw new OtpError(
        'INVALID_BASE32',
        `${what}: character ${i + 1} is ${describeChar(c)}, which is not base32; use only A-Z and 2-7 (spaces and hyphens are ignored)${hint}`,
      );
    }
    values.push(v);
  }
  const rem = values.length % 8;
  const needPad = PAD_FOR_REMAINDER[rem];
  if (needPad === undefined) {
    throw new OtpError(
      'INVALID_BASE32',
      `${what}: ${values.length} base32 characters is not a whole number of bytes (the last group of 8 has ${rem}; it must have 2, 4, 5 or 7); a character is missing or extra`,
    );
  }
  if (padCount > 0 && padCount !== needPad) {
    throw new OtpError('INVALID_BASE32', `${what}: ${padCount} "=" padding characters where ${needPad} are needed; fix or drop the padding`);
  }
  const out = new Uint8Array(Math.floor((values.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let o = 0;
  for (const v of values) {
    buffer = ((buffer << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >> bits) & 0xff;
    }
  }
  if (bits > 0 && (buffer & ((1 << bits) - 1)) !== 0) {
    throw new OtpError(
      'INVALID_BASE32',
      `${what}: the last character has non-zero unused bits (non-canonical encoding, RFC 4648 Section 3.5); the secret was truncated or mistyped`,
    );
  }
  return out;
}

export function encodeBase32(bytes: Uint8Array, options: { pad?: boolean } = {}): string {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes: must be a Uint8Array');
  let s = '';
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < bytes.length; i++) {
    buffer = ((buffer << 8) | bytes[i]!) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      s += ALPHABET[(buffer >> bits) & 31];
    }
  }
  if (bits > 0) s += ALPHABET[(buffer << (5 - bits)) & 31];
  if (options.pad) s += '='.repeat(PAD_FOR_REMAINDER[s.length % 8]!);
  return s;
}
