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
 */
import { p256 } from '@noble/curves/nist.js';
import { gcm } from '@noble/ciphers/aes.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { Secret } from '../otp/secret.ts';
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

/** A P-256 key pair from `rng` (redraws until the 32 bytes are a valid scalar). Deterministic for a seeded rng. */
export function generateKeyPair(rng: Rng = randomBytes): KeyPair {
  for (;;) {
    const sk = rng(32);
    if (p256.utils.isValidSecretKey(sk)) return { secretKey: sk, publicKey: p256.getPublicKey(sk, false) };
  }
}

export function isValidPublicKey(pk: Uint8Array): boolean {
  try {
    return pk.length === LIMITS.publicKeySize && pk[0] === 0x04 && p256.utils.isValidPublicKey(pk, false);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Attestation

export function attestationMessage(serial: string, devicePublicKey: Uint8Array): Uint8Array {
  const s = utf8.encode(serial);
  if (s.length === 0 || s.length > 255) throw new ProtocolError('INVALID_ARGUMENT', 'serial: must be 1..255 bytes of UTF-8');
  if (devicePublicKey.length !== LIMITS.publicKeySize) throw new ProtocolError('INVALID_ARGUMENT', 'devicePublicKey: must be 65 bytes (uncompressed P-256)');
  return concat(utf8.encode(ATTESTATION_DOMAIN), Uint8Array.of(0, s.length), s, devicePublicKey);
}

/** Factory side: the 64-byte attestation signature (deterministic ECDSA, RFC 6979). */
export function signAttestation(attestationSecretKey: Uint8Array, serial: string, devicePublicKey: Uint8Array): Uint8Array {
  return p256.sign(attestationMessage(serial, devicePublicKey), attestationSecretKey);
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
      if (p256.verify(device.attestationSignature, msg, anchor)) return true;
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

function deriveKey(sharedPoint: Uint8Array, ephemeralPublicKey: Uint8Array, devicePublicKey: Uint8Array, info: string): Uint8Array {
  const z = sharedPoint.subarray(1, 33); // compressed point: prefix byte | X
  const key = hkdf(sha256, z, concat(ephemeralPublicKey, devicePublicKey), utf8.encode(info), 32);
  sharedPoint.fill(0);
  return key;
}

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
  const eph = generateKeyPair(rng);
  const key = deriveKey(p256.getSharedSecret(eph.secretKey, input.devicePublicKey, true), eph.publicKey, input.devicePublicKey, input.info);
  eph.secretKey.fill(0);
  const nonce = rng(LIMITS.gcmNonceSize);
  const ciphertext = gcm(key, nonce, input.aad).encrypt(input.plaintext);
  key.fill(0);
  return { ephemeralPublicKey: eph.publicKey, nonce: Uint8Array.from(nonce), ciphertext };
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
  let key: Uint8Array | undefined;
  try {
    key = deriveKey(p256.getSharedSecret(input.deviceSecretKey, blob.ephemeralPublicKey, true), blob.ephemeralPublicKey, input.devicePublicKey, input.info);
    return gcm(key, blob.nonce, input.aad).decrypt(blob.ciphertext);
  } catch {
    return undefined;
  } finally {
    key?.fill(0);
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
