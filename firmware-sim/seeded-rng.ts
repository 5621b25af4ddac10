/**
 * A deterministic RNG for reproducible runs: `--seed` of `tokenforge sim serve`, `sim fleet` and `demo`, and the
 * tests (STYLE.md rule 2: every failure replays). It is a feature of the simulator, not a test double: the same
 * seed gives the same serials, device keys, unit draws and faults. It is NOT a CSPRNG: the keys it makes are
 * for simulated tokens only (host/system.ts CryptoRng is the default).
 *
 * Algorithm: xoshiro128** (Blackman and Vigna), its state seeded through a splitmix32-style mixer. The output
 * sequence for a seed is part of the replay contract: changing it changes every seeded run.
 */
import type { Rng } from './ports.ts';

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
