/**
 * Exports: one entry point for the pipeline and the CLI.
 *
 *   await exportSeeds(records, { format: 'pskc', file, psk });          // or password, or allowPlain
 *   await exportSeeds(records, { format: 'pam-oath', file });
 *   await exportSeeds(records, { format: 'csv', file });
 *
 * Files hold seeds, so they are created with mode 0600 (fchmod'ed too, whatever the umask), written to a
 * temporary file in the same directory, fsync'ed and then moved into place: a crash leaves either no file or
 * the complete file, never half of one. An existing file is not replaced unless `overwrite` is set.
 * The whole content is built (and every record checked) before anything touches the disk.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ProvisionerError, type SeedRecord } from '../seed.ts';
import { nodeRng, type Rng } from '../sources/generate.ts';
import { seedsToCsv } from './csv.ts';
import { seedsToPamOath, type PamOathOptions } from './pam-oath.ts';
import { seedsToPskc, type PskcProtection } from './pskc.ts';

export const EXPORT_FORMATS = ['pskc', 'pam-oath', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  format: ExportFormat;
  file: string;
  /** PSKC: pre-shared key (hex or bytes; 16/24/32 bytes). */
  psk?: string | Uint8Array;
  /** PSKC: password (PBKDF2). */
  password?: string;
  /** PSKC: PBKDF2 iterations for `password` (default 100,000). */
  iterations?: number;
  /** PSKC: write PlainValue secrets. Tests and labs only. */
  allowPlain?: boolean;
  /** Replace an existing file (default: refuse). */
  overwrite?: boolean;
  /** pam_oath: user name per record. */
  userFor?: PamOathOptions['userFor'];
  /** pam_oath: the last accepted TOTP code per record. */
  lastOtpFor?: PamOathOptions['lastOtpFor'];
  rng?: Rng;
}

export const EXPORT_FILE_MODE = 0o600;

function pskBytes(psk: string | Uint8Array): Uint8Array {
  if (psk instanceof Uint8Array) return psk;
  const s = psk.trim().replace(/^0x/i, '');
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(s)) throw new ProvisionerError('INVALID_ARGUMENT', '--export-psk: must be hex (32, 48 or 64 hex digits for AES-128/192/256)');
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** The file content for `records` in `opts.format` (no I/O). */
export function renderExport(records: readonly SeedRecord[], opts: Omit<ExportOptions, 'file' | 'overwrite'>): string {
  switch (opts.format) {
    case 'csv':
      return seedsToCsv(records);
    case 'pam-oath':
      return seedsToPamOath(records, { ...(opts.userFor ? { userFor: opts.userFor } : {}), ...(opts.lastOtpFor ? { lastOtpFor: opts.lastOtpFor } : {}) });
    case 'pskc': {
      const given = [opts.psk !== undefined, opts.password !== undefined, opts.allowPlain === true].filter(Boolean).length;
      if (given !== 1) {
        throw new ProvisionerError('INVALID_ARGUMENT', 'PSKC export: give exactly one of --export-psk HEX, --export-password P (or, for tests only, --export-plain)');
      }
      let protection: PskcProtection;
      if (opts.psk !== undefined) {
        const key = pskBytes(opts.psk);
        try {
          return seedsToPskc(records, { kind: 'psk', key }, opts.rng ?? nodeRng);
        } finally {
          if (typeof opts.psk === 'string') key.fill(0);
        }
      }
      if (opts.password !== undefined) protection = opts.iterations !== undefined ? { kind: 'password', password: opts.password, iterations: opts.iterations } : { kind: 'password', password: opts.password };
      else protection = { kind: 'plain' };
      return seedsToPskc(records, protection, opts.rng ?? nodeRng);
    }
    default:
      throw new ProvisionerError('INVALID_ARGUMENT', `export format "${String((opts as { format: unknown }).format)}" is not one of ${EXPORT_FORMATS.join(', ')}`);
  }
}

/** Writes `content` to `file` with mode 0600, atomically. */
export async function writeSecretFile(file: string, content: string, overwrite = false): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const data = Buffer.from(content, 'utf8');
  const ioErr = (what: string, e: unknown): ProvisionerError =>
    new ProvisionerError('IO_ERROR', `${file}: cannot ${what} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
  let fh;
  try {
    fh = await open(tmp, 'wx', EXPORT_FILE_MODE);
  } catch (e) {
    throw ioErr('create the file', e);
  }
  try {
    await fh.chmod(EXPORT_FILE_MODE);
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw ioErr('write', e);
  } finally {
    data.fill(0);
  }
  await fh.close();
  try {
    if (overwrite) await rename(tmp, file);
    else {
      try {
        await link(tmp, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new ProvisionerError('IO_ERROR', `${file}: already exists; choose another name or pass --overwrite`);
        }
        throw ioErr('create the file', e);
      }
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  const dir = await open(dirname(file), 'r').catch(() => undefined);
  await dir?.sync().catch(() => undefined);
  await dir?.close();
}

/** Renders and writes an export. Returns the number of records written. */
export async function exportSeeds(records: readonly SeedRecord[], opts: ExportOptions): Promise<{ file: string; count: number }> {
  const content = renderExport(records, opts);
  await writeSecretFile(opts.file, content, opts.overwrite ?? false);
  return { file: opts.file, count: records.length };
}

export { seedsToCsv } from './csv.ts';
export { seedsToPamOath, pamOathLine } from './pam-oath.ts';
export { seedsToPskc, type PskcProtection } from './pskc.ts';
