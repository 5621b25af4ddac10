/**
 * HMAC key schedule (RFC 2104 Section 2) for the fast engine: the chaining state after the first block of the
 * inner hash (K0 ^ ipad) and of the outer hash (K0 ^ opad). With that state precomputed once per key, an HOTP
 * code costs only the compressions of its own blocks (engine.ts).
 *
 * Keys longer than the hash's block are replaced by their hash (RFC 2104: "applications that use keys longer
 * than B bytes will first hash the key using H"). Every temporary that holds key material is wiped here.
 */
import { SHA1_BLOCK_BYTES, SHA1_DIGEST_WORDS, SHA1_IV, SHA1_SCHEDULE_WORDS, sha1Block } from './sha1.ts';
import { SHA256_BLOCK_BYTES, SHA256_DIGEST_WORDS, SHA256_IV, SHA256_SCHEDULE_WORDS, sha256Block } from './sha256.ts';
import { SHA512_BLOCK_BYTES, SHA512_DIGEST_WORDS, SHA512_IV, SHA512_SCHEDULE_WORDS, sha512Block } from './sha512.ts';
import type { HashAlgorithm } from './params.ts';

export interface HashShape {
  readonly block: (h: Int32Array, w: Int32Array, out: Int32Array) => void;
  readonly blockBytes: number;
  /** Digest size in 32-bit big-endian words (SHA-512: 16, i.e. 8 hi/lo pairs). */
  readonly digestWords: number;
  readonly scheduleWords: number;
  readonly iv: readonly number[];
  /** Size of the message-length field in the final block (FIPS 180-4 Section 5.1): 8 or 16 bytes. */
  readonly lengthBytes: number;
}

export const HASH_SHAPES: Readonly<Record<HashAlgorithm, HashShape>> = {
  SHA1: { block: sha1Block, blockBytes: SHA1_BLOCK_BYTES, digestWords: SHA1_DIGEST_WORDS, scheduleWords: SHA1_SCHEDULE_WORDS, iv: SHA1_IV, lengthBytes: 8 },
  SHA256: { block: sha256Block, blockBytes: SHA256_BLOCK_BYTES, digestWords: SHA256_DIGEST_WORDS, scheduleWords: SHA256_SCHEDULE_WORDS, iv: SHA256_IV, lengthBytes: 8 },
  SHA512: { block: sha512Block, blockBytes: SHA512_BLOCK_BYTES, digestWords: SHA512_DIGEST_WORDS, scheduleWords: SHA512_SCHEDULE_WORDS, iv: SHA512_IV, lengthBytes: 16 },
};

/** Loads big-endian 32-bit words of `bytes[offset..offset+4*n)` into `w[0..n)`. */
function loadWords(bytes: Uint8Array, offset: number, w: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const j = offset + 4 * i;
    w[i] = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
  }
}

/** Plain Merkle-Damgard hash of a whole message (FIPS 180-4 Section 5.1 padding); used once per long key. */
export function hashBytes(shape: HashShape, message: Uint8Array): Uint8Array {
  const b = shape.blockBytes;
  const padded = new Uint8Array(Math.ceil((message.length + 1 + shape.lengthBytes) / b) * b);
  padded.set(message);
  padded[message.length] = 0x80;
  // Bit length, big-endian, in the last 8 bytes (keys are far below 2^53 bits, so the upper bytes stay 0).
  const bits = message.length * 8;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bits / 2 ** 32), false);
  view.setUint32(padded.length - 4, bits >>> 0, false);
  const h = ivState(shape);
  const w = new Int32Array(shape.scheduleWords);
  for (let off = 0; off < padded.length; off += b) {
    loadWords(padded, off, w, b / 4);
    shape.block(h, w, h);
  }
  const out = new Uint8Array(shape.digestWords * 4);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < shape.digestWords; i++) outView.setInt32(4 * i, h[i]!, false);
  padded.fill(0);
  w.fill(0);
  h.fill(0);
  return out;
}

/**
 * Scratch for the key block and its schedule, shared (the computation is synchronous) and wiped after each
 * use: allocating them per key showed up as garbage-collector time when engines are created per code.
 */
const K0_SCRATCH = new Uint8Array(128);
const W_SCRATCH = new Int32Array(160);

function ivState(shape: HashShape): Int32Array {
  const h = new Int32Array(shape.iv.length);
  for (let i = 0; i < h.length; i++) h[i] = shape.iv[i]! | 0;
  return h;
}

/** Loads the big-endian words of K0 ^ (pad byte repeated) into `w[0..block/4)`. */
function loadPadded(k0: Uint8Array, pad: number, w: Int32Array, words: number): void {
  const p = (pad << 24) | (pad << 16) | (pad << 8) | pad;
  for (let i = 0; i < words; i++) {
    const j = 4 * i;
    w[i] = ((k0[j]! << 24) | (k0[j + 1]! << 16) | (k0[j + 2]! << 8) | k0[j + 3]!) ^ p;
  }
}

/** The inner and outer chaining states after one block of K0 ^ ipad / K0 ^ opad (RFC 2104 steps 1-2, 5). */
export function hmacPadStates(shape: HashShape, key: Uint8Array): { inner: Int32Array; outer: Int32Array } {
  const b = shape.blockBytes;
  // K0: the key (or its hash) zero-padded to the block; the scratch is all zero between uses.
  const k0 = K0_SCRATCH;
  if (key.length > b) {
    const hk = hashBytes(shape, key);
    k0.set(hk);
    hk.fill(0);
  } else {
    k0.set(key);
  }
  const w = W_SCRATCH;
  const inner = ivState(shape);
  const outer = ivState(shape);
  loadPadded(k0, 0x36, w, b / 4);
  shape.block(inner, w, inner);
  loadPadded(k0, 0x5c, w, b / 4);
  shape.block(outer, w, outer);
  K0_SCRATCH.fill(0);
  W_SCRATCH.fill(0);
  return { inner, outer };
}
