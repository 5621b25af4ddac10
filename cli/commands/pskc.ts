/**
 * `tokenforge pskc ...`: look into vendor PSKC files (RFC 6030) and convert seed files.
 *
 *   pskc inspect FILE   keys, serials and parameters (secrets only with --show-secrets)
 *   pskc doctor FILE    plain-words findings; exit 1 when there is an error
 *   pskc convert IN OUT re-write seeds (PSKC or CSV in; PSKC, pam_oath users file or CSV out), mode 0600
 *
 * Input problems (bad files, wrong keys, bad MACs) exit 2; file-system problems exit 1.
 */
import type { Argv, CommandModule } from 'yargs';
import { describeSeed, ProvisionerError, wipeSeeds, type SeedRecord } from '../../provisioner/seed.ts';
import { readSourceFile, loadSeeds, DEFAULT_MAX_FILE_BYTES } from '../../provisioner/sources/index.ts';
import { decryptPskc, keyKind, parsePskc, type PskcKeys, type PskcKey, type PskcContainer } from '../../provisioner/sources/pskc/parse.ts';
import { diagnosePskc, type Finding } from '../../provisioner/sources/pskc/doctor.ts';
import { MAX_PBKDF2_ITERATIONS } from '../../provisioner/sources/pskc/crypto.ts';
import { MAX_PERIOD_SEC } from '../../otp/otp-params.ts';
import { EXPORT_FORMATS, exportSeeds, type ExportFormat } from '../../provisioner/exports/index.ts';
import { UsageError } from '../errors.ts';
import { optionalInteger } from '../flags.ts';
import { pskcExportKeys, pskcKeys } from '../key-flags.ts';

interface KeyFlags {
  psk?: string;
  password?: string;
  'private-key'?: string;
  'max-bytes'?: string;
  'allow-missing-mac'?: boolean;
}


/** Provisioner input errors (INVALID_*) become usage errors (exit 2) with the same message. */
async function asInput<T>(f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ProvisionerError && e.code.startsWith('INVALID_')) throw new UsageError(e.message);
    throw e;
  }
}

function keysFrom(argv: KeyFlags): PskcKeys {
  const keys: PskcKeys = pskcKeys(argv);
  if (argv['allow-missing-mac']) keys.allowMissingMac = true;
  return keys;
}

/** --max-bytes may raise the 64 MiB default up to 1 GiB (a file is parsed as one string in memory). */
const MAX_BYTES_LIMIT = 2 ** 30;

function maxBytes(argv: KeyFlags): number {
  return optionalInteger(argv['max-bytes'], '--max-bytes', { min: 1, max: MAX_BYTES_LIMIT }) ?? DEFAULT_MAX_FILE_BYTES;
}

const keyOptions = (y: Argv): Argv =>
  y
    .option('psk', { type: 'string', describe: 'pre-shared key in hex (AES-128: 32 hex digits) for files encrypted with a pre-shared key' })
    .option('password', { type: 'string', describe: 'password for PBKDF2-encrypted files (note: command-line arguments are visible to other local users in ps)' })
    .option('private-key', { type: 'string', describe: 'PEM file with the RSA private key for files encrypted to a certificate (RSA-1_5 / RSA-OAEP)' })
    .option('max-bytes', { type: 'string', describe: `refuse files bigger than this (default ${DEFAULT_MAX_FILE_BYTES} = 64 MiB)` })
    .option('allow-missing-mac', { type: 'boolean', describe: 'accept CBC-encrypted values without a ValueMAC (unsafe: tampering goes unnoticed)' });

function encryptionWords(c: PskcContainer): string {
  const e = c.encryption;
  const mac = c.mac?.algorithm ? `, MAC ${c.mac.algorithm.slice(c.mac.algorithm.lastIndexOf('#') + 1)}` : '';
  switch (e.kind) {
    case 'none':
      return c.keys.some((k) => k.secret?.kind === 'encrypted') ? `encrypted (key not named)${mac}` : 'not encrypted';
    case 'preshared':
      return `pre-shared key${e.keyName ? ` "${e.keyName}"` : ''}${mac}`;
    case 'pbkdf2':
      return `password (PBKDF2, ${e.params.iterations} iterations${e.keyName ? `, "${e.keyName}"` : ''})${mac}`;
    case 'rsa':
      return `RSA certificate${mac}`;
  }
}

interface KeyRow {
  keyId: string | null;
  serial: string | null;
  algorithm: string | null;
  type: string;
  digits: number | null;
  counter: string | null;
  periodSec: number | null;
  t0: string | null;
  suite: string | null;
  issuer: string | null;
  userId: string | null;
  manufacturer: string | null;
  secret: string;
  secretBytes: number | null;
  secretHex?: string;
}

function rowFor(raw: PskcContainer['keys'][number], dec: PskcKey | undefined, showSecrets: boolean): KeyRow {
  const kind = keyKind(raw.algorithm);
  const plainInt = (v: typeof raw.counter): string | null => (v?.kind === 'plain' ? v.text : v ? 'encrypted' : null);
  const counter = dec?.counter !== undefined ? dec.counter.toString() : plainInt(raw.counter);
  const interval = dec?.timeInterval !== undefined ? Number(dec.timeInterval) : raw.timeInterval?.kind === 'plain' ? Number(raw.timeInterval.text) : null;
  const row: KeyRow = {
    keyId: raw.keyId ?? null,
    serial: raw.serial ?? null,
    algorithm: raw.algorithm ?? null,
    type: kind,
    digits: raw.responseLength ?? null,
    counter,
    periodSec: kind === 'totp' ? (interval ?? 30) : interval,
    t0: dec?.time !== undefined ? dec.time.toString() : plainInt(raw.time),
    suite: raw.suite ?? null,
    issuer: raw.issuer ?? null,
    userId: raw.userId ?? null,
    manufacturer: raw.manufacturer ?? null,
    secret: !raw.secret ? 'none' : raw.secret.kind === 'plain' ? 'plain' : dec ? 'decrypted' : 'encrypted',
    secretBytes: dec?.secret ? dec.secret.length : null,
  };
  if (showSecrets && dec?.secret) row.secretHex = Buffer.from(dec.secret.exposeSecretBytes()).toString('hex');
  return row;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

async function inspect(argv: KeyFlags & { file: string; json?: boolean; 'show-secrets'?: boolean }): Promise<void> {
  const keys = keysFrom(argv);
  const text = await asInput(() => readSourceFile(argv.file, maxBytes(argv)));
  const c = await asInput(() => parsePskc(text, { maxBytes: maxBytes(argv) }));
  const haveKey = keys.psk !== undefined || keys.password !== undefined || keys.privateKey !== undefined;
  const encrypted = c.keys.some((k) => [k.secret, k.counter, k.time, k.timeInterval].some((v) => v?.kind === 'encrypted'));
  const showSecrets = argv['show-secrets'] === true;
  if (showSecrets && encrypted && !haveKey) throw new UsageError('--show-secrets: the secrets are encrypted; give --psk, --password or --private-key as well');
  const dec = encrypted && !haveKey ? undefined : await asInput(() => decryptPskc(c, keys));
  try {
    const rows = c.keys.map((k, i) => rowFor(k, dec?.[i], showSecrets));
    if (argv.json) {
      process.stdout.write(`${JSON.stringify({ file: argv.file, version: c.version ?? null, encryption: encryptionWords(c), keys: rows }, null, 2)}\n`);
      return;
    }
    const header = ['KEY ID', 'SERIAL', 'TYPE', 'DIGITS', 'COUNTER', 'PERIOD', 'SECRET'];
    if (showSecrets) header.push('SECRET (HEX)');
    const body = rows.map((r) => {
      const cells = [
        r.keyId ?? '-',
        r.serial ?? '-',
        r.type,
        r.digits === null ? '-' : String(r.digits),
        r.counter ?? '-',
        r.type === 'totp' && r.periodSec !== null ? `${r.periodSec}s` : '-',
        r.secretBytes !== null ? `${r.secretBytes} bytes${r.secret === 'decrypted' ? ' (decrypted)' : ''}` : r.secret,
      ];
      if (showSecrets) cells.push(r.secretHex ?? '-');
      return cells;
    });
    process.stdout.write(`${argv.file}: PSKC ${c.version ?? '(no version)'}, ${c.keys.length} key(s), ${encryptionWords(c)}\n`);
    process.stdout.write(`${table([header, ...body])}\n`);
    if (encrypted && !haveKey) process.stdout.write('secrets are encrypted: give --psk, --password or --private-key to decrypt and check the MACs\n');
  } finally {
    for (const k of dec ?? []) k.secret?.wipe();
  }
}

function printFindings(file: string, findings: Finding[]): void {
  const counts = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  for (const f of findings) {
    const where = [f.keyId !== undefined ? `key ${f.keyId}` : '', f.line !== undefined ? `line ${f.line}` : ''].filter(Boolean).join(', ');
    // Messages name their key for JSON consumers; the text form already says it in the parenthesis.
    const message = f.keyId !== undefined && f.message.startsWith(`key ${f.keyId}: `) ? f.message.slice(`key ${f.keyId}: `.length) : f.message;
    process.stdout.write(`${f.severity.padEnd(7)} ${f.code}${where ? ` (${where})` : ''}: ${message}\n`);
  }
  process.stdout.write(`${file}: ${counts.error} error(s), ${counts.warning} warning(s), ${counts.info} note(s)${counts.error === 0 && counts.warning === 0 ? ' - looks good' : ''}\n`);
}

async function doctor(argv: KeyFlags & { file: string; json?: boolean; 'expected-period'?: string }): Promise<void> {
  const keys = keysFrom(argv);
  const text = await asInput(() => readSourceFile(argv.file, maxBytes(argv)));
  const period = optionalInteger(argv['expected-period'], '--expected-period', { min: 1, max: MAX_PERIOD_SEC });
  const findings = diagnosePskc(text, { keys, now: new Date(), expectedPeriodSec: period ?? 30, limits: { maxBytes: maxBytes(argv) } });
  if (argv.json) process.stdout.write(`${JSON.stringify({ file: argv.file, findings }, null, 2)}\n`);
  else printFindings(argv.file, findings);
  process.exitCode = findings.some((f) => f.severity === 'error') ? 1 : 0;
}

async function convert(
  argv: KeyFlags & {
    input: string;
    output: string;
    from?: string;
    format: string;
    'export-psk'?: string;
    'export-password'?: string;
    'export-plain'?: boolean;
    'pbkdf2-iterations'?: string;
    overwrite?: boolean;
    json?: boolean;
  },
): Promise<void> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(argv.format)) throw new UsageError(`--format: "${argv.format}" is not one of ${EXPORT_FORMATS.join(', ')}`);
  const from = argv.from ?? (/\.csv$/i.test(argv.input) ? 'csv' : 'pskc');
  if (from !== 'pskc' && from !== 'csv') throw new UsageError(`--from: "${from}" is not pskc or csv`);
  let records: SeedRecord[] = [];
  try {
    records = await asInput(() =>
      from === 'csv'
        ? loadSeeds({ kind: 'csv', file: argv.input, maxBytes: maxBytes(argv) })
        : loadSeeds({ kind: 'pskc', file: argv.input, maxBytes: maxBytes(argv), ...keysFrom(argv) }),
    );
    const opts: Parameters<typeof exportSeeds>[1] = { format: argv.format as ExportFormat, file: argv.output, overwrite: argv.overwrite === true };
    const exportKeys = pskcExportKeys(argv);
    Object.assign(opts, exportKeys);
    const iterations = optionalInteger(argv['pbkdf2-iterations'], '--pbkdf2-iterations', { min: 1, max: MAX_PBKDF2_ITERATIONS });
    if (iterations !== undefined) opts.iterations = iterations;
    if (argv.format !== 'pskc' && (exportKeys.psk !== undefined || exportKeys.password !== undefined || exportKeys.allowPlain)) {
      throw new UsageError('--export-psk/--export-password/--export-plain apply to --format pskc only');
    }
    const { count } = await asInput(() => exportSeeds(records, opts));
    process.stdout.write(`${argv.output}: wrote ${count} seed(s) as ${argv.format} (mode 0600)\n`);
    if (argv.json) process.stdout.write(`${JSON.stringify(records.map((r) => describeSeed(r)))}\n`);
  } finally {
    wipeSeeds(records);
  }
}

export const pskcCommand: CommandModule<object, object> = {
  command: 'pskc <command>',
  describe: 'inspect, diagnose and convert PSKC (RFC 6030) seed files',
  builder: (y: Argv) =>
    y
      .command(
        'inspect <file>',
        'list the keys of a PSKC file with serials and parameters (secrets only with --show-secrets)',
        (yy: Argv) =>
          keyOptions(yy)
            .positional('file', { type: 'string', demandOption: true, describe: 'PSKC file' })
            .option('json', { type: 'boolean', describe: 'print JSON instead of a table' })
            .option('show-secrets', { type: 'boolean', describe: 'also print each secret in hex (needs the decryption key for encrypted files); mind your terminal scrollback' })
            .example('$0 pskc inspect vendor.pskc --psk 12345678901234567890123456789012', 'decrypt, check every ValueMAC and list the keys'),
        (a) => inspect(a as never),
      )
      .command(
        'doctor <file>',
        'explain in plain words what is wrong with a PSKC file; exit 1 when it has errors, 0 otherwise',
        (yy: Argv) =>
          keyOptions(yy)
            .positional('file', { type: 'string', demandOption: true, describe: 'PSKC file' })
            .option('json', { type: 'boolean', describe: 'print findings as JSON' })
            .option('expected-period', { type: 'string', describe: 'the TOTP step your verifier expects, in seconds (default 30)' })
            .epilogue('Checks: unsafe XML (DOCTYPE/ENTITY), namespaces (KeyContainer, PBKDF2-params, Signature), missing MACMethod/MACKey/ValueMAC, unknown encryption/MAC/algorithm URNs, missing or odd-length or short secrets, missing serials, duplicate serials and Key Ids, ResponseFormat, TOTP step and counters on TOTP keys, validity dates; with key material also decryption and every ValueMAC.'),
        (a) => doctor(a as never),
      )
      .command(
        'convert <input> <output>',
        'read seeds from a PSKC or CSV file and write them as PSKC, a pam_oath users file or CSV (mode 0600)',
        (yy: Argv) =>
          keyOptions(yy)
            .positional('input', { type: 'string', demandOption: true, describe: 'source file (PSKC, or CSV when it ends in .csv or with --from csv)' })
            .positional('output', { type: 'string', demandOption: true, describe: 'file to write; created with mode 0600 because it holds seeds' })
            .option('from', { type: 'string', choices: ['pskc', 'csv'], describe: 'source format (default: by file extension)' })
            .option('format', { type: 'string', choices: [...EXPORT_FORMATS], demandOption: true, describe: 'output format' })
            .option('export-psk', { type: 'string', describe: 'PSKC output: encrypt with this pre-shared key (hex, 16/24/32 bytes; AES-CBC + HMAC-SHA256 ValueMAC)' })
            .option('export-password', { type: 'string', describe: 'PSKC output: encrypt with a PBKDF2 key derived from this password' })
            .option('pbkdf2-iterations', { type: 'string', describe: 'PSKC output with --export-password: PBKDF2 iterations (default 100000)' })
            .option('export-plain', { type: 'boolean', describe: 'PSKC output: write secrets UNENCRYPTED (tests and labs only)' })
            .option('overwrite', { type: 'boolean', describe: 'replace the output file if it exists' })
            .option('json', { type: 'boolean', describe: 'also print the converted records (never the secrets) as JSON' })
            .epilogue('The output file holds seeds: it is created with mode 0600 (owner read/write only), written to a temporary file and moved into place, and an existing file is kept unless --overwrite is given. pam_oath files take HMAC-SHA1 seeds with 6-8 digits (TOTP: 30 or 60 s step, T0 0) only; the user name is the record user, else the serial.'),
        (a) => convert(a as never),
      )
      .demandCommand(1, 'Name a pskc command: inspect, doctor or convert (see tokenforge pskc --help).'),
  handler: () => undefined,
};
