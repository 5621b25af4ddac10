/**
 * The deterministic token core (DESIGN.md "The token model", STYLE.md rule 1): `handleReport(report) ->
 * reports` over ports. Time comes only from the Clock, randomness only from the Rng, persistence only from the
 * flash (through the store), user presence only from the Button. The same Device runs in tests (fake clock,
 * seeded RNG, RAM flash) and in the host runners (system clock, CSPRNG, flash image file).
 *
 * Layers: protocol/hid/device.ts HidDevice (channels, INIT/PING/WINK/CANCEL/KEEPALIVE, report errors) hands complete
 * CBOR messages to `#cbor`, which decodes them with protocol/messages.ts, runs the command against the token
 * state (token-state.ts) and encodes the answer. Command semantics: docs/simulator.md "Commands".
 *
 * Invariants: a seed leaves the device only as a key check value; the HOTP counter is persisted before a code
 * is returned or displayed; a power cut (flash PowerCut) kills the device: it stops answering until rebooted
 * from its flash, exactly like hardware.
 */
import { p256 } from '@noble/curves/nist.js';
import { createHotpEngine } from '../otp/engine.ts';
import { ocra, parseOcraSuite } from '../otp/ocra.ts';
import type { HashAlgorithm } from '../otp/params.ts';
import { hotpReference } from '../otp/reference.ts';
import { timingSafeEqualString } from '../otp/compare.ts';
import { HidDevice } from '../protocol/hid/device.ts';
import { decodeRequest, encodeResponse, encodeStatus, type Request, type ResponseBodies, type SlotParams } from '../protocol/messages.ts';
import { CAPABILITY, STATUS, type CommandName, type StatusName } from '../protocol/registry.ts';
import { TEST_ATTESTATION_SECRET_KEY } from '../protocol/test-attestation-key.ts';
import { generateKeyPair, keyCheckValue, signAttestation, unwrapPin, unwrapSeed } from '../protocol/wrap.ts';
import { isPowerCut } from './errors.ts';
import type { Button, Clock, Display, Flash, Log, Rng } from './ports.ts';
import { drawUnit, formatSerial, slotCount, slotGroup, type Profile, type UnitDraw } from './profiles.ts';
import { Rtc, type RtcState } from './rtc.ts';
import { KvStore } from './store.ts';
import { slotOtpOf, slotOtpWithCounter, TokenStore, type SlotConfig } from './token-state.ts';
import { AesGcmVault } from './vault.ts';

export interface DeviceOptions {
  profile: Profile;
  flash: Flash;
  clock: Clock;
  rng: Rng;
  button: Button;
  display: Display;
  log: Log;
  /** Hardware unique key (32 bytes) that seals seeds in flash. */
  huk: Uint8Array;
  /** Serial sequence number used at first boot (manufacture). */
  serialSeq: number;
  /** Calculate and reset without waiting for the button. */
  testMode?: boolean;
  /** Battery-backed RTC state from a previous run (`--state`). */
  rtcState?: RtcState;
  /** Per-unit variation; drawn from the profile with `rng` when absent. */
  unit?: UnitDraw;
  /** How long a request waits for the button. */
  userPresenceTimeoutMs?: number;
  /** Factory attestation key (default: the published TEST key of protocol/). */
  attestationSecretKey?: Uint8Array;
}

type Pending = { cid: number; request: Request; sinceMs: number };

const te = new TextEncoder();

export class Device {
  readonly profile: Profile;
  readonly rtc: Rtc;
  readonly unit: UnitDraw;
  readonly #o: DeviceOptions;
  readonly #token: TokenStore;
  readonly #hid: HidDevice;
  readonly #authed = new Set<number>();
  readonly #publicKey: Uint8Array;
  readonly #attestation: Uint8Array;
  #pending: Pending | undefined;
  #dead = false;
  #winks = 0;

  /** Boots from flash; manufactures the token (identity, device key) on a blank flash. May throw PowerCut. */
  constructor(o: DeviceOptions) {
    this.#o = o;
    this.profile = o.profile;
    this.unit = o.unit ?? drawUnit(o.profile, o.rng);
    const kv = KvStore.open(o.flash);
    this.#token = new TokenStore(kv, new AesGcmVault(o.huk, o.rng), o.rng);
    if (!this.#token.state.identity) {
      const kp = generateKeyPair((n) => this.#random(n));
      const serial = formatSerial(o.profile.serialFormat, o.serialSeq, o.rng);
      this.#token.manufacture(serial, o.profile.name, kp.secretKey, o.profile.pin.maxRetries);
      kp.secretKey.fill(0);
      o.log.log('info', `manufactured ${o.profile.name} serial ${serial}`);
    }
    const sk = this.#token.devicePrivateKey();
    this.#publicKey = p256.getPublicKey(sk, false);
    sk.fill(0);
    this.#attestation = signAttestation(o.attestationSecretKey ?? TEST_ATTESTATION_SECRET_KEY, this.serial, this.#publicKey);
    // Devices without a battery-backed RTC keep time only while powered: invalid until SET_TIME.
    const rtcParams = { crystalPpm: this.unit.crystalPpm, agingPpmPerYear: this.unit.agingPpmPerYear, tempCoeffPpmPerC2: o.profile.rtc?.tempCoeffPpmPerC2 ?? 0 };
    this.rtc = new Rtc(o.clock, rtcParams, o.profile.rtc ? o.rtcState : undefined);
    if (!o.profile.rtc) this.rtc.brownOut();
    this.#hid = new HidDevice({
      rng: (n) => this.#random(n),
      handleCbor: (cid, payload) => this.#cbor(cid, payload),
      onCancel: () => {
        this.#pending = undefined;
      },
      onWink: () => {
        this.#winks++;
        o.display.show('-- --', o.clock.nowMs(), 1000);
      },
      onChannelClosed: (cid) => {
        this.#authed.delete(cid);
      },
      version: versionBytes(o.profile.firmwareVersion),
    });
  }

  #random(n: number): Uint8Array {
    const b = new Uint8Array(n);
    this.#o.rng.fill(b);
    return b;
  }

  get serial(): string {
    return this.#token.state.identity!.serial;
  }

  get publicKey(): Uint8Array {
    return this.#publicKey.slice();
  }

  /** True after a power cut: the device no longer answers and must be rebooted from its flash. */
  get dead(): boolean {
    return this.#dead;
  }

  /** A host request (CALCULATE with touch, RESET) is waiting for the button. */
  get waitingForPress(): boolean {
    return this.#pending !== undefined;
  }

  get winks(): number {
    return this.#winks;
  }

  get tokenState() {
    return this.#token.state;
  }

  get flashStats() {
    return this.#token.kv.stats();
  }

  /** Feeds one 64-byte report; returns the reports to send back. */
  handleReport(report: Uint8Array): Uint8Array[] {
    if (this.#dead) return [];
    return this.#guard(() => this.#hid.handleReport(report, this.#o.clock.nowMs()));
  }

  /** Call periodically (every ~50 ms): keepalives, inter-packet timeouts, button completion, presence timeout. */
  tick(): Uint8Array[] {
    if (this.#dead) return [];
    return this.#guard(() => {
      const now = this.#o.clock.nowMs();
      const out = this.#hid.tick(now);
      const p = this.#pending;
      if (p) {
        if (this.#o.button.consumePress(now)) {
          this.#pending = undefined;
          out.push(...this.#hid.complete(p.cid, this.#execute(p.cid, p.request, true)));
        } else if (now - p.sinceMs > (this.#o.userPresenceTimeoutMs ?? 30_000)) {
          this.#pending = undefined;
          out.push(...this.#hid.complete(p.cid, encodeStatus('USER_ACTION_TIMEOUT')));
        }
      }
      return out;
    });
  }

  #guard(f: () => Uint8Array[]): Uint8Array[] {
    try {
      const out = f();
      // A power cut inside the CBOR handler is caught by HidDevice (which would answer OTHER): the supply is
      // gone, so nothing at all goes out.
      return this.#dead ? [] : out;
    } catch (e) {
      if (isPowerCut(e)) {
        this.#dead = true;
        this.#o.log.log('warn', 'power cut: device stopped');
        return [];
      }
      throw e;
    }
  }

  /**
   * A stand-alone button press (no host request waiting): compute and display the code of `slot` (default:
   * the settings' default slot, else the first used slot). Returns what the display shows ('' if nothing).
   * If a host request is waiting for the button, use `LatchedButton.press` + `tick()` instead.
   */
  pressStandalone(slot?: number): string {
    if (this.#dead) return '';
    try {
      const s = slot ?? this.#defaultSlot();
      if (s === undefined) return this.#show('-noSEEd-');
      const r = this.#calculate({ command: 'CALCULATE', slot: s });
      return typeof r === 'string' ? this.#show(`Err ${STATUS[r]}`) : r.code;
    } catch (e) {
      if (isPowerCut(e)) {
        this.#dead = true;
        return '';
      }
      throw e;
    }
  }

  #defaultSlot(): number | undefined {
    const st = this.#token.state;
    if (st.slots.has(st.settings.defaultSlot)) return st.settings.defaultSlot;
    return [...st.slots.keys()].sort((a, b) => a - b)[0];
  }

  #show(text: string): string {
    this.#o.display.show(text, this.#o.clock.nowMs(), this.profile.display?.showMs ?? 30_000);
    return text;
  }

  /** The CBOR layer: decode, check state, dispatch; never throws on input. */
  #cbor(cid: number, payload: Uint8Array): Uint8Array | 'pending' {
    try {
      return this.#cborInner(cid, payload);
    } catch (e) {
      if (isPowerCut(e)) this.#dead = true;
      throw e;
    }
  }

  #cborInner(cid: number, payload: Uint8Array): Uint8Array | 'pending' {
    const d = decodeRequest(payload);
    if (!d.ok) return encodeStatus(d.status);
    const req = d.value;
    if (needsPresence(req, this.#token.state.slots.get(calcSlot(req))) && !this.#o.testMode) {
      // Pre-check so that the user is not asked to press for a request that will fail anyway.
      const pre = this.#precheck(cid, req);
      if (pre) return encodeStatus(pre);
      if (this.#o.button.consumePress(this.#o.clock.nowMs())) return this.#execute(cid, req, true);
      this.#pending = { cid, request: req, sinceMs: this.#o.clock.nowMs() };
      return 'pending';
    }
    return this.#execute(cid, req, this.#o.testMode === true);
  }

  #precheck(_cid: number, req: Request): Exclude<StatusName, 'OK'> | undefined {
    if (req.command === 'CALCULATE') {
      if (req.slot >= slotCount(this.profile)) return 'NO_SUCH_SLOT';
      if (!this.#token.state.slots.has(req.slot)) return 'SLOT_EMPTY';
    }
    return undefined;
  }

  #execute(cid: number, req: Request, present: boolean): Uint8Array {
    const r = this.#run(cid, req, present);
    if (typeof r === 'string') return encodeStatus(r);
    return encodeResponse(req.command, r as ResponseBodies[CommandName]);
  }

  #adminCheck(cid: number): Exclude<StatusName, 'OK'> | undefined {
    const st = this.#token.state;
    if (!st.pinSet) return undefined;
    if (st.pinRetries.left === 0) return 'PIN_BLOCKED';
    return this.#authed.has(cid) ? undefined : 'NOT_AUTHENTICATED';
  }

  #run(cid: number, req: Request, present: boolean): ResponseBodies[CommandName] | Exclude<StatusName, 'OK'> {
    const st = this.#token.state;
    const nSlots = slotCount(this.profile);
    switch (req.command) {
      case 'GET_INFO':
        return this.info();
      case 'AUTHENTICATE': {
        const sk = this.#token.devicePrivateKey();
        const pin = unwrapPin({ deviceSecretKey: sk, devicePublicKey: this.#publicKey, serial: this.serial, blob: req.wrappedPin });
        sk.fill(0);
        if (!pin) return 'UNWRAP_FAILED';
        try {
          const bytes = pin.exposeSecretBytes();
          if (!st.pinSet) {
            // First AUTHENTICATE on a token without a PIN sets the admin PIN.
            this.#token.setPin(bytes);
            this.#authed.add(cid);
            return { pinRetries: this.#token.state.pinRetries.left };
          }
          const v = this.#token.verifyPin(bytes);
          if (v === 'ok') {
            this.#authed.add(cid);
            return { pinRetries: this.#token.state.pinRetries.left };
          }
          this.#authed.delete(cid);
          return v === 'blocked' ? 'PIN_BLOCKED' : 'PIN_INVALID';
        } finally {
          pin.wipe();
        }
      }
      case 'PUT_SLOT': {
        const p = req.params;
        const denied = this.#adminCheck(cid);
        if (denied) return denied;
        if (st.lifecycle === 'LOCKED') return 'SLOT_LOCKED';
        if (p.slot >= nSlots) return 'NO_SUCH_SLOT';
        const group = slotGroup(this.profile, p.slot)!;
        if (!group.types.includes(p.otp.type)) return 'UNSUPPORTED';
        let suiteCounter = false;
        if (p.otp.type === 'ocra') {
          try {
            const suite = parseOcraSuite(p.otp.suite);
            if (suite.pin || suite.session) return 'UNSUPPORTED';
            suiteCounter = suite.counter;
          } catch {
            return 'INVALID_PARAMETER';
          }
          if (suiteCounter !== (p.otp.counter !== undefined)) return 'INVALID_PARAMETER';
        }
        const sk = this.#token.devicePrivateKey();
        const seed = unwrapSeed({ deviceSecretKey: sk, devicePublicKey: this.#publicKey, serial: this.serial, params: p, blob: req.wrappedSeed });
        sk.fill(0);
        if (!seed) return 'UNWRAP_FAILED';
        try {
          const bytes = seed.exposeSecretBytes();
          this.#token.putSlot(p.slot, bytes, slotConfigOf(p), p.otp.type === 'totp' ? 0n : (p.otp.counter ?? 0n));
          return { kcv: keyCheckValue(bytes) };
        } finally {
          seed.wipe();
        }
      }
      case 'GET_SLOT': {
        if (req.slot >= nSlots) return 'NO_SUCH_SLOT';
        const c = st.slots.get(req.slot);
        if (!c) return 'SLOT_EMPTY';
        return { params: slotParamsOf(req.slot, c, st.counters.get(req.slot)), kcv: c.kcv.slice() };
      }
      case 'DELETE_SLOT': {
        const denied = this.#adminCheck(cid);
        if (denied) return denied;
        if (st.lifecycle === 'LOCKED') return 'SLOT_LOCKED';
        if (req.slot >= nSlots) return 'NO_SUCH_SLOT';
        if (!st.slots.has(req.slot)) return 'SLOT_EMPTY';
        this.#token.deleteSlot(req.slot);
        return {};
      }
      case 'LOCK': {
        const denied = this.#adminCheck(cid);
        if (denied) return denied;
        if (st.lifecycle !== 'PROVISIONED') return 'WRONG_STATE';
        this.#token.lock();
        return {};
      }
      case 'CALCULATE':
        return this.#calculate(req);
      case 'SET_TIME': {
        const denied = this.#adminCheck(cid);
        if (denied) return denied;
        if (req.timeSec > 253_402_300_799n) return 'INVALID_PARAMETER'; // 9999-12-31
        if (req.timeSec < st.timeGuardSec && !req.allowRollback) return 'TIME_ROLLBACK';
        this.#token.setTimeGuard(req.timeSec);
        this.rtc.setMs(Number(req.timeSec) * 1000);
        return {};
      }
      case 'GET_TIME':
        return { timeSec: BigInt(Math.max(0, Number(this.rtc.nowSec()))), valid: this.rtc.valid };
      case 'SELF_TEST':
        return this.selfTest();
      case 'RESET': {
        if (!present && !this.#o.testMode) return 'OPERATION_DENIED';
        this.#token.reset();
        this.#authed.clear();
        this.#show('rESEt');
        return {};
      }
    }
  }

  /** CALCULATE (also the stand-alone button press): HOTP persists counter+1 BEFORE the code exists. */
  #calculate(req: Extract<Request, { command: 'CALCULATE' }>): ResponseBodies['CALCULATE'] | Exclude<StatusName, 'OK'> {
    if (req.slot >= slotCount(this.profile)) return 'NO_SUCH_SLOT';
    const c = this.#token.state.slots.get(req.slot);
    if (!c) return 'SLOT_EMPTY';
    const o = c.otp;
    if (o.type !== 'ocra' && req.challenge !== undefined) return 'INVALID_PARAMETER';
    let out: ResponseBodies['CALCULATE'];
    if (o.type === 'hotp') {
      if ((this.#token.state.counters.get(req.slot) ?? 0n) >= (1n << 64n) - 1n) return 'COUNTER_EXHAUSTED';
      const counter = this.#token.advanceCounter(req.slot); // persisted before the code is computed
      out = { code: this.#withSeed(req.slot, (seed) => oneCode(seed, o.algorithm, o.digits, counter)), counter };
    } else if (o.type === 'totp') {
      if (!this.rtc.valid) return 'RTC_INVALID';
      const t = this.rtc.nowSec();
      if (t < o.t0Sec) return 'RTC_INVALID';
      const step = (t - o.t0Sec) / BigInt(o.periodSec);
      out = { code: this.#withSeed(req.slot, (seed) => oneCode(seed, o.algorithm, o.digits, step)), timeStep: step };
    } else {
      if (req.challenge === undefined) return 'MISSING_PARAMETER';
      const suite = parseOcraSuite(o.suite);
      if (suite.timestamp && !this.rtc.valid) return 'RTC_INVALID';
      let counter: bigint | undefined;
      if (suite.counter) counter = this.#token.advanceCounter(req.slot, true); // RFC 6287 §5.1: wraps to 0
      try {
        const input = { question: req.challenge, ...(counter !== undefined ? { counter } : {}), ...(suite.timestamp ? { timeSec: this.rtc.nowSec() } : {}) };
        out = { code: this.#withSeed(req.slot, (seed) => ocra(suite, seed, input)) };
      } catch {
        return 'INVALID_PARAMETER';
      }
      if (!/^[0-9]+$/.test(out.code)) return 'UNSUPPORTED'; // untruncated suites (digits 0) are not shown
      if (counter !== undefined) out.counter = counter;
    }
    this.#show(out.code);
    return out;
  }

  #withSeed<T>(slot: number, f: (seed: Uint8Array) => T): T {
    const seed = this.#token.unsealSeed(slot);
    try {
      return f(seed);
    } finally {
      seed.fill(0);
    }
  }

  info(): ResponseBodies['GET_INFO'] {
    const st = this.#token.state;
    let caps = 0;
    for (const g of this.profile.slots) for (const t of g.types) caps |= t === 'hotp' ? CAPABILITY.HOTP : t === 'totp' ? CAPABILITY.TOTP : CAPABILITY.OCRA;
    if (this.profile.rtc) caps |= CAPABILITY.RTC;
    if (this.profile.button) caps |= CAPABILITY.BUTTON;
    if (this.profile.display) caps |= CAPABILITY.DISPLAY;
    if (this.#o.testMode) caps |= CAPABILITY.TEST_MODE;
    const info: ResponseBodies['GET_INFO'] = {
      model: this.profile.model,
      firmwareVersion: this.profile.firmwareVersion,
      serial: this.serial,
      capabilities: caps,
      slotCount: slotCount(this.profile),
      slotsUsed: st.slots.size,
      state: st.pinSet && st.pinRetries.left === 0 ? 'PIN_BLOCKED' : st.lifecycle,
      pinRetries: st.pinRetries.left,
      devicePublicKey: this.#publicKey.slice(),
      attestationSignature: this.#attestation.slice(),
    };
    if (this.rtc.valid && this.rtc.nowMs() >= 0) info.rtcTimeSec = this.rtc.nowSec();
    return info;
  }

  /** Known-answer tests (RFC 4226 App. D, RFC 6238 App. B), the seal round trip and the store's readability. */
  selfTest(): ResponseBodies['SELF_TEST'] {
    const failed: string[] = [];
    const rfcKey = te.encode('12345678901234567890');
    if (!timingSafeEqualString(createHotpEngine(rfcKey).code(0n), '755224')) failed.push('hotp-kat');
    if (!timingSafeEqualString(hotpReference(rfcKey, 1n, 'SHA1', 8), '94287082')) failed.push('totp-kat');
    try {
      const v = new AesGcmVault(new Uint8Array(32).fill(0x5a), this.#o.rng);
      const x = v.unseal(v.seal(rfcKey, 1), 1);
      if (!timingSafeEqualString(new TextDecoder().decode(x), '12345678901234567890')) failed.push('seal');
    } catch {
      failed.push('seal');
    }
    try {
      for (const s of this.#token.state.slots.keys()) this.#withSeed(s, () => undefined);
    } catch (e) {
      if (isPowerCut(e)) throw e;
      failed.push('storage');
    }
    if (this.profile.rtc && !this.rtc.valid) failed.push('rtc');
    return { passed: failed.length === 0, failed };
  }
}

/** One code with the fast engine; its key state is wiped straight after (NIST: zeroize after generating). */
function oneCode(seed: Uint8Array, algorithm: HashAlgorithm, digits: number, counter: bigint): string {
  const engine = createHotpEngine(seed, { algorithm, digits });
  try {
    return engine.code(counter);
  } finally {
    engine.destroy();
  }
}

function needsPresence(req: Request, slot: SlotConfig | undefined): boolean {
  if (req.command === 'RESET') return true;
  return req.command === 'CALCULATE' && slot !== undefined && slot.touch;
}

function calcSlot(req: Request): number {
  return req.command === 'CALCULATE' ? req.slot : -1;
}

function versionBytes(v: string): { major: number; minor: number; build: number } {
  const [major = 0, minor = 0, build = 0] = v.split('.').map((x) => Number.parseInt(x, 10) & 0xff);
  return { major, minor, build };
}

/** PUT_SLOT's parameters as a slot configuration (the counter goes to its own flash key). */
function slotConfigOf(p: SlotParams): Omit<SlotConfig, 'kcv' | 'sealedSeed'> {
  return { otp: slotOtpOf(p.otp), touch: p.touch === 'always' };
}

/** GET_SLOT's parameters: the slot configuration with its live counter. */
function slotParamsOf(slot: number, c: SlotConfig, counter: bigint | undefined): SlotParams {
  return { slot, touch: c.touch ? 'always' : 'never', otp: slotOtpWithCounter(c.otp, counter ?? 0n) };
}
