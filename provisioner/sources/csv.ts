/**
 * CSV seed source and the CSV codec shared with the CSV export.
 *
 * Format (RFC 4180 quoting; a header row is required; column names are case-insensitive, in any order):
 *   serial            required, printable ASCII
 *   secret            the seed in hex; a value may also be written `hex:...` or `base32:...`
 *   secret_hex        the seed in hex            } exactly one of secret, secret_hex, secret_base32
 *   secret_base32     the seed in base32 (RFC 4648; spaces/hyphens allowed, padding optional)
 *   type              hotp | totp | ocra                      (default hotp)
 *   algorithm         sha1 | sha256 | sha512                  (default sha1; OCRA takes it from the suite)
 *   digits            6..10                                   (default 6; OCRA takes it from the suite)
 *   period            TOTP time step in seconds               (default 30)
 *   counter           HOTP initial counter, 0..2^64-1         (default 0)
 *   t0                TOTP T0 in Unix seconds                 (default 0)
 *   ocra_suite        OCRA suite, for type ocra only
 *   user, label, issuer                                       (optional)
 * Empty cells mean the default. A cell another type does not use (period, t0 for HOTP) is checked and ignored;
 * a counter is refused where there is none (TOTP, an OCRA suite without C) unless it is 0. Blank lines and lines starting with '#' are skipped. Unknown columns are an
 * error (a typo such as "couter" must not silently load counter 0). Errors name the line and the column but
 * never echo a secret.
 */
import { decodeBase32 } from '../../otp/base32.ts';
import { parseOcraSuite } from '../../otp/ocra.ts';
import { checkPeriodSec, isOtpType, otpCounter, type OtpParams, type OtpType } from '../../otp/otp-params.ts';
import { parseHashAlgorithm } from '../../otp/params.ts';
import { Secret } from '../../otp/secret.ts';
import { checkSeedRecord, OTP_FIELD_DEFAULTS, otpParamsFromFields, ProvisionerError, type OtpFields, type SeedRecord } from '../seed.ts';

export const CSV_COLUMNS = ['serial', 'secret', 'secret_hex', 'secret_base32', 'type', 'algorithm', 'digits', 'period', 'counter', 't0', 'ocra_suite', 'user', 'label', 'issuer'] as const;
type Column = (typeof CSV_COLUMNS)[number];

export interface CsvLimits {
  maxRows?: number;
}

export const DEFAULT_CSV_MAX_ROWS = 1_000_000;

function bad(line: number, message: string): never {
  throw new ProvisionerError('INVALID_CSV', `CSV line ${line}: ${message}`);
}

/** Splits CSV text into rows of cells (RFC 4180), each with its 1-based starting line. */
export function parseCsvRows(text: string, maxRows = DEFAULT_CSV_MAX_ROWS): { line: number; cells: string[] }[] {
  const rows: { line: number; cells: string[] }[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < text.length) {
    const startLine = line;
    const cells: string[] = [];
    let cell = '';
    let endOfRow = false;
    while (!endOfRow) {
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) bad(startLine, 'unterminated quoted field');
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              cell += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          cell += c;
          i++;
        }
        const n = text[i];
        if (n !== undefined && n !== ',' && n !== '\n' && n !== '\r') bad(line, 'text after a closing quote');
      } else {
        while (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          if (text[i] === '"') bad(line, 'a quote inside an unquoted field; quote the whole field');
          cell += text[i];
          i++;
        }
      }
      cells.push(cell);
      cell = '';
      const c = text[i];
      if (c === ',') i++;
      else {
        if (c === '\r') i++;
        if (text[i] === '\n') i++;
        line++;
        endOfRow = true;
      }
    }
    const blank = cells.length === 1 && cells[0]!.trim() === '';
    const comment = cells[0]?.trimStart().startsWith('#') === true;
    if (!blank && !comment) {
      if (rows.length >= maxRows) throw new ProvisionerError('INVALID_TOO_LARGE', `CSV: more than ${maxRows} rows; split the file or raise the limit`);
      rows.push({ line: startLine, cells });
    }
  }
  return rows;
}

function decodeHex(v: string, line: number, col: string): Uint8Array {
  const s = v.replace(/\s+/g, '');
  if (s.length === 0) bad(line, `${col} is empty`);
  if (!/^[0-9a-fA-F]*$/.test(s)) bad(line, `${col} is not hex (if it is base32, use a secret_base32 column or write base32:...)`);
  if (s.length % 2 !== 0) bad(line, `${col} has an odd number of hex digits (${s.length}); a byte needs two`);
  return new Uint8Array(Buffer.from(s, 'hex'));
}

function decodeSecret(col: Column, raw: string, line: number): Uint8Array {
  let v = raw.trim();
  let enc: 'hex' | 'base32' = col === 'secret_base32' ? 'base32' : 'hex';
  if (col === 'secret') {
    const m = /^(hex|base32):(.*)$/i.exec(v);
    if (m) {
      enc = m[1]!.toLowerCase() as 'hex' | 'base32';
      v = m[2]!.trim();
    }
  }
  if (enc === 'hex') return decodeHex(v, line, col);
  if (v.length === 0) bad(line, `${col} is empty`);
  try {
    return decodeBase32(v, col);
  } catch (e) {
    bad(line, e instanceof Error ? e.message : String(e));
  }
}

function parseUint(v: string, line: number, col: string, max: bigint): bigint {
  if (!/^\d{1,20}$/.test(v)) bad(line, `${col} "${v.slice(0, 24)}" is not a non-negative integer`);
  const n = BigInt(v);
  if (n > max) bad(line, `${col} ${v} is too large (max ${max})`);
  return n;
}

type Cell = (c: Column) => string | undefined;

/** The parameters of one row (its `type` already known); errors name the line. */
function rowParams(get: Cell, type: OtpType, line: number): OtpParams {
  const f: OtpFields = { type, ...OTP_FIELD_DEFAULTS };
  let suiteDigits: number | undefined;
  try {
    const alg = get('algorithm');
    if (alg !== undefined) f.algorithm = parseHashAlgorithm(alg);
    const suite = get('ocra_suite');
    if (suite !== undefined) {
      if (type !== 'ocra') bad(line, `ocra_suite is for type ocra only, not ${type}`);
      suiteDigits = parseOcraSuite(suite).digits;
      f.suite = suite;
    }
  } catch (e) {
    if (e instanceof ProvisionerError) throw e;
    bad(line, e instanceof Error ? e.message : String(e));
  }
  const digits = get('digits');
  if (digits !== undefined) f.digits = Number(parseUint(digits, line, 'digits', 99n));
  const period = get('period');
  if (period !== undefined) {
    f.periodSec = Number(parseUint(period, line, 'period', 86_400n));
    try {
      checkPeriodSec(f.periodSec);
    } catch (e) {
      bad(line, e instanceof Error ? e.message : String(e));
    }
  }
  const counter = get('counter');
  if (counter !== undefined) f.counter = parseUint(counter, line, 'counter', (1n << 64n) - 1n);
  const t0 = get('t0');
  if (t0 !== undefined) f.t0Sec = parseUint(t0, line, 't0', 1n << 40n);
  if (type === 'totp' && counter !== undefined && f.counter !== 0n) bad(line, 'a TOTP seed has no counter; leave the counter cell empty or use type hotp');
  if (type !== 'ocra') return otpParamsFromFields(f);
  if (f.suite === undefined) bad(line, 'an OCRA record needs an ocra_suite');
  if (digits !== undefined && f.digits !== suiteDigits) bad(line, `digits ${f.digits} differ from the OCRA suite's ${suiteDigits}`);
  const otp = otpParamsFromFields(f);
  if (otpCounter(otp) === undefined && counter !== undefined && f.counter !== 0n) bad(line, `the OCRA suite ${f.suite} has no counter input (C); leave the counter cell empty`);
  return otp;
}

/** Parses CSV text into seed records. All or nothing. */
export function csvToSeeds(text: string, limits: CsvLimits = {}): SeedRecord[] {
  const rows = parseCsvRows(text, (limits.maxRows ?? DEFAULT_CSV_MAX_ROWS) + 1);
  const header = rows.shift();
  if (!header) throw new ProvisionerError('INVALID_CSV', 'CSV: the file is empty; it needs a header row such as serial,secret_hex,type,digits,period,counter');
  const cols: Column[] = header.cells.map((h) => {
    const name = h.trim().toLowerCase();
    if (!(CSV_COLUMNS as readonly string[]).includes(name)) bad(header.line, `unknown column "${h.trim().slice(0, 40)}"; known columns: ${CSV_COLUMNS.join(', ')}`);
    return name as Column;
  });
  const seen = new Set<Column>();
  for (const c of cols) {
    if (seen.has(c)) bad(header.line, `column ${c} appears twice`);
    seen.add(c);
  }
  if (!seen.has('serial')) bad(header.line, 'the header has no serial column');
  const secretCols = cols.filter((c) => c === 'secret' || c === 'secret_hex' || c === 'secret_base32');
  if (secretCols.length !== 1) bad(header.line, 'the header needs exactly one of secret, secret_hex, secret_base32');
  const secretCol = secretCols[0]!;
  const out: SeedRecord[] = [];
  let secret: Secret | undefined;
  try {
    for (const row of rows) {
      if (row.cells.length !== cols.length) bad(row.line, `${row.cells.length} fields, but the header has ${cols.length}`);
      const get: Cell = (c) => {
        const idx = cols.indexOf(c);
        const v = idx === -1 ? undefined : row.cells[idx]!.trim();
        return v === '' ? undefined : v;
      };
      const serial = get('serial') ?? bad(row.line, 'serial is empty');
      const typeText = (get('type') ?? 'hotp').toLowerCase();
      if (!isOtpType(typeText)) bad(row.line, `type "${typeText.slice(0, 20)}" is not hotp, totp or ocra`);
      secret = new Secret(decodeSecret(secretCol, row.cells[cols.indexOf(secretCol)]!, row.line));
      const r: SeedRecord = { serial, secret, otp: rowParams(get, typeText, row.line) };
      const user = get('user');
      if (user !== undefined) r.user = user;
      const label = get('label');
      if (label !== undefined) r.label = label;
      const issuer = get('issuer');
      if (issuer !== undefined) r.issuer = issuer;
      try {
        checkSeedRecord(r, `CSV line ${row.line}`);
      } catch (e) {
        if (e instanceof ProvisionerError) throw new ProvisionerError('INVALID_CSV', e.message);
        throw e;
      }
      out.push(r);
      secret = undefined;
    }
  } catch (e) {
    secret?.wipe();
    for (const r of out) r.secret.wipe();
    throw e;
  }
  return out;
}

/** Quotes a CSV cell when needed (RFC 4180). */
export function csvCell(v: string): string {
  return /[",\r\n]/.test(v) || v !== v.trim() ? `"${v.replace(/"/g, '""')}"` : v;
}
