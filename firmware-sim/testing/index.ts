/**
 * Test doubles of the ports (STYLE.md rules 2, 9): what exists only so that tests and benchmarks can watch the
 * device. Library code never imports this module (tools/lint-deps.ts: only test/ and bench/ may).
 *
 * The simulator's own models are not here, because production runs use them: ManualClock (clocks.ts, the
 * demo's story time), SeededRng (seeded-rng.ts, `--seed`), RamFlash (flash.ts, the flash every simulated
 * token runs on), LatchedButton / AlwaysPressedButton / RecordingDisplay / NULL_LOG (peripherals.ts).
 */
import type { Log, LogLevel } from '../ports.ts';

/** A log that keeps every line as "level: message", for assertions. */
export class MemoryLog implements Log {
  readonly lines: string[] = [];
  log(level: LogLevel, message: string): void {
    this.lines.push(`${level}: ${message}`);
  }
}
