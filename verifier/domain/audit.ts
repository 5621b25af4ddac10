/**
 * The hash-chained audit log. Entry n carries hash_n = SHA-256(hash_{n-1} "\n" canonical(entry_n)) with
 * hash_0 = 64 zeros, so changing, inserting or deleting any entry breaks every later hash; the store also keeps
 * the head (last seq and hash) so that truncating the tail is detected too. Entries never contain secrets.
 */
import { hash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditInput {
  atMs: number;
  /** API key id, or "cli" for local administration. */
  actor: string;
  action: string;
  serial: string | null;
  result: string;
  /** Small JSON object: counters, reasons. */
  detail: Record<string, unknown>;
}

export interface AuditEntry {
  seq: number;
  atMs: number;
  actor: string;
  action: string;
  serial: string | null;
  result: string;
  /** The detail as stored: canonical JSON text (the hash covers these exact characters). */
  detail: string;
  prevHash: string;
  hash: string;
}

export function auditHash(prevHash: string, e: Omit<AuditEntry, 'prevHash' | 'hash'>): string {
  const canonical = JSON.stringify([e.seq, e.atMs, e.actor, e.action, e.serial, e.result, e.detail]);
  // One-shot hash of the same bytes as update(prev).update('\n').update(canonical): no Hash object per entry.
  return hash('sha256', `${prevHash}\n${canonical}`, 'hex');
}

/** Builds the next entry of the chain after (prevSeq, prevHash). */
export function chainEntry(prevSeq: number, prevHash: string, input: AuditInput): AuditEntry {
  const base = {
    seq: prevSeq + 1,
    atMs: input.atMs,
    actor: input.actor,
    action: input.action,
    serial: input.serial,
    result: input.result,
    detail: JSON.stringify(input.detail),
  };
  return { ...base, prevHash, hash: auditHash(prevHash, base) };
}

/**
 * The one query shape of the audit log (the HTTP query, the service, both stores and the chain walk use it):
 * entries matching every given field, in seq order, at most `limit`.
 */
export interface AuditFilter {
  serial?: string;
  action?: string;
  result?: string;
  actor?: string;
  /** atMs >= sinceMs. */
  sinceMs?: number;
  /** atMs < untilMs. */
  untilMs?: number;
  /** seq > afterSeq (paging: pass the last seq of the previous page). */
  afterSeq?: number;
  limit: number;
}

export interface ChainCheck {
  ok: boolean;
  entries: number;
  /** First seq where the chain breaks, and why. */
  brokenAt?: number;
  problem?: string;
}

/**
 * Checks entries in seq order, feeding them one at a time (so a large log streams), then the stored head.
 */
export function createChainChecker(): {
  add(e: AuditEntry): boolean;
  finish(head: { seq: number; hash: string }): ChainCheck;
} {
  let prevSeq = 0;
  let prevHash = GENESIS_HASH;
  let count = 0;
  let broken: { seq: number; problem: string } | null = null;
  return {
    add(e) {
      if (broken) return false;
      count++;
      if (e.seq !== prevSeq + 1) broken = { seq: e.seq, problem: `entry ${prevSeq + 1} is missing (next is ${e.seq})` };
      else if (e.prevHash !== prevHash) broken = { seq: e.seq, problem: 'previous-hash link does not match the entry before' };
      else if (auditHash(prevHash, e) !== e.hash) broken = { seq: e.seq, problem: 'entry content does not match its hash (altered)' };
      prevSeq = e.seq;
      prevHash = e.hash;
      return broken === null;
    },
    finish(head) {
      if (broken) return { ok: false, entries: count, brokenAt: broken.seq, problem: broken.problem };
      if (head.seq !== prevSeq || head.hash !== prevHash) {
        return { ok: false, entries: count, brokenAt: prevSeq + 1, problem: `the head records entry ${head.seq} but the log ends at ${prevSeq} (truncated or head altered)` };
      }
      return { ok: true, entries: count };
    },
  };
}
