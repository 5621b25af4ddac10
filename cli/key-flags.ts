/**
 * Flags that carry keys, read on the rules of cli/flags.ts (one-line UsageErrors naming the flag):
 *   - trust anchors: uncompressed P-256 public keys, 130 hex digits, 04 first, a point on the curve (the
 *     stricter of the two rules the device and provision commands had, plus the curve check, so that a
 *     mistyped factory key is named as such instead of every token failing its attestation);
 *   - PSKC key material: --psk (hex) and --password taken as given, --private-key naming a PEM file read here;
 *     the export protection --export-psk, --export-password, --export-plain as given.
 * Seeds and other secrets typed on the command line (--key, --pin) are read by cli/key-input.ts.
 */
import { readFileSync } from 'node:fs';
import { hexToBytes } from '../otp/hex.ts';
import { TEST_ATTESTATION_PUBLIC_KEY } from '../protocol/test-attestation-key.ts';
import { isValidPublicKey } from '../protocol/wrap.ts';
import { ProvisionerError } from '../provisioner/seed.ts';
import { UsageError } from './errors.ts';
import { list, single } from './flags.ts';

// ---- attestation ----

const ANCHOR_FORM = 'must be an uncompressed P-256 public key, 130 hex digits starting with 04';

/**
 * The factory attestation keys of repeatable `--trust-anchor HEX`, plus the published TEST key when `trustTest`
 * (`--trust-test-attestation`, simulated tokens).
 */
export function trustAnchors(v: unknown, trustTest: boolean): Uint8Array[] {
  const anchors = list(v).map((h) => {
    let b: Uint8Array;
    try {
      b = hexToBytes(h, '--trust-anchor');
    } catch {
      throw new UsageError(`--trust-anchor: ${ANCHOR_FORM}`);
    }
    if (b.length !== 65 || b[0] !== 4) throw new UsageError(`--trust-anchor: ${ANCHOR_FORM}`);
    if (!isValidPublicKey(b)) throw new UsageError('--trust-anchor: not a point on the P-256 curve; give the factory attestation public key');
    return b;
  });
  if (trustTest) anchors.push(TEST_ATTESTATION_PUBLIC_KEY);
  return anchors;
}

// ---- PSKC key material ----

export interface PskcKeyFlags {
  psk?: unknown;
  password?: unknown;
  'private-key'?: unknown;
}

export interface PskcKeyMaterial {
  psk?: string;
  password?: string;
  /** The PEM text of the --private-key file. */
  privateKey?: string;
}

/** The keys that decrypt a PSKC file: --psk HEX, --password P, --private-key PEM_FILE (read here; exit 1 if unreadable). */
export function pskcKeys(flags: PskcKeyFlags): PskcKeyMaterial {
  const keys: PskcKeyMaterial = {};
  const psk = single(flags.psk, '--psk');
  const password = single(flags.password, '--password');
  const pk = single(flags['private-key'], '--private-key');
  if (psk !== undefined) keys.psk = psk;
  if (password !== undefined) keys.password = password;
  if (pk !== undefined) {
    try {
      keys.privateKey = readFileSync(pk, 'utf8');
    } catch (e) {
      throw new ProvisionerError('IO_ERROR', `--private-key: cannot read ${pk} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return keys;
}

export interface PskcExportFlags {
  'export-psk'?: unknown;
  'export-password'?: unknown;
  'export-plain'?: unknown;
}

export interface PskcExportKeys {
  psk?: string;
  password?: string;
  allowPlain?: true;
}

/** How a PSKC export is protected: --export-psk HEX, --export-password P or --export-plain (as given). */
export function pskcExportKeys(flags: PskcExportFlags): PskcExportKeys {
  const keys: PskcExportKeys = {};
  const psk = single(flags['export-psk'], '--export-psk');
  const password = single(flags['export-password'], '--export-password');
  if (psk !== undefined) keys.psk = psk;
  if (password !== undefined) keys.password = password;
  if (flags['export-plain']) keys.allowPlain = true;
  return keys;
}
