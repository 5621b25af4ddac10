/**
 * Fleet simulation in virtual time (`tokenforge sim fleet`; docs/simulator.md "Fleet"): N tokens of one
 * profile, each with its own crystal error, ageing and battery drawn from the profile, pressed once a day at a
 * random time for D days. Each press computes the real code with the fast HOTP engine (otp/engine.ts) and a
 * verifier model checks it twice:
 *
 *  - plain: a fixed window of ±`window` steps around the true time step (no memory);
 *  - drift tracking (RFC 6238 §6): a window of ±`window` steps around true step + the drift learned for this
 *    token; on a match the learned drift becomes the matched offset. (This is a model of the rule, kept here
 *    so the simulator does not depend on verifier/.)
 *
 * HOTP profiles: the user sometimes presses without logging in (`unusedPressRate`), so the token runs ahead;
 * the verifier looks ahead `lookAhead` counters (plain and tracking are the same rule for HOTP).
 *
 * A token "drifted outside" when its time step differs from the true one by more than `window` at the press.
 * Battery: past its drawn life a token is dead (no more presses); brown-outs (profile rate) reset the RTC to
 * the epoch, after which its codes are rejected until the time is set again (we model a re-sync by the
 * help desk after `resyncAfterDays`).
 *
 * Deterministic for a given RNG seed; no I/O.
 */
import { createHotpEngine, type HotpEngine } from '../otp/engine.ts';
import { DEFAULT_PERIOD_SEC } from '../otp/otp-params.ts';
import type { Rng } from './ports.ts';
import { drawUnit, type Profile } from './profiles.ts';
import { YEAR_MS } from './rtc.ts';

export interface FleetOptions {
  count: number;
  days: number;
  profile: Profile;
  rng: Rng;
  /** Days per report bucket. */
  bucketDays?: number;
  /** Verifier window in steps (TOTP) around the expected step. */
  window?: number;
  /** HOTP look-ahead. */
  lookAhead?: number;
  /** HOTP: probability that a press is not used to log in. */
  unusedPressRate?: number;
  /** Model seasonal temperature (15 ± 10 °C) acting on the crystal's parabolic curve. */
  temperature?: boolean;
  /** Days after a brown-out until the token's clock is set again. */
  resyncAfterDays?: number;
  /** Start of the simulation (true time), ms. */
  startMs?: number;
}

export interface FleetBucket {
  fromDay: number;
  toDay: number;
  /** Presses made in the bucket. */
  presses: number;
  /** Codes submitted to the verifier (HOTP: presses minus unused ones). */
  submitted: number;
  /** Tokens alive (battery not exhausted) at the end of the bucket. */
  alive: number;
  /** Tokens whose clock is outside the plain ±window (HOTP: whose counter leads by more than the look-ahead) at the end of the bucket. */
  outside: number;
  /** Largest |offset| in steps at the end of the bucket. */
  maxOffsetSteps: number;
  /** Share of presses accepted by the plain window verifier. */
  acceptedPlain: number;
  /** Share of presses accepted by the drift-tracking verifier. */
  acceptedTracking: number;
  brownOuts: number;
}

export interface FleetReport {
  profile: string;
  /** 'totp': offsets are clock steps; 'hotp': offsets are the token counter's lead over the server's. */
  kind: 'totp' | 'hotp';
  lookAhead: number;
  count: number;
  days: number;
  window: number;
  buckets: FleetBucket[];
  totals: { presses: number; submitted: number; acceptedPlain: number; acceptedTracking: number; brownOuts: number; deadBatteries: number; hmacs: number };
  elapsedMs?: number;
}

const DAY_MS = 86_400_000;

export function simulateFleet(o: FleetOptions): FleetReport {
  const { count, days, profile, rng } = o;
  const window = o.window ?? 1;
  const lookAhead = o.lookAhead ?? 10;
  const bucketDays = o.bucketDays ?? Math.max(1, Math.ceil(days / 12));
  const unusedRate = o.unusedPressRate ?? 0.1;
  const resyncDays = o.resyncAfterDays ?? 7;
  const startMs = o.startMs ?? Date.UTC(2026, 0, 1);
  const slot = profile.slots[0]!;
  const isTotp = slot.types[0] === 'totp';
  const hasRtc = profile.rtc !== null;
  const periodMs = (slot.defaults.periodSec ?? DEFAULT_PERIOD_SEC) * 1000;
  const tempCoeff = profile.rtc?.tempCoeffPpmPerC2 ?? 0;

  // Per-token state in typed arrays (10,000 tokens x 365 days must take seconds).
  const engines: HotpEngine[] = [];
  const ppm = new Float64Array(count);
  const aging = new Float64Array(count);
  const life = new Float64Array(count);
  const offsetMs = new Float64Array(count); // RTC minus true time
  const rtcValid = new Uint8Array(count).fill(1);
  const invalidSince = new Int32Array(count);
  const learned = new Int32Array(count); // drift-tracking verifier: learned offset (steps)
  const tokenCounter = new Float64Array(count); // HOTP
  const serverCounter = new Float64Array(count);
  const seed = new Uint8Array(20);
  const windowCodes = new Float64Array(2 * window + 1);
  for (let i = 0; i < count; i++) {
    const u = drawUnit(profile, rng);
    ppm[i] = u.crystalPpm;
    aging[i] = u.agingPpmPerYear;
    life[i] = u.batteryLifeDays;
    rng.fill(seed);
    engines.push(createHotpEngine(seed, { algorithm: slot.defaults.algorithm, digits: slot.defaults.digits }));
  }
  const brownOutPerDay = (profile.battery?.brownOutsPerYear ?? 0) / 365.25;
  const buckets: FleetBucket[] = [];
  const totals = { presses: 0, submitted: 0, acceptedPlain: 0, acceptedTracking: 0, brownOuts: 0, deadBatteries: 0, hmacs: 0 };
  let b: FleetBucket | undefined;
  let accPlain = 0;
  let accTrack = 0;
  const dead = new Uint8Array(count);

  for (let day = 0; day < days; day++) {
    if (!b || day >= b.toDay) {
      b = { fromDay: day, toDay: Math.min(days, day + bucketDays), presses: 0, submitted: 0, alive: 0, outside: 0, maxOffsetSteps: 0, acceptedPlain: 0, acceptedTracking: 0, brownOuts: 0 };
      buckets.push(b);
      accPlain = 0;
      accTrack = 0;
    }
    const dayStartMs = startMs + day * DAY_MS;
    // Seasonal temperature: 15 °C ± 10 °C over the year; the crystal error is parabolic around 25 °C.
    const tempC = o.temperature === false ? 25 : 15 + 10 * Math.sin((2 * Math.PI * day) / 365.25);
    const tempPpm = tempCoeff * (tempC - 25) * (tempC - 25);
    const years = (day + 0.5) / 365.25;
    for (let i = 0; i < count; i++) {
      if (dead[i]) continue;
      if (day >= life[i]!) {
        dead[i] = 1;
        totals.deadBatteries++;
        continue;
      }
      // Integrate the RTC error over this day.
      if (hasRtc) {
        offsetMs[i] = offsetMs[i]! + DAY_MS * 1e-6 * (ppm[i]! + aging[i]! * years + tempPpm);
        if (brownOutPerDay > 0 && rng.float() < brownOutPerDay) {
          rtcValid[i] = 0;
          invalidSince[i] = day;
          totals.brownOuts++;
          b.brownOuts++;
        } else if (!rtcValid[i] && day - invalidSince[i]! >= resyncDays) {
          rtcValid[i] = 1; // help desk sets the clock again
          offsetMs[i] = 0;
          learned[i] = 0;
        }
      }
      const engine = engines[i]!;
      const pressMs = dayStartMs + rng.float() * DAY_MS;
      b.presses++;
      totals.presses++;
      if (isTotp) {
        const trueStep = Math.floor(pressMs / periodMs);
        // A brown-out resets the RTC to the epoch: the token shows codes for 1970.
        const tokenStep = rtcValid[i] ? Math.floor((pressMs + offsetMs[i]!) / periodMs) : Math.floor((pressMs - dayStartMs) / periodMs);
        const value = engine.value(BigInt(tokenStep));
        totals.hmacs++;
        b.submitted++;
        // Both verifiers compare the code with the codes of their window's steps. Each step's code is computed
        // once per press (the windows overlap while the learned drift is small) and the token's own step reuses
        // the token's value: exact, with the fewest HMACs.
        const lo1 = trueStep - window;
        const lo2 = trueStep + learned[i]! - window;
        const w = 2 * window + 1;
        let plainHit = false;
        let trackHit = -1;
        for (let k = 0; k < w; k++) {
          const s1 = lo1 + k;
          let v1 = value;
          if (s1 !== tokenStep) {
            totals.hmacs++;
            v1 = engine.value(BigInt(s1));
          }
          windowCodes[k] = v1;
          if (v1 === value) plainHit = true;
        }
        for (let k = 0; k < w && trackHit < 0; k++) {
          const s2 = lo2 + k;
          let v2 = value;
          if (s2 >= lo1 && s2 < lo1 + w) v2 = windowCodes[s2 - lo1]!;
          else if (s2 !== tokenStep) {
            totals.hmacs++;
            v2 = engine.value(BigInt(s2));
          }
          if (v2 === value) trackHit = s2;
        }
        if (plainHit) accPlain++;
        if (trackHit >= 0) {
          accTrack++;
          learned[i] = trackHit - trueStep;
        }
      } else {
        // HOTP: the token counter runs ahead when presses go unused.
        const c = tokenCounter[i]!;
        tokenCounter[i] = c + 1;
        const value = engine.value(BigInt(c));
        totals.hmacs++;
        if (rng.float() < unusedRate) continue;
        b.submitted++;
        // Look-ahead scan from the server counter; the model may stop at the first match (the real verifier
        // scans the whole window for constant time, which does not change the outcome).
        const sc = serverCounter[i]!;
        for (let k = 0; k <= lookAhead; k++) {
          let v = value;
          if (sc + k !== c) {
            totals.hmacs++;
            v = engine.value(BigInt(sc + k));
          }
          if (v === value) {
            accPlain++;
            accTrack++;
            serverCounter[i] = sc + k + 1;
            break;
          }
        }
      }
    }
    if (day === b.toDay - 1) {
      let alive = 0;
      let outside = 0;
      let maxOff = 0;
      for (let i = 0; i < count; i++) {
        if (dead[i]) continue;
        alive++;
        let off: number;
        if (isTotp) {
          off = rtcValid[i] ? Math.abs(offsetMs[i]! / periodMs) : Infinity;
        } else {
          off = tokenCounter[i]! - serverCounter[i]!;
        }
        if (isTotp ? off > window : off > lookAhead) outside++;
        if (Number.isFinite(off)) maxOff = Math.max(maxOff, off);
      }
      b.alive = alive;
      b.outside = outside;
      b.maxOffsetSteps = Math.round(maxOff * 100) / 100;
      b.acceptedPlain = b.submitted ? accPlain / b.submitted : 0;
      b.acceptedTracking = b.submitted ? accTrack / b.submitted : 0;
      totals.submitted += b.submitted;
      totals.acceptedPlain += accPlain;
      totals.acceptedTracking += accTrack;
    }
  }
  for (const e of engines) e.destroy();
  return { profile: profile.name, kind: isTotp ? 'totp' : 'hotp', lookAhead, count, days, window, buckets, totals };
}

/** Expected RTC offset after `ms` of true time at a constant `ppm` (the drift figure in the docs). */
export function expectedOffsetMs(ppm: number, ms: number = YEAR_MS): number {
  return ms * ppm * 1e-6;
}
