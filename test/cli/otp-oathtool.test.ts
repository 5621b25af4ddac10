/**
 * Interop with oathtool (OATH Toolkit, Debian package `oathtool`), both as real processes.
 *
 * What oathtool supports: HOTP only with HMAC-SHA-1 (`--hotp`); TOTP with SHA1/SHA256/SHA512
 * (`--totp=MODE`), any time step (`-s`), and any time (`-N @SECONDS`, also dates past 2038). HOTP with SHA-256
 * and SHA-512 is therefore checked through oathtool's TOTP with a 1-second step at time C, whose time step is
 * exactly the counter C (RFC 6238: TOTP = HOTP(K, T)); oathtool accepts such times up to 2^63-1. oathtool has
 * no OCRA, so OCRA is covered by the RFC vectors only.
 *
 * Random keys of 16-64 bytes, counters below 2^63, 6-8 digits, all three hashes, times past 2038. The
 * generator is seeded (TF_OATH_SEED, default fixed) so that a failure replays; the seed is in the test name.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pool, runCli, runProcess } from './otp.helpers.ts';

const SEED = Number(process.env['TF_OATH_SEED'] ?? 20261128) >>> 0;

/** xorshift32: a small seeded generator (test data only). */
function rng(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const next = rng(SEED);
const int = (lo: number, hi: number): number => lo + (next() % (hi - lo + 1));
const u63 = (): bigint => ((BigInt(next()) << 32n) | BigInt(next())) & ((1n << 63n) - 1n);
const hexKey = (): string => Array.from({ length: int(16, 64) }, () => (next() & 255).toString(16).padStart(2, '0')).join('');

const WINDOW = 3;
const ALGORITHMS = ['SHA1', 'SHA256', 'SHA512'] as const;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tf-oath-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe(`oathtool interop (seed ${SEED})`, { timeout: 240_000 }, () => {
  it('oathtool is installed', async () => {
    const r = await runProcess('oathtool', ['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/OATH Toolkit/);
  });

  it('HOTP: random keys 16-64 bytes, counters < 2^63, 6-8 digits, SHA1/256/512, window 3', async () => {
    const cases = ALGORITHMS.flatMap((algorithm) => [6, 7, 8].map((digits) => ({ algorithm, digits, key: hexKey(), counter: u63() - BigInt(WINDOW) })));
    cases[0]!.counter = (1n << 63n) - 1n - BigInt(WINDOW); // the top of the range oathtool's time path accepts
    cases[1]!.counter = 0n;
    const jobs = cases.map((c, i) => async () => {
      // Every other case passes the key through a file, as a real seed would be.
      let keyArg = c.key;
      if (i % 2 === 1) {
        keyArg = `@${join(dir, `k${i}`)}`;
        writeFileSync(keyArg.slice(1), c.key);
      }
      const ours = await runCli(['otp', 'hotp', '--key', keyArg, '--counter', String(c.counter), '--digits', String(c.digits), '--algorithm', c.algorithm, '--window', String(WINDOW)]);
      const theirs =
        c.algorithm === 'SHA1'
          ? await runProcess('oathtool', ['--hotp', `--counter=${c.counter}`, `--digits=${c.digits}`, `--window=${WINDOW}`, c.key])
          : await runProcess('oathtool', [`--totp=${c.algorithm}`, '--time-step-size=1s', `--now=@${c.counter}`, `--digits=${c.digits}`, `--window=${WINDOW}`, c.key]);
      return { c, ours, theirs };
    });
    for (const { c, ours, theirs } of await pool(jobs)) {
      const label = `${c.algorithm} ${c.digits} digits, ${c.key.length / 2}-byte key, counter ${c.counter}`;
      expect(theirs.code, label).toBe(0);
      expect(ours.code, `${label}: ${ours.stderr}`).toBe(0);
      expect(ours.stdout.trim().split('\n'), label).toHaveLength(WINDOW + 1);
      expect(ours.stdout, label).toBe(theirs.stdout);
    }
  });

  it('TOTP past 2038: SHA1/256/512, random times up to the year 10000, 30 s and 60 s steps', async () => {
    const Y2038 = 2 ** 31;
    const jobs = ALGORITHMS.map((algorithm, i) => async () => {
      const key = hexKey();
      const digits = int(6, 8);
      const period = i === 1 ? 60 : 30;
      const times = [2_208_988_800, Y2038, 2 ** 32 + 7, ...Array.from({ length: 3 }, () => Y2038 + next() * 58)]; // up to 2^31 + 58 * 2^32 s, about the year 9900
      const ours = await runCli(['otp', 'totp', '--key', key, '--algorithm', algorithm, '--digits', String(digits), '--period', String(period), ...times.flatMap((t) => ['--time', String(t)])]);
      const theirs = await Promise.all(
        times.map((t, j) =>
          runProcess('oathtool', [
            `--totp=${algorithm}`,
            `--time-step-size=${period}s`,
            // One time as a calendar date, the way an operator would type it; the rest as @seconds.
            `--now=${j === 0 ? '2040-01-01 00:00:00 UTC' : `@${t}`}`,
            `--digits=${digits}`,
            key,
          ]),
        ),
      );
      return { algorithm, digits, period, times, ours, theirs };
    });
    for (const r of await pool(jobs)) {
      const label = `${r.algorithm} ${r.digits} digits, period ${r.period}, times ${r.times.join(',')}`;
      expect(r.ours.code, `${label}: ${r.ours.stderr}`).toBe(0);
      for (const t of r.theirs) expect(t.code, label).toBe(0);
      expect(r.ours.stdout, label).toBe(r.theirs.map((t) => t.stdout).join(''));
    }
  });

  it('a code from our CLI validates in oathtool at the same counter', async () => {
    const key = hexKey();
    const counter = u63() % 1_000_000n;
    const ours = await runCli(['otp', 'hotp', '--key', key, '--counter', String(counter + 5n)]);
    expect(ours.code).toBe(0);
    // oathtool validation mode prints the window position of the match (here 5).
    const check = await runProcess('oathtool', ['--hotp', `--counter=${counter}`, '--window=10', key, ours.stdout.trim()]);
    expect(check.code).toBe(0);
    expect(check.stdout.trim()).toBe('5');
  });
});
