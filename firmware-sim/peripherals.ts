/**
 * The simulated token's button, display and log: the models SimToken (host/sim-token.ts) builds a device with,
 * and that tests use too. Pure, in memory; each follows its rules in ports.ts.
 */
import type { Button, Display, Log } from './ports.ts';

/** A button whose press is latched until consumed or until it expires after `latchMs`. */
export class LatchedButton implements Button {
  #pressedAtMs: number | undefined;
  readonly latchMs: number;
  constructor(latchMs = 10_000) {
    this.latchMs = latchMs;
  }
  press(nowMs: number): void {
    this.#pressedAtMs = nowMs;
  }
  consumePress(nowMs: number): boolean {
    const t = this.#pressedAtMs;
    this.#pressedAtMs = undefined;
    return t !== undefined && nowMs - t <= this.latchMs && nowMs >= t;
  }
}

/** A button that is always pressed (`--test-mode`). */
export class AlwaysPressedButton implements Button {
  consumePress(): boolean {
    return true;
  }
}

export interface DisplayEvent {
  text: string;
  atMs: number;
  forMs: number;
}

/** A display that remembers everything it showed (`sim press` prints it; tests read it). */
export class RecordingDisplay implements Display {
  readonly events: DisplayEvent[] = [];
  show(text: string, atMs: number, forMs: number): void {
    this.events.push({ text, atMs, forMs });
  }
  /** What the display shows at `nowMs` ('' when blank). */
  current(nowMs: number): string {
    const e = this.events[this.events.length - 1];
    return e && nowMs >= e.atMs && nowMs < e.atMs + e.forMs ? e.text : '';
  }
  get last(): string | undefined {
    return this.events[this.events.length - 1]?.text;
  }
}

/** A log that drops every line (the default when no log is given). */
export const NULL_LOG: Log = { log() {} };
