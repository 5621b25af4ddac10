/**
 * The provisioning pipeline (DESIGN.md "The provisioner"): for each token
 *
 *   identify (GET_INFO, attestation) → authenticate (admin PIN) → assign a seed (journal transaction)
 *   → write (PUT_SLOT, seed wrapped to the device key) → check (CALCULATE = the code otp/ predicts)
 *   → lock → register (verifier) → commit
 *
 * with every step recorded in the journal before and after it runs. One async worker per target (port), up
 * at most `concurrency` at a time; a fault ends that token only, the batch goes on.
 *
 * Crash safety (why each invariant holds after a kill -9 anywhere):
 * - no seed written to two tokens: the seed→serial assignment is committed BEFORE PUT_SLOT, and the schema
 *   forbids moving it; a resumed batch looks the token's serial up first and completes only its own seed.
 * - no seed lost: seeds are in the journal before any token is touched; a seed whose token failed stays bound
 *   to it (it may be inside it) and is reported with the token; seeds never assigned stay free.
 * - no half-written token taken for done: on resume, stage 'assigned' is re-checked with GET_SLOT's key check
 *   value (KCV) — empty slot or another KCV on an unlocked token: write again; same KCV: written; a locked
 *   token with another KCV: KCV_MISMATCH.
 * - never registered twice: the verifier is idempotent per serial (same seed → 200) and the registered counter
 *   was fixed in the journal with the check, so a retry sends the same request.
 * - counters never reused: the check consumes one HOTP counter; the verifier is registered with the counter
 *   AFTER the one the token showed (and a re-check after a crash consumes a new one and fixes a new value).
 *
 * The pipeline knows tokens only as `TokenSession`s (the host client over some Transport): it never imports the
 * simulator, which reaches it exactly like a hardware token does.
 */
import { timingSafeEqualBytes, timingSafeEqualString } from '../otp/compare.ts';
import { TokenforgeError } from '../otp/errors.ts';
import { hotp } from '../otp/hotp.ts';
import { withCounter, type OtpType } from '../otp/otp-params.ts';
import type { Secret } from '../otp/secret.ts';
import type { DeviceInfo, SlotParams } from '../protocol/messages.ts';
import { verifyAttestation, keyCheckValue } from '../protocol/wrap.ts';
import { ProvisionFault, type ProvisionFaultCode } from './faults.ts';
import { STAGES, type Journal, type SeedRow, type Stage, type Step } from './journal/index.ts';
import type { BatchReport, Progress, TokenResult } from './progress.ts';
import { FatalRegistrarFault, type Registrar } from './registrar.ts';
import type { SeedRecord } from './seed.ts';
import { CAPABILITY } from '../protocol/registry.ts';

/** What the pipeline needs from a connected token (protocol/client.ts TokenClient, adapted in targets.ts). */
export interface TokenSession {
  getInfo(): Promise<DeviceInfo>;
  /** AUTHENTICATE with the admin PIN (wrapped to the device key by the client). */
  authenticate(pin: string, info: DeviceInfo): Promise<void>;
  /** PUT_SLOT with the seed wrapped to the device key; returns the KCV the token computed. */
  putSlot(params: SlotParams, seed: Secret, info: DeviceInfo): Promise<Uint8Array>;
  /** GET_SLOT: the slot's parameters and KCV, or null when the slot is empty. */
  getSlot(slot: number): Promise<{ params: SlotParams; kcv: Uint8Array } | null>;
  lock(): Promise<void>;
  calculate(slot: number): Promise<{ code: string; counter?: bigint; timeStep?: bigint }>;
  close(): Promise<void>;
}

/** A place a token is plugged in: a serial port, a TCP endpoint, an in-process simulator. */
export interface Target {
  /** Human name, also the key for per-target failures in the journal: "/dev/pts/4", "tcp://h:p", "sim:3". */
  name: string;
  open(): Promise<TokenSession>;
}

export interface PipelineOptions {
  journal: Journal;
  targets: readonly Target[];
  /** Absent: no registration (the token is committed after the lock). */
  registrar?: Registrar;
  progress: Progress;
  adminPin: string;
  /**
   * Attestation public keys to check in the identify step (uncompressed P-256). Optional because the session
   * (protocol TokenClient) already refuses to wrap a PIN or a seed to a device key no trust anchor attests;
   * giving them here only moves the refusal earlier, at the cost of one more ECDSA verification per token.
   */
  trustAnchors?: readonly Uint8Array[];
  /** Workers at once; default one per target (port). */
  concurrency?: number;
  /** Slot to load (default 0). */
  slot?: number;
  touch?: 'never' | 'always';
  /** TOTP: largest accepted difference between the token's clock and ours when checking. Default 300 s. */
  maxClockSkewSec?: number;
  /** Attempts per token command when the link fails (timeouts, CRC errors). Default 3. */
  linkAttempts?: number;
  now?: () => number;
  /** Stop starting new tokens (Ctrl-C); tokens in flight finish their current step and stop cleanly. */
  signal?: AbortSignal;
}

const reached = (row: SeedRow, s: Stage): boolean => STAGES.indexOf(row.stage) >= STAGES.indexOf(s);

/** Protocol error codes that mean the link (not the token's logic) failed: retried, then LINK_ERROR. */
const LINK_CODES = new Set(['TIMEOUT', 'BAD_RESPONSE', 'HID_INVALID_SEQ', 'HID_MSG_TIMEOUT', 'HID_INVALID_LEN', 'HID_CHANNEL_BUSY', 'HID_OTHER', 'NOT_A_TOKEN', 'INVALID_CBOR']);
const GONE_CODES = new Set(['DISCONNECTED', 'CLOSED']);
const OPEN_CODES = new Set(['PORT_NOT_FOUND', 'PORT_OPEN_FAILED', 'CONNECTION_REFUSED']);

function codeOf(e: unknown): string {
  return e instanceof TokenforgeError ? e.code : '';
}

/** Maps a token/link error to a per-token fault. */
export function classify(e: unknown, step: Step): ProvisionFault {
  if (e instanceof ProvisionFault) return e;
  const code = codeOf(e);
  const msg = e instanceof Error ? e.message : String(e);
  const f = (c: ProvisionFaultCode, m: string): ProvisionFault => new ProvisionFault(c, m, { cause: e });
  if (OPEN_CODES.has(code)) return f('TOKEN_UNREACHABLE', `cannot reach the token (${code}: ${msg})`);
  if (GONE_CODES.has(code)) return f('TOKEN_UNREACHABLE', `token went away during ${step} (${code}: ${msg}); plug it back in and resume`);
  if (LINK_CODES.has(code)) return f('LINK_ERROR', `the link kept failing during ${step} (${code}: ${msg}); check the cable/port`);
  switch (code) {
    case 'PIN_INVALID':
      return f('PIN_INVALID', `the token refused the admin PIN (${msg}); give the right --admin-pin`);
    case 'PIN_BLOCKED':
      return f('PIN_BLOCKED', 'the token is PIN-blocked; it needs a factory reset');
    case 'SLOT_LOCKED':
      return f('TOKEN_LOCKED', 'the token is already locked');
    case 'ATTESTATION_INVALID':
      return f('ATTESTATION_INVALID', msg);
    default:
      return f('TOKEN_ERROR', `token answered ${code || 'an error'} during ${step}: ${msg}`);
  }
}

/**
 * PUT_SLOT parameters of a seed record: the seed's `otp` as it is, beside the slot and touch policy. OCRA seeds
 * are refused here because the pipeline's check step has no challenge to send yet.
 */
export function slotParamsOf(seed: SeedRecord, slot: number, touch: 'never' | 'always'): SlotParams {
  if (seed.otp.type === 'ocra') {
    throw new ProvisionFault('INVALID_ARGUMENT', `seed ${seed.serial}: OCRA seeds are not provisioned by this pipeline yet (its check needs a challenge protocol)`);
  }
  return { slot, touch, otp: seed.otp };
}

interface Ctx {
  o: PipelineOptions;
  slot: number;
  touch: 'never' | 'always';
  now: () => number;
  fatal: ProvisionFault | null;
}

/**
 * Runs one token command, retrying after link failures (the commands the pipeline sends are safe to repeat:
 * PUT_SLOT of the same seed, CALCULATE whose counter is read back, LOCK that is checked). A channel resync by
 * the client drops the token's authentication, so NOT_AUTHENTICATED re-authenticates once (`reauth`).
 */
async function withRetry<T>(ctx: Ctx, step: Step, fn: () => Promise<T>, reauth?: () => Promise<void>): Promise<T> {
  const attempts = ctx.o.linkAttempts ?? 3;
  let last: unknown;
  let reauthed = false;
  for (let i = 0; i < attempts; i++) {
    try {
      return await fn();
    } catch (e) {
      last = e;
      if (codeOf(e) === 'NOT_AUTHENTICATED' && reauth && !reauthed) {
        reauthed = true;
        await reauth();
        i--;
        continue;
      }
      if (!LINK_CODES.has(codeOf(e))) break;
    }
  }
  throw classify(last, step);
}

/** The code the seed predicts for what the token reported; returns the HOTP counter it matched, if any. */
function checkCode(ctx: Ctx, seed: SeedRecord, r: { code: string; counter?: bigint; timeStep?: bigint }): { ok: boolean; registerCounter: bigint; why?: string } {
  const p = seed.otp;
  if (p.type === 'ocra') return { ok: false, registerCounter: 0n, why: 'OCRA seeds are not checked by this pipeline' };
  const key = seed.secret.exposeSecretBytes();
  const opts = { algorithm: p.algorithm, digits: p.digits };
  if (p.type === 'hotp') {
    // The token reports the counter it used (or, for some firmware, the next one): accept either, and
    // register the counter after the one the token showed so the shown code is never valid again.
    const candidates: bigint[] = [];
    if (r.counter !== undefined) candidates.push(r.counter, r.counter - 1n);
    else candidates.push(p.counter);
    for (const c of candidates) {
      if (c < 0n) continue;
      if (timingSafeEqualString(hotp(key, c, opts), r.code)) return { ok: true, registerCounter: c + 1n };
    }
    return { ok: false, registerCounter: 0n, why: `token showed a code that does not match the seed at counter ${r.counter ?? p.counter}` };
  }
  if (r.timeStep === undefined) return { ok: false, registerCounter: 0n, why: 'token did not report the time step of its code' };
  const nowSec = BigInt(Math.floor(ctx.now() / 1000));
  const tokenTime = p.t0Sec + r.timeStep * BigInt(p.periodSec);
  const skew = tokenTime > nowSec ? tokenTime - nowSec : nowSec - tokenTime;
  const maxSkew = BigInt(ctx.o.maxClockSkewSec ?? 300) + BigInt(p.periodSec);
  if (skew > maxSkew) return { ok: false, registerCounter: 0n, why: `token clock is ${skew} s away from ours (more than ${maxSkew} s); set its time first` };
  if (!timingSafeEqualString(hotp(key, r.timeStep, opts), r.code)) return { ok: false, registerCounter: 0n, why: `token showed a code that does not match the seed at time step ${r.timeStep}` };
  // TOTP: the step the token just showed is registered as used, so its check code is never accepted.
  return { ok: true, registerCounter: r.timeStep };
}

/** Runs the pipeline for one target; never throws (faults become a failed TokenResult). */
async function provisionOne(ctx: Ctx, target: Target): Promise<TokenResult> {
  const { journal, progress } = ctx.o;
  const t0 = ctx.now();
  let session: TokenSession | null = null;
  let tokenSerial: string | null = null;
  let row: SeedRow | undefined;
  let step: Step = 'identify';
  let seed: SeedRecord | undefined;
  // Journal records are group-committed with those of the other workers (journal/group-commit.ts); each await
  // returns once the record is committed (fsync'ed where a power cut must not lose it), before the step acts.
  const stepTo = async (s: Step): Promise<void> => {
    step = s;
    progress.step(target.name, tokenSerial, s);
    await journal.begin(s, { target: target.name, tokenSerial, seedId: row?.id ?? null });
  };
  try {
    await stepTo('identify');
    try {
      session = await target.open();
    } catch (e) {
      throw classify(e, 'identify');
    }
    const s = session;
    let info = await withRetry(ctx, 'identify', () => s.getInfo());
    tokenSerial = info.serial;
    if (ctx.o.trustAnchors && ctx.o.trustAnchors.length > 0 && !verifyAttestation(info, ctx.o.trustAnchors)) {
      throw new ProvisionFault('ATTESTATION_INVALID', `token ${info.serial}: its device key is not signed by a trusted attestation key (counterfeit or unknown factory); nothing was sent to it`);
    }
    await journal.note('identify', { target: target.name, tokenSerial, detail: `${info.model} ${info.firmwareVersion} state ${info.state}` });
    journal.clearTokenFailure(target.name);

    row = journal.findByToken(info.serial);
    if (row?.stage === 'committed') {
      return { target: target.name, tokenSerial, seedId: row.id, status: 'ok', alreadyDone: true, durationMs: ctx.now() - t0 };
    }
    if (!row) {
      if (info.state === 'LOCKED') throw new ProvisionFault('TOKEN_LOCKED', 'the token is already locked (finalised) and this batch did not load it; it cannot take a new seed');
      if (info.state === 'PIN_BLOCKED') throw new ProvisionFault('PIN_BLOCKED', 'the token is PIN-blocked; it needs a factory reset');
    }
    const tokenLocked = (): boolean => info.state === 'LOCKED';

    // Authenticate unless the token is already locked (a resumed batch that only has to register it).
    const reauth = async (): Promise<void> => {
      const i0 = info;
      await withRetry(ctx, 'authenticate', () => s.authenticate(ctx.o.adminPin, i0));
    };
    if (!tokenLocked() && !(row && reached(row, 'locked'))) {
      await stepTo('authenticate');
      await reauth();
      await journal.note('authenticate', { target: target.name, tokenSerial });
    }

    if (!row) {
      if (info.slotsUsed > 0) {
        const existing = await withRetry(ctx, 'identify', () => s.getSlot(ctx.slot));
        if (existing) throw new ProvisionFault('TOKEN_NOT_EMPTY', `slot ${ctx.slot} already holds a seed this journal does not know (KCV ${Buffer.from(existing.kcv).toString('hex')}); reset the token or use another`);
      }
      step = 'assign';
      progress.step(target.name, tokenSerial, 'assign');
      const types: OtpType[] = [];
      if (info.capabilities & CAPABILITY.HOTP) types.push('hotp');
      if (info.capabilities & CAPABILITY.TOTP) types.push('totp');
      if (types.length === 0) throw new ProvisionFault('TOKEN_ERROR', 'the token supports neither HOTP nor TOTP');
      row = await journal.assign(info.serial, target.name, types);
    }
    seed = journal.seed(row);
    const rec = seed;
    const expectedKcv = keyCheckValue(rec.secret);
    const params = slotParamsOf(rec, ctx.slot, ctx.touch);

    if (!reached(row, 'written')) {
      await stepTo('write');
      // The seed may or may not have reached the token before a crash or an unplug: ask first.
      let have: { params: SlotParams; kcv: Uint8Array } | null = null;
      if (row.attempts > 0 || info.slotsUsed > 0 || tokenLocked()) have = await withRetry(ctx, 'write', () => s.getSlot(ctx.slot));
      let kcv: Uint8Array;
      if (have && timingSafeEqualBytes(have.kcv, expectedKcv)) {
        kcv = have.kcv;
      } else if (tokenLocked()) {
        throw new ProvisionFault('KCV_MISMATCH', `token is locked and its slot holds another seed (KCV ${have ? Buffer.from(have.kcv).toString('hex') : 'empty'}); its assigned seed ${row.id} cannot be completed`);
      } else {
        const i1 = info;
        kcv = await withRetry(ctx, 'write', () => s.putSlot(params, rec.secret, i1), reauth);
        if (!timingSafeEqualBytes(kcv, expectedKcv)) throw new ProvisionFault('CHECK_FAILED', 'the token stored a seed with another key check value than the one sent');
      }
      row = await journal.advance(row.id, 'write', 'written', { target: target.name, kcv });
    }

    if (!reached(row, 'checked')) {
      await stepTo('check');
      const r = await withRetry(ctx, 'check', () => s.calculate(ctx.slot));
      const verdict = checkCode(ctx, rec, r);
      if (!verdict.ok) throw new ProvisionFault('CHECK_FAILED', verdict.why ?? 'the token computed another code than the seed predicts');
      row = await journal.advance(row.id, 'check', 'checked', { target: target.name, registerCounter: verdict.registerCounter });
    }

    if (!reached(row, 'locked')) {
      await stepTo('lock');
      if (!tokenLocked()) {
        try {
          await withRetry(ctx, 'lock', () => s.lock(), reauth);
        } catch (e) {
          // A LOCK whose answer was lost on the link and then retried finds the token locked already.
          info = await withRetry(ctx, 'lock', () => s.getInfo());
          if (!tokenLocked()) throw e;
        }
      }
      row = await journal.advance(row.id, 'lock', 'locked', { target: target.name });
    }

    if (!reached(row, 'registered')) {
      await stepTo('register');
      if (ctx.o.registrar) {
        const outcome = await ctx.o.registrar.register(info.serial, rec, row.registerCounter ?? 0n);
        row = await journal.advance(row.id, 'register', 'registered', { target: target.name, detail: outcome });
      } else {
        row = await journal.advance(row.id, 'register', 'registered', { target: target.name, detail: 'no verifier' });
      }
    }

    await stepTo('commit');
    row = await journal.advance(row.id, 'commit', 'committed', { target: target.name });
    return { target: target.name, tokenSerial, seedId: row.id, status: 'ok', durationMs: ctx.now() - t0 };
  } catch (e) {
    const f = e instanceof FatalRegistrarFault ? e : classify(e, step);
    if (e instanceof FatalRegistrarFault) ctx.fatal = e;
    try {
      if (row) await journal.failSeed(row.id, step, f.code, f.message, target.name);
      else await journal.failToken(target.name, tokenSerial, step, f.code, f.message);
    } catch {
      // The journal itself failing is reported by the caller's final counts; keep the token's own reason.
    }
    return { target: target.name, tokenSerial, seedId: row?.id ?? null, status: 'failed', code: f.code, reason: f.message, step, durationMs: ctx.now() - t0 };
  } finally {
    seed?.secret.wipe();
    if (session) await session.close().catch(() => undefined);
  }
}

/**
 * Provisions every target, `concurrency` at a time, and returns the report. Never throws for a token's fault;
 * throws for a batch fault (journal unusable, verifier refusing the API key) after the tokens in flight
 * finished.
 */
export async function runPipeline(o: PipelineOptions): Promise<BatchReport> {
  const now = o.now ?? Date.now;
  const ctx: Ctx = { o, slot: o.slot ?? 0, touch: o.touch ?? 'never', now, fatal: null };
  const started = now();
  const results: TokenResult[] = [];
  const queue = [...o.targets];
  const concurrency = Math.max(1, Math.min(o.concurrency ?? queue.length, queue.length || 1));
  o.progress.start(queue.length, { seeds: o.journal.counts().total, concurrency });
  const worker = async (): Promise<void> => {
    for (;;) {
      if (ctx.fatal || o.signal?.aborted) return;
      const t = queue.shift();
      if (!t) return;
      const r = await provisionOne(ctx, t);
      results.push(r);
      o.progress.token(r);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (ctx.fatal) throw ctx.fatal;
  const counts = o.journal.counts();
  const durationMs = now() - started;
  const ok = results.filter((r) => r.status === 'ok').length;
  const notRun = queue.length;
  const report: BatchReport = {
    total: o.targets.length,
    ok,
    failed: results.length - ok + notRun,
    durationMs,
    tokensPerSec: durationMs > 0 ? (ok * 1000) / durationMs : 0,
    seedsLeft: counts.total - counts.byStage.committed,
    results: [...results, ...queue.map((t): TokenResult => ({ target: t.name, tokenSerial: null, seedId: null, status: 'failed', code: 'INTERRUPTED', reason: 'not started: the batch was interrupted', durationMs: 0 }))],
  };
  return report;
}

/**
 * The committed seeds of a journal for an export (caller wipes them): serial = the token's serial, and for
 * HOTP the counter is the next one the verifier expects (after the code the token showed during the check).
 */
export function committedSeeds(journal: Journal): SeedRecord[] {
  return journal
    .rows()
    .filter((r) => r.stage === 'committed')
    .map((r) => {
      const s = journal.seed(r);
      if (s.otp.type === 'hotp' && r.registerCounter !== null) s.otp = withCounter(s.otp, r.registerCounter);
      return s;
    });
}
