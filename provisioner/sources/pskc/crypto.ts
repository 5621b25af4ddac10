/**
 * PSKC cryptography (RFC 6030 Section 6): algorithm URI tables, value decryption and encryption, ValueMAC,
 * PBKDF2 key derivation (RFC 8018) and RSA key transport.
 *
 * - CBC modes (XML Encryption 1.0 Section 5.2): the CipherValue is IV || ciphertext, PKCS#7 padding.
 * - Key wrap: kw-aesNNN is RFC 3394 (input a multiple of 8 bytes), kw-aes-NNN-pad is RFC 5649.
 * - ValueMAC (RFC 6030 Section 6.1.1): HMAC over the whole decoded CipherValue (IV || ciphertext) under the
 *   MAC key, which itself travels encrypted under the encryption key in MACMethod/MACKey. Checked in
 *   constant time BEFORE decrypting (encrypt-then-MAC); a mismatch is an error, never a warning.
 * - RSA (Section 6.3): rsa-1_5 and rsa-oaep-mgf1p / xmlenc11#rsa-oaep (SHA-1 unless a DigestMethod says
 *   otherwise) through node:crypto privateDecrypt.
 *
 * Errors never include key or plaintext bytes.
 */
import { createCipheriv, createDecipheriv, createHmac, pbkdf2Sync, privateDecrypt, constants, type KeyObject } from 'node:crypto';
import { aeskw, aeskwp } from '@noble/ciphers/aes.js';
import { timingSafeEqualBytes } from '../../../otp/compare.ts';
import { ProvisionerError } from '../../seed.ts';

export const XMLENC = 'http://www.w3.org/2001/04/xmlenc#';
export const XMLENC11 = 'http://www.w3.org/2009/xmlenc11#';
export const XMLDSIG = 'http://www.w3.org/2000/09/xmldsig#';
export const XMLDSIG_MORE = 'http://www.w3.org/2001/04/xmldsig-more#';
export const PKCS5_NS = 'http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#';
export const PBKDF2_URIS = [`${PKCS5_NS}pbkdf2`, 'http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5#pbkdf2', `${XMLENC11}pbkdf2`] as const;

export type CipherKind =
  | { kind: 'cbc'; cipher: 'aes-128-cbc' | 'aes-192-cbc' | 'aes-256-cbc' | 'des-ede3-cbc'; keyBytes: number; blockBytes: number }
  | { kind: 'kw'; keyBytes: number; pad: boolean }
  | { kind: 'rsa'; padding: 'pkcs1' | 'oaep' };

/** Encryption algorithms by the fragment after '#' (the namespace part varies between vendors). */
const CIPHERS: Readonly<Record<string, CipherKind>> = {
  'aes128-cbc': { kind: 'cbc', cipher: 'aes-128-cbc', keyBytes: 16, blockBytes: 16 },
  'aes192-cbc': { kind: 'cbc', cipher: 'aes-192-cbc', keyBytes: 24, blockBytes: 16 },
  'aes256-cbc': { kind: 'cbc', cipher: 'aes-256-cbc', keyBytes: 32, blockBytes: 16 },
  'tripledes-cbc': { kind: 'cbc', cipher: 'des-ede3-cbc', keyBytes: 24, blockBytes: 8 },
  'kw-aes128': { kind: 'kw', keyBytes: 16, pad: false },
  'kw-aes192': { kind: 'kw', keyBytes: 24, pad: false },
  'kw-aes256': { kind: 'kw', keyBytes: 32, pad: false },
  'kw-aes-128-pad': { kind: 'kw', keyBytes: 16, pad: true },
  'kw-aes-192-pad': { kind: 'kw', keyBytes: 24, pad: true },
  'kw-aes-256-pad': { kind: 'kw', keyBytes: 32, pad: true },
  'kw-aes128-pad': { kind: 'kw', keyBytes: 16, pad: true },
  'kw-aes192-pad': { kind: 'kw', keyBytes: 24, pad: true },
  'kw-aes256-pad': { kind: 'kw', keyBytes: 32, pad: true },
  'rsa-1_5': { kind: 'rsa', padding: 'pkcs1' },
  'rsa_1_5': { kind: 'rsa', padding: 'pkcs1' },
  'rsa-oaep-mgf1p': { kind: 'rsa', padding: 'oaep' },
  'rsa-oaep': { kind: 'rsa', padding: 'oaep' },
};

const HMACS: Readonly<Record<string, 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512'>> = {
  'hmac-sha1': 'sha1',
  'hmac-sha224': 'sha224',
  'hmac-sha256': 'sha256',
  'hmac-sha384': 'sha384',
  'hmac-sha512': 'sha512',
};

function fragment(uri: string): string {
  return uri.slice(uri.lastIndexOf('#') + 1).toLowerCase().replace(/^hmac-sha-/, 'hmac-sha');
}

export function cipherFor(uri: string): CipherKind | undefined {
  return CIPHERS[fragment(uri)];
}

export function hmacFor(uri: string): 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512' | undefined {
  return HMACS[fragment(uri)];
}

/** The URIs we write (canonical spellings). */
export const URI = {
  aes128cbc: `${XMLENC}aes128-cbc`,
  hmacSha1: `${XMLDSIG}hmac-sha1`,
  hmacSha256: `${XMLDSIG_MORE}hmac-sha256`,
  pbkdf2: `${PKCS5_NS}pbkdf2`,
} as const;

function decErr(message: string, cause?: unknown): ProvisionerError {
  return new ProvisionerError('INVALID_DECRYPTION', message, cause === undefined ? undefined : { cause });
}

export type DecryptionKey = { kind: 'symmetric'; key: Uint8Array; source: 'psk' | 'password' } | { kind: 'private'; key: KeyObject };

/**
 * Decrypts one CipherValue. `what` names the value for messages ("the secret of key 12345678").
 */
export function decryptValue(algorithmUri: string, key: DecryptionKey | undefined, cipherValue: Uint8Array, what: string, oaepHash = 'sha1'): Uint8Array {
  const alg = cipherFor(algorithmUri);
  if (!alg) throw new ProvisionerError('INVALID_UNSUPPORTED', `${what}: encryption algorithm ${algorithmUri} is not supported (supported: AES-128/192/256-CBC, 3DES-CBC, KW-AES, KW-AES-pad, RSA-1_5, RSA-OAEP)`);
  if (alg.kind === 'rsa') {
    if (!key || key.kind !== 'private') {
      throw new ProvisionerError('INVALID_NEEDS_KEY', `${what} is encrypted to an RSA public key (${fragment(algorithmUri)}); this needs the private key: pass --private-key FILE (PEM)`);
    }
    try {
      if (alg.padding === 'oaep') return new Uint8Array(privateDecrypt({ key: key.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, cipherValue));
      return unpadPkcs1v15(new Uint8Array(privateDecrypt({ key: key.key, padding: constants.RSA_NO_PADDING }, cipherValue)));
    } catch (e) {
      throw decErr(`${what}: RSA decryption failed; is it the private key that matches the certificate in the file?`, e);
    }
  }
  if (!key || key.kind !== 'symmetric') {
    throw new ProvisionerError('INVALID_NEEDS_KEY', `${what} is encrypted (${fragment(algorithmUri)}); give the pre-shared key with --psk HEX or the password with --password`);
  }
  if (key.key.length !== alg.keyBytes) {
    throw decErr(`${what}: ${fragment(algorithmUri)} needs a ${alg.keyBytes}-byte key, but the ${key.source === 'psk' ? 'pre-shared key' : 'derived key'} has ${key.key.length} bytes`);
  }
  if (alg.kind === 'kw') {
    if (!alg.pad && (cipherValue.length < 24 || cipherValue.length % 8 !== 0)) throw decErr(`${what}: a key-wrapped value must be a multiple of 8 bytes and at least 24 bytes, got ${cipherValue.length}`);
    try {
      return (alg.pad ? aeskwp : aeskw)(key.key).decrypt(cipherValue);
    } catch (e) {
      throw decErr(`${what}: key unwrap failed (integrity check) - wrong ${key.source === 'psk' ? 'pre-shared key' : 'password'} or a damaged value`, e);
    }
  }
  if (cipherValue.length < alg.blockBytes * 2 || cipherValue.length % alg.blockBytes !== 0) {
    throw decErr(`${what}: CBC value must be IV plus whole ${alg.blockBytes}-byte blocks, got ${cipherValue.length} bytes (truncated?)`);
  }
  try {
    const d = createDecipheriv(alg.cipher, key.key, cipherValue.subarray(0, alg.blockBytes));
    const out = Buffer.concat([d.update(cipherValue.subarray(alg.blockBytes)), d.final()]);
    const copy = new Uint8Array(out);
    out.fill(0);
    return copy;
  } catch (e) {
    throw decErr(`${what}: decryption failed (bad padding) - wrong ${key.source === 'psk' ? 'pre-shared key' : 'password'} or a damaged value`, e);
  }
}

/**
 * RSAES-PKCS1-v1_5 unpadding (RFC 8017 Section 7.2.2): EM = 0x00 || 0x02 || PS (>= 8 non-zero bytes) || 0x00 || M.
 * Node 20 refuses PKCS#1 v1.5 private decryption (CVE-2023-46809, the Marvin timing oracle), so we decrypt
 * raw and unpad here. That oracle needs an online victim answering many chosen ciphertexts; importing a
 * vendor file offline is not one, and the check below scans the whole block without an early exit anyway.
 */
export function unpadPkcs1v15(em: Uint8Array): Uint8Array {
  let bad = (em[0] ?? 1) | ((em[1] ?? 0) ^ 2);
  let sep = 0;
  for (let i = 2; i < em.length; i++) {
    const isZero = em[i] === 0 ? 1 : 0;
    const first = isZero & (sep === 0 ? 1 : 0);
    sep = first ? i : sep;
  }
  bad |= sep === 0 || sep < 10 ? 1 : 0;
  const out = em.slice(sep + 1);
  em.fill(0);
  if (bad !== 0) throw new Error('PKCS#1 v1.5 padding check failed');
  return out;
}

/** AES-CBC encryption with a fresh IV from `rng`; returns IV || ciphertext (the CipherValue). */
export function encryptCbc(key: Uint8Array, plaintext: Uint8Array, rng: (n: number) => Uint8Array): Uint8Array {
  const cipher = key.length === 16 ? 'aes-128-cbc' : key.length === 24 ? 'aes-192-cbc' : key.length === 32 ? 'aes-256-cbc' : undefined;
  if (!cipher) throw new ProvisionerError('INVALID_ARGUMENT', `encryption key must be 16, 24 or 32 bytes, got ${key.length}`);
  const iv = rng(16);
  const c = createCipheriv(cipher, key, iv);
  return new Uint8Array(Buffer.concat([iv, c.update(plaintext), c.final()]));
}

export function hmac(hash: 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512', key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac(hash, key).update(data).digest());
}

/** Throws INVALID_MAC unless `mac` is HMAC(macKey, cipherValue) (constant-time compare). */
export function checkValueMac(macUri: string, macKey: Uint8Array, cipherValue: Uint8Array, mac: Uint8Array, what: string): void {
  const hash = hmacFor(macUri);
  if (!hash) throw new ProvisionerError('INVALID_UNSUPPORTED', `MAC algorithm ${macUri} is not supported (supported: HMAC-SHA1/224/256/384/512)`);
  const expected = hmac(hash, macKey, cipherValue);
  if (!timingSafeEqualBytes(expected, mac)) {
    throw new ProvisionerError('INVALID_MAC', `${what}: ValueMAC does not match - wrong key/password, or the file was altered; refusing the value`);
  }
}

export interface Pbkdf2Params {
  salt: Uint8Array;
  iterations: number;
  keyLength: number;
  /** PRF hash (default sha1 per PKCS #5). */
  prf: 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
}

export const MAX_PBKDF2_ITERATIONS = 10_000_000;

export function derivePbkdf2(password: string, p: Pbkdf2Params): Uint8Array {
  if (!Number.isInteger(p.iterations) || p.iterations < 1 || p.iterations > MAX_PBKDF2_ITERATIONS) {
    throw new ProvisionerError('INVALID_PSKC', `PBKDF2: IterationCount ${p.iterations} is outside 1..${MAX_PBKDF2_ITERATIONS}`);
  }
  if (!Number.isInteger(p.keyLength) || p.keyLength < 1 || p.keyLength > 64) throw new ProvisionerError('INVALID_PSKC', `PBKDF2: KeyLength ${p.keyLength} is outside 1..64`);
  return new Uint8Array(pbkdf2Sync(Buffer.from(password, 'utf8'), p.salt, p.iterations, p.keyLength, p.prf));
}
