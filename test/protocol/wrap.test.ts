/**
 * Seed/PIN wrapping, attestation and KCV. protocol/wrap.ts runs on node:crypto (OpenSSL); the independent
 * checks here are a @noble (pure JavaScript) reference of the same scheme — wrap with one, unwrap with the other,
 * same bytes from the same rng, same verdicts on signatures and points — plus a few spelled-out node:crypto
 * derivations of the documented steps.
 */
import { describe, expect, it } from 'vitest';
import { createDecipheriv, createECDH, createHmac, generateKeyPairSync, hkdfSync, sign as nodeSign } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { gcm } from '@noble/ciphers/aes.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import type { HotpParams } from '../../otp/otp-params.ts';
import { Secret } from '../../otp/secret.ts';
import type { SlotParams } from '../../protocol/messages.ts';
import { seededRng } from '../../protocol/reference-responder.ts';
import { TEST_ATTESTATION_PUBLIC_KEY, TEST_ATTESTATION_SECRET_KEY } from '../../protocol/test-attestation-key.ts';
import {
  attestationMessage,
  generateKeyPair,
  isValidPublicKey,
  keyCheckValue,
  pinAad,
  seedAad,
  signAttestation,
  unwrapPin,
  unwrapSeed,
  verifyAttestation,
  WRAP_INFO,
  type Rng,
  wrapPin,
  wrapSeed,
} from '../../protocol/wrap.ts';

const seed = new TextEncoder().encode('12345678901234567890');
const serial = 'TF00001234';
const hotpOtp: HotpParams = { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n };
const hotp: SlotParams = { slot: 0, touch: 'never', otp: hotpOtp };
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
      ['another counter', () => unwrapSeed({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial, params: { ...hotp, otp: { ...hotpOtp, counter: 1n } }, blob })],
      ['another digits', () => unwrapSeed({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial, params: { ...hotp, otp: { ...hotpOtp, digits: 8 } }, blob })],
      ['another algorithm', () => unwrapSeed({ deviceSecretKey: dev.secretKey, devicePublicKey: dev.publicKey, serial, params: { ...hotp, otp: { ...hotpOtp, algorithm: 'SHA256' } }, blob })],
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

// ---------------------------------------------------------------------------------------------------------
// @noble reference of the scheme (the implementation protocol/wrap.ts used before it moved to node:crypto)

const enc = new TextEncoder();
const cat = (...p: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(p));

function refKeyPair(rng: Rng): { secretKey: Uint8Array; publicKey: Uint8Array } {
  for (;;) {
    const sk = rng(32);
    if (p256.utils.isValidSecretKey(sk)) return { secretKey: sk, publicKey: p256.getPublicKey(sk, false) };
  }
}

function refWrap(devicePublicKey: Uint8Array, plaintext: Uint8Array, info: string, aad: Uint8Array, rng: Rng) {
  const eph = refKeyPair(rng);
  const z = p256.getSharedSecret(eph.secretKey, devicePublicKey, true).subarray(1, 33);
  const key = hkdf(sha256, z, cat(eph.publicKey, devicePublicKey), enc.encode(info), 32);
  const nonce = rng(12);
  return { ephemeralPublicKey: eph.publicKey, nonce, ciphertext: gcm(key, nonce, aad).encrypt(plaintext) };
}

function refUnwrap(deviceSecretKey: Uint8Array, devicePublicKey: Uint8Array, blob: { ephemeralPublicKey: Uint8Array; nonce: Uint8Array; ciphertext: Uint8Array }, info: string, aad: Uint8Array): Uint8Array | undefined {
  try {
    const z = p256.getSharedSecret(deviceSecretKey, blob.ephemeralPublicKey, true).subarray(1, 33);
    const key = hkdf(sha256, z, cat(blob.ephemeralPublicKey, devicePublicKey), enc.encode(info), 32);
    return gcm(key, blob.nonce, aad).decrypt(blob.ciphertext);
  } catch {
    return undefined;
  }
}

function refIsValidPublicKey(pk: Uint8Array): boolean {
  try {
    return pk.length === 65 && pk[0] === 4 && p256.utils.isValidPublicKey(pk, false);
  } catch {
    return false;
  }
}

function refVerify(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  try {
    return p256.verify(sig, msg, pk);
  } catch {
    return false;
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const flip = (b: Uint8Array, i: number): Uint8Array => b.map((x, j) => (j === i % b.length ? x ^ 1 : x));

/** Random but reproducible inputs: a serial, slot parameters, a seed and a PIN of random lengths. */
function randomCase(r: Rng) {
  const byte = (): number => r(1)[0]!;
  const serial = Array.from({ length: 1 + (byte() % 20) }, () => 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789'[byte() % 34]).join('');
  const counter = BigInt('0x' + hex(r(8)));
  const params: SlotParams =
    byte() % 2 === 0
      ? { slot: byte() % 4, touch: byte() % 2 ? 'always' : 'never', otp: { type: 'hotp', algorithm: (['SHA1', 'SHA256', 'SHA512'] as const)[byte() % 3]!, digits: 6 + (byte() % 3), counter } }
      : { slot: byte() % 4, touch: 'never', otp: { type: 'totp', algorithm: 'SHA1', digits: 6 + (byte() % 3), periodSec: 30 + (byte() % 31), t0Sec: counter >> 40n } };
  const seed = r(1 + (byte() % 128));
  const pin = Array.from({ length: 4 + (byte() % 61) }, () => String(byte() % 10)).join('');
  return { serial, params, seed, pin };
}

describe('node:crypto implementation vs @noble reference', () => {
  const rounds = 16;

  it('derives the same key pairs from the same rng, and agrees on point validity', () => {
    for (let i = 0; i < rounds; i++) {
      const a = generateKeyPair(seededRng(500 + i));
      const b = refKeyPair(seededRng(500 + i));
      expect(hex(a.secretKey)).toBe(hex(b.secretKey));
      expect(hex(a.publicKey)).toBe(hex(b.publicKey));
      // valid points, a flipped bit in X or Y (almost surely off the curve), coordinates >= p, wrong prefix
      const variants = [a.publicKey, flip(a.publicKey, 1 + i), flip(a.publicKey, 33 + i), cat(Uint8Array.of(4), new Uint8Array(64).fill(0xff)), cat(Uint8Array.of(2), a.publicKey.subarray(1)), randomBytes(65), new Uint8Array(65)];
      for (const pk of variants) expect([hex(pk), isValidPublicKey(pk)]).toEqual([hex(pk), refIsValidPublicKey(pk)]);
    }
  });

  it('seeds: same bytes from the same rng; wraps with one unwrap with the other, both ways; both refuse tampering', () => {
    for (let i = 0; i < rounds; i++) {
      const r = seededRng(1000 + i);
      const d = generateKeyPair(r);
      const { serial: s, params, seed: sd } = randomCase(r);
      const aad = seedAad(s, params);
      const mine = wrapSeed({ devicePublicKey: d.publicKey, serial: s, params, seed: sd, rng: seededRng(2000 + i) });
      const ref = refWrap(d.publicKey, sd, WRAP_INFO.seed, aad, seededRng(2000 + i));
      expect(hex(mine.ephemeralPublicKey)).toBe(hex(ref.ephemeralPublicKey));
      expect(hex(mine.nonce)).toBe(hex(ref.nonce));
      expect(hex(mine.ciphertext)).toBe(hex(ref.ciphertext));

      const fresh = wrapSeed({ devicePublicKey: d.publicKey, serial: s, params, seed: sd }); // OS randomness
      expect(hex(refUnwrap(d.secretKey, d.publicKey, fresh, WRAP_INFO.seed, aad)!)).toBe(hex(sd));
      const refFresh = refWrap(d.publicKey, sd, WRAP_INFO.seed, aad, randomBytes);
      expect(hex(unwrapSeed({ deviceSecretKey: d.secretKey, devicePublicKey: d.publicKey, serial: s, params, blob: refFresh })!.exposeSecretBytes())).toBe(hex(sd));

      const bad = { ...refFresh, ciphertext: flip(refFresh.ciphertext, i) };
      expect(unwrapSeed({ deviceSecretKey: d.secretKey, devicePublicKey: d.publicKey, serial: s, params, blob: bad })).toBeUndefined();
      expect(refUnwrap(d.secretKey, d.publicKey, { ...fresh, ciphertext: flip(fresh.ciphertext, i) }, WRAP_INFO.seed, aad)).toBeUndefined();
      const shortTag = { ...refFresh, ciphertext: refFresh.ciphertext.subarray(0, refFresh.ciphertext.length - 4) }; // a blob with its tag cut short does not pass
      expect(unwrapSeed({ deviceSecretKey: d.secretKey, devicePublicKey: d.publicKey, serial: s, params, blob: shortTag })).toBeUndefined();
    }
  });

  it('PINs: same bytes from the same rng; wraps with one unwrap with the other, both ways', () => {
    for (let i = 0; i < rounds; i++) {
      const r = seededRng(3000 + i);
      const d = generateKeyPair(r);
      const { serial: s, pin } = randomCase(r);
      const aad = pinAad(s);
      const mine = wrapPin({ devicePublicKey: d.publicKey, serial: s, pin, rng: seededRng(4000 + i) });
      const ref = refWrap(d.publicKey, enc.encode(pin), WRAP_INFO.pin, aad, seededRng(4000 + i));
      expect([hex(mine.ephemeralPublicKey), hex(mine.nonce), hex(mine.ciphertext)]).toEqual([hex(ref.ephemeralPublicKey), hex(ref.nonce), hex(ref.ciphertext)]);
      const fresh = wrapPin({ devicePublicKey: d.publicKey, serial: s, pin });
      expect(new TextDecoder().decode(refUnwrap(d.secretKey, d.publicKey, fresh, WRAP_INFO.pin, aad))).toBe(pin);
      const refFresh = refWrap(d.publicKey, enc.encode(pin), WRAP_INFO.pin, aad, randomBytes);
      expect(new TextDecoder().decode(unwrapPin({ deviceSecretKey: d.secretKey, devicePublicKey: d.publicKey, serial: s, blob: refFresh })!.exposeSecretBytes())).toBe(pin);
    }
  });

  it('attestation: @noble signatures verify with node:crypto and the reverse; both refuse the same forgeries', () => {
    const N = p256.Point.CURVE().n;
    const toBytes = (v: bigint): Uint8Array => Buffer.from(v.toString(16).padStart(64, '0'), 'hex');
    for (let i = 0; i < rounds; i++) {
      const r = seededRng(5000 + i);
      const d = generateKeyPair(r);
      const { serial: s } = randomCase(r);
      const msg = attestationMessage(s, d.publicKey);
      // factory key on @noble (deterministic signing), verified by both
      const fac = refKeyPair(r);
      const sig = signAttestation(fac.secretKey, s, d.publicKey);
      expect(hex(sig)).toBe(hex(p256.sign(msg, fac.secretKey)));
      const compressed = p256.Point.fromBytes(fac.publicKey).toBytes(true);
      // factory key on OpenSSL (randomised signing, may be high-S), verified by both
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const osslPub = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(-65));
      const osslSig = new Uint8Array(nodeSign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
      const sOf = (g: Uint8Array): bigint => BigInt('0x' + hex(g.subarray(32)));
      const lowS = sOf(osslSig) > N >> 1n ? cat(osslSig.subarray(0, 32), toBytes(N - sOf(osslSig))) : osslSig;
      const highS = cat(sig.subarray(0, 32), toBytes(N - sOf(sig)));
      const cases: Array<[string, Uint8Array, Uint8Array]> = [
        ['noble signature', sig, fac.publicKey],
        ['noble signature, compressed anchor', sig, compressed],
        ['OpenSSL signature as produced', osslSig, osslPub],
        ['OpenSSL signature, low-S form', lowS, osslPub],
        ['high-S twin of a valid signature', highS, fac.publicKey],
        ['flipped bit in r', flip(sig, i % 32), fac.publicKey],
        ['flipped bit in s', flip(sig, 32 + (i % 32)), fac.publicKey],
        ['r = 0', cat(new Uint8Array(32), sig.subarray(32)), fac.publicKey],
        ['s = n', cat(sig.subarray(0, 32), toBytes(N)), fac.publicKey],
        ['65-byte signature', cat(sig, Uint8Array.of(0)), fac.publicKey],
        ['wrong anchor', sig, osslPub],
        ['anchor off the curve', sig, flip(fac.publicKey, 40)],
      ];
      for (const [name, sg, anchor] of cases) {
        const want = refVerify(sg, msg, anchor);
        expect([name, verifyAttestation({ serial: s, devicePublicKey: d.publicKey, attestationSignature: sg }, [anchor])]).toEqual([name, want]);
      }
      expect(verifyAttestation({ serial: s, devicePublicKey: d.publicKey, attestationSignature: sig }, [fac.publicKey])).toBe(true);
      expect(verifyAttestation({ serial: s, devicePublicKey: d.publicKey, attestationSignature: lowS }, [osslPub])).toBe(true);
      expect(verifyAttestation({ serial: s, devicePublicKey: d.publicKey, attestationSignature: highS }, [fac.publicKey])).toBe(false);
    }
  });
});
