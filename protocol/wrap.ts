/**
 * Seed and PIN wrapping, device attestation and the key check value (docs/protocol.md §6). Pure functions:
 * randomness comes in as `rng`, nothing is kept.
 *
 * Device identity: every token has a P-256 key pair. The factory signs
 *   attestationMessage = "tokenforge-attestation-v1" | 0x00 | len(serial) (1 byte) | serial (UTF-8) | devicePublicKey (65)
 * with its attestation key (ECDSA P-256 over SHA-256, compact r|s, 64 bytes). The host checks that signature
 * against its configured trust anchors before it sends anything to the device key.
 *
 * Wrapping (host → device), one fresh ephemeral key per wrapped value:
 *   e, E     = ephemeral P-256 key pair                      (E uncompressed, 65 bytes)
 *   Z        = x-coordinate of ECDH(e, devicePublicKey)      (32 bytes)
 *   K        = HKDF-SHA256(IKM = Z, salt = E | devicePublicKey, info = INFO, L = 32)
 *   nonce    = 12 random bytes
 *   ct | tag = AES-256-GCM(K, nonce, plaintext, AAD)
 * with INFO = "tokenforge-wrap-v1 seed" or "tokenforge-wrap-v1 pin", and
 *   AAD(seed) = "tokenforge-seed-v1" | 0x00 | canonical CBOR map { 0: serial, 1..9: the PUT_SLOT slot params }
 *   AAD(pin)  = "tokenforge-pin-v1"  | 0x00 | canonical CBOR map { 0: serial }
 * so a wrapped seed only unwraps on the device it was made for, into the slot and parameters it was made for.
 *
 * KCV (key check value, GET_SLOT / PUT_SLOT): the first 3 bytes of HMAC-SHA256(key = seed, "tokenforge-kcv").
 * It lets a host confirm which seed a slot holds without the seed leaving the device.
 *
 * Limits of the scheme (documented, deliberate): a wrapped PIN can be replayed by someone who recorded it
 * (there is no device challenge); it protects the PIN's value, not the session.
 *
 * Implementation: the P-256 arithmetic, HKDF and AES-GCM go through node:crypto (OpenSSL), about 25 times
 * cheaper than pure JavaScript, which bounded the provisioning rate. Two things stay on @noble: signing the
 * attestation (factory side, once per device) because it must be deterministic (RFC 6979, so documented
 * examples are reproducible) and OpenSSL's ECDSA through Node is randomised; and the KCV's HMAC (microseconds).
 * test/protocol/wrap.test.ts cross-checks every operation against a @noble reference of this same scheme.
 * Key material handed to OpenSSL (ECDH private keys, the AES key) lives in its objects until they are
 * garbage-collected; the JavaScript copies (shared secret, derived key, decrypted buffers) are zeroed.
 */
import { createCipheriv, createDecipheriv, createECDH, createPublicKey, hkdfSync, verify as ecdsaVerify, type ECDH, type KeyObject } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { Secret } from '../otp/secret.ts';
import { ByteWriter } from './bytes.ts';
import { encodeCanonical, type CborValue } from './cbor.ts';
import { ProtocolError } from './errors.ts';
import { slotParamsMap, type SlotParams, type WrappedBlob } from './messages.ts';
import { LIMITS } from './registry.ts';

export type Rng = (n: number) => Uint8Array;

export const WRAP_INFO = { seed: 'tokenforge-wrap-v1 seed', pin: 'tokenforge-wrap-v1 pin' } as const;
export const AAD_PREFIX = { seed: 'tokenforge-seed-v1', pin: 'tokenforge-pin-v1' } as const;
export const ATTESTATION_DOMAIN = 'tokenforge-attestation-v1';
export const KCV_MESSAGE = 'tokenforge-kcv';

const utf8 = new TextEncoder();

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface KeyPair {
  /** P-256 secret scalar, 32 bytes. */
  secretKey: Uint8Array;
  /** Uncompressed public key, 65 bytes. */
  publicKey: Uint8Array;
}

// P-256 domain parameters (SEC 2 / FIPS 186-4), for the cheap range and on-curve checks done here in bigint.
const P256_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const SCALAR_SIZE = 32;

function toBigint(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex'));
}

function isValidScalar(sk: Uint8Array): boolean {
  if (sk.length !== SCALAR_SIZE) return false;
  const k = toBigint(sk);
  return k > 0n && k < P256_N;
}

/** An OpenSSL ECDH context holding secret scalar `sk` (which must be valid; see isValidScalar). */
function ecdhWith(sk: Uint8Array): ECDH {
  const e = createECDH('prime256v1');
  e.setPrivateKey(sk);
  return e;
}

/** Draws scalars from `rng` until one is valid (the same redraw rule as before, so seeded rngs give the same keys). */
function drawScalar(rng: Rng): Uint8Array {
  for (;;) {
    const sk = rng(SCALAR_SIZE);
    if (isValidScalar(sk)) return sk;
  }
}

/** A P-256 key pair from `rng` (redraws until the 32 bytes are a valid scalar). Deterministic for a seeded rng. */
export function generateKeyPair(rng: Rng = randomBytes): KeyPair {
  const sk = drawScalar(rng);
  return { secretKey: sk, publicKey: new Uint8Array(ecdhWith(sk).getPublicKey()) };
}

/** True for a 65-byte uncompressed P-256 point: 0x04 | X | Y with X, Y < p and Y² = X³ − 3X + b (mod p). */
export function isValidPublicKey(pk: Uint8Array): boolean {
  if (pk.length !== LIMITS.publicKeySize || pk[0] !== 0x04) return false;
  const x = toBigint(pk.subarray(1, 33));
  const y = toBigint(pk.subarray(33, 65));
  if (x >= P256_P || y >= P256_P) return false;
  return (y * y) % P256_P === ((((x * x) % P256_P) + P256_P - 3n) * x + P256_B) % P256_P;
}

// ---------------------------------------------------------------------------------------------------------
// Attestation

export function attestationMessage(serial: string, devicePublicKey: Uint8Array): Uint8Array {
  const s = utf8.encode(serial);
  if (s.length === 0 || s.length > 255) throw new ProtocolError('INVALID_ARGUMENT', 'serial: must be 1..255 bytes of UTF-8');
  if (devicePublicKey.length !== LIMITS.publicKeySize) throw new ProtocolError('INVALID_ARGUMENT', 'devicePublicKey: must be 65 bytes (uncompressed P-256)');
  return new ByteWriter({ endian: 'big', what: 'attestation message' }).bytes(utf8.encode(ATTESTATION_DOMAIN)).u8(0).bytes8(s).bytes(devicePublicKey).done();
}

/** Factory side: the 64-byte attestation signature (deterministic ECDSA, RFC 6979). */
export function signAttestation(attestationSecretKey: Uint8Array, serial: string, devicePublicKey: Uint8Array): Uint8Array {
  return p256.sign(attestationMessage(serial, devicePublicKey), attestationSecretKey);
}

// SubjectPublicKeyInfo headers for an id-ecPublicKey / prime256v1 key, uncompressed (65-byte) and compressed
// (33-byte) point: node:crypto imports a raw point through them.
const SPKI_PREFIX = {
  65: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
  33: Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'),
} as const;

/** Parsed verification keys by hex, so configured trust anchors are imported once (bounded: anchors are few). */
const verifyKeys = new Map<string, KeyObject | null>();
const VERIFY_KEY_CACHE_MAX = 256;

function verifyKey(pk: Uint8Array): KeyObject | undefined {
  const id = Buffer.from(pk.buffer, pk.byteOffset, pk.length).toString('hex');
  let k = verifyKeys.get(id);
  if (k === undefined) {
    k = null;
    const prefix = pk.length === 65 ? SPKI_PREFIX[65] : pk.length === 33 ? SPKI_PREFIX[33] : undefined;
    if (prefix && (pk.length === 65 ? pk[0] === 0x04 : pk[0] === 0x02 || pk[0] === 0x03)) {
      try {
        k = createPublicKey({ key: Buffer.concat([prefix, pk]), format: 'der', type: 'spki' }); // OpenSSL checks the point is on the curve
      } catch {
        k = null;
      }
    }
    if (verifyKeys.size >= VERIFY_KEY_CACHE_MAX) verifyKeys.clear();
    verifyKeys.set(id, k);
  }
  return k ?? undefined;
}

/**
 * ECDSA P-256 / SHA-256 verification of a compact r|s signature with the same acceptance rule as @noble's
 * default: exactly 64 bytes, 1 <= r, s < n, and low S (s <= n/2; a high-S twin of a valid signature is refused).
 */
function verifyCompact(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const r = toBigint(signature.subarray(0, 32));
  const s = toBigint(signature.subarray(32, 64));
  if (r === 0n || r >= P256_N || s === 0n || s > P256_N >> 1n) return false;
  const key = verifyKey(publicKey);
  if (!key) return false;
  return ecdsaVerify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature);
}

/** Host side: true when one of `trustAnchors` (uncompressed P-256 public keys) signed this device key and serial. */
export function verifyAttestation(
  device: { serial: string; devicePublicKey: Uint8Array; attestationSignature: Uint8Array },
  trustAnchors: readonly Uint8Array[],
): boolean {
  if (!isValidPublicKey(device.devicePublicKey)) return false;
  let msg: Uint8Array;
  try {
    msg = attestationMessage(device.serial, device.devicePublicKey);
  } catch {
    return false;
  }
  for (const anchor of trustAnchors) {
    try {
      if (verifyCompact(device.attestationSignature, msg, anchor)) return true;
    } catch {
      // a malformed anchor or signature is simply not a match
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------
// Associated data

export function seedAad(serial: string, params: SlotParams): Uint8Array {
  const m = slotParamsMap(params) as Map<number, CborValue>;
  m.set(0, serial);
  return concat(utf8.encode(AAD_PREFIX.seed), Uint8Array.of(0), encodeCanonical(m));
}

export function pinAad(serial: string): Uint8Array {
  return concat(utf8.encode(AAD_PREFIX.pin), Uint8Array.of(0), encodeCanonical(new Map<number, CborValue>([[0, serial]])));
}

// ---------------------------------------------------------------------------------------------------------
// Generic wrap / unwrap

/** K = HKDF-SHA256(Z, E | devicePublicKey, info, 32). Zeroes `z`. */
function deriveKey(z: Uint8Array, ephemeralPublicKey: Uint8Array, devicePublicKey: Uint8Array, info: string): Uint8Array {
  const key = new Uint8Array(hkdfSync('sha256', z, concat(ephemeralPublicKey, devicePublicKey), info, 32));
  z.fill(0);
  return key;
}

const GCM_OPTIONS = { authTagLength: LIMITS.gcmTagSize } as const;

export interface WrapInput {
  devicePublicKey: Uint8Array;
  plaintext: Uint8Array;
  info: string;
  aad: Uint8Array;
  rng?: Rng;
}

/** Host side. Throws ProtocolError('INVALID_ARGUMENT') for an invalid device key. */
export function wrapToDevice(input: WrapInput): WrappedBlob {
  if (!isValidPublicKey(input.devicePublicKey)) throw new ProtocolError('INVALID_ARGUMENT', 'devicePublicKey: not a valid uncompressed P-256 point');
  const rng = input.rng ?? randomBytes;
  const ephSecret = drawScalar(rng);
  const eph = ecdhWith(ephSecret);
  ephSecret.fill(0);
  const ephemeralPublicKey = new Uint8Array(eph.getPublicKey());
  const key = deriveKey(eph.computeSecret(input.devicePublicKey), ephemeralPublicKey, input.devicePublicKey, input.info);
  const nonce = Uint8Array.from(rng(LIMITS.gcmNonceSize));
  try {
    const c = createCipheriv('aes-256-gcm', key, nonce, GCM_OPTIONS);
    c.setAAD(input.aad);
    const ciphertext = concat(c.update(input.plaintext), c.final(), c.getAuthTag());
    return { ephemeralPublicKey, nonce, ciphertext };
  } finally {
    key.fill(0);
  }
}

export interface UnwrapInput {
  deviceSecretKey: Uint8Array;
  devicePublicKey: Uint8Array;
  blob: WrappedBlob;
  info: string;
  aad: Uint8Array;
}

/** Device side: the plaintext, or `undefined` when the blob does not authenticate (answer UNWRAP_FAILED). Never throws. */
export function unwrapOnDevice(input: UnwrapInput): Uint8Array | undefined {
  const { blob } = input;
  if (!isValidPublicKey(blob.ephemeralPublicKey) || blob.nonce.length !== LIMITS.gcmNonceSize || blob.ciphertext.length < LIMITS.gcmTagSize) return undefined;
  if (!isValidScalar(input.deviceSecretKey)) return undefined;
  let key: Uint8Array | undefined;
  let head: Buffer | undefined;
  let tail: Buffer | undefined;
  try {
    key = deriveKey(ecdhWith(input.deviceSecretKey).computeSecret(blob.ephemeralPublicKey), blob.ephemeralPublicKey, input.devicePublicKey, input.info);
    const split = blob.ciphertext.length - LIMITS.gcmTagSize;
    const d = createDecipheriv('aes-256-gcm', key, blob.nonce, GCM_OPTIONS);
    d.setAuthTag(blob.ciphertext.subarray(split));
    d.setAAD(input.aad);
    head = d.update(blob.ciphertext.subarray(0, split));
    tail = d.final(); // throws when the tag does not authenticate
    return concat(head, tail);
  } catch {
    return undefined;
  } finally {
    key?.fill(0);
    head?.fill(0);
    tail?.fill(0);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Seeds and PINs

function seedBytes(seed: Secret | Uint8Array): Uint8Array {
  return seed instanceof Secret ? seed.exposeSecretBytes() : seed;
}

export interface WrapSeedInput {
  devicePublicKey: Uint8Array;
  serial: string;
  params: SlotParams;
  seed: Secret | Uint8Array;
  rng?: Rng;
}

export function wrapSeed(input: WrapSeedInput): WrappedBlob {
  const seed = seedBytes(input.seed);
  if (seed.length < LIMITS.minSeedBytes || seed.length > LIMITS.maxSeedBytes) {
    throw new ProtocolError('INVALID_ARGUMENT', `seed: must be ${LIMITS.minSeedBytes}..${LIMITS.maxSeedBytes} bytes`);
  }
  const w: WrapInput = { devicePublicKey: input.devicePublicKey, plaintext: seed, info: WRAP_INFO.seed, aad: seedAad(input.serial, input.params) };
  if (input.rng) w.rng = input.rng;
  return wrapToDevice(w);
}

/** Device side: the seed as a Secret, or undefined (answer UNWRAP_FAILED). */
export function unwrapSeed(input: { deviceSecretKey: Uint8Array; devicePublicKey: Uint8Array; serial: string; params: SlotParams; blob: WrappedBlob }): Secret | undefined {
  const plain = unwrapOnDevice({ ...input, info: WRAP_INFO.seed, aad: seedAad(input.serial, input.params) });
  if (!plain || plain.length < LIMITS.minSeedBytes || plain.length > LIMITS.maxSeedBytes) return undefined;
  return new Secret(plain);
}

export function wrapPin(input: { devicePublicKey: Uint8Array; serial: string; pin: string; rng?: Rng }): WrappedBlob {
  const pin = utf8.encode(input.pin);
  if (pin.length < LIMITS.minPinBytes || pin.length > LIMITS.maxPinBytes) {
    throw new ProtocolError('INVALID_ARGUMENT', `pin: must be ${LIMITS.minPinBytes}..${LIMITS.maxPinBytes} bytes`);
  }
  const w: WrapInput = { devicePublicKey: input.devicePublicKey, plaintext: pin, info: WRAP_INFO.pin, aad: pinAad(input.serial) };
  if (input.rng) w.rng = input.rng;
  const blob = wrapToDevice(w);
  pin.fill(0);
  return blob;
}

/** Device side: the PIN bytes (UTF-8) as a Secret, or undefined. Compare it in constant time. */
export function unwrapPin(input: { deviceSecretKey: Uint8Array; devicePublicKey: Uint8Array; serial: string; blob: WrappedBlob }): Secret | undefined {
  const plain = unwrapOnDevice({ ...input, info: WRAP_INFO.pin, aad: pinAad(input.serial) });
  if (!plain || plain.length < LIMITS.minPinBytes || plain.length > LIMITS.maxPinBytes) return undefined;
  return new Secret(plain);
}

/** KCV: first 3 bytes of HMAC-SHA256(seed, "tokenforge-kcv"). */
export function keyCheckValue(seed: Secret | Uint8Array): Uint8Array {
  const mac = hmac(sha256, seedBytes(seed), utf8.encode(KCV_MESSAGE));
  const out = mac.slice(0, LIMITS.kcvSize);
  mac.fill(0);
  return out;
}
