/**
 * Row <-> record mapping shared by the SQL stores (column names are the same in both dialects), and the SELECT
 * of an audit filter (domain/audit.ts AuditFilter).
 */
import type { AuditEntry, AuditFilter } from '../domain/audit.ts';
import { parseOcraSuite } from '../../otp/ocra.ts';
import { DEFAULT_PERIOD_SEC, otpAlgorithm, otpDigits, type OtpParams, type OtpType } from '../../otp/otp-params.ts';
import type { HashAlgorithm } from '../../otp/params.ts';
import type { Tombstone } from '../domain/lifecycle.ts';
import type { TokenDynamic, TokenRecord, TokenSource } from '../domain/types.ts';
import type { UserRecord } from '../domain/users.ts';
import type { ApiKeyRecord, BatchSummary, TokenFilter } from './types.ts';

export type Row = Record<string, unknown>;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
const big = (v: unknown): bigint => BigInt(v as string);
const bigOrNull = (v: unknown): bigint | null => (v === null || v === undefined ? null : BigInt(v as string));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** Columns written once, at registration (re-sealing rewrites seed_kid and seed_sealed). */
const STATIC_COLUMNS = [
  'serial', 'uid', 'user_name', 'label', 'type', 'algorithm', 'digits', 'period_sec', 't0', 'ocra_suite',
  'look_ahead', 'window_back', 'window_forward', 'resync_window', 'seed_kid', 'seed_sealed', 'created_at_ms',
  'seed_fp', 'batch_id', 'source_fingerprint', 'source_name',
] as const;

/** The columns of TokenDynamic, which updateToken writes, in the order of dynamicValues. */
export const DYNAMIC_COLUMNS = [
  'counter', 'last_step', 'drift_steps', 'fail_count', 'throttled_until_ms', 'state', 'pending_resync',
  'pending_at_ms', 'last_used_at_ms', 'state_reason', 'lost_at_ms', 'revoked_at_ms',
] as const;
export type DynamicColumn = (typeof DYNAMIC_COLUMNS)[number];

/** Every column of the tokens table, in the order of tokenValues. */
export const TOKEN_COLUMNS = [...STATIC_COLUMNS, ...DYNAMIC_COLUMNS, 'version', 'updated_at_ms'] as const;

/**
 * Row -> record, the only one. The OTP parameters come from the type's own columns (hotp: algorithm, digits,
 * counter; totp: algorithm, digits, period_sec, t0; ocra: ocra_suite, and counter when the suite has C).
 */
export function tokenFromRow(r: Row): TokenRecord {
  const sealed = r['seed_sealed'] as Uint8Array;
  const counter = big(r['counter']);
  return {
    serial: String(r['serial']),
    uid: String(r['uid']),
    user: strOrNull(r['user_name']),
    label: strOrNull(r['label']),
    otp: otpFromRow(r, counter),
    counter,
    lastStep: bigOrNull(r['last_step']),
    driftSteps: num(r['drift_steps']),
    failCount: num(r['fail_count']),
    throttledUntilMs: num(r['throttled_until_ms']),
    state: r['state'] as TokenRecord['state'],
    pendingResync: bigOrNull(r['pending_resync']),
    pendingAtMs: num(r['pending_at_ms']),
    lastUsedAtMs: numOrNull(r['last_used_at_ms']),
    lookAhead: numOrNull(r['look_ahead']),
    windowBack: numOrNull(r['window_back']),
    windowForward: numOrNull(r['window_forward']),
    resyncWindow: numOrNull(r['resync_window']),
    stateReason: strOrNull(r['state_reason']),
    lostAtMs: numOrNull(r['lost_at_ms']),
    revokedAtMs: numOrNull(r['revoked_at_ms']),
    seedFingerprint: strOrNull(r['seed_fp']),
    batchId: strOrNull(r['batch_id']),
    source: r['source_fingerprint'] === null || r['source_fingerprint'] === undefined ? null : sourceFromRow(r),
    seedKid: String(r['seed_kid']),
    seedSealed: new Uint8Array(sealed.buffer, sealed.byteOffset, sealed.byteLength),
    version: num(r['version']),
    createdAtMs: num(r['created_at_ms']),
    updatedAtMs: num(r['updated_at_ms']),
  };
}

function sourceFromRow(r: Row): TokenSource {
  const name = strOrNull(r['source_name']);
  return name === null ? { fingerprint: String(r['source_fingerprint']) } : { fingerprint: String(r['source_fingerprint']), name };
}

function otpFromRow(r: Row, counter: bigint): OtpParams {
  const type = r['type'] as OtpType;
  switch (type) {
    case 'hotp':
      return { type, algorithm: r['algorithm'] as HashAlgorithm, digits: num(r['digits']), counter };
    case 'totp':
      return { type, algorithm: r['algorithm'] as HashAlgorithm, digits: num(r['digits']), periodSec: num(r['period_sec']), t0Sec: big(r['t0']) };
    case 'ocra': {
      const suite = String(r['ocra_suite']);
      return parseOcraSuite(suite).counter ? { type, suite, counter } : { type, suite };
    }
  }
}

/**
 * Record -> values of TOKEN_COLUMNS, the only one (with dynamicValues, which it uses). Columns a type does not
 * use keep their registration defaults: period_sec 30 and t0 0 for hotp/ocra, ocra_suite null for hotp/totp;
 * an ocra token's algorithm and digits are its suite's.
 */
export function tokenValues(t: TokenRecord): unknown[] {
  const p = t.otp;
  return [
    t.serial, t.uid, t.user, t.label, p.type, otpAlgorithm(p), otpDigits(p),
    p.type === 'totp' ? p.periodSec : DEFAULT_PERIOD_SEC, p.type === 'totp' ? p.t0Sec.toString() : '0', p.type === 'ocra' ? p.suite : null,
    t.lookAhead, t.windowBack, t.windowForward, t.resyncWindow, t.seedKid, Buffer.from(t.seedSealed), t.createdAtMs,
    t.seedFingerprint, t.batchId, t.source?.fingerprint ?? null, t.source?.name ?? null,
    ...dynamicValues(t), t.version, t.updatedAtMs,
  ];
}

/** TokenDynamic -> values of DYNAMIC_COLUMNS (counters and steps as decimal text, see migrations.ts). */
export function dynamicValues(d: TokenDynamic): unknown[] {
  return [
    d.counter.toString(), d.lastStep?.toString() ?? null, d.driftSteps, d.failCount, d.throttledUntilMs, d.state,
    d.pendingResync?.toString() ?? null, d.pendingAtMs, d.lastUsedAtMs, d.stateReason, d.lostAtMs, d.revokedAtMs,
  ];
}

export function auditFromRow(r: Row): AuditEntry {
  return {
    seq: num(r['seq']),
    atMs: num(r['at_ms']),
    actor: String(r['actor']),
    action: String(r['action']),
    serial: strOrNull(r['serial']),
    result: String(r['result']),
    detail: String(r['detail']),
    prevHash: String(r['prev_hash']),
    hash: String(r['hash']),
  };
}

export function apiKeyFromRow(r: Row): ApiKeyRecord {
  return {
    id: String(r['id']),
    role: r['role'] as ApiKeyRecord['role'],
    hash: String(r['hash']),
    label: strOrNull(r['label']),
    createdAtMs: num(r['created_at_ms']),
    revokedAtMs: numOrNull(r['revoked_at_ms']),
    expiresAtMs: numOrNull(r['expires_at_ms']),
    lastUsedAtMs: numOrNull(r['last_used_at_ms']),
  };
}

/** Each audit filter field, its column and comparison. */
const AUDIT_FILTER_SQL = [
  ['serial', 'serial = '],
  ['action', 'action = '],
  ['result', 'result = '],
  ['actor', 'actor = '],
  ['sinceMs', 'at_ms >= '],
  ['untilMs', 'at_ms < '],
  ['afterSeq', 'seq > '],
] as const satisfies ReadonlyArray<readonly [Exclude<keyof AuditFilter, 'limit'>, string]>;

/** The SELECT of an audit filter; `param(n)` writes the dialect's placeholder for the n-th argument (1-based). */
export function auditSelect(f: AuditFilter, param: (n: number) => string): { sql: string; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  for (const [field, sql] of AUDIT_FILTER_SQL) {
    const v = f[field];
    if (v === undefined) continue;
    args.push(v);
    where.push(sql + param(args.length));
  }
  args.push(f.limit);
  return { sql: `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')} ` : ''}ORDER BY seq LIMIT ${param(args.length)}`, args };
}

/** The tombstones columns, in the order of tombstoneValues. */
export const TOMBSTONE_COLUMNS = ['uid', 'serial', 'seed_fp', 'counter', 'last_step', 'reason', 'deleted_at_ms', 'was_revoked'] as const;

export function tombstoneValues(x: Tombstone): unknown[] {
  return [x.uid, x.serial, x.seedFingerprint, x.counter.toString(), x.lastStep?.toString() ?? null, x.reason, x.deletedAtMs, x.wasRevoked ? 1 : 0];
}

export function tombstoneFromRow(r: Row): Tombstone {
  return {
    uid: String(r['uid']),
    serial: String(r['serial']),
    seedFingerprint: String(r['seed_fp']),
    counter: big(r['counter']),
    lastStep: bigOrNull(r['last_step']),
    reason: strOrNull(r['reason']),
    deletedAtMs: num(r['deleted_at_ms']),
    wasRevoked: num(r['was_revoked']) === 1,
  };
}

export function userFromRow(r: Row): UserRecord {
  return {
    user: String(r['user_name']),
    failCount: num(r['fail_count']),
    throttledUntilMs: num(r['throttled_until_ms']),
    lockedAtMs: numOrNull(r['locked_at_ms']),
    version: num(r['version']),
    updatedAtMs: num(r['updated_at_ms']),
  };
}

/** INSERT of a new user row or compare-and-set UPDATE of an existing one: values for USER_UPSERT_SQL. */
export function userValues(u: UserRecord): unknown[] {
  return [u.user, u.failCount, u.throttledUntilMs, u.lockedAtMs, u.version, u.updatedAtMs];
}

/**
 * The WHERE of a token filter (without paging and limit), for SELECT and for bulk updates; `param(n)` writes the
 * dialect's n-th placeholder, `inList(n)` the membership test of serial in the n-th argument (an array).
 */
export function tokenWhere(f: TokenFilter, param: (n: number) => string, inList: (n: number) => string, toList: (a: readonly string[]) => unknown): { where: string[]; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (sql: (p: string) => string, v: unknown): void => {
    args.push(v);
    where.push(sql(param(args.length)));
  };
  if (f.user !== undefined) add((p) => `user_name = ${p}`, f.user);
  if (f.batch !== undefined) add((p) => `batch_id = ${p}`, f.batch);
  if (f.state !== undefined) add((p) => `state = ${p}`, f.state);
  if (f.type !== undefined) add((p) => `type = ${p}`, f.type);
  if (f.serialPrefix !== undefined) {
    args.push(f.serialPrefix);
    where.push(`substr(serial, 1, ${f.serialPrefix.length}) = ${param(args.length)}`);
  }
  if (f.usedBeforeMs !== undefined) add((p) => `last_used_at_ms < ${p}`, f.usedBeforeMs);
  if (f.usedAfterMs !== undefined) add((p) => `last_used_at_ms >= ${p}`, f.usedAfterMs);
  if (f.neverUsed === true) where.push('last_used_at_ms IS NULL');
  if (f.neverUsed === false) where.push('last_used_at_ms IS NOT NULL');
  if (f.serials !== undefined) {
    args.push(toList(f.serials));
    where.push(inList(args.length));
  }
  if (f.afterSerial !== undefined) add((p) => `serial > ${p}`, f.afterSerial);
  return { where, args };
}

export function tokenSelect(f: TokenFilter, param: (n: number) => string, inList: (n: number) => string, toList: (a: readonly string[]) => unknown): { sql: string; args: unknown[] } {
  const { where, args } = tokenWhere(f, param, inList, toList);
  args.push(f.limit);
  return { sql: `SELECT * FROM tokens ${where.length ? `WHERE ${where.join(' AND ')} ` : ''}ORDER BY serial LIMIT ${param(args.length)}`, args };
}

/** A batch's summary from its rows grouped by state (columns state, n, first_ms, last_ms) and one source row. */
export function batchFromRows(batchId: string, groups: readonly Row[], sourceRow: Row | undefined): BatchSummary | undefined {
  if (groups.length === 0) return undefined;
  const byState: BatchSummary['byState'] = {};
  let tokens = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const g of groups) {
    const n = num(g['n']);
    byState[g['state'] as keyof BatchSummary['byState']] = n;
    tokens += n;
    first = Math.min(first, num(g['first_ms']));
    last = Math.max(last, num(g['last_ms']));
  }
  const source = sourceRow && sourceRow['source_fingerprint'] !== null && sourceRow['source_fingerprint'] !== undefined ? sourceFromRow(sourceRow) : null;
  return { batchId, source, tokens, byState, firstRegisteredAtMs: first, lastRegisteredAtMs: last };
}

export const BATCH_GROUP_SQL = (p: string): string =>
  `SELECT state, COUNT(*) AS n, MIN(created_at_ms) AS first_ms, MAX(created_at_ms) AS last_ms FROM tokens WHERE batch_id = ${p} GROUP BY state`;
export const BATCH_SOURCE_SQL = (p: string): string =>
  `SELECT source_fingerprint, source_name FROM tokens WHERE batch_id = ${p} AND source_fingerprint IS NOT NULL ORDER BY created_at_ms, serial LIMIT 1`;
