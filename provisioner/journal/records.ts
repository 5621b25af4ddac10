/**
 * What each journal record writes, inside the transaction the group commit (group-commit.ts) runs it in.
 * These functions only touch the database through the prepared statements of schema.ts; they never commit.
 *
 * - `assignSeed`: binds a seed to a token serial (with its begin/end events). Runs BEFORE the seed's bytes
 *   are sent to that token; the schema forbids binding the seed to another token later.
 * - `advanceSeed`: moves a seed's stage forward (never back) with its end event, and writes the fields that
 *   go with the stage (KCV, the counter to register) in the same transaction. The counter to register is
 *   fixed with the check, so a retried registration sends the identical request and no code the token
 *   showed during the check can be accepted later; once registered it can no longer change.
 * - `failSeed` / `failToken`: a failure of a step, for an assigned seed (its stage stays) or for a token that
 *   has no seed yet (wrong PIN, already locked, unreachable...).
 */
import type { OtpType } from '../../otp/otp-params.ts';
import { ProvisionFault } from '../faults.ts';
import { STAGE_RANK, toRow, type SeedRow, type Stage, type Statements, type Step } from './schema.ts';

/** What the record functions work with. */
export interface RecordContext {
  readonly stmt: Statements;
  readonly now: () => number;
}

/** Who and where an event-log record is about. */
export interface EventContext {
  target?: string;
  tokenSerial?: string | null;
  seedId?: number | null;
  detail?: string;
}

/** Fields recorded with a stage change. */
export interface AdvanceExtra {
  target?: string;
  kcv?: Uint8Array;
  registerCounter?: bigint;
  detail?: string;
}

/** An event-log record (one INSERT). */
export function writeEvent(c: RecordContext, step: Step, phase: 'begin' | 'end', e: EventContext): void {
  c.stmt.event.run(c.now(), e.target ?? null, e.tokenSerial ?? null, e.seedId ?? null, step, phase, e.detail ?? null);
}

/**
 * The seed of `tokenSerial`: the one already assigned to it if there is one (a resumed batch), else a free
 * seed whose source serial equals the token serial, else the first free seed in source order — among seeds
 * of a type the token supports (`types`). NO_SEED_LEFT when no such seed is free.
 */
export function assignSeed(c: RecordContext, tokenSerial: string, target: string | null, types: readonly OtpType[]): SeedRow {
  const mine = c.stmt.byToken.get(tokenSerial);
  if (mine) return toRow(mine);
  let free = c.stmt.pendingBySource.get(tokenSerial);
  if (free && !(types as readonly string[]).includes(free.seed_type)) free = undefined;
  const [a, b, d] = [types[0] ?? '', types[1] ?? types[0] ?? '', types[2] ?? types[0] ?? ''];
  free ??= c.stmt.firstPending.get(a, b, d);
  if (!free) throw new ProvisionFault('NO_SEED_LEFT', `no free seed of a type this token supports (${types.join('/')}) is left in the batch`);
  const t = c.now();
  c.stmt.event.run(t, target, tokenSerial, free.id, 'assign', 'begin', null);
  const changed = c.stmt.setToken.run(tokenSerial, t, free.id).changes;
  if (changed !== 1) throw new ProvisionFault('JOURNAL_CORRUPT', `seed ${free.id} was assigned concurrently`);
  c.stmt.event.run(t, target, tokenSerial, free.id, 'assign', 'end', null);
  return toRow(c.stmt.byId.get(free.id)!);
}

/** Records that `step` finished for seed `seedId` and moves its stage to `stage` (never back). */
export function advanceSeed(c: RecordContext, seedId: number, step: Step, stage: Stage, extra: AdvanceExtra): SeedRow {
  const r = c.stmt.byId.get(seedId);
  if (!r) throw new ProvisionFault('JOURNAL_CORRUPT', `journal has no seed ${seedId}`);
  const t = c.now();
  if (extra.kcv !== undefined) c.stmt.setKcv.run(extra.kcv, seedId);
  if (extra.registerCounter !== undefined) {
    if (r.register_counter !== null && BigInt(r.register_counter) !== extra.registerCounter && r.stage >= STAGE_RANK.registered) {
      throw new ProvisionFault('JOURNAL_CORRUPT', `seed ${seedId} is registered with counter ${r.register_counter}; it cannot change`);
    }
    c.stmt.setCounter.run(extra.registerCounter.toString(), seedId);
  }
  c.stmt.advance.run(STAGE_RANK[stage], t, seedId);
  c.stmt.event.run(t, extra.target ?? null, r.token_serial, seedId, step, 'end', extra.detail ?? null);
  return toRow(c.stmt.byId.get(seedId)!);
}

/** Records a failure of `step` for an assigned seed; the stage stays where it was. */
export function failSeed(c: RecordContext, seedId: number, step: Step, code: string, message: string, target: string | null): void {
  const t = c.now();
  const r = c.stmt.byId.get(seedId);
  c.stmt.setError.run(code, message, t, seedId);
  c.stmt.event.run(t, target, r?.token_serial ?? null, seedId, step, 'fail', `${code}: ${message}`);
}

/** Records a token that failed without a seed. */
export function failToken(c: RecordContext, target: string, tokenSerial: string | null, step: Step, code: string, message: string): void {
  const t = c.now();
  c.stmt.tokenFail.run(target, tokenSerial, code, message, t);
  c.stmt.event.run(t, target, tokenSerial, null, step, 'fail', `${code}: ${message}`);
}
