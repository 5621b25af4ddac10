/**
 * The token's hardware, behind ports (STYLE.md rules 1, 2, 9; modelled on OpenSK's `env`).
 *
 * The device core never calls Date.now(), Math.random() or the file system: time, randomness, the button, the
 * display and the log come in through these interfaces. Each has a deterministic test version (a clock you
 * advance, a seeded RNG, a button you press in code, a display that records what it showed) and a real one
 * used by the host runners. The flash port lives in flash.ts.
 */
import { randomBytes } from 'node:crypto';

/** Monotonic "true" time of the world the token lives in, in milliseconds since the Unix epoch. */
export interface Clock {
  /** Current time in ms. Never goes backwards unless a test or a fault injects a jump. */
  nowMs(): number;
}

/** A clock that moves only when told to (tests, fleet simulation). */
export class FakeClock implements Clock {
  #ms: number;
  constructor(startMs = 1_700_000_000_000) {
    this.#ms = startMs;
  }
  nowMs(): number {
    return this.#ms;
  }
  advance(ms: number): void {
    if (!Number.isFinite(ms)) throw new RangeError('advance: ms must be finite');
    this.#ms += ms;
  }
  set(ms: number): void {
    this.#ms = ms;
  }
}

/** Wall-clock time. */
export class SystemClock implements Clock {
  nowMs(): number {
    return Date.now();
  }
}

/**
 * Virtual time for `sim serve --time virtual`: starts at `startMs` and runs `scale` times faster than the wall
 * clock (scale 1 = real speed, 3600 = one hour per second); `jump(ms)` moves it at once (clock-jump fault).
 */
export class ScaledClock implements Clock {
  readonly #base: Clock;
  readonly #scale: number;
  readonly #wallStart: number;
  #startMs: number;
  constructor(startMs: number, scale = 1, base: Clock = new SystemClock()) {
    this.#base = base;
    this.#scale = scale;
    this.#wallStart = base.nowMs();
    this.#startMs = startMs;
  }
  nowMs(): number {
    return this.#startMs + (this.#base.nowMs() - this.#wallStart) * this.#scale;
  }
  jump(ms: number): void {
    this.#startMs += ms;
  }
}

/** Randomness. Test versions are seeded so that every failure replays. */
export interface Rng {
  fill(out: Uint8Array): void;
  /** Uniform float in [0, 1). */
  float(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/** xoshiro128** seeded through splitmix32: fast, small, deterministic; NOT for key generation outside tests. */
export class SeededRng implements Rng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;
  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next() | 1;
  }
  next32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }
  fill(out: Uint8Array): void {
    for (let i = 0; i < out.length; i += 4) {
      const v = this.next32();
      out[i] = v & 0xff;
      if (i + 1 < out.length) out[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < out.length) out[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < out.length) out[i + 3] = v >>> 24;
    }
  }
  float(): number {
    return this.next32() / 0x1_0000_0000;
  }
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** The operating system's CSPRNG (runners). */
export class CryptoRng implements Rng {
  fill(out: Uint8Array): void {
    out.set(randomBytes(out.length));
  }
  float(): number {
    return randomBytes(4).readUInt32LE(0) / 0x1_0000_0000;
  }
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
}

/**
 * The button. The device asks `consumePress()` when a command needs user presence; it returns true once per
 * physical press (a press is latched until consumed or until it expires after `latchMs`).
 */
export interface Button {
  consumePress(nowMs: number): boolean;
}

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

/** The display. `show` replaces what is shown; text is a code or a short status such as "Err 3". */
export interface Display {
  show(text: string, nowMs: number, forMs: number): void;
}

export interface DisplayEvent {
  text: string;
  atMs: number;
  forMs: number;
}

/** Records everything shown (tests, `sim press`). */
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

/** Log lines from the firmware. Never contain secret material. */
export interface Log {
  log(level: 'debug' | 'info' | 'warn', message: string): void;
}

export const NULL_LOG: Log = { log() {} };

export class MemoryLog implements Log {
  readonly lines: string[] = [];
  log(level: 'debug' | 'info' | 'warn', message: string): void {
    this.lines.push(`${level}: ${message}`);
  }
}
