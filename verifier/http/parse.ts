/**
 * Decoding of API request bodies and query strings into the service's typed requests (domain/requests.ts).
 * Every body is a JSON object with known fields only; wrong types, unknown fields, out-of-range values and bad
 * secret encodings are refused with VerifierError INVALID_REQUEST naming the field — before anything is written.
 * The domain's own checks (serial format, seed length) are called from here, so that a body fails on its first
 * bad field in field order. Error messages never repeat a secret value.
 */
import { decodeBase32 } from '../../otp/base32.ts';
import { isTokenforgeError } from '../../otp/errors.ts';
import { hexToBytes } from '../../otp/hex.ts';
import { parseOcraSuite, type OcraSuite } from '../../otp/ocra.ts';
import { DEFAULT_PERIOD_SEC, isOtpType, MAX_PERIOD_SEC, OTP_TYPES, type OcraParams, type OtpParams } from '../../otp/otp-params.ts';
import { MAX_COUNTER, MAX_DIGITS, MIN_DIGITS, type HashAlgorithm } from '../../otp/params.ts';
import type { AuditFilter } from '../domain/audit.ts';
import type { TokenSource } from '../domain/types.ts';
import { TOKEN_STATES, type AdminEvent, type TokenStateName } from '../domain/states.ts';
import type { TokenFilter } from '../store/types.ts';
import { checkSecretLength, isSerial, MAX_BATCH, SERIAL_RE, type BulkRequest, type RegisterRequest, type TokenPatch, type VerifyRequest } from '../domain/requests.ts';
import { MAX_RESYNC_WINDOW, MAX_WINDOW } from '../domain/types.ts';
import { VerifierError } from '../errors.ts';

const CODE_RE = /^[0-9]{1,10}$/;
const OCRA_SUITE_RE = /^OCRA-1:HOTP-SHA(1|256|512)-([0-9]|10):[A-Za-z0-9-]{1,64}$/;

function bad(field: string, message: string): never {
  throw new VerifierError('INVALID_REQUEST', `${field}: ${message}`, { field });
}

type Obj = Record<string, unknown>;

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') bad('body', 'is empty; send a JSON object');
  try {
    return JSON.parse(text);
  } catch {
    return bad('body', 'is not valid JSON');
  }
}

function object(v: unknown, path: string, allowed: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(path, 'must be a JSON object');
  const o = v as Obj;
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) bad(path === 'body' ? k : `${path}.${k}`, `unknown field; allowed fields are ${allowed.join(', ')}`);
  }
  return o;
}

const name = (path: string, k: string): string => (path === 'body' ? k : `${path}.${k}`);

function str(o: Obj, k: string, path: string, opts: { required: true; re?: RegExp; max?: number; what?: string }): string;
function str(o: Obj, k: string, path: string, opts: { required?: false; re?: RegExp; max?: number; what?: string }): string | undefined;
function str(o: Obj, k: string, path: string, opts: { required?: boolean; re?: RegExp; max?: number; what?: string }): string | undefined {
  const v = o[k];
  if (v === undefined) {
    if (opts.required) bad(name(path, k), 'is required');
    return undefined;
  }
  if (typeof v !== 'string') bad(name(path, k), 'must be a string');
  if (opts.max !== undefined && v.length > opts.max) bad(name(path, k), `is longer than ${opts.max} characters`);
  if (opts.re && !opts.re.test(v)) bad(name(path, k), opts.what ?? `must match ${opts.re.source}`);
  return v;
}

function int(o: Obj, k: string, path: string, min: number, max: number): number | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) bad(name(path, k), 'must be an integer');
  if (v < min || v > max) bad(name(path, k), `must be between ${min} and ${max}`);
  return v;
}

/** A 64-bit value given as a JSON integer (up to 2^53-1) or a decimal string. */
function big(o: Obj, k: string, path: string, min: bigint, max: bigint): bigint | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  let b: bigint;
  if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
  else if (typeof v === 'string' && /^-?[0-9]{1,20}$/.test(v)) b = BigInt(v);
  else return bad(name(path, k), 'must be an integer (a JSON number up to 2^53-1, or a decimal string)');
  if (b < min || b > max) bad(name(path, k), `must be between ${min} and ${max}`);
  return b;
}

/** The {serial} segment of a path, still percent-encoded. */
export function parsePathSerial(raw: string): string {
  let s: string;
  try {
    s = decodeURIComponent(raw);
  } catch {
    throw new VerifierError('INVALID_REQUEST', 'serial in the path is not valid percent-encoding', { field: 'serial' });
  }
  if (!isSerial(s)) throw new VerifierError('INVALID_REQUEST', 'serial in the path is not a valid serial', { field: 'serial' });
  return s;
}

/** The {user} segment of a path, still percent-encoded: 1-128 printable characters, as at registration. */
export function parsePathUser(raw: string): string {
  let u: string;
  try {
    u = decodeURIComponent(raw);
  } catch {
    throw new VerifierError('INVALID_REQUEST', 'user in the path is not valid percent-encoding', { field: 'user' });
  }
  if (u.length === 0 || u.length > 128 || !/^[^\u0000-\u001f]+$/.test(u)) throw new VerifierError('INVALID_REQUEST', 'user in the path is not 1-128 printable characters', { field: 'user' });
  return u;
}

const REGISTER_FIELDS = [
  'serial', 'type', 'algorithm', 'digits', 'period', 't0', 'counter', 'lastStep', 'secret', 'secretEncoding', 'user', 'label',
  'ocraSuite', 'lookAhead', 'windowBack', 'windowForward', 'resyncWindow', 'batchId', 'source', 'rekey',
] as const;

const PRINTABLE_RE = /^[^\u0000-\u001f\u007f]+$/;
const BATCH_ID_RE = /^[\u0020-\u007e]{1,128}$/;

function bool(o: Obj, k: string, path: string): boolean | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') bad(name(path, k), 'must be true or false');
  return v;
}

function source(o: Obj, path: string): TokenSource | null {
  if (o['source'] === undefined || o['source'] === null) return null;
  const p = name(path, 'source');
  const so = object(o['source'], p, ['fingerprint', 'name']);
  const fingerprint = str(so, 'fingerprint', p, { required: true, re: /^[0-9a-fA-F]{64}$/, what: 'must be 64 hex digits (SHA-256 of the seed file)' }).toLowerCase();
  const n = str(so, 'name', p, { required: false, max: 200, re: PRINTABLE_RE, what: 'must be 1-200 printable characters' });
  return n === undefined ? { fingerprint } : { fingerprint, name: n };
}

const ALGORITHMS: Readonly<Record<string, HashAlgorithm>> = { SHA1: 'SHA1', SHA256: 'SHA256', SHA512: 'SHA512', sha1: 'SHA1', sha256: 'SHA256', sha512: 'SHA512' };

export function parseRegister(v: unknown, path = 'body'): RegisterRequest {
  const o = object(v, path, REGISTER_FIELDS);
  const serial = str(o, 'serial', path, { required: true, re: SERIAL_RE, what: 'must be 1-64 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit' });
  const type = str(o, 'type', path, { required: true });
  if (!isOtpType(type)) return bad(name(path, 'type'), `must be one of ${OTP_TYPES.join(', ')}`);
  const alg = str(o, 'algorithm', path, { required: false });
  const algorithm = Object.hasOwn(ALGORITHMS, alg ?? 'SHA1') ? ALGORITHMS[alg ?? 'SHA1']! : bad(name(path, 'algorithm'), 'must be one of SHA1, SHA256, SHA512');
  const givenDigits = int(o, 'digits', path, MIN_DIGITS, MAX_DIGITS);
  const digits = givenDigits ?? 6;
  const period = int(o, 'period', path, 1, MAX_PERIOD_SEC);
  const t0 = big(o, 't0', path, -(2n ** 53n) + 1n, 2n ** 53n - 1n);
  const counter = big(o, 'counter', path, 0n, MAX_COUNTER);
  if (type !== 'totp' && (period !== undefined || t0 !== undefined)) bad(name(path, period !== undefined ? 'period' : 't0'), 'applies to totp tokens only');
  if (type === 'totp' && counter !== undefined) bad(name(path, 'counter'), 'applies to hotp and ocra tokens only');
  const lastStep = big(o, 'lastStep', path, 0n, MAX_COUNTER);
  if (type !== 'totp' && lastStep !== undefined) bad(name(path, 'lastStep'), 'applies to totp tokens only');
  const ocraSuite = str(o, 'ocraSuite', path, { required: type === 'ocra', re: OCRA_SUITE_RE, what: 'must be an OCRA suite such as OCRA-1:HOTP-SHA1-6:QN08' } as never) as string | undefined;
  if (type !== 'ocra' && ocraSuite !== undefined) bad(name(path, 'ocraSuite'), 'applies to ocra tokens only');
  let otp: OtpParams;
  switch (type) {
    case 'hotp':
      otp = { type, algorithm, digits, counter: counter ?? 0n };
      break;
    case 'totp':
      otp = { type, algorithm, digits, periodSec: period ?? DEFAULT_PERIOD_SEC, t0Sec: t0 ?? 0n };
      break;
    case 'ocra':
      otp = ocraParams(ocraSuite!, alg === undefined ? undefined : algorithm, givenDigits, counter, path);
      break;
  }
  const encoding = str(o, 'secretEncoding', path, { required: false }) ?? 'base32';
  if (encoding !== 'base32' && encoding !== 'hex') bad(name(path, 'secretEncoding'), 'must be base32 or hex');
  const secretText = o['secret'];
  if (secretText === undefined) bad(name(path, 'secret'), 'is required');
  if (typeof secretText !== 'string') bad(name(path, 'secret'), 'must be a string');
  if (secretText.length > 1024) bad(name(path, 'secret'), 'is longer than 1024 characters');
  let secret: Uint8Array;
  try {
    secret = encoding === 'hex' ? hexToBytes(secretText, 'secret') : decodeBase32(secretText, 'secret');
  } catch (e) {
    if (isTokenforgeError(e)) bad(name(path, 'secret'), `is not valid ${encoding} (${e.message.replace(/^secret:\s*/, '')})`);
    throw e;
  }
  checkSecretLength(secret, name(path, 'secret'));
  try {
    return {
      serial,
      otp,
      lastStep: lastStep ?? null,
      secret,
      user: str(o, 'user', path, { required: false, max: 128, re: /^[^\u0000-\u001f]+$/, what: 'must be 1-128 printable characters' }) ?? null,
      label: str(o, 'label', path, { required: false, max: 256 }) ?? null,
      lookAhead: int(o, 'lookAhead', path, 0, MAX_WINDOW) ?? null,
      windowBack: int(o, 'windowBack', path, 0, MAX_WINDOW) ?? null,
      windowForward: int(o, 'windowForward', path, 0, MAX_WINDOW) ?? null,
      resyncWindow: int(o, 'resyncWindow', path, 1, MAX_RESYNC_WINDOW) ?? null,
      batchId: str(o, 'batchId', path, { required: false, re: BATCH_ID_RE, what: 'must be 1-128 printable ASCII characters' }) ?? null,
      source: source(o, path),
      rekey: bool(o, 'rekey', path) ?? false,
    };
  } catch (e) {
    secret.fill(0);
    throw e;
  }
}

/**
 * OCRA parameters: the suite (RFC 6287 Section 6) names the hash and the code length, so `algorithm` and
 * `digits`, when given, must agree with it; a counter belongs only to suites with a C input (default 0).
 */
function ocraParams(suiteText: string, algorithm: HashAlgorithm | undefined, digits: number | undefined, counter: bigint | undefined, path: string): OcraParams {
  let suite: OcraSuite;
  try {
    suite = parseOcraSuite(suiteText);
  } catch (e) {
    if (isTokenforgeError(e)) return bad(name(path, 'ocraSuite'), `is not a valid OCRA suite (${e.message.replace(/^OCRA suite:\s*/, '')})`);
    throw e;
  }
  if (algorithm !== undefined && algorithm !== suite.algorithm) bad(name(path, 'algorithm'), `must be ${suite.algorithm}, the hash of the OCRA suite (or be left out)`);
  if (digits !== undefined && digits !== suite.digits) bad(name(path, 'digits'), `must be ${suite.digits}, the code length of the OCRA suite (or be left out)`);
  if (!suite.counter) {
    if (counter !== undefined) bad(name(path, 'counter'), 'the OCRA suite has no counter input (C)');
    return { type: 'ocra', suite: suiteText };
  }
  return { type: 'ocra', suite: suiteText, counter: counter ?? 0n };
}

/** Parses a whole batch; on any error nothing has been registered and the decoded secrets are wiped. */
export function parseBatch(v: unknown): RegisterRequest[] {
  const o = object(v, 'body', ['tokens']);
  const list = o['tokens'];
  if (!Array.isArray(list)) bad('tokens', 'must be an array of token objects');
  if (list.length === 0) bad('tokens', 'is empty');
  if (list.length > MAX_BATCH) bad('tokens', `has ${list.length} entries; at most ${MAX_BATCH} per batch`);
  const out: RegisterRequest[] = [];
  const seen = new Set<string>();
  try {
    for (let i = 0; i < list.length; i++) {
      const r = parseRegister(list[i], `tokens[${i}]`);
      out.push(r);
      if (seen.has(r.serial)) bad(`tokens[${i}].serial`, 'appears twice in the batch');
      seen.add(r.serial);
    }
  } catch (e) {
    for (const r of out) r.secret.fill(0);
    throw e;
  }
  return out;
}

export function parseVerify(v: unknown): VerifyRequest {
  const o = object(v, 'body', ['serial', 'user', 'code', 'counter']);
  const serial = str(o, 'serial', 'body', { required: false, re: SERIAL_RE, what: 'is not a valid serial' }) ?? null;
  const user = str(o, 'user', 'body', { required: false, max: 128 }) ?? null;
  if ((serial === null) === (user === null)) bad(serial === null ? 'serial' : 'user', 'give exactly one of serial or user');
  const code = str(o, 'code', 'body', { required: true, re: CODE_RE, what: 'must be a string of 1-10 decimal digits' });
  return { serial, user, code, counter: big(o, 'counter', 'body', 0n, MAX_COUNTER) ?? null };
}

export function parseResync(v: unknown): { code1: string; code2: string } {
  const o = object(v, 'body', ['code1', 'code2']);
  return {
    code1: str(o, 'code1', 'body', { required: true, re: CODE_RE, what: 'must be a string of 1-10 decimal digits' }),
    code2: str(o, 'code2', 'body', { required: true, re: CODE_RE, what: 'must be a string of 1-10 decimal digits' }),
  };
}

/** Bodies of enable/disable/unlock: empty or {}. */
export function parseEmpty(text: string): void {
  if (text.trim() === '') return;
  object(parseJsonBody(text), 'body', []);
}

const REASON_MAX = 500;

/** Bodies of the state actions (enable, disable, unlock, lost, revoke): empty, {} or { reason }. */
export function parseActionBody(text: string): { reason: string | null } {
  if (text.trim() === '') return { reason: null };
  const o = object(parseJsonBody(text), 'body', ['reason']);
  return { reason: str(o, 'reason', 'body', { required: false, max: REASON_MAX, re: PRINTABLE_RE, what: `must be 1-${REASON_MAX} printable characters` }) ?? null };
}

/** The ?reason= of DELETE /v1/tokens/{serial} (the only parameter). */
export function parseDeleteQuery(params: URLSearchParams): { reason: string | null } {
  for (const k of new Set(params.keys())) {
    if (k !== 'reason') bad(k, 'unknown query parameter; allowed is reason');
    if (params.getAll(k).length > 1) bad(k, 'given more than once');
  }
  const r = params.get('reason');
  if (r === null) return { reason: null };
  if (r.length === 0 || r.length > REASON_MAX || !PRINTABLE_RE.test(r)) bad('reason', `must be 1-${REASON_MAX} printable characters`);
  return { reason: r };
}

/** PATCH /v1/tokens/{serial}: { version, user?, label?, lookAhead?, windowBack?, windowForward?, resyncWindow? }. */
export function parsePatch(v: unknown): TokenPatch {
  const o = object(v, 'body', ['version', 'user', 'label', 'lookAhead', 'windowBack', 'windowForward', 'resyncWindow']);
  const version = int(o, 'version', 'body', 1, Number.MAX_SAFE_INTEGER);
  if (version === undefined) bad('version', 'is required (the version you read; the update applies only if it is still current)');
  const p: TokenPatch = { version };
  const nullable = <T>(k: string, read: () => T | undefined): T | null | undefined => (o[k] === null ? null : read());
  const user = nullable('user', () => str(o, 'user', 'body', { required: false, max: 128, re: /^[^\u0000-\u001f]+$/, what: 'must be 1-128 printable characters or null' }));
  if (user !== undefined) p.user = user;
  const label = nullable('label', () => str(o, 'label', 'body', { required: false, max: 256 }));
  if (label !== undefined) p.label = label;
  for (const [k, min, max] of [['lookAhead', 0, MAX_WINDOW], ['windowBack', 0, MAX_WINDOW], ['windowForward', 0, MAX_WINDOW], ['resyncWindow', 1, MAX_RESYNC_WINDOW]] as const) {
    const x = nullable(k, () => int(o, k, 'body', min, max));
    if (x !== undefined) p[k] = x;
  }
  if (Object.keys(o).length === 1) bad('body', 'names no field to change; give user, label, lookAhead, windowBack, windowForward or resyncWindow');
  return p;
}

export const AUDIT_QUERY_FIELDS = ['serial', 'action', 'result', 'actor', 'since', 'until', 'after', 'limit'] as const;

function time(v: string, field: string): number {
  const n = /^[0-9]{1,15}$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) bad(field, 'must be an ISO 8601 time or milliseconds since the epoch');
  return n;
}

export function parseAuditQuery(params: URLSearchParams): AuditFilter {
  const q: AuditFilter = { limit: 100 };
  for (const k of new Set(params.keys())) {
    if (!(AUDIT_QUERY_FIELDS as readonly string[]).includes(k)) bad(k, `unknown query parameter; allowed are ${AUDIT_QUERY_FIELDS.join(', ')}`);
    if (params.getAll(k).length > 1) bad(k, 'given more than once');
  }
  const get = (k: string): string | undefined => params.get(k) ?? undefined;
  const s = get('serial');
  if (s !== undefined) q.serial = s;
  const a = get('action');
  if (a !== undefined) q.action = a;
  const r = get('result');
  if (r !== undefined) q.result = r;
  const ac = get('actor');
  if (ac !== undefined) q.actor = ac;
  const since = get('since');
  if (since !== undefined) q.sinceMs = time(since, 'since');
  const until = get('until');
  if (until !== undefined) q.untilMs = time(until, 'until');
  const after = get('after');
  if (after !== undefined) {
    if (!/^[0-9]{1,15}$/.test(after)) bad('after', 'must be a sequence number');
    q.afterSeq = Number(after);
  }
  const limit = get('limit');
  if (limit !== undefined) {
    if (!/^[0-9]{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000) bad('limit', 'must be 1..1000');
    q.limit = Number(limit);
  }
  return q;
}

export const TOKEN_QUERY_FIELDS = ['user', 'batch', 'state', 'serialPrefix', 'type', 'usedBefore', 'usedAfter', 'neverUsed', 'limit', 'cursor'] as const;

/** The opaque cursor of GET /v1/tokens: base64url of the last serial of the previous page. */
export function encodeCursor(serial: string): string {
  return Buffer.from(serial, 'utf8').toString('base64url');
}

function decodeCursor(c: string): string {
  const s = /^[A-Za-z0-9_-]{1,128}$/.test(c) ? Buffer.from(c, 'base64url').toString('utf8') : '';
  if (!isSerial(s) || encodeCursor(s) !== c) bad('cursor', 'is not a cursor this server returned (nextCursor)');
  return s;
}

function isoTime(v: string, field: string): number {
  const n = /^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})?)?$/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(n)) bad(field, 'must be an ISO 8601 time such as 2026-12-01T00:00:00Z');
  return n;
}

/** GET /v1/tokens query: every parameter at most once, unknown ones refused (naming them). */
export function parseTokenQuery(params: URLSearchParams): TokenFilter {
  for (const k of new Set(params.keys())) {
    if (!(TOKEN_QUERY_FIELDS as readonly string[]).includes(k)) bad(k, `unknown query parameter; allowed are ${TOKEN_QUERY_FIELDS.join(', ')}`);
    if (params.getAll(k).length > 1) bad(k, 'given more than once');
  }
  const get = (k: string): string | undefined => params.get(k) ?? undefined;
  const f: TokenFilter = { limit: 100 };
  const user = get('user');
  if (user !== undefined) f.user = user.length > 0 && user.length <= 128 ? user : bad('user', 'must be 1-128 characters');
  const batch = get('batch');
  if (batch !== undefined) f.batch = BATCH_ID_RE.test(batch) ? batch : bad('batch', 'must be 1-128 printable ASCII characters');
  const state = get('state');
  if (state !== undefined) f.state = (TOKEN_STATES as readonly string[]).includes(state) ? (state as TokenStateName) : bad('state', `must be one of ${TOKEN_STATES.join(', ')}`);
  const prefix = get('serialPrefix');
  if (prefix !== undefined) f.serialPrefix = /^[A-Za-z0-9._:-]{1,64}$/.test(prefix) ? prefix : bad('serialPrefix', 'must be 1-64 serial characters');
  const type = get('type');
  if (type !== undefined) f.type = isOtpType(type) ? type : bad('type', `must be one of ${OTP_TYPES.join(', ')}`);
  const ub = get('usedBefore');
  if (ub !== undefined) f.usedBeforeMs = isoTime(ub, 'usedBefore');
  const ua = get('usedAfter');
  if (ua !== undefined) f.usedAfterMs = isoTime(ua, 'usedAfter');
  const nu = get('neverUsed');
  if (nu !== undefined) f.neverUsed = nu === 'true' ? true : nu === 'false' ? false : bad('neverUsed', 'must be true or false');
  if (f.neverUsed === true && (f.usedBeforeMs !== undefined || f.usedAfterMs !== undefined)) bad('neverUsed', 'cannot be combined with usedBefore/usedAfter');
  const limit = get('limit');
  if (limit !== undefined) {
    if (!/^[0-9]{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000) bad('limit', 'must be 1..1000');
    f.limit = Number(limit);
  }
  const cursor = get('cursor');
  if (cursor !== undefined) f.afterSerial = decodeCursor(cursor);
  return f;
}

const BULK_ACTIONS = ['revoke', 'disable', 'enable', 'unlock', 'lost'] as const satisfies readonly AdminEvent[];

/** POST /v1/tokens:bulk body. An empty filter is refused unless all: true (and all: true with a filter too). */
export function parseBulk(v: unknown): BulkRequest {
  const o = object(v, 'body', ['action', 'filter', 'all', 'dryRun', 'reason']);
  const action = str(o, 'action', 'body', { required: true });
  if (!(BULK_ACTIONS as readonly string[]).includes(action)) bad('action', `must be one of ${BULK_ACTIONS.join(', ')}`);
  const fo = o['filter'] === undefined ? {} : object(o['filter'], 'filter', ['batch', 'user', 'serials', 'state']);
  const filter: BulkRequest['filter'] = {};
  const batch = str(fo, 'batch', 'filter', { required: false, re: BATCH_ID_RE, what: 'must be 1-128 printable ASCII characters' });
  if (batch !== undefined) filter.batch = batch;
  const user = str(fo, 'user', 'filter', { required: false, max: 128, re: PRINTABLE_RE, what: 'must be 1-128 printable characters' });
  if (user !== undefined) filter.user = user;
  const state = str(fo, 'state', 'filter', { required: false });
  if (state !== undefined) filter.state = (TOKEN_STATES as readonly string[]).includes(state) ? (state as TokenStateName) : bad('filter.state', `must be one of ${TOKEN_STATES.join(', ')}`);
  if (fo['serials'] !== undefined) {
    const list = fo['serials'];
    if (!Array.isArray(list)) bad('filter.serials', 'must be an array of serials');
    if (list.length === 0) bad('filter.serials', 'is empty');
    if (list.length > MAX_BATCH) bad('filter.serials', `has ${list.length} entries; at most ${MAX_BATCH}`);
    list.forEach((x, i) => {
      if (typeof x !== 'string' || !isSerial(x)) bad(`filter.serials[${i}]`, 'is not a valid serial');
    });
    filter.serials = list as string[];
  }
  const all = bool(o, 'all', 'body') ?? false;
  const empty = Object.keys(filter).length === 0;
  if (empty && !all) bad('filter', 'give a filter or all: true');
  if (!empty && all) bad('all', 'all: true applies to every token; give it without a filter');
  const reason = str(o, 'reason', 'body', { required: false, max: REASON_MAX, re: PRINTABLE_RE, what: `must be 1-${REASON_MAX} printable characters` }) ?? null;
  return { action: action as BulkRequest['action'], filter, all, dryRun: bool(o, 'dryRun', 'body') ?? false, reason };
}

/** The {batchId} segment of GET /v1/batches/{batchId}. */
export function parsePathBatch(raw: string): string {
  let b: string;
  try {
    b = decodeURIComponent(raw);
  } catch {
    throw new VerifierError('INVALID_REQUEST', 'batch id in the path is not valid percent-encoding', { field: 'batchId' });
  }
  if (!BATCH_ID_RE.test(b)) throw new VerifierError('INVALID_REQUEST', 'batch id in the path is not 1-128 printable ASCII characters', { field: 'batchId' });
  return b;
}
