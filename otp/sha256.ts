/**
 * SHA-256 compression function (FIPS 180-4 Section 6.2.2) over 32-bit words held in Int32Arrays, for the HMAC
 * engine (engine.ts). Not a general hashing API: the caller lays out the message schedule and the padding.
 *
 * Invariants: no allocation; `w` has room for 64 words and its first 16 are the message block (big-endian
 * words); words 16..63 are overwritten. `out` is written only after `h` and `w` are fully read, so it may alias
 * `h` (chaining) or the first words of another schedule (HMAC: inner digest straight into the outer block).
 */

/** Initial hash value H(0), FIPS 180-4 Section 5.3.3. */
export const SHA256_IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19] as const;
export const SHA256_BLOCK_BYTES = 64;
export const SHA256_DIGEST_WORDS = 8;
export const SHA256_SCHEDULE_WORDS = 64;

/** K_0..K_63, FIPS 180-4 Section 4.2.2 (first 32 bits of the fractional parts of the cube roots of the first 64 primes). */
export const SHA256_K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,]);

export function sha256Block(h: Int32Array, w: Int32Array, out: Int32Array): void {
  const k = SHA256_K;
  // Message schedule, Section 6.2.2 step 1 (sigma0/sigma1 of Section 4.1.2).
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15]!;
    const y = w[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (s1 + w[i - 7]! + s0 + w[i - 16]!) | 0;
  }
  let a = h[0]!;
  let b = h[1]!;
  let c = h[2]!;
  let d = h[3]!;
  let e = h[4]!;
  let f = h[5]!;
  let g = h[6]!;
  let hh = h[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (hh + S1 + (g ^ (e & (f ^ g))) + k[i]! + w[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) | (c & (a | b)))) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  out[0] = (h[0]! + a) | 0;
  out[1] = (h[1]! + b) | 0;
  out[2] = (h[2]! + c) | 0;
  out[3] = (h[3]! + d) | 0;
  out[4] = (h[4]! + e) | 0;
  out[5] = (h[5]! + f) | 0;
  out[6] = (h[6]! + g) | 0;
  out[7] = (h[7]! + hh) | 0;
}
