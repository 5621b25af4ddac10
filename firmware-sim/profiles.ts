/**
 * Device profiles: device models as data (firmware-sim/profiles/*.json; docs/simulator.md "Profiles").
 * `parseProfile` parses strictly: unknown fields, wrong types and out-of-range values are INVALID_PROFILE.
 * `drawUnit` draws the per-unit values (crystal error, ageing, battery life) from the profile's ranges with
 * an injected RNG, and `formatSerial` renders the serial-number format.
 *
 * The built-in profiles are static JSON imports, so they load without a file system (and travel inside a
 * bundle); a JSON file in profiles/ must be listed in BUILT_IN_PROFILES (test/sim/profiles.test.ts checks that
 * the list and the directory agree). Reading profile files from a directory is the shell's job:
 * host/profile-files.ts.
 */
import { isOtpType, MAX_PERIOD_SEC, OTP_TYPES, type OtpType } from '../otp/otp-params.ts';
import { HASH_ALGORITHMS, type HashAlgorithm } from '../otp/params.ts';
import { SimError } from './errors.ts';
import type { FlashGeometry, Rng } from './ports.ts';
import hotpFob from './profiles/hotp-fob.json' with { type: 'json' };
import multiSlotKey from './profiles/multi-slot-key.json' with { type: 'json' };
import totp60sFob from './profiles/totp-60s-fob.json' with { type: 'json' };

/** The shipped profiles by name, as raw JSON (parsed on first use by `loadProfile`). */
const BUILT_IN_PROFILES: Readonly<Record<string, unknown>> = {
  'hotp-fob': hotpFob,
  'multi-slot-key': multiSlotKey,
  'totp-60s-fob': totp60sFob,
};

export interface Range {
  min: number;
  max: number;
}
export interface SlotGroup {
  count: number;
  types: OtpType[];
  defaults: { algorithm: HashAlgorithm; digits: number; periodSec?: number };
}
export interface Profile {
  name: string;
  description: string;
  model: string;
  firmwareVersion: string;
  serialFormat: string;
  slots: SlotGroup[];
  rtc: { crystalPpm: Range; agingPpmPerYear: Range; tempCoeffPpmPerC2: number } | null;
  battery: { lifeDays: { mean: number; sd: number }; brownOutsPerYear: number } | null;
  button: boolean;
  display: { digits: number; showMs: number } | null;
  pin: { maxRetries: number };
  flash: FlashGeometry;
}

function bad(file: string, msg: string): never {
  throw new SimError('INVALID_PROFILE', `profile ${file}: ${msg}`);
}

type Obj = Record<string, unknown>;
function obj(v: unknown, file: string, where: string, keys: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(file, `${where} must be an object`);
  for (const k of Object.keys(v)) if (!keys.includes(k)) bad(file, `${where}: unknown field "${k}"`);
  for (const k of keys) if (!(k in v)) bad(file, `${where}: missing field "${k}"`);
  return v as Obj;
}
function str(v: unknown, file: string, where: string, max = 200): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) bad(file, `${where} must be a non-empty string of at most ${max} characters`);
  return v;
}
function num(v: unknown, file: string, where: string, min: number, max: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    bad(file, `${where} must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}`);
  }
  return v;
}
function range(v: unknown, file: string, where: string, lim: number): Range {
  const o = obj(v, file, where, ['min', 'max']);
  const r = { min: num(o['min'], file, `${where}.min`, -lim, lim), max: num(o['max'], file, `${where}.max`, -lim, lim) };
  if (r.min > r.max) bad(file, `${where}: min > max`);
  return r;
}

export function parseProfile(json: unknown, file: string): Profile {
  const o = obj(json, file, 'profile', ['name', 'description', 'model', 'firmwareVersion', 'serialFormat', 'slots', 'rtc', 'battery', 'button', 'display', 'pin', 'flash']);
  const name = str(o['name'], file, 'name', 40);
  if (!/^[a-z0-9-]+$/.test(name)) bad(file, 'name: use lowercase letters, digits and dashes');
  if (!Array.isArray(o['slots']) || o['slots'].length === 0) bad(file, 'slots must be a non-empty array');
  const slots = o['slots'].map((g, i): SlotGroup => {
    const s = obj(g, file, `slots[${i}]`, ['count', 'types', 'defaults']);
    const types = s['types'];
    if (!Array.isArray(types) || types.length === 0 || !types.every(isOtpType)) bad(file, `slots[${i}].types must list ${OTP_TYPES.join('/')}`);
    const d = s['defaults'];
    if (typeof d !== 'object' || d === null) bad(file, `slots[${i}].defaults must be an object`);
    const dd = d as Obj;
    for (const k of Object.keys(dd)) if (!['algorithm', 'digits', 'periodSec'].includes(k)) bad(file, `slots[${i}].defaults: unknown field "${k}"`);
    const algorithm = dd['algorithm'];
    if (!(HASH_ALGORITHMS as readonly unknown[]).includes(algorithm)) bad(file, `slots[${i}].defaults.algorithm must be SHA1, SHA256 or SHA512`);
    const defaults: SlotGroup['defaults'] = { algorithm: algorithm as HashAlgorithm, digits: num(dd['digits'], file, `slots[${i}].defaults.digits`, 6, 10, true) };
    if (dd['periodSec'] !== undefined) defaults.periodSec = num(dd['periodSec'], file, `slots[${i}].defaults.periodSec`, 1, MAX_PERIOD_SEC, true);
    return { count: num(s['count'], file, `slots[${i}].count`, 1, 255, true), types: types as OtpType[], defaults };
  });
  if (slots.reduce((n, g) => n + g.count, 0) > 255) bad(file, 'slots: at most 255 in total');
  let rtc: Profile['rtc'] = null;
  if (o['rtc'] !== null) {
    const r = obj(o['rtc'], file, 'rtc', ['crystalPpm', 'agingPpmPerYear', 'tempCoeffPpmPerC2']);
    rtc = { crystalPpm: range(r['crystalPpm'], file, 'rtc.crystalPpm', 1000), agingPpmPerYear: range(r['agingPpmPerYear'], file, 'rtc.agingPpmPerYear', 100), tempCoeffPpmPerC2: num(r['tempCoeffPpmPerC2'], file, 'rtc.tempCoeffPpmPerC2', -1, 1) };
  }
  let battery: Profile['battery'] = null;
  if (o['battery'] !== null) {
    const b = obj(o['battery'], file, 'battery', ['lifeDays', 'brownOutsPerYear']);
    const l = obj(b['lifeDays'], file, 'battery.lifeDays', ['mean', 'sd']);
    battery = { lifeDays: { mean: num(l['mean'], file, 'battery.lifeDays.mean', 1, 36_500), sd: num(l['sd'], file, 'battery.lifeDays.sd', 0, 36_500) }, brownOutsPerYear: num(b['brownOutsPerYear'], file, 'battery.brownOutsPerYear', 0, 365) };
  }
  if (typeof o['button'] !== 'boolean') bad(file, 'button must be true or false');
  let display: Profile['display'] = null;
  if (o['display'] !== null) {
    const d = obj(o['display'], file, 'display', ['digits', 'showMs']);
    display = { digits: num(d['digits'], file, 'display.digits', 6, 10, true), showMs: num(d['showMs'], file, 'display.showMs', 100, 600_000, true) };
  }
  const pin = obj(o['pin'], file, 'pin', ['maxRetries']);
  const f = obj(o['flash'], file, 'flash', ['pageSize', 'pageCount', 'maxWritesPerWord']);
  const serialFormat = str(o['serialFormat'], file, 'serialFormat', 40);
  if (!/^([A-Z0-9-]|\{seq:[1-9]\d?\}|\{rand:[1-9]\d?\}|\{luhn\})+$/.test(serialFormat) || !/\{(seq|rand):/.test(serialFormat)) {
    bad(file, 'serialFormat: use A-Z, 0-9, "-" and {seq:N}, {rand:N}, {luhn} (at least one {seq:N} or {rand:N})');
  }
  return {
    name,
    description: str(o['description'], file, 'description', 500),
    model: str(o['model'], file, 'model', 64),
    firmwareVersion: str(o['firmwareVersion'], file, 'firmwareVersion', 32),
    serialFormat,
    slots,
    rtc,
    battery,
    button: o['button'],
    display,
    pin: { maxRetries: num(pin['maxRetries'], file, 'pin.maxRetries', 1, 255, true) },
    flash: {
      pageSize: num(f['pageSize'], file, 'flash.pageSize', 256, 65_536, true),
      pageCount: num(f['pageCount'], file, 'flash.pageCount', 3, 1024, true),
      maxWritesPerWord: num(f['maxWritesPerWord'], file, 'flash.maxWritesPerWord', 1, 255, true),
    },
  };
}

/** The names of the shipped profiles, sorted. */
export function profileNames(): string[] {
  return Object.keys(BUILT_IN_PROFILES).sort();
}

const cache = new Map<string, Profile>();

/** Loads a shipped profile by name. */
export function loadProfile(name: string): Profile {
  const hit = cache.get(name);
  if (hit) return hit;
  const json = Object.hasOwn(BUILT_IN_PROFILES, name) ? BUILT_IN_PROFILES[name] : undefined;
  if (json === undefined) throw new SimError('INVALID_PROFILE', `profile "${name}" does not exist; choose one of ${profileNames().join(', ')}`);
  const p = parseNamedProfile(json, `${name}.json`, name);
  cache.set(name, p);
  return p;
}

/** Parses a profile that must carry `name` (the name of its file or its entry in the built-in list). */
export function parseNamedProfile(json: unknown, file: string, name: string): Profile {
  const p = parseProfile(json, file);
  if (p.name !== name) bad(file, `name "${p.name}" does not match the file name`);
  return p;
}

export function slotCount(p: Profile): number {
  return p.slots.reduce((n, g) => n + g.count, 0);
}

/** The slot group that slot `i` belongs to. */
export function slotGroup(p: Profile, slot: number): SlotGroup | undefined {
  let i = slot;
  for (const g of p.slots) {
    if (i < g.count) return g;
    i -= g.count;
  }
  return undefined;
}

/** Luhn check digit over the digits of `s` (letters ignored). */
export function luhnDigit(s: string): string {
  const digits = s.replace(/\D/g, '');
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

/** Renders a serial number: {seq:N} = seq zero-padded to N digits, {rand:N} = N random digits, {luhn} = check digit of what precedes. */
export function formatSerial(format: string, seq: number, rng: Rng): string {
  let out = '';
  for (const m of format.matchAll(/\{seq:(\d+)\}|\{rand:(\d+)\}|\{luhn\}|[^{]/g)) {
    if (m[1]) {
      const n = Number(m[1]);
      const s = String(seq);
      if (s.length > n) throw new SimError('INVALID_ARGUMENT', `serial: sequence number ${seq} does not fit ${n} digits`);
      out += s.padStart(n, '0');
    } else if (m[2]) {
      for (let i = 0; i < Number(m[2]); i++) out += String(rng.int(10));
    } else if (m[0] === '{luhn}') {
      out += luhnDigit(out);
    } else {
      out += m[0];
    }
  }
  return out;
}

/** Per-unit variation drawn from the profile's ranges. */
export interface UnitDraw {
  crystalPpm: number;
  agingPpmPerYear: number;
  batteryLifeDays: number;
}

export function drawUnit(p: Profile, rng: Rng): UnitDraw {
  const uni = (r: Range) => r.min + (r.max - r.min) * rng.float();
  let life = Infinity;
  if (p.battery) {
    // Box-Muller normal draw, clamped at 1 day.
    const u = Math.max(rng.float(), 1e-12);
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.float());
    life = Math.max(1, p.battery.lifeDays.mean + z * p.battery.lifeDays.sd);
  }
  return {
    crystalPpm: p.rtc ? uni(p.rtc.crystalPpm) : 0,
    agingPpmPerYear: p.rtc ? uni(p.rtc.agingPpmPerYear) : 0,
    batteryLifeDays: life,
  };
}
