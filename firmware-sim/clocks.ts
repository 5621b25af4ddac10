/**
 * Virtual time (docs/simulator.md "The clock"): clocks that are part of the simulator, not test doubles. Pure:
 * a ManualClock moves only when told, a ScaledClock reads the clock it is built on (the wall clock in
 * host/system.ts for `sim serve --time virtual`). Both follow the Clock rules of ports.ts.
 */
import type { Clock } from './ports.ts';

/**
 * A clock that moves only when told: tests, benchmarks, and the demo's story time (`tokenforge demo`, where a
 * year passes in a second). `advance` never moves it backwards; `set` may (a test or a clock-jump fault).
 */
export class ManualClock implements Clock {
  #ms: number;
  /** The default start, 2023-11-14T22:13:20Z, is arbitrary and fixed, so that runs replay. */
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

/**
 * Virtual time for `sim serve --time virtual`: starts at `startMs` and runs `scale` times faster than `base`
 * (scale 1 = real speed, 3600 = one hour per second); `jump(ms)` moves it at once (clock-jump fault).
 */
export class ScaledClock implements Clock {
  readonly #base: Clock;
  readonly #scale: number;
  readonly #wallStart: number;
  #startMs: number;
  constructor(startMs: number, scale: number, base: Clock) {
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
