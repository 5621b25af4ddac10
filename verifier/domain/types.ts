/**
 * The verifier's data model: a registered token, its mutable verification state, and the policy that the
 * rules apply. Pure data; the store persists it, the rules (rules.ts) compute the next state.
 *
 * Counters and time steps are bigint (RFC 4226 Section 5.2: 8-byte counter; RFC 6238 Section 4.2: T past 2038).
 */
import type { OtpParams } from '../../otp/otp-params.ts';
import type { TokenStateName } from './states.ts';

export const VERIFY_RESULTS = ['ok', 'invalid', 'replayed', 'locked', 'disabled'] as const;
export type VerifyResult = (typeof VERIFY_RESULTS)[number];

export const RESYNC_RESULTS = ['resynchronized', 'invalid', 'locked', 'disabled'] as const;
export type ResyncResult = (typeof RESYNC_RESULTS)[number];

/** The part of a token that verification changes. Every write replaces all of it and bumps `version`. */
export interface TokenDynamic {
  /** HOTP: the next counter the server expects (RFC 4226 Section 7.2: match + 1). */
  counter: bigint;
  /** TOTP: the last accepted time step; no step <= it is ever accepted again (RFC 6238 Section 5.2). */
  lastStep: bigint | null;
  /** TOTP: learned drift in steps, device minus server (RFC 6030 Section 4.1 sign: device 8, server 9 -> -1). */
  driftSteps: number;
  /** Consecutive failures since the last success (RFC 4226 Section 7.3; NIST 800-63B 5.2.2). */
  failCount: number;
  /** Back-off: verifications before this instant (ms since the epoch) answer `locked` without a check. */
  throttledUntilMs: number;
  /** Moved only by the transition table (states.ts). */
  state: TokenStateName;
  /** Auto-resync: counter/step of a code found in the wide window, waiting for its successor. */
  pendingResync: bigint | null;
  pendingAtMs: number;
  lastUsedAtMs: number | null;
  /** The administrator's reason for the last state change (lost, revoke, ...), or null. */
  stateReason: string | null;
  /** When the token was marked lost (null unless it is lost). */
  lostAtMs: number | null;
  /** When the token was revoked (terminal: never cleared). */
  revokedAtMs: number | null;
}

/** Per-token overrides of the server policy (null: use the server default). */
export interface TokenPolicyOverrides {
  lookAhead: number | null;
  windowBack: number | null;
  windowForward: number | null;
  resyncWindow: number | null;
}

export interface TokenRecord extends TokenDynamic, TokenPolicyOverrides {
  /** Random id of this registration: a re-registered serial gets a new uid (engine caches key on it). */
  uid: string;
  serial: string;
  user: string | null;
  label: string | null;
  /**
   * The static OTP parameters (otp/otp-params.ts). The live counter is `counter`, never `otp.counter`: at
   * registration `otp.counter` is the counter the token started from; read back from a store (which keeps only
   * the live counter) it is the live counter as of that read.
   */
  otp: OtpParams;
  /**
   * Keyed fingerprint of the seed (keyring.ts fingerprint: HMAC-SHA256 under a key derived from the master key
   * file), never the seed or a plain hash: it recognises a seed registered again (domain/lifecycle.ts). Null
   * only for rows registered before fingerprints existed.
   */
  seedFingerprint: string | null;
  /** The provisioning batch this token came from (the provisioner's journal batch id), or null. */
  batchId: string | null;
  /** The seed file the batch was loaded from: its SHA-256 as the provisioner computed it, and a name. */
  source: TokenSource | null;
  /** Id of the master key that sealed the seed. */
  seedKid: string;
  /** AES-256-GCM sealed seed: iv(12) | ciphertext | tag(16). Never leaves the server. */
  seedSealed: Uint8Array;
  version: number;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface TokenSource {
  /** 64 hex digits: SHA-256 of the seed file (not of any seed). */
  fingerprint: string;
  name?: string;
}

export interface Policy {
  /** HOTP look-ahead s: counters C..C+s are accepted (RFC 4226 Section 7.4). */
  lookAhead: number;
  /** TOTP steps accepted behind / ahead of the expected step (RFC 6238 Sections 5.2, 6). */
  windowBack: number;
  windowForward: number;
  /** Wide window for resync and auto-resync (counters ahead for HOTP, steps either side for TOTP). */
  resyncWindow: number;
  /** Learned drift is clamped to this many steps when it centres the window. */
  maxDriftSteps: number;
  /** Consecutive failures that lock the token (NIST 800-63B 5.2.2: at most 100). */
  maxFailures: number;
  /** Failures allowed before back-off starts. */
  backoffFreeFailures: number;
  /** Back-off after failure f (> free): min(base * 2^(f - free - 1), max). 0 disables back-off. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How long the first code of an auto-resync pair waits for the second. */
  pendingResyncTtlMs: number;
  /**
   * Consecutive failures across all tokens of one user (verify by user) that lock the user (NIST SP 800-63B
   * 5.2.2: at most 100 per subscriber account).
   */
  maxUserFailures: number;
}

export const MAX_FAILURES_LIMIT = 100;
export const MAX_WINDOW = 1000;
export const MAX_RESYNC_WINDOW = 10_000;

export const DEFAULT_POLICY: Policy = {
  lookAhead: 10,
  windowBack: 1,
  windowForward: 1,
  resyncWindow: 100,
  maxDriftSteps: 20,
  maxFailures: 10,
  backoffFreeFailures: 2,
  backoffBaseMs: 1000,
  backoffMaxMs: 300_000,
  pendingResyncTtlMs: 300_000,
  maxUserFailures: MAX_FAILURES_LIMIT,
};

/** The token's effective policy: server policy with the token's overrides applied. */
export function effectivePolicy(policy: Policy, t: TokenPolicyOverrides): Policy {
  return {
    ...policy,
    lookAhead: t.lookAhead ?? policy.lookAhead,
    windowBack: t.windowBack ?? policy.windowBack,
    windowForward: t.windowForward ?? policy.windowForward,
    resyncWindow: t.resyncWindow ?? policy.resyncWindow,
  };
}

/** The record after writing `next` (only its dynamic fields) as the next version at `nowMs`. */
export function withDynamic(t: TokenRecord, next: TokenDynamic, nowMs: number): TokenRecord {
  return { ...t, ...dynamicOf(next), version: t.version + 1, updatedAtMs: nowMs };
}

/** The dynamic part of a token, as a new object. */
export function dynamicOf(t: TokenDynamic): TokenDynamic {
  return {
    counter: t.counter,
    lastStep: t.lastStep,
    driftSteps: t.driftSteps,
    failCount: t.failCount,
    throttledUntilMs: t.throttledUntilMs,
    state: t.state,
    pendingResync: t.pendingResync,
    pendingAtMs: t.pendingAtMs,
    lastUsedAtMs: t.lastUsedAtMs,
    stateReason: t.stateReason,
    lostAtMs: t.lostAtMs,
    revokedAtMs: t.revokedAtMs,
  };
}
