/**
 * The token's persistent state (DESIGN.md "The token model"; docs/flash-format.md §3) on the flash store:
 * identity, lifecycle (FACTORY -> PROVISIONED -> LOCKED), admin PIN with a retry counter (0 left = blocked),
 * settings, the time rollback guard, and slots (HOTP / TOTP / OCRA configuration with the sealed seed, and the
 * counter).
 *
 * Every mutation is planned as a list of store operations (pure: `plan*` methods) and committed as ONE store
 * transaction, so a power cut leaves the state exactly before or exactly after it. The HOTP rule lives here:
 * `advanceCounter` persists counter+1 and only then returns the counter whose code may be displayed.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { timingSafeEqualBytes } from '../otp/compare.ts';
import { ByteReader, ByteWriter, type ByteErrorFactory } from '../protocol/bytes.ts';
import { keyCheckValue } from '../protocol/wrap.ts';
import { parseOcraSuite } from '../otp/ocra.ts';
import { OTP_TYPES, type OtpParams } from '../otp/otp-params.ts';
import { MAX_COUNTER, type HashAlgorithm } from '../otp/params.ts';
import { SimError } from './errors.ts';
import type { Rng } from './ports.ts';
import type { KvStore, StoreOp } from './store.ts';
import { MAX_SLOTS, slotConfigKey, slotCounterKey, STORE_KEYS } from './store-keys.ts';
import type { Vault } from './vault.ts';

export const LIFECYCLES = ['FACTORY', 'PROVISIONED', 'LOCKED'] as const;
export type Lifecycle = (typeof LIFECYCLES)[number];
/** Flash byte of an algorithm = index + 1 (docs/flash-format.md §3.5); the order is part of the format. */
const ALGORITHMS = ['SHA1', 'SHA256', 'SHA512'] as const satisfies readonly HashAlgorithm[];

/** Omit applied to each member of a union (a plain Omit would merge the members into one object type). */
type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * The OTP parameters a slot configuration keeps: the shared model (otp/otp-params.ts) without the moving
 * counter. The live HOTP/OCRA counter has its own flash key (SLOT_COUNTER_BASE + slot) because it changes with
 * every code, while the configuration is written once by PUT_SLOT; `slotOtpWithCounter` puts it back.
 */
export type SlotOtpParams = OmitEach<OtpParams, 'counter'>;

export interface SlotConfig {
  otp: SlotOtpParams;
  /** A press (user presence) is needed to calculate. */
  touch: boolean;
  /** Key check value (protocol/wrap.ts keyCheckValue). */
  kcv: Uint8Array;
  /** The seed sealed by the vault; never leaves the token. */
  sealedSeed: Uint8Array;
}

/** The parameters as a slot stores them: the counter dropped. */
export function slotOtpOf(p: OtpParams): SlotOtpParams {
  switch (p.type) {
    case 'hotp':
      return { type: 'hotp', algorithm: p.algorithm, digits: p.digits };
    case 'totp':
      return { type: 'totp', algorithm: p.algorithm, digits: p.digits, periodSec: p.periodSec, t0Sec: p.t0Sec };
    case 'ocra':
      return { type: 'ocra', suite: p.suite };
  }
}

/** A slot's parameters with its live counter (HOTP, and OCRA suites with a counter input C; TOTP has none). */
export function slotOtpWithCounter(otp: SlotOtpParams, counter: bigint): OtpParams {
  switch (otp.type) {
    case 'hotp':
      return { ...otp, counter };
    case 'totp':
      return otp;
    case 'ocra':
      return parseOcraSuite(otp.suite).counter ? { ...otp, counter } : otp;
  }
}

export interface Identity {
  serial: string;
  profile: string;
  /** The device's P-256 private key, sealed. */
  sealedDeviceKey: Uint8Array;
}

export interface Settings {
  defaultSlot: number;
  displayMs: number;
}

export interface PinRetries {
  left: number;
  max: number;
}

export interface TokenState {
  identity: Identity | undefined;
  lifecycle: Lifecycle;
  pinSet: boolean;
  pinRetries: PinRetries;
  settings: Settings;
  timeGuardSec: bigint;
  slots: Map<number, SlotConfig>;
  counters: Map<number, bigint>;
}

export const DEFAULT_SETTINGS: Settings = { defaultSlot: 0, displayMs: 30_000 };
export const DEFAULT_PIN_RETRIES = 10;

// ---- value codecs (strict; layouts in docs/flash-format.md §3) ----

/** Stored values are little-endian; reading a malformed one is STORE_CORRUPT, writing an unfit one INVALID_ARGUMENT. */
const storeError: ByteErrorFactory = (fault, message) => new SimError(fault === 'out-of-range' ? 'INVALID_ARGUMENT' : 'STORE_CORRUPT', message);
const storeWriter = (): ByteWriter => new ByteWriter({ endian: 'little', what: 'value', error: storeError });
const storeReader = (b: Uint8Array, what: string): ByteReader => new ByteReader(b, { endian: 'little', what, error: storeError });

/**
 * The slot configuration value (docs/flash-format.md §3.5). The kind byte is OTP_TYPES index + 1 (hotp 1,
 * totp 2, ocra 3); algorithm, digits and period are written for every kind (for OCRA: those the suite names;
 * 0 where a kind has none), so images written before OtpParams existed decode unchanged
 * (test/sim/slot-config.test.ts pins the bytes).
 */
export function encodeSlot(c: SlotConfig): Uint8Array {
  const f = slotFields(c.otp);
  return storeWriter()
    .u8(1)
    .u8(OTP_TYPES.indexOf(c.otp.type) + 1)
    .u8(ALGORITHMS.indexOf(f.algorithm) + 1)
    .u8(f.digits)
    .u32(f.periodSec)
    .u64(BigInt.asUintN(64, f.t0Sec))
    .u8(c.touch ? 1 : 0)
    .str8(f.suite)
    .bytes8(c.kcv)
    .bytes8(c.sealedSeed)
    .done();
}

/** The fields every kind writes: for OCRA those its suite names, 0 or '' where a kind has none. */
function slotFields(o: SlotOtpParams): { algorithm: HashAlgorithm; digits: number; periodSec: number; t0Sec: bigint; suite: string } {
  switch (o.type) {
    case 'hotp':
      return { algorithm: o.algorithm, digits: o.digits, periodSec: 0, t0Sec: 0n, suite: '' };
    case 'totp':
      return { algorithm: o.algorithm, digits: o.digits, periodSec: o.periodSec, t0Sec: o.t0Sec, suite: '' };
    case 'ocra': {
      const s = parseOcraSuite(o.suite);
      return { algorithm: s.algorithm, digits: s.digits, periodSec: s.timestamp?.stepSec ?? 0, t0Sec: 0n, suite: o.suite };
    }
  }
}

export function decodeSlot(b: Uint8Array): SlotConfig {
  const r = storeReader(b, 'slot config');
  if (r.u8() !== 1) throw new SimError('STORE_CORRUPT', 'slot config: unknown version');
  const type = OTP_TYPES[r.u8() - 1];
  const algorithm = ALGORITHMS[r.u8() - 1];
  if (!type || !algorithm) throw new SimError('STORE_CORRUPT', 'slot config: bad kind or algorithm');
  const digits = r.u8();
  const periodSec = r.u32();
  const t0Sec = BigInt.asIntN(64, r.u64());
  const touch = r.u8() === 1;
  const suite = r.str8();
  const kcv = r.bytes8();
  const sealedSeed = r.bytes8();
  r.end();
  // OCRA's algorithm, digits and period are stored for readers of the raw format; the suite is what counts.
  const otp: SlotOtpParams =
    type === 'hotp' ? { type, algorithm, digits } : type === 'totp' ? { type, algorithm, digits, periodSec, t0Sec } : { type, suite };
  return { otp, touch, kcv, sealedSeed };
}

function encodeIdentity(i: Identity): Uint8Array {
  return storeWriter().u8(1).str8(i.serial).str8(i.profile).bytes8(i.sealedDeviceKey).done();
}

function decodeIdentity(b: Uint8Array): Identity {
  const r = storeReader(b, 'identity');
  if (r.u8() !== 1) throw new SimError('STORE_CORRUPT', 'identity: unknown version');
  const i = { serial: r.str8(), profile: r.str8(), sealedDeviceKey: r.bytes8() };
  r.end();
  return i;
}

function u64Bytes(v: bigint): Uint8Array {
  return storeWriter().u64(v).done();
}

function readU64(b: Uint8Array, what: string): bigint {
  const r = storeReader(b, what);
  const v = r.u64();
  r.end();
  return v;
}

/** Decodes the whole token state from the store (boot). */
export function readTokenState(kv: KvStore): TokenState {
  const idBytes = kv.get(STORE_KEYS.IDENTITY);
  const lc = kv.get(STORE_KEYS.LIFECYCLE);
  const lifecycle = lc && lc.length === 1 ? LIFECYCLES[lc[0]! - 1] : 'FACTORY';
  if (!lifecycle) throw new SimError('STORE_CORRUPT', 'lifecycle: unknown value');
  const pr = kv.get(STORE_KEYS.PIN_RETRIES);
  const st = kv.get(STORE_KEYS.SETTINGS);
  let settings = DEFAULT_SETTINGS;
  if (st) {
    const r = storeReader(st, 'settings');
    settings = { defaultSlot: r.u8(), displayMs: r.u32() };
    r.end();
  }
  const tg = kv.get(STORE_KEYS.TIME_GUARD);
  const slots = new Map<number, SlotConfig>();
  const counters = new Map<number, bigint>();
  for (const k of kv.keys()) {
    if (k >= STORE_KEYS.SLOT_CONFIG_BASE && k < STORE_KEYS.SLOT_CONFIG_BASE + MAX_SLOTS) {
      slots.set(k - STORE_KEYS.SLOT_CONFIG_BASE, decodeSlot(kv.get(k)!));
    } else if (k >= STORE_KEYS.SLOT_COUNTER_BASE && k < STORE_KEYS.SLOT_COUNTER_BASE + MAX_SLOTS) {
      counters.set(k - STORE_KEYS.SLOT_COUNTER_BASE, readU64(kv.get(k)!, 'counter'));
    }
  }
  return {
    identity: idBytes ? decodeIdentity(idBytes) : undefined,
    lifecycle,
    pinSet: kv.has(STORE_KEYS.PIN),
    pinRetries: pr && pr.length === 2 ? { left: pr[0]!, max: pr[1]! } : { left: DEFAULT_PIN_RETRIES, max: DEFAULT_PIN_RETRIES },
    settings,
    timeGuardSec: tg ? BigInt.asIntN(64, readU64(tg, 'time guard')) : 0n,
    slots,
    counters,
  };
}

/** Typed, transactional access to the token's persistent state. */
export class TokenStore {
  readonly kv: KvStore;
  readonly vault: Vault;
  readonly rng: Rng;
  /** The operations of the last planned transaction (tests compare the store against them after a cut). */
  lastPlanned: StoreOp[] = [];
  #state: TokenState;

  constructor(kv: KvStore, vault: Vault, rng: Rng) {
    this.kv = kv;
    this.vault = vault;
    this.rng = rng;
    this.#state = readTokenState(kv);
  }

  get state(): Readonly<TokenState> {
    return this.#state;
  }

  #commit(ops: StoreOp[]): void {
    this.lastPlanned = ops;
    this.kv.transaction(ops);
    this.#state = readTokenState(this.kv);
  }

  /** Factory initialisation: identity, FACTORY, retries, default settings. */
  manufacture(serial: string, profile: string, devicePrivateKey: Uint8Array, maxPinRetries = DEFAULT_PIN_RETRIES): void {
    const sealedDeviceKey = this.vault.seal(devicePrivateKey, STORE_KEYS.IDENTITY);
    this.#commit([
      { key: STORE_KEYS.IDENTITY, value: encodeIdentity({ serial, profile, sealedDeviceKey }) },
      { key: STORE_KEYS.LIFECYCLE, value: new Uint8Array([1]) },
      { key: STORE_KEYS.PIN_RETRIES, value: new Uint8Array([maxPinRetries, maxPinRetries]) },
    ]);
  }

  devicePrivateKey(): Uint8Array {
    const id = this.#state.identity;
    if (!id) throw new SimError('STATE', 'token: not manufactured (no identity)');
    return this.vault.unseal(id.sealedDeviceKey, STORE_KEYS.IDENTITY);
  }

  setPin(pin: Uint8Array): void {
    const salt = new Uint8Array(16);
    this.rng.fill(salt);
    const hash = hmac(sha256, salt, pin);
    const v = new Uint8Array(1 + 16 + 32);
    v[0] = 1;
    v.set(salt, 1);
    v.set(hash, 17);
    const max = this.#state.pinRetries.max;
    this.#commit([
      { key: STORE_KEYS.PIN, value: v },
      { key: STORE_KEYS.PIN_RETRIES, value: new Uint8Array([max, max]) },
    ]);
  }

  /**
   * Checks the admin PIN. The retry counter is decremented and persisted BEFORE the comparison, so cutting the
   * power after a wrong guess cannot save a retry; a right PIN then restores it.
   */
  verifyPin(pin: Uint8Array): 'ok' | 'wrong' | 'blocked' | 'no-pin' {
    const stored = this.kv.get(STORE_KEYS.PIN);
    if (!stored) return 'no-pin';
    const { left, max } = this.#state.pinRetries;
    if (left === 0) return 'blocked';
    this.#commit([{ key: STORE_KEYS.PIN_RETRIES, value: new Uint8Array([left - 1, max]) }]);
    const ok = timingSafeEqualBytes(hmac(sha256, stored.subarray(1, 17), pin), stored.subarray(17, 49));
    if (!ok) return left - 1 === 0 ? 'blocked' : 'wrong';
    this.#commit([{ key: STORE_KEYS.PIN_RETRIES, value: new Uint8Array([max, max]) }]);
    return 'ok';
  }

  planPutSlot(slot: number, seed: Uint8Array, cfg: Omit<SlotConfig, 'kcv' | 'sealedSeed'>, initialCounter: bigint): StoreOp[] {
    if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_SLOTS) throw new SimError('INVALID_ARGUMENT', `slot ${slot} is outside 0..${MAX_SLOTS - 1}`);
    const full: SlotConfig = { ...cfg, kcv: keyCheckValue(seed), sealedSeed: this.vault.seal(seed, slotConfigKey(slot)) };
    const ops: StoreOp[] = [
      { key: slotConfigKey(slot), value: encodeSlot(full) },
      { key: slotCounterKey(slot), value: u64Bytes(initialCounter) },
    ];
    if (this.#state.lifecycle === 'FACTORY') ops.push({ key: STORE_KEYS.LIFECYCLE, value: new Uint8Array([2]) });
    return ops;
  }

  putSlot(slot: number, seed: Uint8Array, cfg: Omit<SlotConfig, 'kcv' | 'sealedSeed'>, initialCounter: bigint): void {
    this.#commit(this.planPutSlot(slot, seed, cfg, initialCounter));
  }

  deleteSlot(slot: number): void {
    this.#commit([
      { key: slotConfigKey(slot), value: null },
      { key: slotCounterKey(slot), value: null },
    ]);
  }

  lock(): void {
    this.#commit([{ key: STORE_KEYS.LIFECYCLE, value: new Uint8Array([3]) }]);
  }

  setSettings(s: Settings): void {
    this.#commit([{ key: STORE_KEYS.SETTINGS, value: storeWriter().u8(s.defaultSlot).u32(s.displayMs).done() }]);
  }

  /** Raises the rollback guard to `sec` (never lowers it). */
  setTimeGuard(sec: bigint): void {
    if (sec <= this.#state.timeGuardSec) return;
    this.#commit([{ key: STORE_KEYS.TIME_GUARD, value: u64Bytes(BigInt.asUintN(64, sec)) }]);
  }

  /** The seed of a slot, unsealed. The caller must wipe it. */
  unsealSeed(slot: number): Uint8Array {
    const c = this.#state.slots.get(slot);
    if (!c) throw new SimError('NOT_FOUND', `slot ${slot} is empty`);
    return this.vault.unseal(c.sealedSeed, slotConfigKey(slot));
  }

  /**
   * HOTP/OCRA: persists counter+1 and returns the counter to compute the code with. Only after this returns
   * may the code be shown, so no power cut can show a code twice or move the counter backwards. HOTP counters
   * do not wrap: at 2^64-1 the slot is exhausted (REQUIREMENTS B2, our documented choice); OCRA counters
   * (`wrap`) go on from 0, as RFC 6287 §5.1 says.
   */
  advanceCounter(slot: number, wrap = false): bigint {
    const c = this.#state.counters.get(slot);
    if (c === undefined) throw new SimError('NOT_FOUND', `slot ${slot} has no counter`);
    if (c >= MAX_COUNTER && !wrap) throw new SimError('STATE', `slot ${slot}: counter exhausted`);
    const next = c >= MAX_COUNTER ? 0n : c + 1n;
    this.lastPlanned = [{ key: slotCounterKey(slot), value: u64Bytes(next) }];
    this.kv.transaction(this.lastPlanned);
    this.#state.counters.set(slot, next);
    return c;
  }

  /** Factory reset: everything but the identity goes, in one transaction. */
  reset(): void {
    const ops: StoreOp[] = [];
    for (const k of this.kv.keys()) {
      if (k !== STORE_KEYS.IDENTITY && k !== STORE_KEYS.LIFECYCLE && k !== STORE_KEYS.PIN_RETRIES) ops.push({ key: k, value: null });
    }
    const max = this.#state.pinRetries.max;
    ops.push({ key: STORE_KEYS.LIFECYCLE, value: new Uint8Array([1]) });
    ops.push({ key: STORE_KEYS.PIN_RETRIES, value: new Uint8Array([max, max]) });
    this.#commit(ops);
  }
}
