/**
 * The message layer (docs/protocol.md §4-5): typed requests and responses and their strict codecs.
 *
 *   request  = command byte | canonical CBOR map (integer keys; `a0` when the command has no parameters)
 *   response = status byte  | canonical CBOR map   (status OK)
 *            = status byte                          (any other status: no body)
 *
 * Decoders never throw: they return `{ ok: false, status, reason }` where `status` is the wire status a device
 * answers with (INVALID_LENGTH for an empty message, INVALID_COMMAND for an unknown command byte, INVALID_CBOR
 * for anything that is not canonical CBOR or has trailing bytes, UNEXPECTED_TYPE for a body that is not a
 * map or a value of the wrong CBOR type, MISSING_PARAMETER, UNKNOWN_KEY, INVALID_PARAMETER for a value out of
 * range). Encoders build the map and then run the decoder over their own output, so an encoder can never
 * emit a message the decoder would reject; for a bad argument they throw ProtocolError('INVALID_ARGUMENT').
 *
 * Keys: registry.ts (only grows). Counters and times are bigint and travel as CBOR unsigned integers up to
 * 2^64-1 (shortest form, so a small counter is one byte).
 */
import { MAX_PERIOD_SEC, type OtpParams } from '../otp/otp-params.ts';
import { MAX_DIGITS, MIN_DIGITS } from '../otp/params.ts';
import { decodeCanonical, encodeCanonical, type CborMap, type CborValue } from './cbor.ts';
import { ProtocolError } from './errors.ts';
import {
  ALGORITHM,
  AUTHENTICATE_REQUEST_KEY,
  AUTHENTICATE_RESPONSE_KEY,
  CALCULATE_REQUEST_KEY,
  CALCULATE_RESPONSE_KEY,
  COMMAND,
  commandName,
  DEVICE_STATE,
  GET_INFO_RESPONSE_KEY,
  GET_TIME_RESPONSE_KEY,
  LIMITS,
  PUT_SLOT_RESPONSE_KEY,
  SELF_TEST_RESPONSE_KEY,
  SET_TIME_REQUEST_KEY,
  SLOT_KEY,
  SLOT_REQUEST_KEY,
  SLOT_TYPE,
  STATUS,
  statusName,
  TOUCH_POLICY,
  WRAPPED_KEY,
  type CommandName,
  type DeviceStateName,
  type StatusName,
  type TouchPolicyName,
} from './registry.ts';

const U64_MAX = (1n << 64n) - 1n;

// ---------------------------------------------------------------------------------------------------------
// Types

/** A value encrypted to the device key (wrap.ts). */
export interface WrappedBlob {
  /** Host's ephemeral P-256 public key, uncompressed (65 bytes, 0x04 | X | Y). */
  ephemeralPublicKey: Uint8Array;
  /** AES-GCM nonce (12 bytes). */
  nonce: Uint8Array;
  /** AES-256-GCM ciphertext followed by the 16-byte tag. */
  ciphertext: Uint8Array;
}

/**
 * Slot parameters: everything PUT_SLOT sends except the wrapped seed; GET_SLOT returns them with a KCV. The
 * OTP parameters are the shared model (otp/otp-params.ts) unchanged; the protocol adds only where they go
 * (`slot`) and whether CALCULATE waits for the button (`touch`). The counter (HOTP, OCRA suites with C) is
 * the next one to use when sent, the current one in GET_SLOT.
 */
export interface SlotParams {
  /** Slot index, 0..slotCount-1. */
  slot: number;
  touch: TouchPolicyName;
  otp: OtpParams;
}

export interface DeviceInfo {
  model: string;
  firmwareVersion: string;
  serial: string;
  /** Bit set of registry.ts CAPABILITY; unknown bits are kept (newer devices may set them). */
  capabilities: number;
  slotCount: number;
  slotsUsed: number;
  state: DeviceStateName;
  /** RTC time in Unix seconds; absent on devices without an RTC. */
  rtcTimeSec?: bigint;
  pinRetries: number;
  /** Device P-256 public key, uncompressed (65 bytes). */
  devicePublicKey: Uint8Array;
  /** Compact ECDSA P-256 signature (r|s, 64 bytes) by the factory attestation key; see wrap.ts. */
  attestationSignature: Uint8Array;
}

export type Request =
  | { command: 'GET_INFO' }
  | { command: 'AUTHENTICATE'; wrappedPin: WrappedBlob }
  | { command: 'PUT_SLOT'; params: SlotParams; wrappedSeed: WrappedBlob }
  | { command: 'GET_SLOT'; slot: number }
  | { command: 'DELETE_SLOT'; slot: number }
  | { command: 'LOCK' }
  | { command: 'CALCULATE'; slot: number; challenge?: string }
  | { command: 'SET_TIME'; timeSec: bigint; allowRollback?: boolean }
  | { command: 'GET_TIME' }
  | { command: 'SELF_TEST' }
  | { command: 'RESET' };

/** Response bodies (status OK) per command. */
export interface ResponseBodies {
  GET_INFO: DeviceInfo;
  AUTHENTICATE: { pinRetries: number };
  PUT_SLOT: { kcv: Uint8Array };
  GET_SLOT: { params: SlotParams; kcv: Uint8Array };
  DELETE_SLOT: Record<string, never>;
  LOCK: Record<string, never>;
  CALCULATE: { code: string; counter?: bigint; timeStep?: bigint };
  SET_TIME: Record<string, never>;
  GET_TIME: { timeSec: bigint; valid: boolean };
  SELF_TEST: { passed: boolean; failed: string[] };
  RESET: Record<string, never>;
}
export type ResponseBody<C extends CommandName> = ResponseBodies[C];

/** A decoded response: success with its body, or a non-OK status (no body). */
export type Response<C extends CommandName> = { status: 'OK'; body: ResponseBody<C> } | { status: Exclude<StatusName, 'OK'> };

export type DecodeResult<T> = { ok: true; value: T } | { ok: false; status: Exclude<StatusName, 'OK'>; reason: string };

// ---------------------------------------------------------------------------------------------------------
// Map reader: the one place that turns a CBOR map into checked fields

class Reject {
  readonly status: Exclude<StatusName, 'OK'>;
  readonly reason: string;
  constructor(status: Exclude<StatusName, 'OK'>, reason: string) {
    this.status = status;
    this.reason = reason;
  }
}
function reject(status: Exclude<StatusName, 'OK'>, reason: string): never {
  throw new Reject(status, reason);
}

class MapReader {
  readonly #map: CborMap;
  readonly #seen = new Set<number>();
  readonly #where: string;
  constructor(value: CborValue, where: string) {
    if (!(value instanceof Map)) reject('UNEXPECTED_TYPE', `${where}: body is not a CBOR map`);
    this.#map = value;
    this.#where = where;
  }
  has(key: number): boolean {
    return this.#map.has(key);
  }
  #get(key: number, name: string, required: boolean): CborValue | undefined {
    const v = this.#map.get(key);
    if (v === undefined) {
      if (required) reject('MISSING_PARAMETER', `${this.#where}: missing key ${key} (${name})`);
      return undefined;
    }
    this.#seen.add(key);
    return v;
  }
  uint(key: number, name: string, min: number, max: number): number;
  uint(key: number, name: string, min: number, max: number, optional: true): number | undefined;
  uint(key: number, name: string, min: number, max: number, optional = false): number | undefined {
    const v = this.#get(key, name, !optional);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || v < 0) reject('UNEXPECTED_TYPE', `${this.#where}: ${name} must be an unsigned integer`);
    if (v < min || v > max) reject('INVALID_PARAMETER', `${this.#where}: ${name} ${v} is outside ${min}..${max}`);
    return v;
  }
  u64(key: number, name: string): bigint;
  u64(key: number, name: string, optional: true): bigint | undefined;
  u64(key: number, name: string, optional = false): bigint | undefined {
    const v = this.#get(key, name, !optional);
    if (v === undefined) return undefined;
    if (!((typeof v === 'number' && v >= 0) || (typeof v === 'bigint' && v >= 0n && v <= U64_MAX))) {
      reject('UNEXPECTED_TYPE', `${this.#where}: ${name} must be an unsigned integer`);
    }
    return BigInt(v);
  }
  bytes(key: number, name: string, min: number, max: number): Uint8Array {
    const v = this.#get(key, name, true)!;
    if (!(v instanceof Uint8Array)) reject('UNEXPECTED_TYPE', `${this.#where}: ${name} must be a byte string`);
    if (v.length < min || v.length > max) reject('INVALID_PARAMETER', `${this.#where}: ${name} has ${v.length} bytes, expected ${min === max ? min : `${min}..${max}`}`);
    return v;
  }
  text(key: number, name: string, maxBytes: number): string;
  text(key: number, name: string, maxBytes: number, optional: true): string | undefined;
  text(key: number, name: string, maxBytes: number, optional = false): string | undefined {
    const v = this.#get(key, name, !optional);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') reject('UNEXPECTED_TYPE', `${this.#where}: ${name} must be a text string`);
    if (v.length === 0 || Buffer.byteLength(v, 'utf8') > maxBytes) reject('INVALID_PARAMETER', `${this.#where}: ${name} must be 1..${maxBytes} bytes`);
    return v;
  }
  bool(key: number, name: string): boolean;
  bool(key: number, name: string, optional: true): boolean | undefined;
  bool(key: number, name: string, optional = false): boolean | undefined {
    const v = this.#get(key, name, !optional);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') reject('UNEXPECTED_TYPE', `${this.#where}: ${name} must be a boolean`);
    return v;
  }
  textArray(key: number, name: string, maxItems: number, maxBytes: number): string[] {
    const v = this.#get(key, name, true)!;
    if (!Array.isArray(v)) reject('UNEXPECTED_TYPE', `${this.#where}: ${name} must be an array`);
    if (v.length > maxItems) reject('INVALID_PARAMETER', `${this.#where}: ${name} has more than ${maxItems} items`);
    return v.map((item) => {
      if (typeof item !== 'string' || item.length === 0 || Buffer.byteLength(item, 'utf8') > maxBytes) reject('UNEXPECTED_TYPE', `${this.#where}: ${name} items must be text strings of 1..${maxBytes} bytes`);
      return item;
    });
  }
  enumOf<T extends Record<string, number>>(key: number, name: string, table: T): keyof T & string {
    const v = this.uint(key, name, 0, 0xffffffff);
    for (const [k, n] of Object.entries(table)) if (n === v) return k;
    return reject('INVALID_PARAMETER', `${this.#where}: ${name} ${v} is not a known value`);
  }
  map(key: number, name: string): MapReader {
    const v = this.#get(key, name, true)!;
    return new MapReader(v, `${this.#where}.${name}`);
  }
  forbid(key: number, name: string, because: string): void {
    if (this.#map.has(key)) reject('INVALID_PARAMETER', `${this.#where}: ${name} is not allowed ${because}`);
  }
  /** Rejects keys nobody read: unknown keys are errors, not extensions (docs/protocol.md §4.1). */
  done(): void {
    for (const k of this.#map.keys()) if (!this.#seen.has(k)) reject('UNKNOWN_KEY', `${this.#where}: unknown key ${k}`);
  }
}

function run<T>(f: () => T): DecodeResult<T> {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    if (e instanceof Reject) return { ok: false, status: e.status, reason: e.reason };
    // A bug in a reader must not escape a decoder (fuzz tests check this never happens).
    return { ok: false, status: 'OTHER', reason: 'internal decoder error' };
  }
}

function body(bytes: Uint8Array, where: string): CborValue {
  const v = decodeCanonical(bytes);
  if (v === undefined) reject('INVALID_CBOR', `${where}: not one canonical CBOR item`);
  return v;
}

// ---------------------------------------------------------------------------------------------------------
// Shared pieces

function readWrapped(r: MapReader, key: number, name: string, maxPlain: number): WrappedBlob {
  const m = r.map(key, name);
  const blob: WrappedBlob = {
    ephemeralPublicKey: m.bytes(WRAPPED_KEY.ephemeralPublicKey, 'ephemeralPublicKey', LIMITS.publicKeySize, LIMITS.publicKeySize),
    nonce: m.bytes(WRAPPED_KEY.nonce, 'nonce', LIMITS.gcmNonceSize, LIMITS.gcmNonceSize),
    ciphertext: m.bytes(WRAPPED_KEY.ciphertext, 'ciphertext', LIMITS.gcmTagSize + 1, LIMITS.gcmTagSize + maxPlain),
  };
  m.done();
  return blob;
}
function wrappedMap(b: WrappedBlob): CborMap {
  return new Map<number, CborValue>([
    [WRAPPED_KEY.ephemeralPublicKey, b.ephemeralPublicKey],
    [WRAPPED_KEY.nonce, b.nonce],
    [WRAPPED_KEY.ciphertext, b.ciphertext],
  ]);
}

const slotMax = LIMITS.maxSlots - 1;

/** Reads SLOT_KEY 1..9 (the slot parameters) from a PUT_SLOT request or GET_SLOT response. */
function readSlotParams(r: MapReader): SlotParams {
  const slot = r.uint(SLOT_KEY.slot, 'slot', 0, slotMax);
  const type = r.enumOf(SLOT_KEY.type, 'type', SLOT_TYPE);
  const touch = r.enumOf(SLOT_KEY.touch, 'touch', TOUCH_POLICY);
  return { slot, touch, otp: readOtpParams(r, type) };
}

/** The OTP parameters of a slot (SLOT_KEY 3..8); keys that do not belong to `type` are INVALID_PARAMETER. */
function readOtpParams(r: MapReader, type: OtpParams['type']): OtpParams {
  switch (type) {
    case 'hotp': {
      r.forbid(SLOT_KEY.periodSec, 'periodSec', 'for hotp');
      r.forbid(SLOT_KEY.t0Sec, 't0Sec', 'for hotp');
      r.forbid(SLOT_KEY.ocraSuite, 'ocraSuite', 'for hotp');
      return {
        type,
        algorithm: r.enumOf(SLOT_KEY.algorithm, 'algorithm', ALGORITHM),
        digits: r.uint(SLOT_KEY.digits, 'digits', MIN_DIGITS, MAX_DIGITS),
        counter: r.u64(SLOT_KEY.counter, 'counter'),
      };
    }
    case 'totp': {
      r.forbid(SLOT_KEY.counter, 'counter', 'for totp');
      r.forbid(SLOT_KEY.ocraSuite, 'ocraSuite', 'for totp');
      return {
        type,
        algorithm: r.enumOf(SLOT_KEY.algorithm, 'algorithm', ALGORITHM),
        digits: r.uint(SLOT_KEY.digits, 'digits', MIN_DIGITS, MAX_DIGITS),
        periodSec: r.uint(SLOT_KEY.periodSec, 'periodSec', 1, MAX_PERIOD_SEC),
        t0Sec: r.u64(SLOT_KEY.t0Sec, 't0Sec'),
      };
    }
    case 'ocra': {
      r.forbid(SLOT_KEY.algorithm, 'algorithm', 'for ocra (the suite names it)');
      r.forbid(SLOT_KEY.digits, 'digits', 'for ocra (the suite names it)');
      r.forbid(SLOT_KEY.periodSec, 'periodSec', 'for ocra (the suite names it)');
      r.forbid(SLOT_KEY.t0Sec, 't0Sec', 'for ocra');
      const suite = r.text(SLOT_KEY.ocraSuite, 'ocraSuite', LIMITS.maxStringBytes);
      if (!/^OCRA-1:HOTP-SHA(1|256|512)-\d{1,2}:[A-Za-z0-9-]+$/.test(suite)) reject('INVALID_PARAMETER', 'ocraSuite: not an RFC 6287 suite string');
      const counter = r.u64(SLOT_KEY.counter, 'counter', true);
      return counter === undefined ? { type, suite } : { type, suite, counter };
    }
  }
}

/** The slot parameters as a CBOR map with SLOT_KEY keys (used by PUT_SLOT, GET_SLOT and the wrap AAD). */
export function slotParamsMap(p: SlotParams): CborMap {
  const m: CborMap = new Map();
  const o = p.otp;
  m.set(SLOT_KEY.slot, p.slot);
  m.set(SLOT_KEY.type, SLOT_TYPE[o.type]);
  m.set(SLOT_KEY.touch, TOUCH_POLICY[p.touch]);
  switch (o.type) {
    case 'hotp':
      m.set(SLOT_KEY.algorithm, ALGORITHM[o.algorithm]);
      m.set(SLOT_KEY.digits, o.digits);
      m.set(SLOT_KEY.counter, o.counter);
      break;
    case 'totp':
      m.set(SLOT_KEY.algorithm, ALGORITHM[o.algorithm]);
      m.set(SLOT_KEY.digits, o.digits);
      m.set(SLOT_KEY.periodSec, o.periodSec);
      m.set(SLOT_KEY.t0Sec, o.t0Sec);
      break;
    case 'ocra':
      m.set(SLOT_KEY.ocraSuite, o.suite);
      if (o.counter !== undefined) m.set(SLOT_KEY.counter, o.counter);
      break;
  }
  return m;
}

// ---------------------------------------------------------------------------------------------------------
// Requests

function requestMap(req: Request): CborMap {
  const m: CborMap = new Map();
  switch (req.command) {
    case 'GET_INFO':
    case 'LOCK':
    case 'GET_TIME':
    case 'SELF_TEST':
    case 'RESET':
      return m;
    case 'AUTHENTICATE':
      m.set(AUTHENTICATE_REQUEST_KEY.wrappedPin, wrappedMap(req.wrappedPin));
      return m;
    case 'PUT_SLOT': {
      const s = slotParamsMap(req.params);
      s.set(SLOT_KEY.wrappedSeed, wrappedMap(req.wrappedSeed));
      return s;
    }
    case 'GET_SLOT':
    case 'DELETE_SLOT':
      m.set(SLOT_REQUEST_KEY.slot, req.slot);
      return m;
    case 'CALCULATE':
      m.set(CALCULATE_REQUEST_KEY.slot, req.slot);
      if (req.challenge !== undefined) m.set(CALCULATE_REQUEST_KEY.challenge, req.challenge);
      return m;
    case 'SET_TIME':
      m.set(SET_TIME_REQUEST_KEY.timeSec, req.timeSec);
      if (req.allowRollback !== undefined) m.set(SET_TIME_REQUEST_KEY.allowRollback, req.allowRollback);
      return m;
  }
}

function readRequest(command: CommandName, r: MapReader): Request {
  let req: Request;
  switch (command) {
    case 'GET_INFO':
    case 'LOCK':
    case 'GET_TIME':
    case 'SELF_TEST':
    case 'RESET':
      req = { command };
      break;
    case 'AUTHENTICATE':
      req = { command, wrappedPin: readWrapped(r, AUTHENTICATE_REQUEST_KEY.wrappedPin, 'wrappedPin', LIMITS.maxPinBytes) };
      break;
    case 'PUT_SLOT': {
      const params = readSlotParams(r);
      req = { command, params, wrappedSeed: readWrapped(r, SLOT_KEY.wrappedSeed, 'wrappedSeed', LIMITS.maxSeedBytes) };
      break;
    }
    case 'GET_SLOT':
    case 'DELETE_SLOT':
      req = { command, slot: r.uint(SLOT_REQUEST_KEY.slot, 'slot', 0, slotMax) };
      break;
    case 'CALCULATE': {
      const slot = r.uint(CALCULATE_REQUEST_KEY.slot, 'slot', 0, slotMax);
      const challenge = r.text(CALCULATE_REQUEST_KEY.challenge, 'challenge', LIMITS.maxOcraChallengeBytes, true);
      req = challenge === undefined ? { command, slot } : { command, slot, challenge };
      break;
    }
    case 'SET_TIME': {
      const timeSec = r.u64(SET_TIME_REQUEST_KEY.timeSec, 'timeSec');
      const allowRollback = r.bool(SET_TIME_REQUEST_KEY.allowRollback, 'allowRollback', true);
      req = allowRollback === undefined ? { command, timeSec } : { command, timeSec, allowRollback };
      break;
    }
  }
  r.done();
  return req;
}

/** Device side: parses one complete CBOR message (command byte + map). Never throws. */
export function decodeRequest(bytes: Uint8Array): DecodeResult<Request> {
  return run(() => {
    if (bytes.length === 0) reject('INVALID_LENGTH', 'request: empty message (a command byte is required)');
    const command = commandName(bytes[0]!);
    if (command === undefined) reject('INVALID_COMMAND', `request: unknown command 0x${bytes[0]!.toString(16).padStart(2, '0')}`);
    return readRequest(command, new MapReader(body(bytes.subarray(1), 'request'), command));
  });
}

function withByte(first: number, rest: Uint8Array): Uint8Array {
  const out = new Uint8Array(rest.length + 1);
  out[0] = first;
  out.set(rest, 1);
  return out;
}

function encodeChecked(what: string, make: () => Uint8Array, check: (b: Uint8Array) => DecodeResult<unknown>): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = make();
  } catch (e) {
    throw new ProtocolError('INVALID_ARGUMENT', `${what}: cannot encode (${e instanceof Error ? e.message : String(e)})`);
  }
  const back = check(bytes);
  if (!back.ok) throw new ProtocolError('INVALID_ARGUMENT', `${what}: ${back.reason}`);
  return bytes;
}

/** Host side: the wire bytes of a request. Throws ProtocolError('INVALID_ARGUMENT') for out-of-range fields. */
export function encodeRequest(req: Request): Uint8Array {
  return encodeChecked(req.command, () => withByte(COMMAND[req.command], encodeCanonical(requestMap(req))), decodeRequest);
}

// ---------------------------------------------------------------------------------------------------------
// Responses

function responseMap<C extends CommandName>(command: C, b: ResponseBody<C>): CborMap {
  const m: CborMap = new Map();
  const any = b as ResponseBodies[CommandName];
  switch (command) {
    case 'GET_INFO': {
      const i = any as DeviceInfo;
      const K = GET_INFO_RESPONSE_KEY;
      m.set(K.model, i.model).set(K.firmwareVersion, i.firmwareVersion).set(K.serial, i.serial);
      m.set(K.capabilities, i.capabilities).set(K.slotCount, i.slotCount).set(K.slotsUsed, i.slotsUsed);
      m.set(K.state, DEVICE_STATE[i.state]);
      if (i.rtcTimeSec !== undefined) m.set(K.rtcTimeSec, i.rtcTimeSec);
      m.set(K.pinRetries, i.pinRetries).set(K.devicePublicKey, i.devicePublicKey).set(K.attestationSignature, i.attestationSignature);
      return m;
    }
    case 'AUTHENTICATE':
      return m.set(AUTHENTICATE_RESPONSE_KEY.pinRetries, (any as ResponseBodies['AUTHENTICATE']).pinRetries);
    case 'PUT_SLOT':
      return m.set(PUT_SLOT_RESPONSE_KEY.kcv, (any as ResponseBodies['PUT_SLOT']).kcv);
    case 'GET_SLOT': {
      const g = any as ResponseBodies['GET_SLOT'];
      return slotParamsMap(g.params).set(SLOT_KEY.kcv, g.kcv);
    }
    case 'CALCULATE': {
      const c = any as ResponseBodies['CALCULATE'];
      m.set(CALCULATE_RESPONSE_KEY.code, c.code);
      if (c.counter !== undefined) m.set(CALCULATE_RESPONSE_KEY.counter, c.counter);
      if (c.timeStep !== undefined) m.set(CALCULATE_RESPONSE_KEY.timeStep, c.timeStep);
      return m;
    }
    case 'GET_TIME': {
      const t = any as ResponseBodies['GET_TIME'];
      return m.set(GET_TIME_RESPONSE_KEY.timeSec, t.timeSec).set(GET_TIME_RESPONSE_KEY.valid, t.valid);
    }
    case 'SELF_TEST': {
      const s = any as ResponseBodies['SELF_TEST'];
      return m.set(SELF_TEST_RESPONSE_KEY.passed, s.passed).set(SELF_TEST_RESPONSE_KEY.failed, s.failed);
    }
    case 'DELETE_SLOT':
    case 'LOCK':
    case 'SET_TIME':
    case 'RESET':
      return m;
  }
  return m;
}

function readResponseBody(command: CommandName, r: MapReader): ResponseBodies[CommandName] {
  let out: ResponseBodies[CommandName];
  switch (command) {
    case 'GET_INFO': {
      const K = GET_INFO_RESPONSE_KEY;
      const info: DeviceInfo = {
        model: r.text(K.model, 'model', LIMITS.maxStringBytes),
        firmwareVersion: r.text(K.firmwareVersion, 'firmwareVersion', LIMITS.maxStringBytes),
        serial: r.text(K.serial, 'serial', LIMITS.maxStringBytes),
        capabilities: r.uint(K.capabilities, 'capabilities', 0, 0xffffffff),
        slotCount: r.uint(K.slotCount, 'slotCount', 0, LIMITS.maxSlots),
        slotsUsed: r.uint(K.slotsUsed, 'slotsUsed', 0, LIMITS.maxSlots),
        state: r.enumOf(K.state, 'state', DEVICE_STATE),
        pinRetries: r.uint(K.pinRetries, 'pinRetries', 0, 255),
        devicePublicKey: r.bytes(K.devicePublicKey, 'devicePublicKey', LIMITS.publicKeySize, LIMITS.publicKeySize),
        attestationSignature: r.bytes(K.attestationSignature, 'attestationSignature', LIMITS.signatureSize, LIMITS.signatureSize),
      };
      const rtc = r.u64(K.rtcTimeSec, 'rtcTimeSec', true);
      if (rtc !== undefined) info.rtcTimeSec = rtc;
      if (info.slotsUsed > info.slotCount) reject('INVALID_PARAMETER', 'GET_INFO: slotsUsed exceeds slotCount');
      out = info;
      break;
    }
    case 'AUTHENTICATE':
      out = { pinRetries: r.uint(AUTHENTICATE_RESPONSE_KEY.pinRetries, 'pinRetries', 0, 255) };
      break;
    case 'PUT_SLOT':
      out = { kcv: r.bytes(PUT_SLOT_RESPONSE_KEY.kcv, 'kcv', LIMITS.kcvSize, LIMITS.kcvSize) };
      break;
    case 'GET_SLOT': {
      const params = readSlotParams(r);
      out = { params, kcv: r.bytes(SLOT_KEY.kcv, 'kcv', LIMITS.kcvSize, LIMITS.kcvSize) };
      break;
    }
    case 'CALCULATE': {
      const code = r.text(CALCULATE_RESPONSE_KEY.code, 'code', LIMITS.maxStringBytes);
      if (!/^[0-9]+$/.test(code)) reject('INVALID_PARAMETER', 'CALCULATE: code must be decimal digits');
      const c: ResponseBodies['CALCULATE'] = { code };
      const counter = r.u64(CALCULATE_RESPONSE_KEY.counter, 'counter', true);
      const timeStep = r.u64(CALCULATE_RESPONSE_KEY.timeStep, 'timeStep', true);
      if (counter !== undefined) c.counter = counter;
      if (timeStep !== undefined) c.timeStep = timeStep;
      out = c;
      break;
    }
    case 'GET_TIME':
      out = { timeSec: r.u64(GET_TIME_RESPONSE_KEY.timeSec, 'timeSec'), valid: r.bool(GET_TIME_RESPONSE_KEY.valid, 'valid') };
      break;
    case 'SELF_TEST':
      out = {
        passed: r.bool(SELF_TEST_RESPONSE_KEY.passed, 'passed'),
        failed: r.textArray(SELF_TEST_RESPONSE_KEY.failed, 'failed', LIMITS.maxSelfTestNames, LIMITS.maxStringBytes),
      };
      break;
    case 'DELETE_SLOT':
    case 'LOCK':
    case 'SET_TIME':
    case 'RESET':
      out = {};
      break;
  }
  r.done();
  return out;
}

/**
 * Host side: parses the response to `command`. Never throws. A non-OK status must be the whole message (one
 * byte); an OK status must be followed by exactly the command's response map. A status byte that is not in
 * the registry decodes as OTHER (devices newer than this host may add statuses).
 */
export function decodeResponse<C extends CommandName>(command: C, bytes: Uint8Array): DecodeResult<Response<C>> {
  return run(() => {
    if (bytes.length === 0) reject('INVALID_LENGTH', 'response: empty message');
    const status = statusName(bytes[0]!) ?? 'OTHER';
    if (status !== 'OK') {
      if (bytes.length !== 1) reject('INVALID_LENGTH', `response: status ${status} must not carry a body`);
      return { status } as Response<C>;
    }
    const r = new MapReader(body(bytes.subarray(1), `${command} response`), command);
    return { status: 'OK', body: readResponseBody(command, r) } as Response<C>;
  });
}

/** Device side: the wire bytes of a successful response. Throws ProtocolError('INVALID_ARGUMENT') on bad fields. */
export function encodeResponse<C extends CommandName>(command: C, b: ResponseBody<C>): Uint8Array {
  return encodeChecked(`${command} response`, () => withByte(STATUS.OK, encodeCanonical(responseMap(command, b))), (bytes) => decodeResponse(command, bytes));
}

/** Device side: the one-byte response carrying a non-OK status. */
export function encodeStatus(status: Exclude<StatusName, 'OK'>): Uint8Array {
  return Uint8Array.of(STATUS[status]);
}
