/**
 * Fault injection settings (DESIGN.md "Fault injection"; docs/simulator.md "Faults"). Data only: the host
 * runner applies link faults to the byte stream, the flash model applies power cuts, the RTC applies jumps.
 */
import { SimError } from './errors.ts';
import type { Rng } from './ports.ts';

export interface Faults {
  /** Cut the power at the Nth flash operation after boot (word program or page erase), once. */
  powerCutAtOp?: number;
  /** Leave the interrupted flash operation half done. */
  tornWrite?: boolean;
  /** Milliseconds until a power-cut device boots again (0 = stays off until the runner is restarted). */
  rebootAfterMs?: number;
  /** Probability that one byte on the link (either direction) is dropped. */
  dropRate?: number;
  /** Probability that one byte on the link (either direction) gets one bit flipped. */
  corruptRate?: number;
  /** Delay of every device-to-host write, in ms. */
  responseDelayMs?: number;
  /** Clock jumps: move the RTC by `bySec` when `atSec` seconds of runner time have passed. */
  clockJumps?: { atSec: number; bySec: number }[];
  /** Battery brown-out `atSec` seconds after start: the RTC restarts at the epoch, invalid until SET_TIME. */
  brownOutAtSec?: number;
}

export function checkFaults(f: Faults): Faults {
  const rate = (v: number | undefined, name: string) => {
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new SimError('INVALID_ARGUMENT', `${name}: ${v} must be a probability in 0..1`);
  };
  rate(f.dropRate, 'drop rate');
  rate(f.corruptRate, 'corrupt rate');
  if (f.powerCutAtOp !== undefined && !(Number.isInteger(f.powerCutAtOp) && f.powerCutAtOp >= 0)) {
    throw new SimError('INVALID_ARGUMENT', `power cut: ${f.powerCutAtOp} must be a flash operation index >= 0`);
  }
  if (f.responseDelayMs !== undefined && !(f.responseDelayMs >= 0 && f.responseDelayMs <= 60_000)) {
    throw new SimError('INVALID_ARGUMENT', `response delay: ${f.responseDelayMs} must be 0..60000 ms`);
  }
  return f;
}

/** Parses "SEC@AT" (jump by SEC seconds after AT seconds), e.g. "3600@10" or "-120@5". */
export function parseClockJump(text: string): { atSec: number; bySec: number } {
  const m = /^([+-]?\d+)@(\d+)$/.exec(text);
  if (!m) throw new SimError('INVALID_ARGUMENT', `clock jump "${text}": use SEC@AT, e.g. 3600@10 (jump +1 h after 10 s)`);
  return { bySec: Number(m[1]), atSec: Number(m[2]) };
}

/** Applies drop/corrupt faults to a chunk; returns the bytes that survive (a new array when changed). */
export function applyLinkFaults(chunk: Uint8Array, f: Faults, rng: Rng): Uint8Array {
  const drop = f.dropRate ?? 0;
  const corrupt = f.corruptRate ?? 0;
  if (drop === 0 && corrupt === 0) return chunk;
  const out: number[] = [];
  for (const b of chunk) {
    if (drop > 0 && rng.float() < drop) continue;
    out.push(corrupt > 0 && rng.float() < corrupt ? b ^ (1 << rng.int(8)) : b);
  }
  return Uint8Array.from(out);
}
