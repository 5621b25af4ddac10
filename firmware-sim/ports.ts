/**
 * The token's hardware, as port interfaces and their rules (STYLE.md rules 1, 2, 9; modelled on OpenSK's `env`).
 * This file holds only the contracts. The device core (device.ts) never calls Date.now(), Math.random(), the
 * file system or the network: time, randomness, persistence, the button, the display and the log come in
 * through these interfaces.
 *
 * Implementations:
 * - the simulator's own models, pure and used in production runs: clocks.ts (ManualClock, ScaledClock for
 *   virtual time), seeded-rng.ts (SeededRng for `--seed` runs), flash.ts (RamFlash, the strict NOR model),
 *   peripherals.ts (LatchedButton, AlwaysPressedButton, RecordingDisplay, NULL_LOG);
 * - the operating system's, in host/: host/system.ts (SystemClock, CryptoRng), host/files.ts (flash image files);
 * - test doubles, in testing/ (only test/ and bench/ import it).
 */

/**
 * The "true" time of the world the token lives in (not the token's own RTC, which rtc.ts derives from it).
 *
 * Rules:
 * - `nowMs()` returns milliseconds since the Unix epoch; the value may have a fractional part (virtual time
 *   scaled from the wall clock).
 * - Reading it has no side effect and never blocks; two reads with nothing in between may return the same value.
 * - It never goes backwards, except where a test or an injected fault (a clock jump) moves it on purpose.
 */
export interface Clock {
  nowMs(): number;
}

/**
 * Randomness for device keys, HUKs, nonces, PIN salts, serial digits, unit draws and fault injection.
 *
 * Rules:
 * - `fill(out)` overwrites every byte of `out` (any length, 0 included) with uniformly random bytes.
 * - `float()` is uniform in [0, 1); `int(n)` is a uniform integer in [0, n) for an integer n >= 1.
 * - Never throws for valid arguments and never blocks.
 * - A production token uses a CSPRNG (host/system.ts CryptoRng). A seeded generator (seeded-rng.ts) is
 *   deterministic, so a run replays from its seed, and is never a source of real key material.
 */
export interface Rng {
  fill(out: Uint8Array): void;
  float(): number;
  int(n: number): number;
}

/**
 * The button (user presence).
 *
 * Rules:
 * - The device asks `consumePress(nowMs)` when a command needs user presence and acts on `true` at once.
 * - One physical press answers `true` at most once: the call consumes it.
 * - A press counts only within its latch time before `nowMs` (a press long ago is not consent now); a press
 *   dated after `nowMs` does not count.
 * - Never blocks: a device waiting for a press asks again on its next tick.
 */
export interface Button {
  consumePress(nowMs: number): boolean;
}

/**
 * The display (an LCD on key fobs; absent on USB keys, where calls are harmless).
 *
 * Rules:
 * - `show(text, nowMs, forMs)` replaces whatever is shown: `text` is visible from `nowMs` for `forMs` ms,
 *   then the display is blank.
 * - `text` is a code or a short status ("Err 3", "rESEt"); it is never secret material (no seed, no PIN).
 */
export interface Display {
  show(text: string, nowMs: number, forMs: number): void;
}

export type LogLevel = 'debug' | 'info' | 'warn';

/**
 * Log lines from the firmware.
 *
 * Rules:
 * - A line never contains secret material: no seed, PIN, HUK or private key, in clear or encoded.
 * - `log` is synchronous, never throws and never blocks the device.
 */
export interface Log {
  log(level: LogLevel, message: string): void;
}

/** Flash words are 4 bytes: the unit of programming, alignment and `readWord`. */
export const WORD_SIZE = 4;

export interface FlashGeometry {
  pageSize: number;
  pageCount: number;
  maxWritesPerWord: number;
}

/**
 * NOR flash (DESIGN.md "The token model"; docs/flash-format.md §1).
 *
 * Rules every implementation enforces (the RAM model, flash.ts RamFlash, refuses to break them, like OpenSK's
 * strict RAM flash; a refused operation throws SimError FLASH_VIOLATION and changes nothing):
 * - Flash is `pageCount` pages of `pageSize` bytes, made of WORD_SIZE-byte words; addresses outside it are refused.
 * - `erase(page)` sets every byte of the page to 0xFF and increments the page's erase count.
 * - `write(addr, bytes)` programs whole words (`addr` and the length multiples of WORD_SIZE). Programming can only
 *   clear bits (1 -> 0): a word whose new value has a 1 where the flash holds a 0 is refused (erase first).
 * - Each word may be programmed at most `maxWritesPerWord` times between erases (nRF52: 2).
 * - Reads (`read`, `readWord` at a word-aligned address, little-endian) return copies and have no side effect.
 * - An operation interrupted by a power cut throws PowerCut (errors.ts); the caller must stop using the device.
 */
export interface Flash extends FlashGeometry {
  /** Copies `len` bytes from `addr`. */
  read(addr: number, len: number): Uint8Array;
  /** Reads the little-endian word at a word-aligned `addr` (fast path for scanning). */
  readWord(addr: number): number;
  /** Programs words; see the rules above. */
  write(addr: number, bytes: Uint8Array): void;
  erase(page: number): void;
  eraseCount(page: number): number;
}
