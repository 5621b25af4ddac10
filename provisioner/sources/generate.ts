/**
 * Generated seeds: N fresh records from a CSPRNG (the `rng` port; `nodeRng` wraps node:crypto randomBytes,
 * tests inject a seeded one). Seed length follows the hash (RFC 4226 Section 4 R6 asks for at least 128 bits
 * and recommends 160; RFC 6238 Appendix B uses 20/32/64 bytes for SHA-1/256/512).
 *
 * Serials: sequential (`serialStart` given: prefix + zero-padded decimal) or random (prefix + 10 upper-case
 * hex digits from the rng, 40 bits, so two batches do not collide in practice; collisions within a batch are
 * re-drawn).
 */
import { randomBytes } from 'node:crypto';
import { checkPeriodSec, otpAlgorithm, type OtpParams, type OtpType } from '../../otp/otp-params.ts';
import type { HashAlgorithm } from '../../otp/params.ts';
import { Secret } from '../../otp/secret.ts';
import { checkSeedRecord, OTP_FIELD_DEFAULTS, otpParamsFromFields, ProvisionerError, SEED_BYTES, type SeedRecord } from '../seed.ts';

/** The randomness port: returns `n` bytes from a CSPRNG. */
export type Rng = (n: number) => Uint8Array;

export const nodeRng: Rng = (n) => new Uint8Array(randomBytes(n));

/** What to generate; every field has a default. Fields another type does not use are ignored. */
export interface GenerateProfile {
  type?: OtpType;
  /** HOTP/TOTP (default SHA1); OCRA takes it from the suite. */
  algorithm?: HashAlgorithm;
  /** HOTP/TOTP (default 6); OCRA takes it from the suite. */
  digits?: number;
  /** TOTP time step (default 30). */
  periodSec?: number;
  /** TOTP T0 in Unix seconds (default 0). */
  t0?: bigint;
  /** HOTP initial counter, and OCRA's when the suite has a C input (default 0). */
  counter?: bigint;
  ocraSuite?: string;
  /** Seed length; default by algorithm (20/32/64). At least 16. */
  seedBytes?: number;
  serialPrefix?: string;
  /** First serial number for sequential serials; random serials when absent. */
  serialStart?: bigint | number;
  /** Width of the zero-padded sequential number (default 8). */
  serialWidth?: number;
  label?: string;
  issuer?: string;
}

export const MAX_GENERATE = 1_000_000;

/** A serial generator: sequential from `start`, or random from `rng`. */
export function serialGenerator(profile: GenerateProfile, rng: Rng): () => string {
  const prefix = profile.serialPrefix ?? 'TF';
  if (profile.serialStart !== undefined) {
    let next = BigInt(profile.serialStart);
    if (next < 0n) throw new ProvisionerError('INVALID_ARGUMENT', 'serialStart: must be >= 0');
    const width = profile.serialWidth ?? 8;
    return () => `${prefix}${(next++).toString().padStart(width, '0')}`;
  }
  const seen = new Set<string>();
  return () => {
    for (;;) {
      const s = `${prefix}${Buffer.from(rng(5)).toString('hex').toUpperCase()}`;
      if (!seen.has(s)) {
        seen.add(s);
        return s;
      }
    }
  };
}

/** The parameters every record of `profile` gets (INVALID_ARGUMENT for a bad profile). */
function profileParams(profile: GenerateProfile): OtpParams {
  const type = profile.type ?? 'hotp';
  if (type === 'ocra' && !profile.ocraSuite) throw new ProvisionerError('INVALID_ARGUMENT', 'generate: an OCRA profile needs an OCRA suite (e.g. OCRA-1:HOTP-SHA1-6:QN08)');
  try {
    // A bad period is refused whatever the type, as a bad digits value is.
    if (profile.periodSec !== undefined) checkPeriodSec(profile.periodSec);
    const d = OTP_FIELD_DEFAULTS;
    const f = { type, algorithm: profile.algorithm ?? d.algorithm, digits: profile.digits ?? d.digits, periodSec: profile.periodSec ?? d.periodSec, t0Sec: profile.t0 ?? d.t0Sec, counter: profile.counter ?? d.counter };
    return otpParamsFromFields(profile.ocraSuite === undefined ? f : { ...f, suite: profile.ocraSuite });
  } catch (e) {
    throw new ProvisionerError('INVALID_ARGUMENT', `generate: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** `n` fresh seed records following `profile`. */
export function generateSeeds(n: number, profile: GenerateProfile, rng: Rng): SeedRecord[] {
  if (!Number.isInteger(n) || n < 1 || n > MAX_GENERATE) throw new ProvisionerError('INVALID_ARGUMENT', `generate: count ${n} must be an integer in 1..${MAX_GENERATE}`);
  const otp = profileParams(profile);
  const seedBytes = profile.seedBytes ?? SEED_BYTES[otpAlgorithm(otp)];
  if (!Number.isInteger(seedBytes) || seedBytes < 16 || seedBytes > 128) throw new ProvisionerError('INVALID_ARGUMENT', `generate: seedBytes ${seedBytes} must be 16..128 (RFC 4226 asks for at least 128 bits)`);
  const nextSerial = serialGenerator(profile, rng);
  const out: SeedRecord[] = [];
  for (let i = 0; i < n; i++) {
    const bytes = rng(seedBytes);
    if (!(bytes instanceof Uint8Array) || bytes.length !== seedBytes) throw new ProvisionerError('INVALID_ARGUMENT', `generate: the rng returned ${bytes?.length} bytes, expected ${seedBytes}`);
    const r: SeedRecord = { serial: nextSerial(), secret: new Secret(bytes), otp };
    if (profile.label !== undefined) r.label = profile.label;
    if (profile.issuer !== undefined) r.issuer = profile.issuer;
    try {
      checkSeedRecord(r, 'generate');
    } catch (e) {
      throw new ProvisionerError('INVALID_ARGUMENT', e instanceof Error ? e.message : String(e));
    }
    out.push(r);
  }
  return out;
}
