/**
 * Seeds at rest in the journal: the journal key and the sealing of each seed.
 *
 * Sealing: AES-256-GCM, a fresh 12-byte random nonce per seed, the seed's row id in the associated data (a
 * ciphertext cannot be moved to another row). The 32-byte journal key is EITHER
 *   - random, in a key file `<journal>.key` beside the journal, created with mode 0600 (O_EXCL) and refused
 *     on open if group/other can read it — the default; or
 *   - derived from a passphrase with scrypt (N=2^15, r=8, p=1, 16-byte random salt kept in the journal).
 * The journal's `meta` table says which (`kdf`). A key check value (an encryption of a constant, `key_check`)
 * makes a wrong key fail with JOURNAL_KEY before anything else happens. Neither the key, nor the passphrase,
 * nor a seed is ever written in clear.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ProvisionFault } from '../faults.ts';

/** How the journal key is kept. */
export type JournalKeyOptions = { kind: 'file' } | { kind: 'passphrase'; passphrase: string };

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_CHECK_PLAINTEXT = 'tokenforge journal key check v1';
const KEY_CHECK_AAD = 'tokenforge-journal/v1/key-check';
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

const seedAad = (id: number): string => `tokenforge-journal/v1/seed/${id}`;

export function keyFilePath(journalPath: string): string {
  return `${journalPath}.key`;
}

/** fsync of the directory holding `path`, so a create or rename in it is durable. */
export function fsyncDir(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dirname(path), 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function writeKeyFile(path: string, key: Uint8Array): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, `${Buffer.from(key).toString('hex')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncDir(path);
}

function readKeyFile(path: string): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new ProvisionFault('JOURNAL_KEY', `journal key file ${path} is missing; it is created beside the journal and needed to read its seeds (or pass the journal passphrase if the journal was made with one)`);
  }
  if ((st.mode & 0o077) !== 0) throw new ProvisionFault('JOURNAL_KEY', `journal key file ${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${path}`);
  const text = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(text)) throw new ProvisionFault('JOURNAL_KEY', `journal key file ${path} is not 64 hex digits`);
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

function deriveKey(passphrase: string, salt: Uint8Array): Uint8Array {
  if (passphrase.length < 8) throw new ProvisionFault('INVALID_ARGUMENT', 'the journal passphrase must be at least 8 characters');
  return Uint8Array.from(scryptSync(passphrase.normalize('NFC'), salt, KEY_BYTES, SCRYPT));
}

/**
 * A new key for the journal at `journalPath`, and its `kdf` meta value. With a key file the file is written
 * (fsync'ed) before this returns; a key file without its journal is left over from a creation that was
 * interrupted — no seed of it was ever used (the journal never appeared), so it is replaced.
 */
export function newJournalKey(journalPath: string, o: JournalKeyOptions): { key: Uint8Array; kdf: string } {
  if (o.kind === 'file') {
    const kf = keyFilePath(journalPath);
    rmSync(kf, { force: true });
    const key = Uint8Array.from(randomBytes(KEY_BYTES));
    writeKeyFile(kf, key);
    return { key, kdf: JSON.stringify({ kind: 'file' }) };
  }
  const salt = Uint8Array.from(randomBytes(16));
  const key = deriveKey(o.passphrase, salt);
  return { key, kdf: JSON.stringify({ kind: 'scrypt', salt: Buffer.from(salt).toString('hex'), N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p }) };
}

/** Removes the key file a failed creation wrote (nothing to do for a passphrase). */
export function discardJournalKey(journalPath: string, o: JournalKeyOptions): void {
  if (o.kind === 'file') rmSync(keyFilePath(journalPath), { force: true });
}

/** The key of an existing journal from its `kdf` and `key_check` meta values; JOURNAL_KEY if it is not the right one. */
export function journalKey(journalPath: string, kdfMeta: string | undefined, keyCheckMeta: string | undefined, o: JournalKeyOptions): Uint8Array {
  const kdf = JSON.parse(kdfMeta ?? '{}') as { kind?: string; salt?: string };
  let key: Uint8Array;
  if (kdf.kind === 'file') {
    if (o.kind !== 'file') throw new ProvisionFault('JOURNAL_KEY', `journal ${journalPath} uses a key file (${keyFilePath(journalPath)}), not a passphrase`);
    key = readKeyFile(keyFilePath(journalPath));
  } else if (kdf.kind === 'scrypt' && typeof kdf.salt === 'string') {
    if (o.kind !== 'passphrase') throw new ProvisionFault('JOURNAL_KEY', `journal ${journalPath} was made with a passphrase; give it again to resume`);
    key = deriveKey(o.passphrase, Uint8Array.from(Buffer.from(kdf.salt, 'hex')));
  } else {
    throw new ProvisionFault('JOURNAL_CORRUPT', `journal ${journalPath} names an unknown key derivation`);
  }
  const kc = JSON.parse(keyCheckMeta ?? '{}') as { nonce?: string; ct?: string };
  const pt = open(key, Uint8Array.from(Buffer.from(kc.nonce ?? '', 'hex')), Uint8Array.from(Buffer.from(kc.ct ?? '', 'hex')), KEY_CHECK_AAD);
  const expected = Buffer.from(KEY_CHECK_PLAINTEXT, 'utf8');
  if (pt.length !== expected.length || !timingSafeEqual(pt, expected)) {
    key.fill(0);
    throw new ProvisionFault('JOURNAL_KEY', 'the journal key does not open this journal');
  }
  return key;
}

/** The `key_check` meta value for `key`. */
export function keyCheckMeta(key: Uint8Array): string {
  const check = seal(key, new TextEncoder().encode(KEY_CHECK_PLAINTEXT), KEY_CHECK_AAD);
  return JSON.stringify({ nonce: Buffer.from(check.nonce).toString('hex'), ct: Buffer.from(check.ciphertext).toString('hex') });
}

/** Seals the seed of row `id`. */
export function sealSeed(key: Uint8Array, id: number, seed: Uint8Array): { nonce: Uint8Array; ciphertext: Uint8Array } {
  return seal(key, seed, seedAad(id));
}

/** Opens the seed of row `id`; JOURNAL_KEY when it does not decrypt. */
export function openSeed(key: Uint8Array, id: number, nonce: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return open(key, nonce, ciphertext, seedAad(id));
}

function seal(key: Uint8Array, plaintext: Uint8Array, aad: string): { nonce: Uint8Array; ciphertext: Uint8Array } {
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  return { nonce: Uint8Array.from(nonce), ciphertext: Uint8Array.from(body) };
}

function open(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad: string): Uint8Array {
  if (nonce.length !== NONCE_BYTES || ciphertext.length < TAG_BYTES) throw new ProvisionFault('JOURNAL_CORRUPT', 'journal ciphertext has a bad length');
  const d = createDecipheriv('aes-256-gcm', key, nonce);
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_BYTES));
  try {
    const out = Buffer.concat([d.update(ciphertext.subarray(0, ciphertext.length - TAG_BYTES)), d.final()]);
    return Uint8Array.from(out);
  } catch (e) {
    throw new ProvisionFault('JOURNAL_KEY', 'a journal record does not decrypt: wrong journal key/passphrase or a damaged journal', { cause: e });
  }
}
