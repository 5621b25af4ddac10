/**
 * SHA-1 compression function (FIPS 180-4 Section 6.1.2) over 32-bit words held in Int32Arrays, for the HMAC
 * engine (engine.ts). Not a general hashing API: the caller lays out the message schedule and the padding.
 *
 * Invariants: no allocation; `w` has room for 80 words and its first 16 are the message block (big-endian
 * words); words 16..79 are overwritten. `out` is written only after `h` and `w` are fully read, so `out` may
 * alias `h` (chaining) or the first words of another schedule (HMAC: inner digest straight into the outer block).
 */

/** Initial hash value H(0), FIPS 180-4 Section 5.3.1. */
export const SHA1_IV = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0] as const;
export const SHA1_BLOCK_BYTES = 64;
export const SHA1_DIGEST_WORDS = 5;
/** Words in the message schedule buffer a caller must pass. */
export const SHA1_SCHEDULE_WORDS = 80;

export function sha1Block(h: Int32Array, w: Int32Array, out: Int32Array): void {
  // Message schedule, Section 6.1.2 step 1.
  for (let i = 16; i < 80; i++) {
    const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
    w[i] = (x << 1) | (x >>> 31);
  }
  let a = h[0]!;
  let b = h[1]!;
  let c = h[2]!;
  let d = h[3]!;
  let e = h[4]!;
  // Four loops of 20 rounds with K_t and f_t of Section 4.2.1 / 4.1.1: Ch, Parity, Maj, Parity.
  for (let i = 0; i < 20; i++) {
    const t = (((a << 5) | (a >>> 27)) + (d ^ (b & (c ^ d))) + e + w[i]! + 0x5a827999) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (let i = 20; i < 40; i++) {
    const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w[i]! + 0x6ed9eba1) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (let i = 40; i < 60; i++) {
    const t = (((a << 5) | (a >>> 27)) + ((b & c) | (d & (b | c))) + e + w[i]! + 0x8f1bbcdc) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (let i = 60; i < 80; i++) {
    const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w[i]! + 0xca62c1d6) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  out[0] = (h[0]! + a) | 0;
  out[1] = (h[1]! + b) | 0;
  out[2] = (h[2]! + c) | 0;
  out[3] = (h[3]! + d) | 0;
  out[4] = (h[4]! + e) | 0;
}
