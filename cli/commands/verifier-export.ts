/**
 * `tokenforge verifier export`: the registry's ACTIVE tokens as a pam_oath users file, PSKC or CSV, with their
 * CURRENT counters, written 0600 and atomically (provisioner/exports/). It runs where the master key file is,
 * locally on the database like `rotate-key`, never through the HTTP API: seeds never leave the server in a
 * response.
 *
 * Invariants (issue 11, item 7):
 * - only tokens in state `active` are written: never a revoked, lost, disabled or locked one;
 * - HOTP (and OCRA with a counter) carry the next counter the verifier expects, so the file never accepts a
 *   code the verifier has accepted; TOTP lines carry the code of the last accepted step where the format has a
 *   place for it (pam_oath's last-OTP field, which liboath uses to refuse that step and earlier ones); PSKC and
 *   CSV have no last-step field, so a TOTP code of the current step that the verifier already accepted can be
 *   accepted once more by the importing system — docs/verifier.md says so;
 * - seed bytes live in Secret objects that are wiped once the file is written.
 *
 * The dependency direction puts this in cli/: verifier/ may import only otp/, so the registry rows are turned
 * into the provisioner's SeedRecords here and handed to its export writers.
 */
import { hotp } from '../../otp/hotp.ts';
import type { OtpParams } from '../../otp/otp-params.ts';
import { Secret } from '../../otp/secret.ts';
import type { SeedRecord } from '../../provisioner/seed.ts';
import type { TokenRecord } from '../../verifier/domain/types.ts';
import type { Keyring } from '../../verifier/keyring.ts';

/** A registry row as the export writes it, with the last accepted TOTP code (for pam_oath) when there is one. */
export interface ExportedToken {
  record: SeedRecord;
  lastOtp?: string;
}

/** The current OTP parameters of a row: the live counter in place of the registration's initial one. */
export function currentOtp(t: TokenRecord): OtpParams {
  const p = t.otp;
  if (p.type === 'hotp') return { ...p, counter: t.counter };
  if (p.type === 'ocra' && p.counter !== undefined) return { ...p, counter: t.counter };
  return p;
}

/** The seed record of an ACTIVE row (its seed unsealed with `ring`), or null for any other state. */
export function exportedToken(t: TokenRecord, ring: Keyring): ExportedToken | null {
  if (t.state !== 'active') return null;
  // The Secret takes the unsealed bytes over (no copy); wipeSeeds clears them after the file is written.
  const secret = new Secret(ring.open(t.serial, t.seedKid, t.seedSealed));
  const record: SeedRecord = { serial: t.serial, secret, otp: currentOtp(t), ...(t.user !== null ? { user: t.user } : {}), ...(t.label !== null ? { label: t.label } : {}) };
  const p = t.otp;
  if (p.type !== 'totp' || t.lastStep === null) return { record };
  // RFC 6238 Section 4.2: the code of step T is HOTP(K, T).
  return { record, lastOtp: hotp(secret.exposeSecretBytes(), t.lastStep, { algorithm: p.algorithm, digits: p.digits }) };
}
