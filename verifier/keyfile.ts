/**
 * Master key file handling (shell): create on first run with mode 0600, load, reload when the file changes
 * (so `rotate-key` reaches running servers), and rotate (append a new key atomically).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, statSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { VerifierError } from './errors.ts';
import { createKeyring, formatKeyFile, MASTER_KEY_LEN, newKeyId, parseKeyFile, type Keyring } from './keyring.ts';

export type KeyEntry = { kid: string; key: Uint8Array };

export function readKeyFile(path: string): KeyEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new VerifierError('MASTER_KEY', `cannot read master key file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
  }
  return parseKeyFile(text);
}

/** Writes the key file atomically (temp file with mode 0600, then rename). */
export function writeKeyFile(path: string, keys: readonly KeyEntry[]): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, formatKeyFile(keys), { mode: 0o600, flag: 'w' });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** Creates a key file with one fresh key; fails if it exists. */
export function createKeyFile(path: string, nowMs: number): KeyEntry[] {
  const keys = [{ kid: newKeyId(nowMs), key: Uint8Array.from(randomBytes(MASTER_KEY_LEN)) }];
  writeFileSync(path, formatKeyFile(keys), { mode: 0o600, flag: 'wx' });
  return keys;
}

export function keyFileExists(path: string): boolean {
  return existsSync(path);
}

/** Mode bits that let group/others read the file (a warning, not an error). */
export function looseMode(path: string): boolean {
  return (statSync(path).mode & 0o077) !== 0;
}

/** A keyring getter that re-reads the file when its mtime or size changes (checked at most once a second). */
export function watchedKeyring(path: string, nowMs: () => number = Date.now): () => Keyring {
  let ring = createKeyring(readKeyFile(path));
  let sig = signature(path);
  let checkedAt = nowMs();
  return () => {
    const now = nowMs();
    if (now - checkedAt >= 1000) {
      checkedAt = now;
      const s = signature(path);
      if (s !== sig) {
        ring = createKeyring(readKeyFile(path));
        sig = s;
      }
    }
    return ring;
  };
}

function signature(path: string): string {
  try {
    const s = statSync(path);
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    return 'missing';
  }
}

/** Appends a new key (which becomes the sealing key) and returns the new list. */
export function appendKey(path: string, nowMs: number): { keys: KeyEntry[]; kid: string } {
  const keys = readKeyFile(path);
  let kid = newKeyId(nowMs);
  while (keys.some((k) => k.kid === kid)) kid = newKeyId(nowMs);
  const next = [...keys, { kid, key: Uint8Array.from(randomBytes(MASTER_KEY_LEN)) }];
  writeKeyFile(path, next);
  return { keys: next, kid };
}
