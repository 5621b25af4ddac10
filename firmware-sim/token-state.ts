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
import { MAX_COUNTER, type HashAlgorithm } from '../otp/params.ts';
import { SimError } from './errors.ts';
import type { Rng } from './ports.ts';
import type { KvStore, StoreOp } from './store.ts';
import { MAX_SLOTS, slotConfigKey, slotCounterKey, STORE_KEYS } from './store-keys.ts';
import type { Vault } from './vault.ts';

export const LIFECYCLES = ['FACTORY', 'PROVISIONED', 'LOCKED'] as const;
export type Lifecycle = (typeof LIFECYCLES)[number];
export const SLOT_KINDS = ['HOTP', 'TOTP', 'OCRA'] as const;
export type SlotKind = (typeof SLOT_KINDS)[number];
const ALGORITHMS = ['SHA1', 'SHA256', 'SHA512'] as const satisfies readonly HashAlgorithm[];

export interface SlotConfig {
  kind: SlotKind;
  algorithm: HashAlgorithm;
  digits: number;
  /** TOTP step; 0 for HOTP/OCRA. */
  periodSec: number;
  /** TOTP T0 in seconds. */
  t0Sec: bigint;
  /** A press (user presence) is needed to calculate. */
  touch: boolean;
  /** OCRA suite text; '' otherwise. */
  ocraSuite: string;
  /** Key check value (protocol/wrap.ts keyCheckValue). */
  kcv: Uint8Array;
  /** The seed sealed by the vault; never leaves the token. */
  sealedSeed: Uint8Array;
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

export function encodeSlot(c: SlotConfig): Uint8Array {
  return storeWriter()
    .u8(1)
    .u8(SLOT_KINDS.indexOf(c.kind) + 1)
    .u8(ALGORITHMS.indexOf(c.algorithm) + 1)
    .u8(c.digits)
    .u32(c.periodSec)
    .u64(BigInt.asUintN(64, c.t0Sec))
    .u8(c.touch ? 1 : 0)
    .str8(c.ocraSuite)
    .bytes8(c.kcv)
    .bytes8(c.sealedSeed)
    .done();
}

export function decodeSlot(b: Uint8Array): SlotConfig {
  const r = storeReader(b, 'slot config');
  if (r.u8() !== 1) throw new SimError('STORE_CORRUPT', 'slot config: unknown version');
  const kind = SLOT_KINDS[r.u8() - 1];
  const algorithm = ALGORITHMS[r.u8() - 1];
  if (!kind || !algorithm) throw new SimError('STORE_CORRUPT', 'slot config: bad kind or algorithm');
  const c: SlotConfig = {
    kind,
    algorithm,
    digits: r.u8(),
    periodSec: r.u32(),
    t0Sec: BigInt.asIntN(64, r.u64()),
    touch: r.u8() === 1,
    ocraSuite: r.str8(),
    kcv: r.bytes8(),
    sealedSeed: r.bytes8(),
  };
  r.end();
  return c;
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
