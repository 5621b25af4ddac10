/**
 * The verifier service: wires the pure rules (domain/rules.ts) to a store, the master keyring, a clock and an
 * engine cache. Framework-independent; http/handler.ts exposes it over HTTP.
 *
 * Engine cache: an LRU of HOTP engines keyed by the token's registration uid (a re-registered serial gets a new
 * uid, so a stale engine is never used). The decrypted seed lives only inside the engine (which copies and
 * owns it); evicted engines are destroyed (key state zeroed). No per-request key derivation or decryption.
 *
 * Each operation is a named function over an explicit ServiceState; createVerifierService binds them.
 */
import { createHotpEngine, type HotpEngine } from '../otp/engine.ts';
import { timingSafeEqualBytes } from '../otp/compare.ts';
import { otpAlgorithm, otpCounter, otpDigits, type HotpParams, type TotpParams } from '../otp/otp-params.ts';
import type { AuditEntry, AuditFilter, AuditInput } from './domain/audit.ts';
import { decideResync, decideVerify, totpStepAt } from './domain/rules.ts';
import { transition, type AdminEvent } from './domain/states.ts';
import { effectivePolicy, withDynamic, type Policy, type ResyncResult, type TokenRecord, type VerifyResult } from './domain/types.ts';
import { isPublicTestSeed, sameParameters, type BulkRequest, type RegisterRequest, type TokenPatch, type VerifyRequest } from './domain/requests.ts';
import { freshUser, userFailed, userGate, userReset } from './domain/users.ts';
import { VerifierError } from './errors.ts';
import type { Keyring } from './keyring.ts';
import type { Metrics } from './metrics.ts';
import type { ApiKeyRecord, BatchSummary, BulkOutcome, RegisterOutcome, TokenFilter, VerifierStore } from './store/types.ts';

/** An API key as the API shows it: never its hash. */
export interface ApiKeyView {
  id: string;
  role: string;
  label: string | null;
  createdAt: string | null;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}


export interface Clock {
  nowMs(): number;
}

export interface ServiceOptions {
  store: VerifierStore;
  /** Current keyring; called per use so that a rotated key file can be picked up. */
  keyring: () => Keyring;
  policy: Policy;
  clock: Clock;
  metrics: Metrics;
  engineCacheSize?: number;
  randomId: () => string;
}

export type TokenMetadata = Record<string, string | number | boolean | null | { fingerprint: string; name?: string }>;

export interface VerifyOutcome {
  result: VerifyResult;
  /** The token that decided; null when a user verification answers without naming one (locked). */
  serial: string | null;
  detail: Record<string, string | number | boolean | null>;
}

const iso = (ms: number | null): string | null => (ms === null || ms === 0 ? null : new Date(ms).toISOString());

export function keyView(k: ApiKeyRecord): ApiKeyView {
  return { id: k.id, role: k.role, label: k.label, createdAt: iso(k.createdAtMs), lastUsedAt: iso(k.lastUsedAtMs), expiresAt: iso(k.expiresAtMs), revokedAt: iso(k.revokedAtMs) };
}

/** Public view of a token: never the seed or its sealed form. */
export function tokenMetadata(t: TokenRecord, nowMs: number): TokenMetadata {
  const m: TokenMetadata = {
    serial: t.serial,
    type: t.otp.type,
    algorithm: otpAlgorithm(t.otp),
    digits: otpDigits(t.otp),
    user: t.user,
    label: t.label,
    state: t.state,
    failCount: t.failCount,
    throttledUntil: t.throttledUntilMs > nowMs ? iso(t.throttledUntilMs) : null,
    lastUsedAt: iso(t.lastUsedAtMs),
    createdAt: iso(t.createdAtMs),
    updatedAt: iso(t.updatedAtMs),
    keyId: t.seedKid,
    lookAhead: t.lookAhead,
    windowBack: t.windowBack,
    windowForward: t.windowForward,
    resyncWindow: t.resyncWindow,
    pendingResync: t.pendingResync !== null,
    version: t.version,
    batchId: t.batchId,
    stateReason: t.stateReason,
    lostAt: iso(t.lostAtMs),
    revokedAt: iso(t.revokedAtMs),
  };
  if (t.otp.type === 'totp') {
    m['period'] = t.otp.periodSec;
    m['t0'] = Number(t.otp.t0Sec);
    m['lastStep'] = t.lastStep?.toString() ?? null;
    m['driftSteps'] = t.driftSteps;
    m['currentStep'] = totpStepAt(t.otp, nowMs)?.toString() ?? null;
  } else {
    m['counter'] = t.counter.toString();
  }
  if (t.otp.type === 'ocra') m['ocraSuite'] = t.otp.suite;
  m['source'] = t.source === null ? null : { ...t.source };
  return m;
}

export interface ResyncOutcome {
  result: ResyncResult;
  serial: string;
  detail: Record<string, string | number | boolean | null>;
}

/** The service's operations; every front end (http/, a RADIUS adapter) calls these and nothing below them. */
export interface VerifierService {
  register(reqs: RegisterRequest[], actor: string): Promise<{ outcomes: RegisterOutcome[]; tokens: TokenRecord[] }>;
  verify(req: VerifyRequest, actor: string): Promise<VerifyOutcome>;
  resync(serial: string, code1: string, code2: string, actor: string): Promise<ResyncOutcome>;
  setState(serial: string, action: AdminEvent, actor: string, reason?: string | null): Promise<TokenMetadata>;
  remove(serial: string, actor: string, reason?: string | null): Promise<void>;
  /** PATCH: user, label, windows, with a version precondition (VERSION_MISMATCH) and never on a revoked token. */
  update(serial: string, patch: TokenPatch, actor: string): Promise<TokenMetadata>;
  getToken(serial: string): Promise<TokenMetadata>;
  unlockUser(user: string, actor: string, reason?: string | null): Promise<{ user: string; failCount: number; locked: boolean }>;
  /** A page of the registry as metadata, and the serial to continue after (null on the last page). */
  listTokens(filter: TokenFilter): Promise<{ tokens: TokenMetadata[]; nextAfter: string | null }>;
  /** One state action over every token matching the filter, atomically, audited as one entry. */
  bulk(req: BulkRequest, actor: string): Promise<BulkOutcome & { action: AdminEvent; dryRun: boolean }>;
  batch(batchId: string): Promise<BatchSummary>;
  /** API keys without their hashes. */
  listKeys(): Promise<ApiKeyView[]>;
  /** Revokes a key; every instance refuses it within its auth cache TTL (1 s). */
  revokeKey(id: string, actor: string, reason: string | null): Promise<ApiKeyView>;
  auditLog(q: AuditFilter): Promise<AuditEntry[]>;
  /** Destroys every cached engine (key state zeroed). */
  close(): void;
}

/** Everything the operations read: the ports, the policy, and the engine cache. */
interface ServiceState {
  readonly store: VerifierStore;
  readonly keyring: () => Keyring;
  readonly policy: Policy;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly randomId: () => string;
  readonly cacheSize: number;
  /** HOTP engines by registration uid; Map order is recency (LRU). */
  readonly engines: Map<string, HotpEngine>;
}

export function createVerifierService(o: ServiceOptions): VerifierService {
  const s: ServiceState = {
    store: o.store,
    keyring: o.keyring,
    policy: o.policy,
    clock: o.clock,
    metrics: o.metrics,
    randomId: o.randomId,
    cacheSize: o.engineCacheSize ?? 10_000,
    engines: new Map(),
  };
  s.metrics.gauge('tokenforge_engine_cache_size', 'HOTP engines (decrypted keys) held in memory.', () => s.engines.size);
  return {
    register: (reqs, actor) => register(s, reqs, actor),
    verify: (req, actor) => verify(s, req, actor),
    resync: (serial, code1, code2, actor) => resync(s, serial, code1, code2, actor),
    setState: (serial, action, actor, reason) => setState(s, serial, action, actor, reason ?? null),
    remove: (serial, actor, reason) => remove(s, serial, actor, reason ?? null),
    update: (serial, patch, actor) => update(s, serial, patch, actor),
    getToken: (serial) => getToken(s, serial),
    unlockUser: (user, actor, reason) => unlockUser(s, user, actor, reason ?? null),
    listTokens: (f) => listTokens(s, f),
    bulk: (req, actor) => bulk(s, req, actor),
    batch: (id) => batch(s, id),
    listKeys: async () => (await s.store.listApiKeys()).map(keyView),
    revokeKey: (id, actor, reason) => revokeKey(s, id, actor, reason),
    auditLog: (q) => s.store.listAudit(q),
    close: () => close(s),
  };
}

/** The engine of a hotp or totp token (`p` is its `otp`, narrowed by the caller), from the cache or built. */
function engineFor(s: ServiceState, t: TokenRecord, p: HotpParams | TotpParams): HotpEngine {
  const hit = s.engines.get(t.uid);
  if (hit) {
    s.engines.delete(t.uid);
    s.engines.set(t.uid, hit);
    return hit;
  }
  const seed = s.keyring().open(t.serial, t.seedKid, t.seedSealed);
  let engine: HotpEngine;
  try {
    engine = createHotpEngine(seed, { algorithm: p.algorithm, digits: p.digits });
  } finally {
    seed.fill(0);
  }
  s.engines.set(t.uid, engine);
  if (s.engines.size > s.cacheSize) {
    const oldest = s.engines.keys().next().value as string;
    s.engines.get(oldest)?.destroy();
    s.engines.delete(oldest);
  }
  return engine;
}

function dropEngine(s: ServiceState, uid: string): void {
  s.engines.get(uid)?.destroy();
  s.engines.delete(uid);
}

function close(s: ServiceState): void {
  for (const e of s.engines.values()) e.destroy();
  s.engines.clear();
}

function auditOf(s: ServiceState, actor: string, action: string, serial: string | null, result: string, detail: Record<string, unknown>): AuditInput {
  return { atMs: s.clock.nowMs(), actor, action, serial, result, detail };
}

function notFound(serial: string): never {
  throw new VerifierError('NOT_FOUND', `no token with serial ${serial}`);
}

/** True when the existing registration has this secret and these parameters (idempotent re-registration). */
function sameRegistration(s: ServiceState, existing: TokenRecord, req: RegisterRequest): boolean {
  const seed = s.keyring().open(existing.serial, existing.seedKid, existing.seedSealed);
  try {
    return timingSafeEqualBytes(seed, req.secret) && sameParameters(existing.otp, req.otp);
  } finally {
    seed.fill(0);
  }
}

/** A new registration's record: its parameters as parsed, a fresh state, the seed sealed. */
function newRecord(s: ServiceState, r: RegisterRequest, sealed: { kid: string; sealed: Uint8Array }, fingerprint: string | null, nowMs: number): TokenRecord {
  return {
    uid: s.randomId(),
    serial: r.serial,
    user: r.user,
    label: r.label,
    otp: r.otp,
    counter: otpCounter(r.otp) ?? 0n,
    lastStep: r.lastStep,
    driftSteps: 0,
    failCount: 0,
    throttledUntilMs: 0,
    state: 'active',
    pendingResync: null,
    pendingAtMs: 0,
    lastUsedAtMs: null,
    stateReason: null,
    lostAtMs: null,
    revokedAtMs: null,
    seedFingerprint: fingerprint,
    batchId: r.batchId,
    source: r.source,
    lookAhead: r.lookAhead,
    windowBack: r.windowBack,
    windowForward: r.windowForward,
    resyncWindow: r.resyncWindow,
    seedKid: sealed.kid,
    seedSealed: sealed.sealed,
    version: 1,
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
  };
}

/** Registers all or nothing (the store's rule); the decoded secrets are wiped whatever happens. */
async function register(s: ServiceState, reqs: RegisterRequest[], actor: string): Promise<{ outcomes: RegisterOutcome[]; tokens: TokenRecord[] }> {
  const now = s.clock.nowMs();
  const kr = s.keyring();
  const bySerial = new Map<string, RegisterRequest>();
  const records: TokenRecord[] = [];
  try {
    for (const r of reqs) {
      bySerial.set(r.serial, r);
      records.push(newRecord(s, r, kr.seal(r.serial, r.secret), isPublicTestSeed(r.secret) ? null : kr.fingerprint(r.secret), now));
    }
    const rekey = new Set(reqs.filter((r) => r.rekey).map((r) => r.serial));
    const outcomes = await s.store.registerTokens(
      records,
      (existing) => sameRegistration(s, existing, bySerial.get(existing.serial)!),
      (outs) => {
        const created = outs.filter((x) => x.status === 'created').length;
        // A rekey is one entry per retired registration: which serial the seed left, and for which.
        const rekeys = outs.flatMap((x) => (x.retired ?? []).map((old) => auditOf(s, actor, 'rekey', old, 'ok', { to: x.serial })));
        const batchIds = [...new Set(reqs.map((r) => r.batchId).filter((b) => b !== null))];
        const batch = batchIds.length > 0 ? { batchId: batchIds.length === 1 ? batchIds[0]! : batchIds.slice(0, 10) } : {};
        if (outs.length === 1) return [...rekeys, auditOf(s, actor, 'register', outs[0]!.serial, outs[0]!.status, batch)];
        return [...rekeys, auditOf(s, actor, 'register-batch', null, 'ok', { tokens: outs.length, created, existing: outs.length - created, ...batch })];
      },
      { rekey, nowMs: now },
    );
    for (const x of outcomes) s.metrics.inc('tokenforge_registrations_total', { status: x.status }, 'Token registrations by outcome.');
    return { outcomes, tokens: records };
  } finally {
    for (const r of reqs) r.secret.fill(0);
  }
}

async function verifyToken(s: ServiceState, serial: string, code: string, actor: string, clientCounter: bigint | null = null): Promise<VerifyOutcome> {
  const now = s.clock.nowMs();
  const out = await s.store.updateToken(serial, (t) => {
    if (!t) return notFound(serial);
    if (t.otp.type === 'ocra') {
      throw new VerifierError('INVALID_REQUEST', `token ${serial} is an OCRA token; this server verifies hotp and totp tokens only`, { field: 'serial' });
    }
    if (clientCounter !== null && t.otp.type !== 'hotp') {
      throw new VerifierError('INVALID_REQUEST', 'counter: applies to hotp tokens only', { field: 'counter' });
    }
    const d = decideVerify(t, code, now, engineFor(s, t, t.otp), effectivePolicy(s.policy, t), clientCounter);
    return { next: d.next, audit: auditOf(s, actor, 'verify', serial, d.result, d.detail), value: { result: d.result, serial, detail: d.detail } };
  });
  s.metrics.inc('tokenforge_verifications_total', { result: out.result }, 'Verification decisions by result.');
  return out;
}

/** Precedence when a user has several tokens and none accepted. */
const RANK: Record<VerifyResult, number> = { ok: 4, replayed: 3, invalid: 2, locked: 1, disabled: 0 };

/** Verify-by-user looks at every token of the user; this bounds one read (far above any real user). */
const MAX_TOKENS_PER_USER = 100_000;

/**
 * One token tried for a verify-by-user: a match is written (counter/step advance, audited) like verifyToken;
 * a non-match is audited but charges the token nothing (the user's own counter is charged once per attempt).
 */
async function probeToken(s: ServiceState, t: TokenRecord, code: string, actor: string, nowMs: number): Promise<VerifyOutcome | null> {
  return s.store.updateToken<VerifyOutcome | null>(t.serial, (cur) => {
    if (!cur || cur.otp.type === 'ocra') return { next: null, audit: null, value: null };
    const d = decideVerify(cur, code, nowMs, engineFor(s, cur, cur.otp), effectivePolicy(s.policy, cur));
    if (d.result === 'ok') {
      return { next: d.next, audit: auditOf(s, actor, 'verify', cur.serial, 'ok', { ...d.detail, byUser: true }), value: { result: d.result, serial: cur.serial, detail: d.detail } };
    }
    return { next: null, audit: auditOf(s, actor, 'verify', cur.serial, d.result, { byUser: true }), value: { result: d.result, serial: cur.serial, detail: {} } };
  });
}

/**
 * Verify by user (issue 11, NIST SP 800-63B 5.2.2; domain/users.ts): the user's own lock and back-off first,
 * then EVERY hotp/totp token of the user (one group commit); a match charges the other tokens nothing and
 * resets the user's count; no match is one failure of the user. A locked user or token answers only `locked`.
 */
async function verifyByUser(s: ServiceState, user: string, code: string, actor: string): Promise<VerifyOutcome> {
  const now = s.clock.nowMs();
  const u = await s.store.getUser(user);
  const gate = userGate(u, now);
  if (gate) {
    await s.store.appendAudit(auditOf(s, actor, 'verify-user', null, 'locked', { user, reason: gate.reason }));
    s.metrics.inc('tokenforge_verifications_total', { result: 'locked' }, 'Verification decisions by result.');
    return { result: 'locked', serial: null, detail: {} };
  }
  const tokens = (await s.store.findTokensByUser(user, MAX_TOKENS_PER_USER)).filter((t) => t.otp.type !== 'ocra');
  if (tokens.length === 0) throw new VerifierError('NOT_FOUND', `no hotp or totp token is registered for that user`);
  const outs = await Promise.all(tokens.map((t) => probeToken(s, t, code, actor, now)));
  let best: VerifyOutcome | null = null;
  for (const r of outs) if (r && (!best || RANK[r.result] > RANK[best.result])) best = r;
  if (!best) throw new VerifierError('NOT_FOUND', `no hotp or totp token is registered for that user`);
  s.metrics.inc('tokenforge_verifications_total', { result: best.result }, 'Verification decisions by result.');
  if (best.result === 'ok') {
    if (u && userReset(u, now)) await s.store.updateUser(user, (cur) => ({ next: userReset(cur, now), audit: null, value: null }));
    return best;
  }
  const locked = await s.store.updateUser(user, (cur) => {
    const next = userFailed(cur ?? freshUser(user, now), s.policy, now);
    const detail = { user, tokens: tokens.length, userFailCount: next.failCount, locked: next.lockedAtMs !== null };
    return { next, audit: auditOf(s, actor, 'verify-user', null, best.result, detail), value: next.lockedAtMs !== null };
  });
  if (locked || best.result === 'locked') return { result: 'locked', serial: null, detail: {} };
  return { result: best.result, serial: best.serial, detail: {} };
}

async function verify(s: ServiceState, req: VerifyRequest, actor: string): Promise<VerifyOutcome> {
  if (req.serial !== null) return verifyToken(s, req.serial, req.code, actor, req.counter);
  if (req.counter !== null) throw new VerifierError('INVALID_REQUEST', 'counter: give it with serial, not user', { field: 'counter' });
  return verifyByUser(s, req.user!, req.code, actor);
}

/** An administrator lifts a user's lock (verify by user) and resets the user's failure count. */
async function unlockUser(s: ServiceState, user: string, actor: string, reason: string | null): Promise<{ user: string; failCount: number; locked: boolean }> {
  const now = s.clock.nowMs();
  await s.store.updateUser(user, (u) => ({ next: userReset(u, now), audit: auditOf(s, actor, 'unlock-user', null, 'ok', { user, reason }), value: null }));
  return { user, failCount: 0, locked: false };
}

async function resync(s: ServiceState, serial: string, code1: string, code2: string, actor: string): Promise<ResyncOutcome> {
  const now = s.clock.nowMs();
  const out = await s.store.updateToken(serial, (t) => {
    if (!t) return notFound(serial);
    if (t.otp.type === 'ocra') throw new VerifierError('INVALID_REQUEST', `token ${serial} is an OCRA token; resync applies to hotp and totp`, { field: 'serial' });
    const d = decideResync(t, code1, code2, now, engineFor(s, t, t.otp), effectivePolicy(s.policy, t));
    return { next: d.next, audit: auditOf(s, actor, 'resync', serial, d.result, d.detail), value: { result: d.result, serial, detail: d.detail } };
  });
  s.metrics.inc('tokenforge_resyncs_total', { result: out.result }, 'Resynchronisation attempts by result.');
  return out;
}

/** An administrator's state change, as the transition table (domain/states.ts) allows it. */
async function setState(s: ServiceState, serial: string, action: AdminEvent, actor: string, reason: string | null): Promise<TokenMetadata> {
  const now = s.clock.nowMs();
  const updated = await s.store.updateToken(serial, (t) => {
    if (!t) return notFound(serial);
    const next = transition(t, action, s.policy, { nowMs: now, reason });
    if (!next) throw new VerifierError('INVALID_TRANSITION', `token ${serial} is ${t.state}; it cannot take the ${action} action`, { details: { state: t.state } });
    return { next, audit: auditOf(s, actor, action, serial, 'ok', { from: t.state, state: next.state, reason }), value: withDynamic(t, next, now) };
  });
  if (updated.state === 'revoked') dropEngine(s, updated.uid);
  return tokenMetadata(updated, now);
}

async function remove(s: ServiceState, serial: string, actor: string, reason: string | null): Promise<void> {
  const t = await s.store.getToken(serial);
  const ok = await s.store.deleteToken(serial, auditOf(s, actor, 'delete', serial, 'ok', { reason }), reason);
  if (!ok) notFound(serial);
  if (t) dropEngine(s, t.uid);
}

const PATCH_FIELDS = ['user', 'label', 'lookAhead', 'windowBack', 'windowForward', 'resyncWindow'] as const;

async function update(s: ServiceState, serial: string, patch: TokenPatch, actor: string): Promise<TokenMetadata> {
  const now = s.clock.nowMs();
  const after = await s.store.editToken(serial, (t) => {
    if (!t) return notFound(serial);
    if (t.state === 'revoked') throw new VerifierError('INVALID_TRANSITION', `token ${serial} is revoked; a revoked token cannot be updated`, { details: { state: t.state } });
    if (t.version !== patch.version) {
      throw new VerifierError('VERSION_MISMATCH', `token ${serial} is at version ${t.version}, not ${patch.version}; read it again`, { details: { currentVersion: t.version } });
    }
    const edit = { user: t.user, label: t.label, lookAhead: t.lookAhead, windowBack: t.windowBack, windowForward: t.windowForward, resyncWindow: t.resyncWindow };
    const changed: string[] = [];
    for (const k of PATCH_FIELDS) {
      const v = patch[k];
      if (v === undefined || v === edit[k]) continue;
      (edit as Record<string, unknown>)[k] = v;
      changed.push(k);
    }
    const detail: Record<string, unknown> = { changed, version: t.version + 1 };
    if (changed.includes('user')) {
      detail['oldUser'] = t.user;
      detail['newUser'] = edit.user;
    }
    return { edit, audit: auditOf(s, actor, changed.includes('user') ? 'reassign' : 'update', serial, 'ok', detail) };
  });
  return tokenMetadata(after, now);
}

async function getToken(s: ServiceState, serial: string): Promise<TokenMetadata> {
  const t = await s.store.getToken(serial);
  if (!t) return notFound(serial);
  return tokenMetadata(t, s.clock.nowMs());
}

async function listTokens(s: ServiceState, f: TokenFilter): Promise<{ tokens: TokenMetadata[]; nextAfter: string | null }> {
  const now = s.clock.nowMs();
  const rows = await s.store.listTokens(f);
  return { tokens: rows.map((t) => tokenMetadata(t, now)), nextAfter: rows.length === f.limit ? rows[rows.length - 1]!.serial : null };
}

/**
 * Bulk state action (issue 11): the transition table decides per token; tokens it refuses (e.g. already
 * revoked) are matched but not changed. After this returns, no instance accepts a code of a changed token:
 * every changed row's version moved under the store's write lock (store/types.ts bulkUpdate).
 */
async function bulk(s: ServiceState, req: BulkRequest, actor: string): Promise<BulkOutcome & { action: AdminEvent; dryRun: boolean }> {
  const now = s.clock.nowMs();
  const f = req.filter;
  const filter: TokenFilter = { limit: 0 };
  if (f.batch !== undefined) filter.batch = f.batch;
  if (f.user !== undefined) filter.user = f.user;
  if (f.state !== undefined) filter.state = f.state;
  if (f.serials !== undefined) filter.serials = f.serials;
  const revoked: string[] = [];
  const out = await s.store.bulkUpdate(
    filter,
    (t) => {
      const next = transition(t, req.action, s.policy, { nowMs: now, reason: req.reason });
      if (next && next.state === 'revoked') revoked.push(t.uid);
      return next;
    },
    (o) => auditOf(s, actor, `bulk-${req.action}`, null, 'ok', { matched: o.matched, changed: o.changed, filter: { ...f, ...(f.serials ? { serials: f.serials.length } : {}) }, all: req.all, reason: req.reason }),
    req.dryRun,
  );
  if (!req.dryRun) for (const uid of revoked) dropEngine(s, uid);
  return { ...out, action: req.action, dryRun: req.dryRun };
}

async function batch(s: ServiceState, batchId: string): Promise<BatchSummary> {
  const b = await s.store.batchSummary(batchId);
  if (!b) throw new VerifierError('NOT_FOUND', `no token was registered with batch ${batchId}`);
  return b;
}

async function revokeKey(s: ServiceState, id: string, actor: string, reason: string | null): Promise<ApiKeyView> {
  const now = s.clock.nowMs();
  const k = await s.store.revokeApiKey(id, now, auditOf(s, actor, 'api-key-revoke', null, 'ok', { id, reason }));
  if (!k) throw new VerifierError('NOT_FOUND', `no API key with id ${id}`);
  return keyView(k);
}
