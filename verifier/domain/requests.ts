/**
 * The requests the verifier service acts on, as typed values, and the domain's own checks on them. Every front
 * end (http/parse.ts decodes JSON bodies; a RADIUS adapter would decode attributes) turns its input into these
 * shapes and calls these checks; the domain never sees the wire form.
 *
 * Invariants: a serial matches SERIAL_RE (it is also a URL path segment and a log field); a seed is
 * MIN_SECRET_BYTES..MAX_SECRET_BYTES long (RFC 4226 Section 4 R6: at least 128 bits); a batch holds at most
 * MAX_BATCH registrations; registering a serial again is idempotent when seed and parameters are the same
 * (sameParameters).
 */
import type { OtpParams } from '../../otp/otp-params.ts';
import type { AdminEvent, TokenStateName } from './states.ts';
import type { TokenSource } from './types.ts';
import { VerifierError } from '../errors.ts';

export const MAX_BATCH = 10_000;
export const MIN_SECRET_BYTES = 16; // RFC 4226 Section 4 R6: at least 128 bits
export const MAX_SECRET_BYTES = 128;
export const SERIAL_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export function isSerial(s: string): boolean {
  return SERIAL_RE.test(s);
}

/** One token to register. */
export interface RegisterRequest {
  serial: string;
  /** The token's parameters; for hotp (and OCRA suites with C) `counter` is the counter it starts from. */
  otp: OtpParams;
  /** TOTP: a time step already used (the provisioner's check code), so no step up to it is ever accepted. */
  lastStep: bigint | null;
  /** Decoded seed; the caller seals it and wipes this array. */
  secret: Uint8Array;
  user: string | null;
  label: string | null;
  lookAhead: number | null;
  windowBack: number | null;
  windowForward: number | null;
  resyncWindow: number | null;
  /** The provisioning batch (1..128 printable characters), or null. */
  batchId: string | null;
  /** The seed file of the batch, or null. */
  source: TokenSource | null;
  /** Take the seed even if another serial holds or held it (domain/lifecycle.ts admitSeed). */
  rekey: boolean;
}

/** PATCH of a token's metadata: only the given fields change; `version` is the precondition. */
export interface TokenPatch {
  version: number;
  user?: string | null;
  label?: string | null;
  lookAhead?: number | null;
  windowBack?: number | null;
  windowForward?: number | null;
  resyncWindow?: number | null;
}

/** A bulk state action (POST /v1/tokens:bulk). An empty filter needs `all` (checked by the parser). */
export interface BulkRequest {
  action: AdminEvent;
  filter: { batch?: string; user?: string; serials?: string[]; state?: TokenStateName };
  all: boolean;
  dryRun: boolean;
  reason: string | null;
}

/** One verification: by serial, or by user (every hotp/totp token of the user is tried). */
export interface VerifyRequest {
  serial: string | null;
  user: string | null;
  code: string;
  /** HOTP only: the client's counter (RFC 4226 App. E.4 counter-based resynchronisation). */
  counter: bigint | null;
}

/**
 * Seed length check (RFC 4226 Section 4 R6). A seed outside the bounds is wiped before the error is thrown;
 * `field` names the input it came from in the error.
 */
export function checkSecretLength(secret: Uint8Array, field: string): void {
  if (secret.length >= MIN_SECRET_BYTES && secret.length <= MAX_SECRET_BYTES) return;
  const n = secret.length;
  secret.fill(0);
  throw new VerifierError(
    'INVALID_REQUEST',
    `${field}: decodes to ${n} bytes; RFC 4226 requires at least ${MIN_SECRET_BYTES} (20 recommended), at most ${MAX_SECRET_BYTES} accepted`,
    { field },
  );
}

/**
 * Whether two parameter sets describe the same token, for idempotent re-registration: everything but the
 * counter (a token registered again may have moved on). OCRA: the suite fixes hash and length.
 */
export function sameParameters(a: OtpParams, b: OtpParams): boolean {
  switch (a.type) {
    case 'hotp':
      return b.type === 'hotp' && a.algorithm === b.algorithm && a.digits === b.digits;
    case 'totp':
      return b.type === 'totp' && a.algorithm === b.algorithm && a.digits === b.digits && a.periodSec === b.periodSec && a.t0Sec === b.t0Sec;
    case 'ocra':
      return b.type === 'ocra' && a.suite === b.suite;
  }
}

/**
 * The published test keys of RFC 4226 App. D and RFC 6238 App. B (ASCII "1234567890" repeated to 20, 32 and 64
 * bytes). Their codes are in the RFCs, so they protect nothing; conformance suites register them under many
 * serials. They get no seed identity (no fingerprint, no tombstone carry-over): every other seed does.
 */
const PUBLIC_TEST_SEEDS = [20, 32, 64].map((n) => new TextEncoder().encode('1234567890'.repeat(7).slice(0, n)));

export function isPublicTestSeed(seed: Uint8Array): boolean {
  return PUBLIC_TEST_SEEDS.some((k) => k.length === seed.length && k.every((b, i) => b === seed[i]));
}
