/**
 * The shell around one Device (STYLE.md rule 1: effects live here): the serial carriage (COBS frames over a
 * byte stream), link faults, response delays, periodic ticks, reboot after a power cut, and the token's state
 * directory (`--state`): flash.img (the flash image), rtc.json (the battery-backed RTC), huk.key (the sealing
 * key, mode 0600) and token.json (profile, serial sequence, unit draw).
 *
 * The flash image is saved synchronously after every request that changed the flash and BEFORE the answer is
 * written to the link, so even a killed process cannot have shown a HOTP code whose counter is not on disk.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFrames, FrameDecoder } from '../../protocol/serial.ts';
import { Device } from '../device.ts';
import { SimError } from '../errors.ts';
import { applyLinkFaults, type Faults } from '../faults.ts';
import { RamFlash } from '../flash.ts';
import { AlwaysPressedButton, LatchedButton, NULL_LOG, RecordingDisplay } from '../peripherals.ts';
import type { Clock, Log, Rng } from '../ports.ts';
import { loadProfile, type UnitDraw } from '../profiles.ts';
import type { RtcState } from '../rtc.ts';
import { loadFlashImage, saveFlashImage, writeFileAtomic } from './files.ts';
import { CryptoRng } from './system.ts';

export interface SimTokenOptions {
  profile: string;
  /** Token state directory; in-memory only when absent. */
  stateDir?: string;
  serialSeq: number;
  clock: Clock;
  rng?: Rng;
  testMode?: boolean;
  faults?: Faults;
  log?: Log;
  userPresenceTimeoutMs?: number;
}

interface TokenMeta {
  version: 1;
  profile: string;
  serialSeq: number;
  unit: UnitDraw;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new SimError('STATE', `${path}: unreadable or not JSON (${(e as Error).message.slice(0, 80)}); restore it or start with a fresh --state`);
  }
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** token.json, checked field by field (a damaged state file is a STATE error, never NaN time). */
function readMeta(path: string): TokenMeta {
  const m = readJson(path) as Partial<TokenMeta> | null;
  const u = m?.unit as Partial<UnitDraw> | undefined;
  if (!m || m.version !== 1 || typeof m.profile !== 'string' || !Number.isInteger(m.serialSeq) || !u || !finite(u.crystalPpm) || !finite(u.agingPpmPerYear) || !(finite(u.batteryLifeDays) || u.batteryLifeDays === null)) {
    throw new SimError('STATE', `${path}: not a tokenforge token description (version 1 with profile, serialSeq, unit)`);
  }
  // JSON has no Infinity: a token without a battery limit is stored as null.
  return { version: 1, profile: m.profile, serialSeq: m.serialSeq!, unit: { crystalPpm: u.crystalPpm, agingPpmPerYear: u.agingPpmPerYear, batteryLifeDays: u.batteryLifeDays ?? Infinity } };
}

function readRtcState(path: string): RtcState {
  const r = readJson(path) as Partial<RtcState> | null;
  const p = r?.params as Partial<RtcState['params']> | undefined;
  const ok =
    r && p && finite(r.manufacturedAtMs) && finite(r.anchorTrueMs) && finite(r.anchorRtcMs) && finite(r.temperatureC) && typeof r.valid === 'boolean' &&
    finite(p.crystalPpm) && finite(p.agingPpmPerYear) && finite(p.tempCoeffPpmPerC2) && finite(p.turnoverC) && finite(p.resetSec);
  if (!ok) throw new SimError('STATE', `${path}: not a tokenforge RTC state; delete it to start the clock invalid`);
  return r as RtcState;
}

export class SimToken {
  readonly options: SimTokenOptions;
  readonly display = new RecordingDisplay();
  readonly button: LatchedButton | AlwaysPressedButton;
  readonly rng: Rng;
  flash: RamFlash;
  device!: Device;
  readonly #decoder = new FrameDecoder();
  readonly #huk: Uint8Array;
  #unit: UnitDraw | undefined;
  #serialSeq: number;
  #lastSavedOps = -1;
  #lastRtc = '';
  #rebootTimer: NodeJS.Timeout | undefined;
  /** Where device-to-host bytes go (set by the runner). */
  output: (bytes: Uint8Array) => void = () => {};
  readonly startedAtMs: number;
  #jumpsDone = 0;
  #brownedOut = false;
  reboots = 0;

  constructor(options: SimTokenOptions) {
    this.options = options;
    this.#serialSeq = options.serialSeq;
    this.rng = options.rng ?? new CryptoRng();
    this.button = options.testMode ? new AlwaysPressedButton() : new LatchedButton();
    const profile = loadProfile(options.profile);
    const dir = options.stateDir;
    let rtcState: RtcState | undefined;
    if (dir) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const metaPath = join(dir, 'token.json');
      if (existsSync(metaPath)) {
        const meta = readMeta(metaPath);
        if (meta.profile !== options.profile) {
          throw new SimError('STATE', `state ${dir} holds a ${meta.profile} token, not ${options.profile}; use --profile ${meta.profile} or another --state`);
        }
        this.#unit = meta.unit;
        this.#serialSeq = meta.serialSeq;
      }
      const hukPath = join(dir, 'huk.key');
      if (existsSync(hukPath)) {
        this.#huk = new Uint8Array(readFileSync(hukPath));
        if (this.#huk.length !== 32) throw new SimError('STATE', `${hukPath}: must hold 32 bytes`);
      } else {
        this.#huk = new Uint8Array(32);
        new CryptoRng().fill(this.#huk);
        writeFileAtomic(hukPath, this.#huk);
      }
      const flashPath = join(dir, 'flash.img');
      this.flash = existsSync(flashPath) ? loadFlashImage(flashPath) : new RamFlash(profile.flash);
      const rtcPath = join(dir, 'rtc.json');
      if (existsSync(rtcPath)) rtcState = readRtcState(rtcPath);
    } else {
      this.#huk = new Uint8Array(32);
      this.rng.fill(this.#huk);
      this.flash = new RamFlash(profile.flash);
    }
    this.startedAtMs = options.clock.nowMs();
    this.#boot(rtcState, true);
  }

  #boot(rtcState: RtcState | undefined, first: boolean): void {
    const o = this.options;
    const f = o.faults;
    if (first && f?.powerCutAtOp !== undefined) this.flash.armPowerCut({ afterOps: f.powerCutAtOp, torn: f.tornWrite ?? false, rng: this.rng });
    const rtc = rtcState ?? (this.device ? this.device.rtc.save() : undefined);
    const opts = {
      profile: loadProfile(o.profile),
      flash: this.flash,
      clock: o.clock,
      rng: this.rng,
      button: this.button,
      display: this.display,
      log: o.log ?? NULL_LOG,
      huk: this.#huk,
      serialSeq: this.#serialSeq,
      testMode: o.testMode ?? false,
      ...(rtc ? { rtcState: rtc } : {}),
      ...(this.#unit ? { unit: this.#unit } : {}),
      ...(o.userPresenceTimeoutMs !== undefined ? { userPresenceTimeoutMs: o.userPresenceTimeoutMs } : {}),
    };
    try {
      this.device = new Device(opts);
    } catch (e) {
      if (!(e instanceof SimError && e.code === 'POWER_CUT')) throw e;
      this.flash.disarmPowerCut();
      this.device = new Device(opts);
    }
    this.#unit = this.device.unit;
    this.save();
  }

  /** Power cycle now: the RAM state is lost, the device boots again from its flash (and its RTC domain). */
  powerCycle(): void {
    if (this.#rebootTimer) clearTimeout(this.#rebootTimer);
    this.#rebootTimer = undefined;
    this.flash.disarmPowerCut();
    this.reboots++;
    this.#decoder.reset();
    this.#boot(undefined, false);
  }

  get serial(): string {
    return this.device.serial;
  }

  /** Bytes from the host. */
  input(chunk: Uint8Array): void {
    const f = this.options.faults ?? {};
    const bytes = applyLinkFaults(chunk, f, this.rng);
    const out: Uint8Array[] = [];
    for (const report of this.#decoder.push(bytes)) out.push(...this.device.handleReport(report));
    this.#afterDevice();
    this.#send(out);
  }

  /** Periodic work: device tick (keepalive, button), clock-jump faults, reboot after a power cut. */
  tick(): void {
    const jumps = this.options.faults?.clockJumps ?? [];
    const elapsedSec = (this.options.clock.nowMs() - this.startedAtMs) / 1000;
    while (this.#jumpsDone < jumps.length && elapsedSec >= jumps[this.#jumpsDone]!.atSec) {
      this.device.rtc.jump(jumps[this.#jumpsDone]!.bySec * 1000);
      this.#jumpsDone++;
    }
    const bo = this.options.faults?.brownOutAtSec;
    if (bo !== undefined && !this.#brownedOut && elapsedSec >= bo) {
      this.#brownedOut = true;
      this.device.rtc.brownOut();
    }
    const out = this.device.tick();
    this.#afterDevice();
    this.#send(out);
  }

  /** The physical button: completes a waiting host request, or (none waiting) shows the code of `slot`. */
  press(slot?: number): string {
    if (this.device.dead) return '';
    let shown = '';
    if (this.device.waitingForPress) {
      if (this.button instanceof LatchedButton) this.button.press(this.options.clock.nowMs());
      const before = this.display.events.length;
      const out = this.device.tick();
      if (this.display.events.length > before) shown = this.display.last ?? '';
      this.#afterDevice();
      this.#send(out);
    } else {
      shown = this.device.pressStandalone(slot);
      this.#afterDevice();
    }
    return shown;
  }

  #afterDevice(): void {
    this.save();
    if (this.device.dead && !this.#rebootTimer) {
      const after = this.options.faults?.rebootAfterMs ?? 200;
      if (after > 0) {
        this.#rebootTimer = setTimeout(() => {
          this.#rebootTimer = undefined;
          this.reboots++;
          this.#decoder.reset();
          this.#boot(undefined, false);
        }, after);
      }
    }
  }

  #send(reports: Uint8Array[]): void {
    if (reports.length === 0) return;
    const f = this.options.faults ?? {};
    const bytes = applyLinkFaults(encodeFrames(reports), f, this.rng);
    if (f.responseDelayMs) setTimeout(() => this.output(bytes), f.responseDelayMs);
    else this.output(bytes);
  }

  /** Saves the flash image (if it changed) and the RTC to the state directory. */
  save(force = false): void {
    const dir = this.options.stateDir;
    if (!dir) return;
    if (force || this.flash.opCount !== this.#lastSavedOps) {
      saveFlashImage(this.flash, join(dir, 'flash.img'));
      this.#lastSavedOps = this.flash.opCount;
      const meta: TokenMeta = { version: 1, profile: this.options.profile, serialSeq: this.#serialSeq, unit: this.#unit! };
      writeFileAtomic(join(dir, 'token.json'), JSON.stringify(meta, null, 2) + '\n');
    }
    if (this.device.profile.rtc) {
      // The RTC state changes only when it is re-anchored (set, jump, brown-out): write it only then.
      const rtc = JSON.stringify(this.device.rtc.save());
      if (force || rtc !== this.#lastRtc) {
        writeFileAtomic(join(dir, 'rtc.json'), rtc + '\n');
        this.#lastRtc = rtc;
      }
    }
  }

  close(): void {
    if (this.#rebootTimer) clearTimeout(this.#rebootTimer);
    this.#rebootTimer = undefined;
    if (!this.device.dead) this.save(true);
  }
}
