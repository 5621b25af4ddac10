/**
 * `tokenforge provision`: batch-load seeds into tokens, prove each token computes the expected code, lock it,
 * register it with the verifier, and keep a crash-safe journal (docs/provisioning.md).
 *
 *   tokenforge provision --generate 100 --port /dev/ttyACM0 --port /dev/ttyACM1 \
 *       --verifier http://127.0.0.1:8470 --api-key $KEY --journal batch.journal --export users.oath --format pam-oath
 *   tokenforge provision --resume batch.journal --port /dev/ttyACM0 --api-key $KEY
 *
 * This file only wires real parts (files, ports, the simulator for --sim, HTTP) into provisioner/; the
 * pipeline itself never imports the simulator (it reaches it as a Transport, like hardware).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { isOtpType } from '../../otp/otp-params.ts';
import { MAX_COUNTER } from '../../otp/params.ts';
import { startSimulator, type Simulator } from '../../firmware-sim/host/runners.ts';
import { EXPORT_FORMATS, exportSeeds, type ExportFormat, type ExportOptions } from '../../provisioner/exports/index.ts';
import { ProvisionFault } from '../../provisioner/faults.ts';
import { Journal, type JournalKeyOptions } from '../../provisioner/journal/index.ts';
import { committedSeeds, runPipeline, type Target } from '../../provisioner/pipeline.ts';
import { createProgress, exitCodeOf, type ProgressMode } from '../../provisioner/progress.ts';
import { createHttpRegistrar, type Registrar } from '../../provisioner/registrar.ts';
import { wipeSeeds } from '../../provisioner/seed.ts';
import { loadSeeds, nodeRng, type GenerateProfile, type SeedSource } from '../../provisioner/sources/index.ts';
import { clientSessionFactory, discoverPorts, parseTargetDescriptors, parseUsbId, targetsFromDescriptors, transportTarget } from '../../provisioner/targets.ts';
import { UsageError } from '../errors.ts';
import { digits as parseDigits, hashAlgorithm, integer, list, optionalBigInteger, optionalInteger, single } from '../flags.ts';
import { pskcExportKeys, pskcKeys, trustAnchors } from '../key-flags.ts';

interface Args {
  generate?: string;
  type?: string;
  algorithm?: string;
  digits?: string;
  period?: string;
  counter?: string;
  'serial-prefix'?: string;
  'serial-start'?: string;
  pskc?: string;
  psk?: string;
  password?: string;
  'private-key'?: string;
  csv?: string;
  port?: string[];
  tcp?: string[];
  sim?: string;
  profile?: string;
  discover?: boolean;
  'discover-id'?: string[];
  verifier?: string;
  'api-key'?: string;
  export?: string;
  format?: string;
  'export-psk'?: string;
  'export-password'?: string;
  'export-plain'?: boolean;
  journal?: string;
  'batch-id'?: string;
  resume?: string;
  'journal-passphrase-env'?: string;
  'admin-pin'?: string;
  'trust-anchor'?: string[];
  'trust-test-attestation'?: boolean;
  concurrency?: string;
  'timeout-ms'?: string;
  json?: boolean;
}

/** Settings kept in the journal so that --resume continues the same batch (never secrets). */
interface BatchSettings {
  verifier?: string;
  /** Sent with every registration (the verifier records it; `verifier batch revoke` acts on it). */
  batchId?: string;
  /** The seed file: SHA-256 of its bytes and its name (PSKC and CSV sources). */
  sourceFile?: { fingerprint: string; name: string };
  export?: { file: string; format: ExportFormat };
  slot: number;
  source: string;
}

function sourceOf(a: Args): SeedSource | undefined {
  const given = [a.generate !== undefined, a.pskc !== undefined, a.csv !== undefined].filter(Boolean).length;
  if (given > 1) throw new UsageError('give one seed source: --generate N, --pskc FILE or --csv FILE');
  if (given === 0) return undefined;
  if (a.generate !== undefined) {
    const n = integer(a.generate, '--generate', { min: 1, max: 1_000_000 });
    const profile: GenerateProfile = {};
    const type = single(a.type, '--type');
    if (type !== undefined) {
      if (!isOtpType(type) || type === 'ocra') throw new UsageError(`--type: "${type}" must be hotp or totp`);
      profile.type = type;
    }
    if (a.algorithm !== undefined) profile.algorithm = hashAlgorithm(a.algorithm);
    if (a.digits !== undefined) profile.digits = parseDigits(a.digits);
    const period = optionalInteger(a.period, '--period', { min: 1, max: 86_400 });
    if (period !== undefined) profile.periodSec = period;
    const counter = optionalBigInteger(a.counter, '--counter', { max: MAX_COUNTER });
    if (counter !== undefined) profile.counter = counter;
    const prefix = single(a['serial-prefix'], '--serial-prefix');
    if (prefix !== undefined) profile.serialPrefix = prefix;
    const start = optionalBigInteger(a['serial-start'], '--serial-start', { max: 10n ** 18n - 1n });
    if (start !== undefined) profile.serialStart = start;
    return { kind: 'generate', count: n, profile, rng: nodeRng };
  }
  if (a.pskc !== undefined) {
    return { kind: 'pskc', file: single(a.pskc, '--pskc')!, ...pskcKeys(a) };
  }
  return { kind: 'csv', file: single(a.csv, '--csv')! };
}

function anchorsOf(a: Args, sim: boolean): Uint8Array[] {
  const anchors = trustAnchors(a['trust-anchor'], a['trust-test-attestation'] === true || sim);
  if (anchors.length === 0) {
    throw new UsageError('no attestation trust anchor: give the factory key with --trust-anchor HEX, or --trust-test-attestation for simulated tokens (their published TEST key)');
  }
  return anchors;
}

async function handler(a: Args): Promise<void> {
  const resume = single(a.resume, '--resume');
  const source = sourceOf(a);
  if (resume !== undefined && source !== undefined) throw new UsageError('--resume continues a batch with the seeds in its journal; do not give a seed source with it');
  if (resume === undefined && source === undefined) throw new UsageError('give a seed source (--generate N, --pskc FILE, --csv FILE) or --resume JOURNAL');
  const journalPath = resume ?? single(a.journal, '--journal') ?? `provision-${new Date().toISOString().replace(/[:.]/g, '-')}.journal`;
  if (resume !== undefined && a.journal !== undefined && single(a.journal, '--journal') !== resume) throw new UsageError('--resume names the journal; drop --journal');

  const passEnv = single(a['journal-passphrase-env'], '--journal-passphrase-env');
  let keyOpts: JournalKeyOptions = { kind: 'file' };
  if (passEnv !== undefined) {
    const p = process.env[passEnv];
    if (!p) throw new UsageError(`--journal-passphrase-env: environment variable ${passEnv} is not set or empty`);
    keyOpts = { kind: 'passphrase', passphrase: p };
  }

  const simCount = optionalInteger(a.sim, '--sim', { min: 1, max: 100_000 });
  const trustAnchors = anchorsOf(a, simCount !== undefined);
  const adminPin = single(a['admin-pin'], '--admin-pin') ?? process.env['TOKENFORGE_ADMIN_PIN'];
  if (!adminPin) throw new UsageError('--admin-pin: required (or set TOKENFORGE_ADMIN_PIN); a factory token takes it as its new admin PIN');
  const pinBytes = Buffer.byteLength(adminPin, 'utf8');
  if (pinBytes < 4 || pinBytes > 64) throw new UsageError(`--admin-pin: must be 4..64 bytes (UTF-8), not ${pinBytes}`);
  const timeoutMs = optionalInteger(a['timeout-ms'], '--timeout-ms', { min: 50, max: 600_000 }) ?? 3000;
  const concurrency = optionalInteger(a.concurrency, '--concurrency', { min: 1, max: 1024 });

  // Export settings: file and format live in the journal; the PSKC key or password must be given each run.
  const exportFile = single(a.export, '--export');
  const exportFormat = single(a.format, '--format');
  if ((exportFile === undefined) !== (exportFormat === undefined) && resume === undefined) throw new UsageError('--export FILE and --format pskc|pam-oath|csv go together');
  if (exportFormat !== undefined && !(EXPORT_FORMATS as readonly string[]).includes(exportFormat)) throw new UsageError(`--format: "${exportFormat}" must be one of ${EXPORT_FORMATS.join(', ')}`);

  // Targets (parsed before anything is created, so a typo costs nothing).
  const descriptors = parseTargetDescriptors({ ports: list(a.port), tcp: list(a.tcp) });
  if (a.discover) {
    const ids = list(a['discover-id']).map(parseUsbId);
    const found = await discoverPorts(ids.length > 0 ? ids : undefined);
    if (found.length === 0) process.stderr.write('tokenforge: warning: --discover found no serial port with a tokenforge USB id\n');
    for (const d of found) if (!descriptors.some((x) => x.kind === 'port' && d.kind === 'port' && x.path === d.path)) descriptors.push(d);
  }
  if (descriptors.length === 0 && simCount === undefined) throw new UsageError('give the tokens: --port PATH, --tcp HOST:PORT, --discover or --sim N');

  let journal: Journal;
  let seedsCount = 0;
  if (resume !== undefined) {
    journal = Journal.open(resume, keyOpts);
  } else {
    const seeds = await loadSeeds(source!);
    seedsCount = seeds.length;
    const settings: BatchSettings = { slot: 0, source: source!.kind === 'generate' ? `generate ${source!.count}` : `${source!.kind} ${source!.kind === 'pskc' || source!.kind === 'csv' ? source!.file : ''}` };
    const verifier = single(a.verifier, '--verifier');
    if (verifier !== undefined) settings.verifier = verifier;
    settings.batchId = single(a['batch-id'], '--batch-id') ?? basename(journalPath).replace(/\.journal$/, '');
    if (!/^[\x21-\x7e]{1,128}$/.test(settings.batchId)) throw new UsageError('--batch-id: 1..128 printable ASCII characters without spaces');
    if ((source!.kind === 'pskc' || source!.kind === 'csv') && source!.file !== '-') settings.sourceFile = { fingerprint: createHash('sha256').update(readFileSync(source!.file)).digest('hex'), name: basename(source!.file) };
    if (exportFile !== undefined && exportFormat !== undefined) settings.export = { file: exportFile, format: exportFormat as ExportFormat };
    try {
      journal = Journal.create({ path: journalPath, seeds, settings: settings as unknown as Record<string, unknown>, key: keyOpts });
    } finally {
      wipeSeeds(seeds);
    }
  }
  let sim: Simulator | undefined;
  try {
    const settings = journal.settings() as unknown as BatchSettings;
    const verifierUrl = single(a.verifier, '--verifier') ?? settings.verifier;
    let registrar: Registrar | undefined;
    if (verifierUrl !== undefined) {
      const apiKey = single(a['api-key'], '--api-key') ?? process.env['TOKENFORGE_API_KEY'];
      if (!apiKey) throw new UsageError('--api-key: required with --verifier (or set TOKENFORGE_API_KEY); an admin key from `tokenforge verifier keys create --role admin`');
      const batch = settings.batchId !== undefined ? { batchId: settings.batchId, ...(settings.sourceFile ? { source: settings.sourceFile } : {}) } : undefined;
      registrar = createHttpRegistrar({ url: verifierUrl, apiKey, ...(batch ? { batch } : {}) });
      await registrar.check();
    }
    let exportOpts: ExportOptions | undefined;
    const exp = settings.export ?? (exportFile !== undefined && exportFormat !== undefined ? { file: exportFile, format: exportFormat as ExportFormat } : undefined);
    if (exp) {
      exportOpts = { format: exp.format, file: exp.file, overwrite: true };
      const exportKeys = pskcExportKeys(a);
      Object.assign(exportOpts, exportKeys);
      if (exp.format === 'pskc' && [exportKeys.psk, exportKeys.password, exportKeys.allowPlain].filter((x) => x !== undefined).length !== 1) {
        throw new UsageError('--format pskc: give exactly one of --export-psk HEX or --export-password P (each run, also with --resume)');
      }
    }

    const session = clientSessionFactory({ trustAnchors, timeoutMs, retries: 2 });
    const targets: Target[] = targetsFromDescriptors(descriptors, session, { connectTimeoutMs: timeoutMs });
    if (simCount !== undefined) {
      sim = await startSimulator({ count: simCount, profile: single(a.profile, '--profile') ?? 'hotp-fob', link: 'memory', testMode: true, firstSerialSeq: Math.floor(Math.random() * 9e7) });
      for (const t of sim.tokens) targets.push(transportTarget(`sim:${t.serial}`, async () => t.openTransport!(), session));
    }

    const mode: ProgressMode = a.json ? 'json' : process.stderr.isTTY ? 'tty' : 'plain';
    const out = mode === 'tty' ? (s: string) => void process.stderr.write(s) : (s: string) => void process.stdout.write(s);
    const progress = createProgress({ mode, write: out, columns: process.stderr.columns ?? 100 });
    progress.note(resume !== undefined ? `resuming ${journal.path}: ${JSON.stringify(journal.counts().byStage)}` : `journal ${journal.path} (key ${keyOpts.kind === 'file' ? `${journal.path}.key` : `from $${passEnv}`}) with ${seedsCount} seed(s)`, { journal: journal.path });

    const ac = new AbortController();
    const onSignal = (): void => {
      if (ac.signal.aborted) process.exit(130);
      ac.abort();
      process.stderr.write('\ntokenforge: interrupted: finishing the tokens in progress; continue later with --resume ' + journal.path + '\n');
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let report;
    try {
      const po: Parameters<typeof runPipeline>[0] = { journal, targets, progress, adminPin, signal: ac.signal };
      if (registrar) po.registrar = registrar;
      if (concurrency !== undefined) po.concurrency = concurrency;
      report = await runPipeline(po);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (exportOpts) {
      const seeds = committedSeeds(journal);
      try {
        if (seeds.length > 0) {
          const r = await exportSeeds(seeds, exportOpts);
          report.export = { file: r.file, format: exportOpts.format, count: r.count };
        }
      } finally {
        wipeSeeds(seeds);
      }
    }
    progress.finish(report);
    process.exitCode = exitCodeOf(report);
  } finally {
    journal.close();
    await sim?.close();
  }
}

export const provisionCommand: CommandModule<object, Args> = {
  command: 'provision',
  describe: 'Load seeds into tokens, check them, lock them and register them with the verifier (crash-safe journal; see docs/provisioning.md)',
  builder: (y: Argv) =>
    y
      .usage(
        '$0 provision (--generate N | --pskc FILE | --csv FILE | --resume JOURNAL) (--port PATH... | --tcp HOST:PORT... | --discover | --sim N) [options]\n\n' +
          'For each token: identify (attestation) → authenticate → assign a seed (journal) → write → check the code → lock → register → commit. ' +
          'Every step is journaled before and after it runs; after a crash or Ctrl-C run again with --resume JOURNAL: no seed is lost, none goes to two tokens, none is registered twice. ' +
          'Exit status 0 only when every token succeeded.',
      )
      .group(['generate', 'type', 'algorithm', 'digits', 'period', 'counter', 'serial-prefix', 'serial-start', 'pskc', 'psk', 'password', 'private-key', 'csv'], 'Seed source:')
      .option('generate', { type: 'string', describe: 'Generate N fresh seeds (CSPRNG; 20/32/64 bytes for SHA1/256/512)' })
      .option('type', { type: 'string', describe: '--generate: hotp or totp (default hotp)' })
      .option('algorithm', { type: 'string', describe: '--generate: sha1, sha256 or sha512 (default sha1)' })
      .option('digits', { type: 'string', describe: '--generate: code length 6..10 (default 6)' })
      .option('period', { type: 'string', describe: '--generate: TOTP step in seconds (default 30)' })
      .option('counter', { type: 'string', describe: '--generate: initial HOTP counter (default 0)' })
      .option('serial-prefix', { type: 'string', describe: '--generate: source serial prefix (default TF)' })
      .option('serial-start', { type: 'string', describe: '--generate: sequential source serials from this number (default random)' })
      .option('pskc', { type: 'string', describe: 'Read seeds from an RFC 6030 PSKC file (validated completely before any token is touched)' })
      .option('psk', { type: 'string', describe: '--pskc: pre-shared key in hex' })
      .option('password', { type: 'string', describe: '--pskc: password for PBKDF2-encrypted files' })
      .option('private-key', { type: 'string', describe: '--pskc: PEM file with the RSA private key' })
      .option('csv', { type: 'string', describe: 'Read seeds from a CSV file (serial,secret,type,digits,period,counter with a header row)' })
      .group(['port', 'tcp', 'discover', 'discover-id', 'sim', 'profile', 'trust-anchor', 'trust-test-attestation', 'admin-pin', 'concurrency', 'timeout-ms'], 'Tokens:')
      .option('port', { type: 'string', array: true, describe: 'Serial device or PTY of a token (repeatable; one worker per port, in parallel)' })
      .option('tcp', { type: 'string', array: true, describe: 'HOST:PORT of a token served over TCP (repeatable)' })
      .option('discover', { type: 'boolean', describe: 'Add every serial port whose USB VID:PID is a tokenforge token (serialport list)' })
      .option('discover-id', { type: 'string', array: true, describe: 'VID:PID in hex to look for with --discover (default 1209:7f00; repeatable)' })
      .option('sim', { type: 'string', describe: 'Provision N in-process simulated tokens (test mode; trusts the TEST attestation key)' })
      .option('profile', { type: 'string', describe: '--sim: device profile (hotp-fob, totp-60s-fob, multi-slot-key; default hotp-fob)' })
      .option('trust-anchor', { type: 'string', array: true, describe: 'Factory attestation public key (130 hex digits, 04...); tokens not attested by one are refused' })
      .option('trust-test-attestation', { type: 'boolean', describe: 'Trust the published TEST attestation key (simulated tokens only)' })
      .option('admin-pin', { type: 'string', describe: 'Admin PIN (env TOKENFORGE_ADMIN_PIN); a factory token takes it as its PIN' })
      .option('concurrency', { type: 'string', describe: 'Tokens provisioned at once (default: one worker per target)' })
      .option('timeout-ms', { type: 'string', describe: 'Per-answer timeout talking to a token (default 3000)' })
      .group(['verifier', 'api-key', 'batch-id', 'export', 'format', 'export-psk', 'export-password', 'export-plain'], 'Registration and export:')
      .option('verifier', { type: 'string', describe: 'Verifier base URL, e.g. http://127.0.0.1:8470 (kept in the journal for --resume)' })
      .option('api-key', { type: 'string', describe: 'Verifier admin API key (env TOKENFORGE_API_KEY); needed again with --resume' })
      .option('export', { type: 'string', describe: 'Write the finished tokens to FILE (mode 0600, atomically, rewritten at the end of each run)' })
      .option('format', { type: 'string', describe: `Export format: ${EXPORT_FORMATS.join(', ')}` })
      .option('export-psk', { type: 'string', describe: 'PSKC export: pre-shared key in hex (AES-CBC + HMAC-SHA256 ValueMAC)' })
      .option('export-password', { type: 'string', describe: 'PSKC export: password (PBKDF2)' })
      .option('export-plain', { type: 'boolean', describe: 'PSKC export without encryption (tests only)' })
      .group(['journal', 'resume', 'journal-passphrase-env', 'json'], 'Journal and output:')
      .option('batch-id', { type: 'string', describe: 'Batch id registered with every token (default: the journal file name without .journal)' })
      .option('journal', { type: 'string', describe: 'Journal file to create (default provision-<time>.journal; key in <journal>.key, mode 0600)' })
      .option('resume', { type: 'string', describe: 'Continue the batch of this journal (same seeds; give the tokens again)' })
      .option('journal-passphrase-env', { type: 'string', describe: 'Derive the journal key from the passphrase in this environment variable (scrypt) instead of a key file' })
      .option('json', { type: 'boolean', describe: 'JSON lines on stdout (events start/step/token/note/report) instead of the progress bar' })
      .example('$0 provision --generate 10 --sim 10 --verifier http://127.0.0.1:8470 --api-key $KEY', 'Ten simulated tokens, registered')
      .example('$0 provision --pskc vendor.xml --psk $PSK --port /dev/ttyACM0 --port /dev/ttyACM1 --trust-anchor $FACTORY --admin-pin $PIN --journal b1.journal', 'Vendor seeds into two tokens')
      .example('$0 provision --resume b1.journal --port /dev/ttyACM0 --admin-pin $PIN', 'Continue after a crash') as unknown as Argv<Args>,
  handler: async (a) => {
    try {
      await handler(a);
    } catch (e) {
      if (e instanceof ProvisionFault && e.code === 'INVALID_ARGUMENT') throw new UsageError(e.message);
      throw e;
    }
  },
};
