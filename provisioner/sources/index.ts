/**
 * Seed sources: one entry point for the pipeline.
 *
 *   const seeds = await loadSeeds({ kind: 'pskc', file, psk });     // all or nothing
 *   for await (const s of readSeeds(source)) ...                    // same, as an async iterator
 *
 * A source is validated COMPLETELY (every value decrypted, every ValueMAC checked, every record checked)
 * before the first record is returned, so a hostile or damaged file can never get half a batch into tokens.
 * Files are size-checked with fstat before they are read, and must be UTF-8.
 */
import { open } from 'node:fs/promises';
import { ProvisionerError, type SeedRecord } from '../seed.ts';
import { csvToSeeds } from './csv.ts';
import { generateSeeds, nodeRng, type GenerateProfile, type Rng } from './generate.ts';
import { pskcToSeeds, type PskcKeys, type SeedConversionOptions } from './pskc/parse.ts';
import { DEFAULT_XML_LIMITS } from './pskc/xml.ts';

export const DEFAULT_MAX_FILE_BYTES = DEFAULT_XML_LIMITS.maxBytes;

export type SeedSource =
  | { kind: 'generate'; count: number; profile?: GenerateProfile; rng?: Rng }
  | ({ kind: 'pskc'; file: string; maxBytes?: number; maxElements?: number } & PskcKeys & SeedConversionOptions)
  | { kind: 'csv'; file: string; maxBytes?: number; maxRows?: number };

/** Reads a UTF-8 text file of at most `maxBytes`, refusing bigger files before reading them. */
export async function readSourceFile(file: string, maxBytes = DEFAULT_MAX_FILE_BYTES): Promise<string> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ProvisionerError('IO_ERROR', `${file}: cannot open (${code === 'ENOENT' ? 'no such file' : code ?? 'error'})`, { cause: e });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new ProvisionerError('IO_ERROR', `${file}: not a regular file`);
    if (st.size > maxBytes) {
      throw new ProvisionerError('INVALID_TOO_LARGE', `${file}: ${st.size} bytes is over the limit of ${maxBytes} bytes; raise the limit (--max-bytes) if the file is genuine`);
    }
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < st.size) {
      const { bytesRead } = await fh.read(buf, off, st.size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, off));
    } catch (e) {
      throw new ProvisionerError('INVALID_ARGUMENT', `${file}: not valid UTF-8 text`, { cause: e });
    } finally {
      buf.fill(0);
    }
  } finally {
    await fh.close();
  }
}

/** Loads every record of `source`, fully validated. Throws ProvisionerError; returns nothing on any error. */
export async function loadSeeds(source: SeedSource): Promise<SeedRecord[]> {
  switch (source.kind) {
    case 'generate':
      return generateSeeds(source.count, source.profile ?? {}, source.rng ?? nodeRng);
    case 'pskc': {
      const text = await readSourceFile(source.file, source.maxBytes);
      const limits = { ...(source.maxBytes !== undefined ? { maxBytes: source.maxBytes } : {}), ...(source.maxElements !== undefined ? { maxElements: source.maxElements } : {}) };
      const keys: PskcKeys = {};
      if (source.psk !== undefined) keys.psk = source.psk;
      if (source.password !== undefined) keys.password = source.password;
      if (source.privateKey !== undefined) keys.privateKey = source.privateKey;
      if (source.allowMissingMac !== undefined) keys.allowMissingMac = source.allowMissingMac;
      const opts = source.defaultPeriodSec !== undefined ? { defaultPeriodSec: source.defaultPeriodSec, limits } : { limits };
      return pskcToSeeds(text, keys, opts);
    }
    case 'csv': {
      const text = await readSourceFile(source.file, source.maxBytes);
      return csvToSeeds(text, source.maxRows !== undefined ? { maxRows: source.maxRows } : {});
    }
  }
}

/** The records of `source` one by one; the whole source is validated before the first is yielded. */
export async function* readSeeds(source: SeedSource): AsyncGenerator<SeedRecord, void, undefined> {
  yield* await loadSeeds(source);
}

export { csvToSeeds, parseCsvRows, CSV_COLUMNS } from './csv.ts';
export { generateSeeds, serialGenerator, nodeRng, type GenerateProfile, type Rng } from './generate.ts';
export { parsePskc, decryptPskc, pskcKeysToSeeds, pskcToSeeds, keyKind, type PskcContainer, type PskcKey, type PskcRawKey, type PskcKeys } from './pskc/parse.ts';
