/**
 * The operating system behind the ports (STYLE.md rule 1: effects live in the shell): the wall clock and the
 * CSPRNG. Each follows its rules in ports.ts.
 */
import { randomBytes } from 'node:crypto';
import type { Clock, Rng } from '../ports.ts';

/** Wall-clock time. */
export class SystemClock implements Clock {
  nowMs(): number {
    return Date.now();
  }
}

/** The operating system's CSPRNG: the default RNG of every simulated token. */
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
