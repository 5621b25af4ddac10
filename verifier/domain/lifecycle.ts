/**
 * Seed identity across registrations (issue 11): the rule that decides whether a new registration may take a
 * seed the registry holds, or held, under some serial, and from which counter it starts. Pure; the stores call
 * `admitSeed` inside their registration transaction with the rows and tombstones that carry the same keyed
 * seed fingerprint.
 *
 * Invariants (NIST SP 800-63B 5.1.4.2 / RFC 4226 Section 7.2: an OTP is accepted only once):
 * - a seed that was ever revoked never comes back (SEED_REVOKED, also with rekey);
 * - a seed held now, or held earlier (a tombstone), under ANOTHER serial is refused (SEED_IN_USE, naming that
 *   serial) unless the administrator re-keys explicitly (rekey: the other live registration is retired, i.e.
 *   deleted with a tombstone, in the same transaction);
 * - whatever is admitted starts at counter = max(requested, every holder's counter) and lastStep = max(...),
 *   so no code that was accepted under any earlier registration of the seed verifies again.
 */
import { VerifierError } from '../errors.ts';
import type { TokenRecord } from './types.ts';

/** What a deleted registration leaves behind (never the seed). */
export interface Tombstone {
  /** The deleted registration's uid. */
  uid: string;
  serial: string;
  seedFingerprint: string;
  /** HOTP: the next counter the server expected; TOTP: the last accepted step (null if none). */
  counter: bigint;
  lastStep: bigint | null;
  reason: string | null;
  deletedAtMs: number;
  /** The token was revoked when it was deleted: its seed may never be registered again. */
  wasRevoked: boolean;
}

export interface SeedHolders {
  /** Live rows with the same seed fingerprint under other serials. */
  live: readonly TokenRecord[];
  /** Tombstones with the same fingerprint (any serial). */
  tombstones: readonly Tombstone[];
}

export interface Admission {
  /** The record to insert (counter and lastStep raised to the holders'). */
  record: TokenRecord;
  /** Serials of live registrations to retire (delete with a tombstone) before the insert: rekey only. */
  retire: string[];
}

const maxBig = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const maxStep = (a: bigint | null, b: bigint | null): bigint | null => (a === null ? b : b === null ? a : maxBig(a, b));

/** Admits a NEW serial's registration of a seed, or throws SEED_REVOKED / SEED_IN_USE (see the module comment). */
export function admitSeed(t: TokenRecord, holders: SeedHolders, rekey: boolean): Admission {
  const revoked = holders.live.find((h) => h.state === 'revoked')?.serial ?? holders.tombstones.find((x) => x.wasRevoked)?.serial;
  if (revoked !== undefined) {
    throw new VerifierError('SEED_REVOKED', `the seed of ${t.serial} was revoked (serial ${revoked}); a revoked seed is never registered again`, { details: { serial: revoked } });
  }
  const other = holders.live[0]?.serial ?? holders.tombstones.find((x) => x.serial !== t.serial)?.serial;
  if (other !== undefined && !rekey) {
    throw new VerifierError('SEED_IN_USE', `the seed of ${t.serial} is or was registered under serial ${other}; pass rekey: true to move it`, { details: { serial: other } });
  }
  let counter = t.counter;
  let lastStep = t.lastStep;
  for (const h of holders.live) {
    counter = maxBig(counter, h.counter);
    lastStep = maxStep(lastStep, h.lastStep);
  }
  for (const x of holders.tombstones) {
    counter = maxBig(counter, x.counter);
    lastStep = maxStep(lastStep, x.lastStep);
  }
  const otp = t.otp.type === 'totp' || (t.otp.type === 'ocra' && t.otp.counter === undefined) ? t.otp : { ...t.otp, counter };
  return { record: { ...t, otp, counter, lastStep }, retire: holders.live.map((h) => h.serial) };
}

/** The tombstone a registration leaves when it is deleted (or retired by a rekey) at `nowMs`. */
export function tombstoneOf(t: TokenRecord, reason: string | null, nowMs: number): Tombstone | null {
  if (t.seedFingerprint === null) return null;
  return {
    uid: t.uid,
    serial: t.serial,
    seedFingerprint: t.seedFingerprint,
    counter: t.counter,
    lastStep: t.lastStep,
    reason,
    deletedAtMs: nowMs,
    wasRevoked: t.state === 'revoked',
  };
}
