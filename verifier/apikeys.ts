/**
 * API keys: `tfv_<id>_<secret>` where id is 12 hex digits (the lookup key, safe to log) and secret is 32 random
 * bytes in base64url. Only SHA-256(secret) is stored; the full key is shown once at creation. Keys carry a role:
 * `admin` (everything) or `verify` (verify and resync only).
 */
import { createHash, randomBytes } from 'node:crypto';
import { timingSafeEqualString } from '../otp/compare.ts';
import type { ApiRole } from './domain/roles.ts';
import type { ApiKeyRecord } from './store/types.ts';

const KEY_RE = /^tfv_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export function hashKeySecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function generateApiKey(
  role: ApiRole,
  label: string | null,
  nowMs: number,
  random: (n: number) => Uint8Array = randomBytes,
  expiresAtMs: number | null = null,
): { key: string; record: ApiKeyRecord } {
  const id = Buffer.from(random(6)).toString('hex');
  const secret = Buffer.from(random(32)).toString('base64url');
  return {
    key: `tfv_${id}_${secret}`,
    record: { id, role, hash: hashKeySecret(secret), label, createdAtMs: nowMs, revokedAtMs: null, expiresAtMs, lastUsedAtMs: null },
  };
}

export function parseApiKey(key: string): { id: string; secret: string } | null {
  const m = KEY_RE.exec(key);
  return m ? { id: m[1]!, secret: m[2]! } : null;
}

/** True while the key may be used: not revoked, not expired at `nowMs`. */
export function keyUsable(rec: ApiKeyRecord, nowMs: number): boolean {
  return rec.revokedAtMs === null && (rec.expiresAtMs === null || nowMs < rec.expiresAtMs);
}

export function keyMatches(rec: ApiKeyRecord, secret: string, nowMs: number): boolean {
  return keyUsable(rec, nowMs) && timingSafeEqualString(rec.hash, hashKeySecret(secret));
}
