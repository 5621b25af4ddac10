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
import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { hotp } from '../../otp/hotp.ts';
import type { OtpParams } from '../../otp/otp-params.ts';
import { Secret } from '../../otp/secret.ts';
import { EXPORT_FORMATS, exportSeeds, type ExportFormat, type ExportOptions } from '../../provisioner/exports/index.ts';
import { wipeSeeds, type SeedRecord } from '../../provisioner/seed.ts';
import type { TokenRecord } from '../../verifier/domain/types.ts';
import { readKeyFile } from '../../verifier/keyfile.ts';
import { activeTokensWithSeeds } from '../../verifier/admin.ts';
import { createKeyring } from '../../verifier/keyring.ts';
import { openStore } from '../../verifier/store/open.ts';
import { single } from '../flags.ts';
import { UsageError } from '../errors.ts';

/** A registry row as the export writes it, with the last accepted TOTP code (for pam_oath) when there is one. */
export interface ExportRecord {
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

/**
 * The seed record of an ACTIVE row and its unsealed seed (the Secret takes the bytes over, no copy; wipeSeeds
 * clears them once the file is written), or null for any other state (activeTokensWithSeeds yields only
 * active rows; this is the second lock on the door).
 */
export function exportRecord(t: TokenRecord, seed: Uint8Array): ExportRecord | null {
  if (t.state !== 'active') {
    seed.fill(0);
    return null;
  }
  const secret = new Secret(seed);
  const record: SeedRecord = { serial: t.serial, secret, otp: currentOtp(t), ...(t.user !== null ? { user: t.user } : {}), ...(t.label !== null ? { label: t.label } : {}) };
  const p = t.otp;
  if (p.type !== 'totp' || t.lastStep === null) return { record };
  // RFC 6238 Section 4.2: the code of step T is HOTP(K, T).
  return { record, lastOtp: hotp(secret.exposeSecretBytes(), t.lastStep, { algorithm: p.algorithm, digits: p.digits }) };
}

interface ExportArgs {
  db: string;
  'master-key-file': string;
  format: string;
  out?: string;
  batch?: string;
  user?: string;
  overwrite?: boolean;
  'psk-file'?: string;
  'password-env'?: string;
  plain?: boolean;
}

/** The export options for the PSKC protection flags (a key file or a password from the environment). */
function pskcProtection(a: ExportArgs): Pick<ExportOptions, 'psk' | 'password' | 'allowPlain'> {
  const given = [a['psk-file'], a['password-env'], a.plain ? true : undefined].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UsageError('--format pskc: give exactly one of --psk-file FILE (hex key), --password-env VAR, or (labs only) --plain');
  if (a['psk-file'] !== undefined) {
    let hex: string;
    try {
      hex = readFileSync(single(a['psk-file'], '--psk-file')!, 'utf8').trim();
    } catch (e) {
      throw new UsageError(`--psk-file: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    return { psk: hex };
  }
  if (a['password-env'] !== undefined) {
    const name = single(a['password-env'], '--password-env')!;
    const pw = process.env[name];
    if (!pw) throw new UsageError(`--password-env: environment variable ${name} is not set or empty`);
    return { password: pw };
  }
  return { allowPlain: true };
}

async function handler(a: ExportArgs): Promise<void> {
  const format = single(a.format, '--format')!;
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format: "${format.slice(0, 40)}" must be one of ${EXPORT_FORMATS.join(', ')}`);
  const out = single(a.out, '--out');
  if (out === undefined) throw new UsageError('--out FILE: where to write the export (created with mode 0600)');
  const protection = format === 'pskc' ? pskcProtection(a) : {};
  const batch = single(a.batch, '--batch');
  const user = single(a.user, '--user');
  const ring = createKeyring(readKeyFile(single(a['master-key-file'], '--master-key-file')!));
  const store = await openStore(single(a.db, '--db')!);
  const exported: ExportRecord[] = [];
  try {
    for await (const row of activeTokensWithSeeds(store, ring, { ...(batch !== undefined ? { batch } : {}), ...(user !== undefined ? { user } : {}) })) {
      const e = exportRecord(row.record, row.seed);
      if (e) exported.push(e);
    }
    const records = exported.map((e) => e.record);
    const lastOtp = new Map(exported.filter((e) => e.lastOtp !== undefined).map((e) => [e.record, e.lastOtp!]));
    const r = await exportSeeds(records, { format: format as ExportFormat, file: out, overwrite: a.overwrite === true, lastOtpFor: (rec) => lastOtp.get(rec), ...protection });
    process.stdout.write(`exported ${r.count} active token${r.count === 1 ? '' : 's'} to ${out} (${format})\n`);
    if (format !== 'pam-oath' && records.some((rec) => rec.otp.type === 'totp')) {
      process.stderr.write(`note: ${format} has no field for the last accepted TOTP step; the importing system may accept the current step's code once more\n`);
    }
  } finally {
    wipeSeeds(exported.map((e) => e.record));
    await store.close();
  }
}

export const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export',
  describe: 'Write the active tokens (current counters) as a pam_oath users file, PSKC or CSV; local, with the master key file, never over HTTP',
  builder: (y) =>
    y
      .option('db', { type: 'string', default: 'tokenforge-verifier.db', describe: 'SQLite database file or postgres:// URL' })
      .option('master-key-file', { type: 'string', default: 'tokenforge-verifier.key', describe: 'Master key file (to unseal the seeds)' })
      .option('format', { type: 'string', demandOption: true, describe: `One of ${EXPORT_FORMATS.join(', ')}` })
      .option('out', { type: 'string', describe: 'File to write (mode 0600, atomically)' })
      .option('batch', { type: 'string', describe: 'Only tokens of this batch' })
      .option('user', { type: 'string', describe: 'Only tokens of this user' })
      .option('overwrite', { type: 'boolean', describe: 'Replace an existing file' })
      .option('psk-file', { type: 'string', describe: 'PSKC: file holding the pre-shared key in hex (AES-128/192/256)' })
      .option('password-env', { type: 'string', describe: 'PSKC: environment variable holding the export password (PBKDF2)' })
      .option('plain', { type: 'boolean', describe: 'PSKC: write the secrets in clear (tests and labs only)' })
      .example('$0 verifier export --format pam-oath --out /etc/users.oath', 'The pam_oath users file of every active token') as unknown as Argv<ExportArgs>,
  handler,
};
