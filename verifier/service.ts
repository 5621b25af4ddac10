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
import { sameParameters, type RegisterRequest, type VerifyRequest } from './domain/requests.ts';
import { VerifierError } from './errors.ts';
import type { Keyring } from './keyring.ts';
import type { Metrics } from './metrics.ts';
import type { RegisterOutcome, VerifierStore } from './store/types.ts';

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

export type TokenMetadata = Record<string, string | number | boolean | null>;

export interface VerifyOutcome {
  result: VerifyResult;
  serial: string;
  detail: Record<string, string | number | boolean | null>;
}

const iso = (ms: number | null): string | null => (ms === null || ms === 0 ? null : new Date(ms).toISOString());

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
  setState(serial: string, action: AdminEvent, actor: string): Promise<TokenMetadata>;
  remove(serial: string, actor: string): Promise<void>;
  getToken(serial: string): Promise<TokenMetadata>;
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
    setState: (serial, action, actor) => setState(s, serial, action, actor),
    remove: (serial, actor) => remove(s, serial, actor),
    getToken: (serial) => getToken(s, serial),
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
function newRecord(s: ServiceState, r: RegisterRequest, sealed: { kid: string; sealed: Uint8Array }, nowMs: number): TokenRecord {
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
      records.push(newRecord(s, r, kr.seal(r.serial, r.secret), now));
    }
    const outcomes = await s.store.registerTokens(
      records,
      (existing) => sameRegistration(s, existing, bySerial.get(existing.serial)!),
      (outs) => {
        const created = outs.filter((x) => x.status === 'created').length;
        if (outs.length === 1) return [auditOf(s, actor, 'register', outs[0]!.serial, outs[0]!.status, {})];
        return [auditOf(s, actor, 'register-batch', null, 'ok', { tokens: outs.length, created, existing: outs.length - created })];
      },
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

async function verify(s: ServiceState, req: VerifyRequest, actor: string): Promise<VerifyOutcome> {
  if (req.serial !== null) return verifyToken(s, req.serial, req.code, actor, req.counter);
  if (req.counter !== null) throw new VerifierError('INVALID_REQUEST', 'counter: give it with serial, not user', { field: 'counter' });
  const tokens = (await s.store.findTokensByUser(req.user!, 20)).filter((t) => t.otp.type !== 'ocra');
  if (tokens.length === 0) throw new VerifierError('NOT_FOUND', `no hotp or totp token is registered for that user`);
  let best: VerifyOutcome | null = null;
  for (const t of tokens) {
    const r = await verifyToken(s, t.serial, req.code, actor);
    if (r.result === 'ok') return r;
    if (!best || RANK[r.result] > RANK[best.result]) best = r;
  }
  return best!;
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
async function setState(s: ServiceState, serial: string, action: AdminEvent, actor: string): Promise<TokenMetadata> {
  const now = s.clock.nowMs();
  const updated = await s.store.updateToken(serial, (t) => {
    if (!t) return notFound(serial);
    const next = transition(t, action, s.policy);
    if (!next) throw new VerifierError('CONFLICT', `token ${serial} is ${t.state}; it cannot take the ${action} action`);
    return { next, audit: auditOf(s, actor, action, serial, 'ok', { state: next.state }), value: withDynamic(t, next, now) };
  });
  return tokenMetadata(updated, now);
}

async function remove(s: ServiceState, serial: string, actor: string): Promise<void> {
  const t = await s.store.getToken(serial);
  const ok = await s.store.deleteToken(serial, auditOf(s, actor, 'delete', serial, 'ok', {}));
  if (!ok) notFound(serial);
  if (t) dropEngine(s, t.uid);
}

async function getToken(s: ServiceState, serial: string): Promise<TokenMetadata> {
  const t = await s.store.getToken(serial);
  if (!t) return notFound(serial);
  return tokenMetadata(t, s.clock.nowMs());
}
