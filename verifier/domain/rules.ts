/**
 * Verification rules: pure functions from (token, code, now, engine, policy) to a decision and the token's
 * next state. No I/O, no clock: the caller passes `nowMs` and persists `next` with a compare-and-set.
 *
 * HOTP (RFC 4226 Sections 7.2-7.4, App. E.4): look-ahead is forward only; the window is counters
 *   C..C+s inclusive (s + 1 counters; s = 0 accepts only C); a match at m sets C = m + 1; failures leave C.
 * TOTP (RFC 6238 Sections 5.2, 6): expected step E = T + drift (drift clamped to maxDriftSteps); accepted
 *   steps are E-back..E+forward and strictly greater than the last accepted step; a match at m records
 *   lastStep = m and drift = m - T.
 * Replay: a code matching an already-consumed counter/step in the window answers `replayed` (NIST 800-63B
 *   5.1.4.2 / C15); it counts as a failure like `invalid`.
 * Auto-resync: a code beyond the window but within resyncWindow is remembered; the next code, if it is for
 *   the following counter/step and comes within pendingResyncTtlMs, is accepted (two consecutive codes).
 * RCP: an HOTP verification may name the client's counter (RFC 4226 App. E.4); only that counter is checked.
 * Lockout: consecutive failures lock the token (the `lockout` event of states.ts) at maxFailures (<= 100, NIST 800-63B 5.2.2); after
 *   backoffFreeFailures each failure also throttles the token for an exponentially growing delay, during which
 *   verifications answer `locked` without checking the code (so the delay cannot be brute-forced).
 */
import type { HotpEngine } from '../../otp/engine.ts';
import type { TotpParams } from '../../otp/otp-params.ts';
import { MAX_COUNTER } from '../../otp/params.ts';
import type { Policy, ResyncResult, TokenDynamic, TokenRecord, VerifyResult } from './types.ts';
import { STATE_RULES, transition } from './states.ts';
import { dynamicOf } from './types.ts';

export type WindowEngine = Pick<HotpEngine, 'value' | 'findInWindow'>;

export interface Decision<R extends string> {
  result: R;
  /** Next state to persist, or null when nothing changes (still audited). */
  next: TokenDynamic | null;
  /** Audit/response detail: counters, steps, reasons. Never secret material. */
  detail: Record<string, string | number | boolean | null>;
}

const CODE_RE = /^[0-9]{1,10}$/;

/** The TOTP time step at `nowMs` (RFC 6238 Section 4.2: T = (now - T0) / X), or null before T0. */
export function totpStepAt(p: Pick<TotpParams, 'periodSec' | 't0Sec'>, nowMs: number): bigint | null {
  const nowSec = BigInt(Math.floor(nowMs / 1000));
  if (nowSec < p.t0Sec) return null;
  return (nowSec - p.t0Sec) / BigInt(p.periodSec);
}

/** OCRA needs a challenge; the service refuses verify and resync for OCRA tokens before calling the rules. */
function unsupported(): Decision<'invalid'> {
  return { result: 'invalid', next: null, detail: { reason: 'unsupported-type' } };
}

function clampDrift(d: number, max: number): number {
  return d > max ? max : d < -max ? -max : d;
}

/** Precheck shared by verify and resync: what the state answers without a check (states.ts), then back-off. */
function gate(t: TokenRecord, nowMs: number): Decision<'locked' | 'disabled'> | null {
  switch (STATE_RULES[t.state].verify) {
    case 'disabled':
      return { result: 'disabled', next: null, detail: {} };
    case 'locked':
      return { result: 'locked', next: null, detail: { reason: 'lockout', failCount: t.failCount } };
    case 'check':
      break;
  }
  if (t.throttledUntilMs > nowMs) {
    return { result: 'locked', next: null, detail: { reason: 'backoff', retryAfterMs: t.throttledUntilMs - nowMs } };
  }
  return null;
}

/** State after one more consecutive failure. */
export function failed(t: TokenDynamic, policy: Policy, nowMs: number): TokenDynamic {
  const failCount = t.failCount + 1;
  const next: TokenDynamic = { ...dynamicOf(t), failCount };
  if (failCount >= policy.maxFailures) {
    return transition(next, 'lockout', policy) ?? next;
  }
  if (policy.backoffBaseMs > 0 && failCount > policy.backoffFreeFailures) {
    const exp = Math.min(failCount - policy.backoffFreeFailures - 1, 30);
    next.throttledUntilMs = nowMs + Math.min(policy.backoffBaseMs * 2 ** exp, policy.backoffMaxMs);
  }
  return next;
}

function succeeded(t: TokenDynamic, nowMs: number, patch: Partial<TokenDynamic>): TokenDynamic {
  return {
    ...dynamicOf(t),
    failCount: 0,
    throttledUntilMs: 0,
    pendingResync: null,
    pendingAtMs: 0,
    lastUsedAtMs: nowMs,
    ...patch,
  };
}

/** Number of counters in [start, end] clipped to the 64-bit range (0 when empty). */
function span(start: bigint, end: bigint): number {
  if (end > MAX_COUNTER) end = MAX_COUNTER;
  if (start < 0n) start = 0n;
  return end < start ? 0 : Number(end - start + 1n);
}

function failure(
  t: TokenRecord,
  policy: Policy,
  nowMs: number,
  result: 'invalid' | 'replayed',
  detail: Decision<string>['detail'],
  pending?: bigint,
): Decision<VerifyResult> {
  const next = failed(t, policy, nowMs);
  if (pending !== undefined) {
    next.pendingResync = pending;
    next.pendingAtMs = nowMs;
  }
  return { result, next, detail: { ...detail, failCount: next.failCount, locked: next.state === 'locked' } };
}

/**
 * Decide one verification. `policy` is the token's effective policy (types.ts effectivePolicy).
 * The caller has already checked that `code` is a string of 1..10 digits.
 */
export function decideVerify(
  t: TokenRecord,
  code: string,
  nowMs: number,
  engine: WindowEngine,
  policy: Policy,
  clientCounter: bigint | null = null,
): Decision<VerifyResult> {
  const g = gate(t, nowMs);
  if (g) return g;
  const p = t.otp;
  if (p.type === 'ocra') return unsupported();
  if (code.length !== p.digits || !CODE_RE.test(code)) {
    return failure(t, policy, nowMs, 'invalid', { reason: 'length' });
  }
  const v = Number(code);
  const pendingLive = t.pendingResync !== null && nowMs - t.pendingAtMs <= policy.pendingResyncTtlMs;

  if (p.type === 'hotp' && clientCounter !== null) {
    // RFC 4226 App. E.4 (RCP): accept only if C-client >= C-server, C-client - C-server <= s, and the code is
    // the HOTP of C-client; then C = C-client + 1.
    const c = t.counter;
    if (clientCounter < c) return failure(t, policy, nowMs, 'invalid', { reason: 'counter-behind' });
    if (clientCounter - c > BigInt(policy.lookAhead)) return failure(t, policy, nowMs, 'invalid', { reason: 'counter-beyond-window' });
    if (engine.findInWindow(v, clientCounter, 1) !== clientCounter) return failure(t, policy, nowMs, 'invalid', {});
    return { result: 'ok', next: succeeded(t, nowMs, { counter: clientCounter + 1n }), detail: { matched: clientCounter.toString(), skipped: Number(clientCounter - c) } };
  }

  if (p.type === 'hotp') {
    const c = t.counter;
    const n = span(c, c + BigInt(policy.lookAhead));
    const m = n > 0 ? engine.findInWindow(v, c, n) : -1n;
    if (m >= 0n) {
      return { result: 'ok', next: succeeded(t, nowMs, { counter: m + 1n }), detail: { matched: m.toString(), skipped: Number(m - c) } };
    }
    if (t.lastUsedAtMs !== null && c > 0n) {
      const lo = c - 1n - BigInt(policy.lookAhead) < 0n ? 0n : c - 1n - BigInt(policy.lookAhead);
      if (engine.findInWindow(v, lo, span(lo, c - 1n)) >= 0n) return failure(t, policy, nowMs, 'replayed', {});
    }
    const wideStart = c + BigInt(policy.lookAhead) + 1n;
    const wn = span(wideStart, c + BigInt(policy.resyncWindow));
    const w = wn > 0 ? engine.findInWindow(v, wideStart, wn) : -1n;
    if (w >= 0n) {
      if (pendingLive && w === t.pendingResync! + 1n) {
        return { result: 'ok', next: succeeded(t, nowMs, { counter: w + 1n }), detail: { matched: w.toString(), autoResync: true } };
      }
      return failure(t, policy, nowMs, 'invalid', { autoResync: 'pending' }, w);
    }
    return failure(t, policy, nowMs, 'invalid', {});
  }

  // totp
  const now = totpStepAt(p, nowMs);
  if (now === null) return failure(t, policy, nowMs, 'invalid', { reason: 'before-t0' });
  const expected = now + BigInt(clampDrift(t.driftSteps, policy.maxDriftSteps));
  const lo = expected - BigInt(policy.windowBack);
  const hi = expected + BigInt(policy.windowForward);
  const floor = t.lastStep === null ? 0n : t.lastStep + 1n;
  const start = lo > floor ? lo : floor;
  const n = span(start, hi);
  const m = n > 0 ? engine.findInWindow(v, start, n) : -1n;
  if (m >= 0n) {
    const drift = Number(m - now);
    return {
      result: 'ok',
      next: succeeded(t, nowMs, { lastStep: m, driftSteps: drift }),
      detail: { matchedStep: m.toString(), driftSteps: drift },
    };
  }
  if (t.lastStep !== null && lo <= t.lastStep) {
    const rlo = lo < 0n ? 0n : lo;
    const rhi = hi < t.lastStep ? hi : t.lastStep;
    if (engine.findInWindow(v, rlo, span(rlo, rhi)) >= 0n) return failure(t, policy, nowMs, 'replayed', {});
  }
  const wlo = now - BigInt(policy.resyncWindow);
  const wstart = wlo > floor ? wlo : floor;
  const wn = span(wstart, now + BigInt(policy.resyncWindow));
  const w = wn > 0 ? engine.findInWindow(v, wstart, wn) : -1n;
  if (w >= 0n) {
    if (pendingLive && w === t.pendingResync! + 1n) {
      const drift = Number(w - now);
      return {
        result: 'ok',
        next: succeeded(t, nowMs, { lastStep: w, driftSteps: drift }),
        detail: { matchedStep: w.toString(), driftSteps: drift, autoResync: true },
      };
    }
    return failure(t, policy, nowMs, 'invalid', { autoResync: 'pending' }, w);
  }
  return failure(t, policy, nowMs, 'invalid', {});
}

/** First m in [start, start + n) with code1 at m and code2 at m + 1, or -1n. */
function findPair(engine: WindowEngine, v1: number, v2: number, start: bigint, n: number): bigint {
  let s = start;
  let left = n;
  while (left > 0) {
    const m = engine.findInWindow(v1, s, left);
    if (m < 0n) return -1n;
    if (m < MAX_COUNTER && engine.value(m + 1n) === v2) return m;
    left -= Number(m - s) + 1;
    s = m + 1n;
  }
  return -1n;
}

/**
 * Explicit resync with two consecutive codes (RFC 4226 Section 7.4 and App. E.4: C-client >= C-server and
 * C-client - C-server <= resyncWindow). HOTP sets C = m + 2; TOTP records lastStep = m + 1 and its drift.
 */
export function decideResync(
  t: TokenRecord,
  code1: string,
  code2: string,
  nowMs: number,
  engine: WindowEngine,
  policy: Policy,
): Decision<ResyncResult> {
  const g = gate(t, nowMs);
  if (g) return g;
  const p = t.otp;
  if (p.type === 'ocra') return unsupported();
  const fail = (detail: Decision<string>['detail']): Decision<ResyncResult> => {
    const next = failed(t, policy, nowMs);
    return { result: 'invalid', next, detail: { ...detail, failCount: next.failCount, locked: next.state === 'locked' } };
  };
  if (code1.length !== p.digits || code2.length !== p.digits || !CODE_RE.test(code1) || !CODE_RE.test(code2)) {
    return fail({ reason: 'length' });
  }
  const v1 = Number(code1);
  const v2 = Number(code2);
  if (p.type === 'hotp') {
    const c = t.counter;
    const m = findPair(engine, v1, v2, c, span(c, c + BigInt(policy.resyncWindow) - 1n));
    if (m < 0n) return fail({});
    return { result: 'resynchronized', next: succeeded(t, nowMs, { counter: m + 2n }), detail: { matched: (m + 1n).toString(), skipped: Number(m - c) } };
  }
  // totp
  const now = totpStepAt(p, nowMs);
  if (now === null) return fail({ reason: 'before-t0' });
  const floor = t.lastStep === null ? 0n : t.lastStep + 1n;
  const lo = now - BigInt(policy.resyncWindow);
  const start = lo > floor ? lo : floor;
  const m = findPair(engine, v1, v2, start, span(start, now + BigInt(policy.resyncWindow) - 1n));
  if (m < 0n) return fail({});
  const drift = Number(m + 1n - now);
  return {
    result: 'resynchronized',
    next: succeeded(t, nowMs, { lastStep: m + 1n, driftSteps: drift }),
    detail: { matchedStep: (m + 1n).toString(), driftSteps: drift },
  };
}
