/**
 * Seed encryption at rest (REQUIREMENTS C16): AES-256-GCM under a master key identified by a key id.
 *
 * Sealed format: iv(12) | ciphertext | tag(16). The additional authenticated data binds the sealed seed to its
 * serial and key id, so a sealed blob copied to another row (or relabelled with another key id) fails to open.
 * The keyring holds several keys: the current one seals, all of them open (rotation re-seals everything under
 * the current key, see store.reseal). Errors never include key or seed bytes.
 *
 * Seed fingerprints (issue 11, seed identity): HMAC-SHA256(Kfp, seed) with Kfp = HKDF-SHA256(first key of the
 * file, salt empty, info FINGERPRINT_INFO). Keyed, so a database dump does not let anyone test a guessed or
 * leaked seed file against it without the key file; derived from the FIRST key, which rotation never removes
 * (it appends), so fingerprints stay stable across rotations. Removing the first key from the file changes
 * every fingerprint (docs/verifier.md).
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { VerifierError } from './errors.ts';

const IV_LEN = 12;
const TAG_LEN = 16;
export const MASTER_KEY_LEN = 32;
const KID_RE = /^[A-Za-z0-9._-]{1,64}$/;

export interface Keyring {
  /** Key id used to seal. */
  readonly currentKid: string;
  readonly kids: readonly string[];
  seal(serial: string, seed: Uint8Array): { kid: string; sealed: Uint8Array };
  /** Throws VerifierError MASTER_KEY when the kid is unknown or the blob does not authenticate. */
  open(serial: string, kid: string, sealed: Uint8Array): Uint8Array;
  /** Keyed fingerprint of a seed (64 hex digits); see the module comment. */
  fingerprint(seed: Uint8Array): string;
}

export const FINGERPRINT_INFO = 'tokenforge/verifier/seed-fingerprint/v1';

function aad(serial: string, kid: string): Buffer {
  return Buffer.from(`tokenforge/verifier/seed/v1\u0000${serial}\u0000${kid}`, 'utf8');
}

export function createKeyring(keys: ReadonlyArray<{ kid: string; key: Uint8Array }>, random: (n: number) => Uint8Array = randomBytes): Keyring {
  if (keys.length === 0) throw new VerifierError('MASTER_KEY', 'master key file holds no key; create one with `tokenforge verifier rotate-key` or delete the file to generate a new one');
  const map = new Map<string, Buffer>();
  for (const { kid, key } of keys) {
    if (!KID_RE.test(kid)) throw new VerifierError('MASTER_KEY', `master key id "${kid.slice(0, 64)}" is not 1-64 characters of [A-Za-z0-9._-]`);
    if (key.length !== MASTER_KEY_LEN) throw new VerifierError('MASTER_KEY', `master key ${kid} is ${key.length} bytes; AES-256 needs exactly 32`);
    if (map.has(kid)) throw new VerifierError('MASTER_KEY', `master key id ${kid} appears twice in the key file`);
    map.set(kid, Buffer.from(key));
  }
  const currentKid = keys[keys.length - 1]!.kid;
  const fpKey = Buffer.from(hkdfSync('sha256', map.get(keys[0]!.kid)!, new Uint8Array(0), FINGERPRINT_INFO, 32));
  return {
    currentKid,
    kids: [...map.keys()],
    seal(serial, seed) {
      const key = map.get(currentKid)!;
      const iv = random(IV_LEN);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LEN });
      cipher.setAAD(aad(serial, currentKid));
      const ct = Buffer.concat([cipher.update(seed), cipher.final()]);
      const out = new Uint8Array(IV_LEN + ct.length + TAG_LEN);
      out.set(iv, 0);
      out.set(ct, IV_LEN);
      out.set(cipher.getAuthTag(), IV_LEN + ct.length);
      ct.fill(0);
      return { kid: currentKid, sealed: out };
    },
    open(serial, kid, sealed) {
      const key = map.get(kid);
      if (!key) throw new VerifierError('MASTER_KEY', `seed of token ${serial} is sealed under master key ${kid}, which is not in the key file`);
      if (sealed.length < IV_LEN + TAG_LEN) throw new VerifierError('MASTER_KEY', `sealed seed of token ${serial} is truncated`);
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_LEN), { authTagLength: TAG_LEN });
      decipher.setAAD(aad(serial, kid));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LEN));
      try {
        const pt = Buffer.concat([decipher.update(sealed.subarray(IV_LEN, sealed.length - TAG_LEN)), decipher.final()]);
        const out = new Uint8Array(pt);
        pt.fill(0);
        return out;
      } catch (e) {
        throw new VerifierError('MASTER_KEY', `sealed seed of token ${serial} does not authenticate under master key ${kid} (wrong key file or altered row)`, { cause: e });
      }
    },
    fingerprint(seed) {
      return createHmac('sha256', fpKey).update(seed).digest('hex');
    },
  };
}

/** Key file: comment lines (#) and `<kid> <64 hex digits>` lines; the last key seals. */
export function parseKeyFile(text: string): Array<{ kid: string; key: Uint8Array }> {
  const out: Array<{ kid: string; key: Uint8Array }> = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s+([0-9a-fA-F]{64})$/.exec(line);
    if (!m) throw new VerifierError('MASTER_KEY', `master key file line ${i + 1} is not "<key-id> <64 hex digits>"`);
    out.push({ kid: m[1]!, key: Uint8Array.from(Buffer.from(m[2]!, 'hex')) });
  }
  return out;
}

export function formatKeyFile(keys: ReadonlyArray<{ kid: string; key: Uint8Array }>): string {
  return (
    '# tokenforge verifier master keys. Keep this file secret (mode 0600) and backed up: without it the stored\n' +
    '# seeds cannot be decrypted. The last key seals new seeds; all listed keys can open.\n' +
    keys.map((k) => `${k.kid} ${Buffer.from(k.key).toString('hex')}`).join('\n') +
    '\n'
  );
}

export function newKeyId(nowMs: number, random: (n: number) => Uint8Array = randomBytes): string {
  const d = new Date(nowMs).toISOString().slice(0, 10).replace(/-/g, '');
  return `k${d}-${Buffer.from(random(3)).toString('hex')}`;
}
