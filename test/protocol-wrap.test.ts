/**
 * Seed/PIN wrapping, attestation and KCV. Independent checks use node:crypto (a different implementation of
 * ECDH, HKDF, AES-GCM and HMAC) so the expected values are not computed by the code under test.
 */
import { describe, expect, it } from 'vitest';
import { createDecipheriv, createECDH, createHmac, hkdfSync } from 'node:crypto';
import { Secret } from '../otp/secret.ts';
import type { SlotParams } from '../protocol/messages.ts';
import { seededRng } from '../protocol/reference-responder.ts';
import { TEST_ATTESTATION_PUBLIC_KEY, TEST_ATTESTATION_SECRET_KEY } from '../protocol/test-attestation-key.ts';
import {
  attestationMessage,
  generateKeyPair,
  keyCheckValue,
  seedAad,
  signAttestation,
  unwrapPin,
  unwrapSeed,
  verifyAttestation,
  WRAP_INFO,
  wrapPin,
  wrapSeed,
} from '../protocol/wrap.ts';

const seed = new TextEncoder().encode('12345678901234567890');
const serial = 'TF00001234';
const hotp: SlotParams = { slot: 0, type: 'hotp', touch: 'never', algorithm: 'SHA1', digits: 6, counter: 0n };
const dev = generateKeyPair(seededRng(3));

describe('seed wrapping', () => {
  it('round-trips and never carries the seed in clear', () => {
    const blob = wrapSeed({ devicePublicKey: dev.publicKey, serial, params: hotp, seed: Secret.copyOf(seed) });
    expect(Buffer.from(blob.ciphertext).includes(Buffer.from(seed))).toBe(false);
    expect(blob.ciphertext.length).toBe(seed.length + 16);
    const back = unwrapSeed({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial, params: hotp, blob });
    expect(back && Buffer.from(back.exposeSecretBytes()).equals(Buffer.from(seed))).toBe(true);
  });

  it('matches an independent node:crypto implementation (ECDH x, HKDF-SHA256 with salt E|D, AES-256-GCM with the AAD)', () => {
    const blob = wrapSeed({ devicePublicKey: dev.publicKey, serial, params: hotp, seed, rng: seededRng(77) });
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(dev.secretKey));
    const z = ecdh.computeSecret(Buffer.from(blob.ephemeralPublicKey));
    const key = Buffer.from(hkdfSync('sha256', z, Buffer.concat([blob.ephemeralPublicKey, dev.publicKey]), WRAP_INFO.seed, 32));
    const d = createDecipheriv('aes-256-gcm', key, blob.nonce);
    d.setAAD(seedAad(serial, hotp));
    d.setAuthTag(Buffer.from(blob.ciphertext.subarray(-16)));
    const plain = Buffer.concat([d.update(blob.ciphertext.subarray(0, -16)), d.final()]);
    expect(plain.equals(Buffer.from(seed))).toBe(true);
  });

  it('is bound to the device, the serial, the slot and every slot parameter', () => {
    const blob = wrapSeed({ devicePublicKey: dev.publicKey, serial, params: hotp, seed });
    const other = generateKeyPair(seededRng(4));
    const variants: Array<[string, () => unknown]> = [
      ['another device key', () => unwrapSeed({ deviceSecretKey: other.secretKey, devicePublicKey: other.publicKey, serial, params: hotp, blob })],
      ['another serial', () => unwrapSeed({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial: 'TF00001235', params: hotp, blob })],
      ['another slot', () => unwrapSeed({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial, params: { ...hotp, slot: 1 }, blob })],
      ['another counter', () => unwrapSeed({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial, params: { ...hotp, counter: 1n }, blob })],
      ['another digits', () => unwrapSeed({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial, params: { ...hotp, digits: 8 }, blob })],
      ['another algorithm', () => unwrapSeed({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial, params: { ...hotp, algorithm: 'SHA256' }, blob })],
      ['another touch policy', () => unwrapSeed({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial, params: { ...hotp, touch: 'always' }, blob })],
      ['a flipped ciphertext bit', () => unwrapSeed({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial, params: hotp, blob: { ...blob, ciphertext: blob.ciphertext.map((b, i) => (i === 0 ? b ^ 1 : b)) } })],
      ['a flipped nonce bit', () => unwrapSeed({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial, params: hotp, blob: { ...blob, nonce: blob.nonce.map((b, i) => (i === 0 ? b ^ 1 : b)) } })],
      ['an invalid ephemeral point', () => unwrapSeed({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial, params: hotp, blob: { ...blob, ephemeralPublicKey: new Uint8Array(65).fill(4) } })],
      ['a short ciphertext', () => unwrapSeed({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial, params: hotp, blob: { ...blob, ciphertext: new Uint8Array(5) } })],
    ];
    for (const [name, f] of variants) expect([name, f()]).toEqual([name, undefined]);
  });

  it('uses a fresh ephemeral key and nonce each time', () => {
    const a = wrapSeed({ devicePublicKey: dev.publicKey, serial, params: hotp, seed });
    const b = wrapSeed({ devicePublicKey: dev.publicKey, serial, params: hotp, seed });
    expect(Buffer.from(a.ephemeralPublicKey).equals(Buffer.from(b.ephemeralPublicKey))).toBe(false);
    expect(Buffer.from(a.ciphertext).equals(Buffer.from(b.ciphertext))).toBe(false);
  });

  it('refuses an invalid device key and an out-of-range seed', () => {
    expect(() => wrapSeed({ devicePublicKey: new Uint8Array(65), serial, params: hotp, seed })).toThrow(/P-256/);
    expect(() => wrapSeed({ devicePublicKey: dev.publicKey, serial, params: hotp, seed: new Uint8Array(0) })).toThrow(/seed/);
    expect(() => wrapSeed({ devicePublicKey: dev.publicKey, serial, params: hotp, seed: new Uint8Array(129) })).toThrow(/seed/);
  });
});

describe('PIN wrapping', () => {
  it('round-trips and is bound to the serial; PIN length is checked', () => {
    const blob = wrapPin({ devicePublicKey: dev.publicKey, serial, pin: '123456' });
    expect(new TextDecoder().decode(unwrapPin({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial, blob })!.exposeSecretBytes())).toBe('123456');
    expect(unwrapPin({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial: 'X', blob })).toBeUndefined();
    // a wrapped PIN is not a wrapped seed (different HKDF info)
    expect(unwrapSeed({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial, params: hotp, blob })).toBeUndefined();
    expect(() => wrapPin({ devicePublicKey: dev.publicKey, serial, pin: '123' })).toThrow(/pin/);
  });
});

describe('attestation', () => {
  const sig = signAttestation(TEST_ATTESTATION_SECRET_KEY, serial, dev.publicKey);
  it('verifies against the right anchor only, bound to serial and key', () => {
    expect(sig.length).toBe(64);
    expect(verifyAttestation({ serial, devicePublicKey: dev.publicKey, attestationSignature: sig }, [TEST_ATTESTATION_PUBLIC_KEY])).toBe(true);
    const other = generateKeyPair(seededRng(8));
    expect(verifyAttestation({ serial, devicePublicKey: dev.publicKey, attestationSignature: sig }, [other.publicKey])).toBe(false);
    expect(verifyAttestation({ serial, devicePublicKey: dev.publicKey, attestationSignature: sig }, [])).toBe(false);
    expect(verifyAttestation({ serial: 'TF00001235', devicePublicKey: dev.publicKey, attestationSignature: sig }, [TEST_ATTESTATION_PUBLIC_KEY])).toBe(false);
    expect(verifyAttestation({ serial, devicePublicKey: other.publicKey, attestationSignature: sig }, [TEST_ATTESTATION_PUBLIC_KEY])).toBe(false);
    expect(verifyAttestation({ serial, devicePublicKey: dev.publicKey, attestationSignature: new Uint8Array(64) }, [TEST_ATTESTATION_PUBLIC_KEY])).toBe(false);
    expect(verifyAttestation({ serial, devicePublicKey: dev.publicKey, attestationSignature: sig }, [new Uint8Array(3)])).toBe(false);
  });
  it('the signed message is domain | 0x00 | len | serial | key', () => {
    const m = attestationMessage('AB', dev.publicKey);
    expect(Buffer.from(m.subarray(0, 28)).toString('latin1')).toBe('tokenforge-attestation-v1\x00\x02A');
    expect(m.length).toBe(25 + 2 + 2 + 65);
  });
  it('the TEST key pair is consistent', () => {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(TEST_ATTESTATION_SECRET_KEY));
    expect(ecdh.getPublicKey('hex')).toBe(Buffer.from(TEST_ATTESTATION_PUBLIC_KEY).toString('hex'));
  });
});

describe('KCV', () => {
  it('is the first 3 bytes of HMAC-SHA256(seed, "tokenforge-kcv")', () => {
    const expected = createHmac('sha256', Buffer.from(seed)).update('tokenforge-kcv').digest().subarray(0, 3);
    expect(Buffer.from(keyCheckValue(seed)).equals(expected)).toBe(true);
    expect(Buffer.from(keyCheckValue(Secret.copyOf(seed))).equals(expected)).toBe(true);
  });
});
