/**
 * The real-time clock of a battery-powered token (DESIGN.md "The token model"; docs/simulator.md "RTC").
 *
 * RTC time advances at (1 + e(t)) times the true rate, where the frequency error in ppm is
 *   e(t) = crystalPpm + agingPpmPerYear * yearsSinceManufacture + tempCoeffPpmPerC2 * (temperatureC - turnoverC)^2
 * (a 32 kHz tuning-fork crystal: parabolic temperature curve, -0.034 ppm/°C² around 25 °C; ageing of a few
 * ppm in the first year). The integral is exact between "anchors": setting the time, changing the temperature
 * or a brown-out re-anchors. A brown-out (battery too weak) resets the counter to `resetSec` (the Unix epoch by
 * default) and marks the time invalid until the host sets it, as real tokens do.
 *
 * Pure given its Clock: the same true times give the same RTC times. State can be saved and restored (it is
 * the battery-backed domain, separate from flash).
 */
import { SimError } from './errors.ts';
import type { Clock } from './ports.ts';

export const YEAR_MS = 31_557_600_000; // Julian year, 365.25 days

export interface RtcParams {
  crystalPpm: number;
  agingPpmPerYear?: number;
  tempCoeffPpmPerC2?: number;
  turnoverC?: number;
  /** RTC value after a brown-out, in Unix seconds. */
  resetSec?: number;
}

export interface RtcState {
  params: Required<RtcParams>;
  manufacturedAtMs: number;
  anchorTrueMs: number;
  anchorRtcMs: number;
  temperatureC: number;
  valid: boolean;
}

export class Rtc {
  readonly #clock: Clock;
  #s: RtcState;

  constructor(clock: Clock, params: RtcParams, restored?: RtcState) {
    this.#clock = clock;
    if (!Number.isFinite(params.crystalPpm) || Math.abs(params.crystalPpm) > 10_000) {
      throw new SimError('INVALID_ARGUMENT', `rtc: crystalPpm ${params.crystalPpm} must be within ±10000`);
    }
    const now = clock.nowMs();
    this.#s = restored ?? {
      params: {
        crystalPpm: params.crystalPpm,
        agingPpmPerYear: params.agingPpmPerYear ?? 0,
        tempCoeffPpmPerC2: params.tempCoeffPpmPerC2 ?? -0.034,
        turnoverC: params.turnoverC ?? 25,
        resetSec: params.resetSec ?? 0,
      },
      manufacturedAtMs: now,
      anchorTrueMs: now,
      anchorRtcMs: now,
      temperatureC: params.turnoverC ?? 25,
      valid: true,
    };
  }

  /** Frequency error in ppm at true time `trueMs` (constant temperature since the anchor). */
  errorPpm(trueMs = this.#clock.nowMs()): number {
    const p = this.#s.params;
    const years = (trueMs - this.#s.manufacturedAtMs) / YEAR_MS;
    const dT = this.#s.temperatureC - p.turnoverC;
    return p.crystalPpm + p.agingPpmPerYear * years + p.tempCoeffPpmPerC2 * dT * dT;
  }

  /** RTC time in ms at the current true time. */
  nowMs(): number {
    return this.#at(this.#clock.nowMs());
  }

  #at(trueMs: number): number {
    const s = this.#s;
    const p = s.params;
    const dt = trueMs - s.anchorTrueMs;
    const dT = s.temperatureC - p.turnoverC;
    const constPpm = p.crystalPpm + p.tempCoeffPpmPerC2 * dT * dT;
    const y0 = (s.anchorTrueMs - s.manufacturedAtMs) / YEAR_MS;
    const y1 = (trueMs - s.manufacturedAtMs) / YEAR_MS;
    // ∫ agingPpmPerYear * y(t) dt over [anchor, now] = aging * YEAR_MS * (y1² - y0²) / 2
    const agingMs = p.agingPpmPerYear * YEAR_MS * (y1 * y1 - y0 * y0) / 2;
    return s.anchorRtcMs + dt + (constPpm * dt + agingMs) * 1e-6;
  }

  /** RTC time in whole Unix seconds (floor). */
  nowSec(): bigint {
    return BigInt(Math.floor(this.nowMs() / 1000));
  }

  get valid(): boolean {
    return this.#s.valid;
  }

  #reanchor(rtcMs: number): void {
    const now = this.#clock.nowMs();
    this.#s.anchorTrueMs = now;
    this.#s.anchorRtcMs = rtcMs;
  }

  /** Sets the RTC (SET_TIME). */
  setMs(rtcMs: number): void {
    this.#reanchor(rtcMs);
    this.#s.valid = true;
  }

  /** Moves the RTC by `ms` at once (clock-jump fault). */
  jump(ms: number): void {
    this.#reanchor(this.nowMs() + ms);
  }

  setTemperature(c: number): void {
    this.#reanchor(this.nowMs());
    this.#s.temperatureC = c;
  }

  /** Battery brown-out: the RTC restarts from `resetSec` and is invalid until set. */
  brownOut(): void {
    this.#reanchor(this.#s.params.resetSec * 1000);
    this.#s.valid = false;
  }

  save(): RtcState {
    return structuredClone(this.#s);
  }
}
