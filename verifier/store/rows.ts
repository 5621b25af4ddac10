/**
 * Row <-> record mapping shared by the SQL stores (column names are the same in both dialects), and the SELECT
 * of an audit filter (domain/audit.ts AuditFilter).
 */
import type { AuditEntry, AuditFilter } from '../domain/audit.ts';
import type { TokenRecord } from '../domain/types.ts';
import type { ApiKeyRecord } from './types.ts';

export type Row = Record<string, unknown>;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
const big = (v: unknown): bigint => BigInt(v as string);
const bigOrNull = (v: unknown): bigint | null => (v === null || v === undefined ? null : BigInt(v as string));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export const TOKEN_COLUMNS = [
  'serial', 'uid', 'user_name', 'label', 'type', 'algorithm', 'digits', 'period_sec', 't0', 'ocra_suite',
  'counter', 'last_step', 'drift_steps', 'fail_count', 'throttled_until_ms', 'state', 'pending_resync',
  'pending_at_ms', 'last_used_at_ms', 'look_ahead', 'window_back', 'window_forward', 'resync_window',
  'seed_kid', 'seed_sealed', 'version', 'created_at_ms', 'updated_at_ms',
] as const;

export function tokenFromRow(r: Row): TokenRecord {
  const sealed = r['seed_sealed'] as Uint8Array;
  return {
    serial: String(r['serial']),
    uid: String(r['uid']),
    user: strOrNull(r['user_name']),
    label: strOrNull(r['label']),
    type: r['type'] as TokenRecord['type'],
    algorithm: r['algorithm'] as TokenRecord['algorithm'],
    digits: num(r['digits']),
    periodSec: num(r['period_sec']),
    t0: big(r['t0']),
    ocraSuite: strOrNull(r['ocra_suite']),
    counter: big(r['counter']),
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
    seedKid: String(r['seed_kid']),
    seedSealed: new Uint8Array(sealed.buffer, sealed.byteOffset, sealed.byteLength),
    version: num(r['version']),
    createdAtMs: num(r['created_at_ms']),
    updatedAtMs: num(r['updated_at_ms']),
  };
}

/** Values in TOKEN_COLUMNS order. */
export function tokenValues(t: TokenRecord): unknown[] {
  return [
    t.serial, t.uid, t.user, t.label, t.type, t.algorithm, t.digits, t.periodSec, t.t0.toString(), t.ocraSuite,
    t.counter.toString(), t.lastStep?.toString() ?? null, t.driftSteps, t.failCount, t.throttledUntilMs, t.state,
    t.pendingResync?.toString() ?? null, t.pendingAtMs, t.lastUsedAtMs, t.lookAhead, t.windowBack, t.windowForward,
    t.resyncWindow, t.seedKid, Buffer.from(t.seedSealed), t.version, t.createdAtMs, t.updatedAtMs,
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
