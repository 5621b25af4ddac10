/**
 * Unit tests of the pure verification rules (verifier/domain/rules.ts) with a manual clock: lockout and
 * back-off, auto-resync, drift learning, resync, RCP, gates. Codes come from the RFC 4226 Appendix D table
 * (conformance/vectors/rfc4226.json), computed by nobody here.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHotpEngine } from '../../otp/engine.ts';
import { hexToBytes } from '../../otp/hex.ts';
import { decideResync, decideVerify } from '../../verifier/domain/rules.ts';
import { transition, type TokenEvent } from '../../verifier/domain/states.ts';
import { DEFAULT_POLICY, type Policy, type TokenRecord } from '../../verifier/domain/types.ts';
import { ROOT } from './verifier.helpers.ts';

const rfc = JSON.parse(readFileSync(join(ROOT, 'conformance/vectors/rfc4226.json'), 'utf8')) as { key_hex: string; vectors: Array<{ counter: number; expected: string }> };
const CODE = rfc.vectors.map((v) => v.expected); // CODE[c] = HOTP(key, c), 6 digits
const engine = createHotpEngine(hexToBytes(rfc.key_hex), { algorithm: 'SHA1', digits: 6 });

function tok(over: Partial<TokenRecord> = {}): TokenRecord {
  return {
    uid: 'u', serial: 'S', user: null, label: null, otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n },
    counter: 0n, lastStep: null, driftSteps: 0, failCount: 0, throttledUntilMs: 0, state: 'active', pendingResync: null, pendingAtMs: 0,
    lastUsedAtMs: null, lookAhead: null, windowBack: null, windowForward: null, resyncWindow: null, seedKid: 'k', seedSealed: new Uint8Array(),
    stateReason: null, lostAtMs: null, revokedAtMs: null, seedFingerprint: null, batchId: null, source: null,
    version: 1, createdAtMs: 0, updatedAtMs: 0, ...over,
  };
}
const TOTP = { type: 'totp', algorithm: 'SHA1', digits: 6, periodSec: 30, t0Sec: 0n } as const;
const P = (over: Partial<Policy> = {}): Policy => ({ ...DEFAULT_POLICY, ...over });
const apply = (t: TokenRecord, d: { next: TokenRecord | Partial<TokenRecord> | null }): TokenRecord => (d.next ? { ...t, ...d.next } : t);

describe('HOTP look-ahead, replay, RCP', () => {
  it('accepts within C..C+s, moves the counter to match+1, and calls an older code replayed', () => {
    let t = tok();
    const d = decideVerify(t, CODE[3]!, 0, engine, P({ lookAhead: 3 }));
    expect(d.result).toBe('ok');
    t = apply(t, d);
    expect(t.counter).toBe(4n);
    expect(decideVerify(t, CODE[3]!, 1, engine, P({ lookAhead: 3 })).result).toBe('replayed');
    expect(decideVerify(t, CODE[1]!, 1, engine, P({ lookAhead: 3 })).result).toBe('replayed');
    expect(decideVerify(tok(), CODE[4]!, 0, engine, P({ lookAhead: 3 })).result).toBe('invalid');
  });
  it('a code of the wrong length is invalid and counts', () => {
    const d = decideVerify(tok(), '12345', 0, engine, P());
    expect(d.result).toBe('invalid');
    expect(d.next!.failCount).toBe(1);
  });
  it('RCP: client counter must be >= server, within s, and match', () => {
    const t = tok({ counter: 2n });
    expect(decideVerify(t, CODE[6]!, 0, engine, P({ lookAhead: 10 }), 6n)).toMatchObject({ result: 'ok', next: { counter: 7n } });
    expect(decideVerify(t, CODE[1]!, 0, engine, P({ lookAhead: 10 }), 1n).result).toBe('invalid');
    expect(decideVerify(t, CODE[5]!, 0, engine, P({ lookAhead: 10 }), 6n).result).toBe('invalid');
    expect(decideVerify(t, CODE[9]!, 0, engine, P({ lookAhead: 3 }), 9n).result).toBe('invalid');
  });
});

describe('lockout and back-off', () => {
  it('locks at maxFailures; throttles after the free failures; success resets; locked answers skip the check', () => {
    const policy = P({ maxFailures: 5, backoffFreeFailures: 2, backoffBaseMs: 1000, backoffMaxMs: 60_000 });
    let t = tok();
    let now = 0;
    const delays: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const d = decideVerify(t, '000000', now, engine, policy);
      expect(d.result).toBe('invalid');
      t = apply(t, d);
      expect(t.failCount).toBe(i);
      delays.push(t.throttledUntilMs > now ? t.throttledUntilMs - now : 0);
      if (t.throttledUntilMs > now) {
        // During back-off even the right code is refused as locked and nothing changes.
        const blocked = decideVerify(t, CODE[0]!, now + 1, engine, policy);
        expect(blocked).toMatchObject({ result: 'locked', next: null, detail: { reason: 'backoff' } });
        now = t.throttledUntilMs;
      }
    }
    expect(delays).toEqual([0, 0, 1000, 2000, 0]);
    expect(t.state).toBe('locked');
    expect(decideVerify(t, CODE[0]!, now + 10_000_000, engine, policy)).toMatchObject({ result: 'locked', next: null, detail: { reason: 'lockout' } });
    // Success before the limit resets the counter of failures.
    let u = apply(tok(), decideVerify(tok(), '000000', 0, engine, policy));
    u = apply(u, decideVerify(u, CODE[0]!, 0, engine, policy));
    expect(u.failCount).toBe(0);
  });
  it('disabled tokens answer disabled without a check', () => {
    expect(decideVerify(tok({ state: 'disabled' }), CODE[0]!, 0, engine, P())).toMatchObject({ result: 'disabled', next: null });
  });
});

describe('auto-resync and explicit resync', () => {
  it('HOTP: a code beyond the window is remembered; the next consecutive code is accepted', () => {
    const policy = P({ lookAhead: 1, resyncWindow: 20 });
    let t = tok();
    const first = decideVerify(t, CODE[7]!, 0, engine, policy);
    expect(first).toMatchObject({ result: 'invalid', detail: { autoResync: 'pending' } });
    t = apply(t, first);
    expect(t.pendingResync).toBe(7n);
    const second = decideVerify(t, CODE[8]!, 1000, engine, policy);
    expect(second).toMatchObject({ result: 'ok', detail: { autoResync: true } });
    t = apply(t, second);
    expect(t.counter).toBe(9n);
    expect(t.failCount).toBe(0);
  });
  it('HOTP: a non-consecutive second code or an expired pending code does not resync', () => {
    const policy = P({ lookAhead: 1, resyncWindow: 20, pendingResyncTtlMs: 1000 });
    const t = apply(tok(), decideVerify(tok(), CODE[5]!, 0, engine, policy));
    expect(decideVerify(t, CODE[7]!, 10, engine, policy).result).toBe('invalid');
    expect(decideVerify(t, CODE[6]!, 5000, engine, policy).result).toBe('invalid');
  });
  it('explicit resync: pair inside the window sets C = m + 2; a wrong pair fails and counts', () => {
    const d = decideResync(tok(), CODE[7]!, CODE[8]!, 0, engine, P({ resyncWindow: 20 }));
    expect(d).toMatchObject({ result: 'resynchronized', next: { counter: 9n } });
    const bad = decideResync(tok(), CODE[7]!, CODE[9]!, 0, engine, P({ resyncWindow: 20 }));
    expect(bad).toMatchObject({ result: 'invalid', next: { failCount: 1 } });
    expect(decideResync(tok(), CODE[7]!, CODE[8]!, 0, engine, P({ resyncWindow: 5 })).result).toBe('invalid');
  });
  it('TOTP: drift is learned and centres the next window; steps are never reused', () => {
    // period 30, t0 0: step s is HOTP(key, s); CODE[s] for s <= 9.
    const policy = P({ windowBack: 1, windowForward: 1, resyncWindow: 10 });
    let t = tok({ otp: TOTP });
    const at = (step: number) => step * 30_000 + 1000;
    // Device 1 step behind at server step 5: accepted, drift -1.
    let d = decideVerify(t, CODE[4]!, at(5), engine, policy);
    expect(d).toMatchObject({ result: 'ok', detail: { driftSteps: -1 } });
    t = apply(t, d);
    // At server step 8 the device shows step 6 (2 behind): window is centred on 8-1 = 7, so 6..8 covers it.
    d = decideVerify(t, CODE[6]!, at(8), engine, policy);
    expect(d).toMatchObject({ result: 'ok', detail: { driftSteps: -2 } });
    t = apply(t, d);
    expect(decideVerify(t, CODE[6]!, at(8), engine, policy).result).toBe('replayed');
    expect(decideVerify(t, CODE[5]!, at(8), engine, policy).result).toBe('replayed');
    // Explicit TOTP resync with steps 8 and 9 at server step 3 (device 6 ahead).
    const r = decideResync(tok({ otp: TOTP }), CODE[8]!, CODE[9]!, at(3), engine, policy);
    expect(r).toMatchObject({ result: 'resynchronized', next: { lastStep: 9n, driftSteps: 6 } });
  });
});

describe('token state transitions (domain/states.ts)', () => {
  it('moves each state as the table says; unlock resets failures; enable from disabled goes by the failures', () => {
    const policy = P({ maxFailures: 3 });
    const cases: Array<[TokenRecord['state'], number, TokenEvent, TokenRecord['state'] | null, number]> = [
      // from       fails  event       to            fails after
      ['active', 1, 'disable', 'disabled', 1],
      ['active', 1, 'enable', 'active', 1],
      ['active', 1, 'unlock', 'active', 0],
      ['active', 3, 'lockout', 'locked', 3],
      ['disabled', 1, 'enable', 'active', 1],
      ['disabled', 3, 'enable', 'locked', 3],
      ['disabled', 3, 'unlock', 'disabled', 0],
      ['disabled', 1, 'disable', 'disabled', 1],
      ['disabled', 1, 'lockout', null, 1],
      ['locked', 3, 'unlock', 'active', 0],
      ['locked', 3, 'enable', 'locked', 3],
      ['locked', 3, 'disable', 'disabled', 3],
      ['locked', 3, 'lockout', null, 3],
      ['active', 1, 'lost', 'lost', 1],
      ['locked', 3, 'lost', 'lost', 3],
      ['lost', 1, 'enable', 'active', 1],
      ['lost', 3, 'enable', 'locked', 3],
      ['lost', 1, 'unlock', null, 1],
      ['lost', 1, 'lockout', null, 1],
      ['lost', 1, 'revoke', 'revoked', 1],
      ['active', 1, 'revoke', 'revoked', 1],
      ['disabled', 1, 'revoke', 'revoked', 1],
      ['revoked', 1, 'enable', null, 1],
      ['revoked', 1, 'unlock', null, 1],
      ['revoked', 1, 'disable', null, 1],
      ['revoked', 1, 'lost', null, 1],
      ['revoked', 1, 'revoke', null, 1],
      ['revoked', 1, 'lockout', null, 1],
    ];
    for (const [from, fails, event, to, failsAfter] of cases) {
      const t = tok({ state: from, failCount: fails, throttledUntilMs: 99 });
      const next = transition(t, event, policy);
      if (to === null) {
        expect(next, `${from} --${event}-->`).toBeNull();
        continue;
      }
      expect(next, `${from} --${event}-->`).toMatchObject({ state: to, failCount: failsAfter, throttledUntilMs: failsAfter === 0 ? 0 : 99 });
    }
  });
  it('records the reason and stamps lostAt / revokedAt; lost and revoked tokens verify as disabled', () => {
    const policy = P();
    const lost = transition(tok(), 'lost', policy, { nowMs: 5000, reason: 'left on a train' })!;
    expect(lost).toMatchObject({ state: 'lost', stateReason: 'left on a train', lostAtMs: 5000, revokedAtMs: null });
    const found = transition(lost, 'enable', policy, { nowMs: 6000, reason: null })!;
    expect(found).toMatchObject({ state: 'active', lostAtMs: null, stateReason: null });
    const revoked = transition(lost, 'revoke', policy, { nowMs: 7000, reason: 'replaced' })!;
    expect(revoked).toMatchObject({ state: 'revoked', revokedAtMs: 7000, stateReason: 'replaced' });
    for (const state of ['lost', 'revoked'] as const) {
      expect(decideVerify(tok({ state }), CODE[0]!, 0, engine, policy)).toMatchObject({ result: 'disabled', next: null });
    }
  });
});
