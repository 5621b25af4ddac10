/**
 * Per-user failure limiting of verify-by-user (NIST SP 800-63B 5.2.2: "limit consecutive failed authentication
 * attempts on a single subscriber account to no more than 100"; RFC 4226 Section 7.3: across login sessions).
 * Pure: the store persists a UserRecord with a locked read-decide-write (store/types.ts updateUser).
 *
 * Rules: one attempt by user = one failure of the user whatever number of tokens it was tried against (no
 * failure is charged to the tokens themselves); at policy.maxUserFailures consecutive failures the user is
 * locked (every later attempt answers `locked` without a check, until an administrator unlocks the user);
 * after backoffFreeFailures each failure throttles the user like a token (rules.ts failed); a success resets.
 */
import type { Policy } from './types.ts';

export interface UserRecord {
  user: string;
  failCount: number;
  throttledUntilMs: number;
  /** Set when the failure limit was reached; null while the user may verify. */
  lockedAtMs: number | null;
  version: number;
  updatedAtMs: number;
}

export function freshUser(user: string, nowMs: number): UserRecord {
  return { user, failCount: 0, throttledUntilMs: 0, lockedAtMs: null, version: 0, updatedAtMs: nowMs };
}

/** What the user's state answers before any token is tried: `locked` (limit or back-off), or null: check. */
export function userGate(u: UserRecord | undefined, nowMs: number): { reason: 'lockout' | 'backoff' } | null {
  if (!u) return null;
  if (u.lockedAtMs !== null) return { reason: 'lockout' };
  if (u.throttledUntilMs > nowMs) return { reason: 'backoff' };
  return null;
}

/** The user after one more failed attempt. */
export function userFailed(u: UserRecord, policy: Pick<Policy, 'maxUserFailures' | 'backoffBaseMs' | 'backoffFreeFailures' | 'backoffMaxMs'>, nowMs: number): UserRecord {
  const failCount = u.failCount + 1;
  const next: UserRecord = { ...u, failCount, version: u.version + 1, updatedAtMs: nowMs };
  if (failCount >= policy.maxUserFailures) {
    next.lockedAtMs = nowMs;
    return next;
  }
  if (policy.backoffBaseMs > 0 && failCount > policy.backoffFreeFailures) {
    const exp = Math.min(failCount - policy.backoffFreeFailures - 1, 30);
    next.throttledUntilMs = nowMs + Math.min(policy.backoffBaseMs * 2 ** exp, policy.backoffMaxMs);
  }
  return next;
}

/** The user after a success (null: nothing to write) or an administrator's unlock. */
export function userReset(u: UserRecord | undefined, nowMs: number): UserRecord | null {
  if (!u || (u.failCount === 0 && u.throttledUntilMs === 0 && u.lockedAtMs === null)) return null;
  return { ...u, failCount: 0, throttledUntilMs: 0, lockedAtMs: null, version: u.version + 1, updatedAtMs: nowMs };
}
