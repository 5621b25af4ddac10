/**
 * API-key authentication of HTTP requests. The key comes as `Authorization: Bearer <key>` (or `X-API-Key`);
 * it is checked against the store's record (apikeys.ts: only SHA-256 of the secret is stored, compared in
 * constant time; revoked keys never match), then the route's role is checked (domain/roles.ts).
 *
 * Caches, both bounded: a key that verified is remembered for `cacheMs` (no hash or lookup per request), and a
 * store lookup by key id — also a miss — is remembered for `cacheMs`. So a revocation (on any instance), or a
 * key created while the server runs, takes effect after at most `cacheMs` (1 s: issue 11); an expiry takes
 * effect at once (checked on every request against the cached record). A successful use is written to the
 * key's lastUsedAt at most once per LAST_USED_EVERY_MS per key and process, in the background.
 */
import { keyMatches, keyUsable, parseApiKey } from '../apikeys.ts';
import { roleAllows, type ApiRole } from '../domain/roles.ts';
import { VerifierError } from '../errors.ts';
import type { Clock } from '../service.ts';
import type { ApiKeyRecord, VerifierStore } from '../store/types.ts';
import { headerValue, type HttpRequest } from './types.ts';

export const DEFAULT_KEY_CACHE_MS = 1000;
export const LAST_USED_EVERY_MS = 60_000;
const MAX_LOOKUPS_CACHED = 10_000;
const MAX_KEYS_CACHED = 1000;

export interface KeyAuth {
  readonly store: Pick<VerifierStore, 'getApiKey' | 'touchApiKey'>;
  readonly clock: Clock;
  readonly cacheMs: number;
  /** Store lookups by key id (undefined: no such key), with the time they were made. */
  readonly lookups: Map<string, { rec: ApiKeyRecord | undefined; at: number }>;
  /** Full keys that matched their record, with the time they did. */
  readonly verified: Map<string, { rec: ApiKeyRecord; at: number }>;
  /** When this process last wrote each key's lastUsedAt. */
  readonly touched: Map<string, number>;
}

export function createKeyAuth(store: Pick<VerifierStore, 'getApiKey' | 'touchApiKey'>, clock: Clock, cacheMs = DEFAULT_KEY_CACHE_MS): KeyAuth {
  return { store, clock, cacheMs, lookups: new Map(), verified: new Map(), touched: new Map() };
}

function touch(a: KeyAuth, rec: ApiKeyRecord, now: number): void {
  const last = a.touched.get(rec.id) ?? rec.lastUsedAtMs ?? -Infinity;
  if (now - last < LAST_USED_EVERY_MS) return;
  a.touched.set(rec.id, now);
  if (a.touched.size > MAX_LOOKUPS_CACHED) a.touched.delete(a.touched.keys().next().value as string);
  a.store.touchApiKey(rec.id, now).catch(() => undefined);
}

/** The key the request presents; UNAUTHENTICATED when there is none or the Authorization header is malformed. */
export function presentedKey(headers: HttpRequest['headers']): string {
  const auth = headerValue(headers, 'authorization');
  let key = headerValue(headers, 'x-api-key');
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (!m) throw new VerifierError('UNAUTHENTICATED', 'Authorization header must be "Bearer <api key>"');
    key = m[1]!;
  }
  if (key === undefined) throw new VerifierError('UNAUTHENTICATED', 'an API key is required: send "Authorization: Bearer <key>" (create one with `tokenforge verifier keys create`)');
  return key;
}

/** The record of a valid, unrevoked key; UNAUTHENTICATED otherwise (one message for malformed and unknown). */
export async function checkKey(a: KeyAuth, key: string): Promise<ApiKeyRecord> {
  const now = a.clock.nowMs();
  const hit = a.verified.get(key);
  if (hit && now - hit.at <= a.cacheMs && keyUsable(hit.rec, now)) {
    touch(a, hit.rec, now);
    return hit.rec;
  }
  const parsed = parseApiKey(key);
  if (!parsed) throw new VerifierError('UNAUTHENTICATED', 'API key is malformed or unknown');
  let entry = a.lookups.get(parsed.id);
  if (!entry || now - entry.at > a.cacheMs) {
    entry = { rec: await a.store.getApiKey(parsed.id), at: now };
    a.lookups.set(parsed.id, entry);
    if (a.lookups.size > MAX_LOOKUPS_CACHED) a.lookups.delete(a.lookups.keys().next().value as string);
  }
  if (!entry.rec || !keyMatches(entry.rec, parsed.secret, now)) throw new VerifierError('UNAUTHENTICATED', 'API key is malformed or unknown');
  a.verified.set(key, { rec: entry.rec, at: now });
  if (a.verified.size > MAX_KEYS_CACHED) a.verified.delete(a.verified.keys().next().value as string);
  touch(a, entry.rec, now);
  return entry.rec;
}

/**
 * Authenticates the request and checks that its key's role allows a route that needs `need`; returns the
 * actor named in the audit log (`key:<id>`). UNAUTHENTICATED (401) or FORBIDDEN (403) otherwise.
 */
export async function authenticate(a: KeyAuth, req: HttpRequest, need: ApiRole): Promise<string> {
  const rec = await checkKey(a, presentedKey(req.headers));
  if (!roleAllows(rec.role, need)) throw new VerifierError('FORBIDDEN', `this route needs ${need === 'admin' ? 'an admin' : `a ${need}`} key; key ${rec.id} has role ${rec.role}`);
  return `key:${rec.id}`;
}
