/**
 * OCRA on the simulated token, driven by the RFC 6287 Appendix C vectors as data (conformance/vectors/
 * rfc6287.json): every one-way challenge-response vector the token can hold (no PIN or session input) is
 * computed by the token through PUT_SLOT + CALCULATE — counter suites advance the token's own counter.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenClient } from '../../protocol/client.ts';
import { TEST_ATTESTATION_PUBLIC_KEY } from '../../protocol/test-attestation-key.ts';
import { startSimulator, type Simulator } from '../../firmware-sim/host/runners.ts';
import { ManualClock } from '../../firmware-sim/clocks.ts';
import { SeededRng } from '../../firmware-sim/seeded-rng.ts';

interface Vector {
  mode: string;
  suite: string;
  key_hex: string;
  counter: number | null;
  question: string;
  pin: string | null;
  session: string | null;
  timestamp: string | null;
  expected: string;
}
const file = JSON.parse(readFileSync(join(resolve(import.meta.dirname, '../..'), 'conformance', 'vectors', 'rfc6287.json'), 'utf8')) as { vectors: Vector[] };
const usable = file.vectors.filter((v) => v.mode === 'one-way challenge-response' && v.pin === null && v.session === null);
const suites = [...new Set(usable.map((v) => v.suite))];

const sims: Simulator[] = [];
afterAll(async () => {
  for (const s of sims) await s.close();
});

describe('OCRA slots against RFC 6287 Appendix C', () => {
  it('has vectors to run', () => {
    expect(suites.length).toBeGreaterThanOrEqual(3);
  });
  for (const suite of suites) {
    const vectors = usable.filter((v) => v.suite === suite);
    it(`${suite}: ${vectors.length} vectors`, async () => {
      const sim = await startSimulator({ link: 'memory', profile: 'multi-slot-key', clock: new ManualClock(1_700_000_000_000), rng: new SeededRng(6287), testMode: true });
      sims.push(sim);
      const client = await TokenClient.open(sim.tokens[0]!.openTransport!(), { trustAnchors: [TEST_ATTESTATION_PUBLIC_KEY], timeoutMs: 3000 });
      await client.authenticate('6287');
      const hasCounter = vectors[0]!.counter !== null;
      const params = hasCounter
        ? ({ slot: 1, touch: 'never', otp: { type: 'ocra', suite, counter: BigInt(vectors[0]!.counter!) } } as const)
        : ({ slot: 1, touch: 'never', otp: { type: 'ocra', suite } } as const);
      await client.putSlot(params, Buffer.from(vectors[0]!.key_hex, 'hex'));
      for (const v of vectors) {
        if (v.timestamp !== null) {
          // T counts minutes for T1M; set the clock to the middle of that minute.
          await client.setTime(BigInt(parseInt(v.timestamp, 16)) * 60n + 30n, { allowRollback: true });
        }
        const r = await client.calculate(1, { challenge: v.question });
        expect(r.code).toBe(v.expected);
        if (hasCounter) expect(r.counter).toBe(BigInt(v.counter!));
      }
      await client.close();
    });
  }

  it('an OCRA counter wraps from 2^64-1 to 0 (RFC 6287 §5.1); an HOTP counter is exhausted there instead', async () => {
    const sim = await startSimulator({ link: 'memory', profile: 'multi-slot-key', clock: new ManualClock(1_700_000_000_000), rng: new SeededRng(1), testMode: true });
    sims.push(sim);
    const client = await TokenClient.open(sim.tokens[0]!.openTransport!(), { trustAnchors: [TEST_ATTESTATION_PUBLIC_KEY], timeoutMs: 3000 });
    await client.authenticate('6287');
    const max = (1n << 64n) - 1n;
    const key = Buffer.from('3132333435363738393031323334353637383930', 'hex');
    await client.putSlot({ slot: 0, touch: 'never', otp: { type: 'ocra', suite: 'OCRA-1:HOTP-SHA1-6:C-QN08', counter: max } }, key);
    expect((await client.calculate(0, { challenge: '00000000' })).counter).toBe(max);
    expect((await client.calculate(0, { challenge: '00000000' })).counter).toBe(0n);
    await client.putSlot({ slot: 1, touch: 'never', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: max - 1n } }, key);
    expect((await client.calculate(1)).counter).toBe(max - 1n);
    await expect(client.calculate(1)).rejects.toMatchObject({ code: 'COUNTER_EXHAUSTED' });
    await client.close();
  });
});
