/** Strict hex codec: even length, [0-9a-fA-F] only. Errors name the argument. */
import { OtpError } from './errors.ts';

export function hexToBytes(hex: string, what = 'hex'): Uint8Array {
  if (typeof hex !== 'string') throw new TypeError(`${what}: must be a string`);
  if (hex.length % 2 !== 0) throw new OtpError('INVALID_HEX', `${what}: odd number of hex digits (${hex.length}); hex needs two digits per byte`);
  if (!/^[0-9a-fA-F]*$/.test(hex)) throw new OtpError('INVALID_HEX', `${what}: contains a character that is not a hex digit`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function bytesToHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!];
  return s;
}
