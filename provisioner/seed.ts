/**
 * The common currency of the provisioner: one `SeedRecord` per token slot to be loaded, whatever the source
 * (generated, PSKC, CSV) and whatever the export (PSKC, pam_oath users file, CSV). The OTP parameters are the
 * shared model (otp/otp-params.ts); a record adds only what the provisioner owns around them: the serial,
 * the seed and the labels.
 *
 * Invariants (checked by `checkSeedRecord`):
 * - `secret` is a `Secret` (never a plain array or string), at least 1 byte; 16+ bytes are recommended by
 *   RFC 4226 Section 4 and required by the PSKC HOTP profile (RFC 6030 Section 10.1);
 * - `otp` passes `checkOtpParams` (digits 6..10, counters in 0..2^64-1, a valid OCRA suite, ...);
 * - `serial` is a non-empty printable string: the pipeline maps it to a physical token.
 *
 * `ProvisionerError` is the provisioner layer's error (STYLE.md rule 7). Input problems carry `INVALID_*`
 * codes (the CLI exits 2 for them); the pipeline may add its own codes to the union.
 */
import { TokenforgeError } from '../otp/errors.ts';
import { parseOcraSuite } from '../otp/ocra.ts';
import { checkOtpParams, DEFAULT_PERIOD_SEC, otpAlgorithm, otpCounter, otpDigits, type OtpParams, type OtpType } from '../otp/otp-params.ts';
import type { HashAlgorithm } from '../otp/params.ts';
import { Secret } from '../otp/secret.ts';

export interface SeedRecord {
  /** Token serial number (PSKC DeviceInfo/SerialNo, CSV `serial`, or the generator's). */
  serial: string;
  /** The seed. Reach the bytes only through `secret.exposeSecretBytes()`. */
  secret: Secret;
  /** What the token computes with the seed (HOTP initial counter, TOTP step and T0, OCRA suite). */
  otp: OtpParams;
  /** A human label (PSKC FriendlyName / Issuer, CSV `label`). */
  label?: string;
  /** The user the token belongs to (PSKC Key/UserId, CSV `user`); pam_oath exports need one. */
  user?: string;
  /** Issuer (PSKC Issuer), kept for round trips. */
  issuer?: string;
  /** The PSKC Key Id when the record came from (or will go to) a PSKC file. */
  keyId?: string;
  /** Manufacturer from PSKC DeviceInfo, kept for round trips. */
  manufacturer?: string;
}

/** The optional labels of a record, in the order the journal stores them. */
export const SEED_LABELS = ['label', 'user', 'issuer', 'keyId', 'manufacturer'] as const;

export type ProvisionerErrorCode =
  /** A source file is malformed (XML syntax, PSKC structure, CSV syntax, bad base64/hex/base32). */
  | 'INVALID_PSKC'
  | 'INVALID_CSV'
  /** XML with a DOCTYPE/ENTITY declaration (XXE, entity expansion): refused before parsing. */
  | 'INVALID_UNSAFE_XML'
  /** Input over the configured size or element-count limit. */
  | 'INVALID_TOO_LARGE'
  /** A value that cannot become a seed record (odd-length secret, digits out of range, empty serial...). */
  | 'INVALID_SEED'
  /** The file is encrypted and the matching key material was not given (PSK, password or private key). */
  | 'INVALID_NEEDS_KEY'
  /** Decryption failed: wrong pre-shared key, password or private key (or a damaged ciphertext). */
  | 'INVALID_DECRYPTION'
  /** A ValueMAC did not match, or an encrypted CBC value has no ValueMAC. */
  | 'INVALID_MAC'
  /** An algorithm URN/URI we do not implement. */
  | 'INVALID_UNSUPPORTED'
  /** A key carries no secret (e.g. derived out of band, RFC 6030 Figure 4). */
  | 'INVALID_NO_SECRET'
  /** A bad option passed to a source or an export. */
  | 'INVALID_ARGUMENT'
  /** Reading a source or writing an export failed (file system). */
  | 'IO_ERROR';

export class ProvisionerError extends TokenforgeError<ProvisionerErrorCode> {}

/** Seed length in bytes recommended per hash (the hash output size; RFC 6238 Appendix B uses 20/32/64). */
export const SEED_BYTES: Readonly<Record<HashAlgorithm, number>> = { SHA1: 20, SHA256: 32, SHA512: 64 };

/**
 * The flat fields seed sources describe parameters with (CSV columns, PSKC elements, the generator's profile;
 * also the layout of the first journal rows), every field filled with its default.
 */
export interface OtpFields {
  type: OtpType;
  algorithm: HashAlgorithm;
  digits: number;
  periodSec: number;
  t0Sec: bigint;
  counter: bigint;
  /** OCRA suite (RFC 6287 Section 6); needed for type 'ocra'. */
  suite?: string;
}

/** What a source assumes for a field it was not given (RFC 4226/6238 defaults: SHA-1, 6 digits, 30 s, T0 0, counter 0). */
export const OTP_FIELD_DEFAULTS: Readonly<Omit<OtpFields, 'type' | 'suite'>> = { algorithm: 'SHA1', digits: 6, periodSec: DEFAULT_PERIOD_SEC, t0Sec: 0n, counter: 0n };

/**
 * The parameters flat fields stand for: each type keeps only its own fields — HOTP the counter, TOTP the step
 * and T0, OCRA the suite (which names the hash and digits) and the counter when the suite has a C input.
 * Throws ProvisionerError('INVALID_SEED') for an OCRA type without a suite, OtpError for a bad suite.
 */
export function otpParamsFromFields(f: OtpFields): OtpParams {
  switch (f.type) {
    case 'hotp':
      return { type: 'hotp', algorithm: f.algorithm, digits: f.digits, counter: f.counter };
    case 'totp':
      return { type: 'totp', algorithm: f.algorithm, digits: f.digits, periodSec: f.periodSec, t0Sec: f.t0Sec };
    case 'ocra':
      if (f.suite === undefined) throw new ProvisionerError('INVALID_SEED', 'an OCRA record needs an OCRA suite');
      return parseOcraSuite(f.suite).counter ? { type: 'ocra', suite: f.suite, counter: f.counter } : { type: 'ocra', suite: f.suite };
  }
}

/**
 * The counter a record's flat formats carry (CSV and PSKC exports, `--json`): the HOTP or OCRA counter, 0 where
 * the parameters have none (TOTP, an OCRA suite without C), as these formats always wrote.
 */
export function seedCounter(r: SeedRecord): bigint {
  return otpCounter(r.otp) ?? 0n;
}

const SERIAL_RE = /^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$/;

/** Throws ProvisionerError('INVALID_SEED') naming the record and field when a record breaks an invariant. */
export function checkSeedRecord(r: SeedRecord, where = `seed ${r.serial}`): void {
  const bad = (msg: string): never => {
    throw new ProvisionerError('INVALID_SEED', `${where}: ${msg}`);
  };
  if (typeof r.serial !== 'string' || !SERIAL_RE.test(r.serial)) bad('serial must be 1..128 printable ASCII characters without leading/trailing spaces');
  if (!(r.secret instanceof Secret)) bad('secret must be a Secret');
  if (r.secret.length === 0) bad('secret is empty');
  if (typeof r.otp !== 'object' || r.otp === null) bad('otp parameters are missing');
  try {
    checkOtpParams(r.otp);
  } catch (e) {
    bad(e instanceof Error ? e.message : String(e));
  }
}

/** A copy of `r` without the secret bytes, safe to print or serialise (for `--json` and reports). */
export function describeSeed(r: SeedRecord): Record<string, string | number> {
  const out: Record<string, string | number> = {
    serial: r.serial,
    type: r.otp.type,
    algorithm: otpAlgorithm(r.otp),
    digits: otpDigits(r.otp),
    counter: seedCounter(r).toString(),
    secretBytes: r.secret.length,
  };
  if (r.otp.type === 'totp') {
    out['periodSec'] = r.otp.periodSec;
    out['t0'] = r.otp.t0Sec.toString();
  }
  if (r.otp.type === 'ocra') out['ocraSuite'] = r.otp.suite;
  if (r.keyId !== undefined) out['keyId'] = r.keyId;
  if (r.user !== undefined) out['user'] = r.user;
  if (r.label !== undefined) out['label'] = r.label;
  if (r.issuer !== undefined) out['issuer'] = r.issuer;
  return out;
}

/** Wipes the secrets of all records (call when a batch is done with them). */
export function wipeSeeds(records: Iterable<SeedRecord>): void {
  for (const r of records) r.secret.wipe();
}
