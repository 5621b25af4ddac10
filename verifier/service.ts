/**
 * The verifier service: wires the pure rules (domain/rules.ts) to a store, the master keyring, a clock and an
 * engine cache. Framework-independent; http/handler.ts exposes it over HTTP.
 *
 * Engine cache: an LRU of HOTP engines keyed by the token's registration uid (a re-registered serial gets a new
 * uid, so a stale engine is never used). The decrypted seed lives only inside the engine (which copies and
 * owns it); evicted engines are destroyed (key state zeroed). No per-request key derivation or decryption.
 */
import { createHotpEngine, type HotpEngine } from '../otp/engine.ts';
import { timingSafeEqualBytes } from '../otp/compare.ts';
import { otpAlgorithm, otpCounter, otpDigits, type HotpParams, type TotpParams } from '../otp/otp-params.ts';
import type { AuditFilter, AuditInput } from './domain/audit.ts';
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

export function createVerifierService(o: ServiceOptions) {
  const { store, clock, metrics } = o;
  const cacheSize = o.engineCacheSize ?? 10_000;
  const engines = new Map<string, HotpEngine>();
  metrics.gauge('tokenforge_engine_cache_size', 'HOTP engines (decrypted keys) held in memory.', () => engines.size);

  /** The engine of a hotp or totp token (`p` is its `otp`, narrowed by the caller). */
  const engineFor = (t: TokenRecord, p: HotpParams | TotpParams): HotpEngine => {
    const hit = engines.get(t.uid);
    if (hit) {
      engines.delete(t.uid);
      engines.set(t.uid, hit);
      return hit;
    }
    const seed = o.keyring().open(t.serial, t.seedKid, t.seedSealed);
    let engine: HotpEngine;
    try {
      engine = createHotpEngine(seed, { algorithm: p.algorithm, digits: p.digits });
    } finally {
      seed.fill(0);
    }
    engines.set(t.uid, engine);
    if (engines.size > cacheSize) {
      const oldest = engines.keys().next().value as string;
      engines.get(oldest)?.destroy();
      engines.delete(oldest);
    }
    return engine;
  };
  const dropEngine = (uid: string): void => {
    engines.get(uid)?.destroy();
    engines.delete(uid);
  };

  const audit = (actor: string, action: string, serial: string | null, result: string, detail: Record<string, unknown>): AuditInput => ({
    atMs: clock.nowMs(),
    actor,
    action,
    serial,
    result,
    detail,
  });

  const notFound = (serial: string): never => {
    throw new VerifierError('NOT_FOUND', `no token with serial ${serial}`);
  };

  /** True when the existing registration has this secret and these parameters (idempotent re-registration). */
  const sameRegistration = (existing: TokenRecord, req: RegisterRequest): boolean => {
    const seed = o.keyring().open(existing.serial, existing.seedKid, existing.seedSealed);
    try {
      return timingSafeEqualBytes(seed, req.secret) && sameParameters(existing.otp, req.otp);
    } finally {
      seed.fill(0);
    }
  };

  async function register(reqs: RegisterRequest[], actor: string): Promise<{ outcomes: RegisterOutcome[]; tokens: TokenRecord[] }> {
    const now = clock.nowMs();
    const kr = o.keyring();
    const bySerial = new Map<string, RegisterRequest>();
    const records: TokenRecord[] = [];
    try {
      for (const r of reqs) {
        bySerial.set(r.serial, r);
        const { kid, sealed } = kr.seal(r.serial, r.secret);
        records.push({
          uid: o.randomId(),
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
          seedKid: kid,
          seedSealed: sealed,
          version: 1,
          createdAtMs: now,
          updatedAtMs: now,
        });
      }
      const outcomes = await store.registerTokens(
        records,
        (existing) => sameRegistration(existing, bySerial.get(existing.serial)!),
        (outs) => {
          const created = outs.filter((x) => x.status === 'created').length;
          if (outs.length === 1) return [audit(actor, 'register', outs[0]!.serial, outs[0]!.status, {})];
          return [audit(actor, 'register-batch', null, 'ok', { tokens: outs.length, created, existing: outs.length - created })];
        },
      );
      for (const x of outcomes) metrics.inc('tokenforge_registrations_total', { status: x.status }, 'Token registrations by outcome.');
      return { outcomes, tokens: records };
    } finally {
      for (const r of reqs) r.secret.fill(0);
    }
  }

  async function verifyToken(serial: string, code: string, actor: string, clientCounter: bigint | null = null): Promise<VerifyOutcome> {
    const now = clock.nowMs();
    const out = await store.updateToken(serial, (t) => {
      if (!t) return notFound(serial);
      if (t.otp.type === 'ocra') {
        throw new VerifierError('INVALID_REQUEST', `token ${serial} is an OCRA token; this server verifies hotp and totp tokens only`, { field: 'serial' });
      }
      if (clientCounter !== null && t.otp.type !== 'hotp') {
        throw new VerifierError('INVALID_REQUEST', 'counter: applies to hotp tokens only', { field: 'counter' });
      }
      const d = decideVerify(t, code, now, engineFor(t, t.otp), effectivePolicy(o.policy, t), clientCounter);
      return { next: d.next, audit: audit(actor, 'verify', serial, d.result, d.detail), value: { result: d.result, serial, detail: d.detail } };
    });
    metrics.inc('tokenforge_verifications_total', { result: out.result }, 'Verification decisions by result.');
    return out;
  }

  /** Precedence when a user has several tokens and none accepted. */
  const RANK: Record<VerifyResult, number> = { ok: 4, replayed: 3, invalid: 2, locked: 1, disabled: 0 };

  async function verify(req: VerifyRequest, actor: string): Promise<VerifyOutcome> {
    if (req.serial !== null) return verifyToken(req.serial, req.code, actor, req.counter);
    if (req.counter !== null) throw new VerifierError('INVALID_REQUEST', 'counter: give it with serial, not user', { field: 'counter' });
    const tokens = (await store.findTokensByUser(req.user!, 20)).filter((t) => t.otp.type !== 'ocra');
    if (tokens.length === 0) throw new VerifierError('NOT_FOUND', `no hotp or totp token is registered for that user`);
    let best: VerifyOutcome | null = null;
    for (const t of tokens) {
      const r = await verifyToken(t.serial, req.code, actor);
      if (r.result === 'ok') return r;
      if (!best || RANK[r.result] > RANK[best.result]) best = r;
    }
    return best!;
  }

  async function resync(serial: string, code1: string, code2: string, actor: string): Promise<{ result: ResyncResult; serial: string; detail: Record<string, string | number | boolean | null> }> {
    const now = clock.nowMs();
    const out = await store.updateToken(serial, (t) => {
      if (!t) return notFound(serial);
      if (t.otp.type === 'ocra') throw new VerifierError('INVALID_REQUEST', `token ${serial} is an OCRA token; resync applies to hotp and totp`, { field: 'serial' });
      const d = decideResync(t, code1, code2, now, engineFor(t, t.otp), effectivePolicy(o.policy, t));
      return { next: d.next, audit: audit(actor, 'resync', serial, d.result, d.detail), value: { result: d.result, serial, detail: d.detail } };
    });
    metrics.inc('tokenforge_resyncs_total', { result: out.result }, 'Resynchronisation attempts by result.');
    return out;
  }

  /** An administrator's state change, as the transition table (domain/states.ts) allows it. */
  async function setState(serial: string, action: AdminEvent, actor: string): Promise<TokenMetadata> {
    const now = clock.nowMs();
    const updated = await store.updateToken(serial, (t) => {
      if (!t) return notFound(serial);
      const next = transition(t, action, o.policy);
      if (!next) throw new VerifierError('CONFLICT', `token ${serial} is ${t.state}; it cannot take the ${action} action`);
      return { next, audit: audit(actor, action, serial, 'ok', { state: next.state }), value: withDynamic(t, next, now) };
    });
    return tokenMetadata(updated, now);
  }

  async function remove(serial: string, actor: string): Promise<void> {
    const t = await store.getToken(serial);
    const ok = await store.deleteToken(serial, audit(actor, 'delete', serial, 'ok', {}));
    if (!ok) notFound(serial);
    if (t) dropEngine(t.uid);
  }

  async function getToken(serial: string): Promise<TokenMetadata> {
    const t = await store.getToken(serial);
    if (!t) return notFound(serial);
    return tokenMetadata(t, clock.nowMs());
  }

  async function auditLog(q: AuditFilter) {
    return store.listAudit(q);
  }

  function close(): void {
    for (const e of engines.values()) e.destroy();
    engines.clear();
  }

  return { register, verify, resync, setState, remove, getToken, auditLog, close };
}

export type VerifierService = ReturnType<typeof createVerifierService>;
