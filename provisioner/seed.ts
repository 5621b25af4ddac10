/**
 * The common currency of the provisioner: one `SeedRecord` per token slot to be loaded, whatever the source
 * (generated, PSKC, CSV) and whatever the export (PSKC, pam_oath users file, CSV).
 *
 * Invariants (checked by `checkSeedRecord`):
 * - `secret` is a `Secret` (never a plain array or string), at least 1 byte; 16+ bytes are recommended by
 *   RFC 4226 Section 4 and required by the PSKC HOTP profile (RFC 6030 Section 10.1);
 * - `digits` is 6..10 (otp/params.ts), `periodSec` a positive integer (TOTP only, kept as 30 for HOTP/OCRA),
 *   `counter` and `t0` are bigint (`counter` in 0..2^64-1, `t0` in seconds since the Unix epoch);
 * - `serial` is a non-empty printable string: the pipeline maps it to a physical token.
 *
 * `ProvisionerError` is the provisioner layer's error (STYLE.md rule 7). Input problems carry `INVALID_*`
 * codes (the CLI exits 2 for them); the pipeline may add its own codes to the union.
 */
import { TokenforgeError } from '../otp/errors.ts';
import { parseOcraSuite } from '../otp/ocra.ts';
import { checkCounter, checkDigits, type HashAlgorithm } from '../otp/params.ts';
import { Secret } from '../otp/secret.ts';

export const SEED_TYPES = ['hotp', 'totp', 'ocra'] as const;
export type SeedType = (typeof SEED_TYPES)[number];

export interface SeedRecord {
  /** Token serial number (PSKC DeviceInfo/SerialNo, CSV `serial`, or the generator's). */
  serial: string;
  /** The seed. Reach the bytes only through `secret.exposeSecretBytes()`. */
  secret: Secret;
  type: SeedType;
  algorithm: HashAlgorithm;
  digits: number;
  /** TOTP time step X in seconds (RFC 6238 Section 4.1); 30 for HOTP/OCRA records (unused there). */
  periodSec: number;
  /** TOTP T0 in Unix seconds; 0n unless the source says otherwise. */
  t0: bigint;
  /** HOTP moving factor (initial counter); 0n for TOTP. */
  counter: bigint;
  /** OCRA suite string (RFC 6287 Section 6), only for type 'ocra'. */
  ocraSuite?: string;
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

export const DEFAULT_PERIOD_SEC = 30;

/** Seed length in bytes recommended per hash (the hash output size; RFC 6238 Appendix B uses 20/32/64). */
export const SEED_BYTES: Readonly<Record<HashAlgorithm, number>> = { SHA1: 20, SHA256: 32, SHA512: 64 };

const SERIAL_RE = /^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$/;

/** Throws ProvisionerError('INVALID_SEED') naming the record and field when a record breaks an invariant. */
export function checkSeedRecord(r: SeedRecord, where = `seed ${r.serial}`): void {
  const bad = (msg: string): never => {
    throw new ProvisionerError('INVALID_SEED', `${where}: ${msg}`);
  };
  if (typeof r.serial !== 'string' || !SERIAL_RE.test(r.serial)) bad('serial must be 1..128 printable ASCII characters without leading/trailing spaces');
  if (!(r.secret instanceof Secret)) bad('secret must be a Secret');
  if (r.secret.length === 0) bad('secret is empty');
  if (!(SEED_TYPES as readonly string[]).includes(r.type)) bad(`type "${String(r.type)}" is not hotp, totp or ocra`);
  if (r.algorithm !== 'SHA1' && r.algorithm !== 'SHA256' && r.algorithm !== 'SHA512') bad(`algorithm "${String(r.algorithm)}" is not SHA1, SHA256 or SHA512`);
  try {
    if (r.type === 'ocra') {
      const suite = parseOcraSuite(r.ocraSuite ?? bad('an OCRA record needs ocraSuite'));
      if (suite.digits !== r.digits) bad(`digits ${r.digits} differ from the OCRA suite's ${suite.digits}`);
      if (suite.algorithm !== r.algorithm) bad(`algorithm ${r.algorithm} differs from the OCRA suite's ${suite.algorithm}`);
    } else checkDigits(r.digits);
    checkCounter(r.counter);
  } catch (e) {
    if (e instanceof ProvisionerError) throw e;
    bad(e instanceof Error ? e.message : String(e));
  }
  if (!Number.isInteger(r.periodSec) || r.periodSec <= 0 || r.periodSec > 86_400) bad(`periodSec ${r.periodSec} must be an integer in 1..86400`);
  if (typeof r.t0 !== 'bigint' || r.t0 < 0n) bad('t0 must be a non-negative bigint (Unix seconds)');
}

/** A copy of `r` without the secret bytes, safe to print or serialise (for `--json` and reports). */
export function describeSeed(r: SeedRecord): Record<string, string | number> {
  const out: Record<string, string | number> = {
    serial: r.serial,
    type: r.type,
    algorithm: r.algorithm,
    digits: r.digits,
    counter: r.counter.toString(),
    secretBytes: r.secret.length,
  };
  if (r.type === 'totp') {
    out['periodSec'] = r.periodSec;
    out['t0'] = r.t0.toString();
  }
  if (r.ocraSuite !== undefined) out['ocraSuite'] = r.ocraSuite;
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
