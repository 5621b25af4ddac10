/**
 * The simulated token end to end over an in-memory link with the real host client (protocol/client.ts):
 * command semantics, PIN retry/blocked state, lock, rollback guard, button-gated CALCULATE and RESET, state
 * across restarts, and codes equal to oathtool's (spawned) for the same seed and counter/time.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenClient } from '../../protocol/client.ts';
import { TEST_ATTESTATION_PUBLIC_KEY } from '../../protocol/test-attestation-key.ts';
import { ManualClock } from '../../firmware-sim/clocks.ts';
import { SeededRng } from '../../firmware-sim/seeded-rng.ts';
import { startSimulator, type Simulator } from '../../firmware-sim/host/runners.ts';
import { SimToken } from '../../firmware-sim/host/sim-token.ts';

const dir = mkdtempSync(join(tmpdir(), 'tf-simdev-'));
const sims: Simulator[] = [];
afterAll(async () => {
  for (const s of sims) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const seedHex = '3132333435363738393031323334353637383930';
const seed = Buffer.from(seedHex, 'hex');

function oathtool(args: string[]): string {
  return execFileSync('oathtool', args, { encoding: 'utf8' }).trim();
}

async function start(opts: Partial<Parameters<typeof startSimulator>[0]> = {}) {
  const clock = new ManualClock(1_750_000_000_000);
  const sim = await startSimulator({ link: 'memory', profile: 'hotp-fob', clock, rng: new SeededRng(42), testMode: true, ...opts });
  sims.push(sim);
  const client = await TokenClient.open(sim.tokens[0]!.openTransport!(), { trustAnchors: [TEST_ATTESTATION_PUBLIC_KEY], timeoutMs: 2000 });
  return { sim, client, clock };
}

describe('simulated token over an in-memory link', () => {
  it('answers GET_INFO with an attested device key, in FACTORY state', async () => {
    const { client } = await start();
    const info = await client.verifiedInfo();
    expect(info.model).toBe('TF-FOBH');
    expect(info.serial).toMatch(/^H1\d{9}$/);
    expect(info.state).toBe('FACTORY');
    expect(info.slotCount).toBe(1);
    expect(info.slotsUsed).toBe(0);
    expect(info.rtcTimeSec).toBeUndefined();
    const st = await client.selfTest();
    expect(st).toEqual({ passed: true, failed: [] });
    await client.close();
  });

  it('HOTP codes equal oathtool for the same seed and counters; the counter is on the token', async () => {
    const { client } = await start();
    await client.authenticate('123456');
    await client.putSlot({ slot: 0, touch: 'always', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 5n } }, seed);
    const expected = oathtool(['--hotp', '-c', '5', '-w', '4', seedHex]).split('\n');
    const got: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await client.calculate(0);
      expect(r.counter).toBe(BigInt(5 + i));
      got.push(r.code);
    }
    expect(got).toEqual(expected);
    const slot = await client.getSlot(0);
    expect(slot.params).toMatchObject({ otp: { type: 'hotp', counter: 10n } });
    expect(Buffer.from(slot.kcv).toString('hex')).toHaveLength(6);
    await client.close();
  });

  it('TOTP codes equal oathtool for the same seed and time (60 s step)', async () => {
    const { client, clock, sim } = await start({ profile: 'totp-60s-fob' });
    await client.authenticate('1234');
    await client.putSlot({ slot: 0, touch: 'never', otp: { type: 'totp', algorithm: 'SHA1', digits: 6, periodSec: 60, t0Sec: 0n } }, seed);
    for (const t of [1_111_111_109, 1_234_567_890, 2_000_000_000]) {
      await client.setTime(BigInt(t), { allowRollback: true });
      clock.advance(0);
      const r = await client.calculate(0);
      const when = new Date(Number(sim.tokens[0]!.token.device.rtc.nowSec()) * 1000).toISOString().replace('T', ' ').slice(0, 19);
      expect(r.code).toBe(oathtool(['--totp', '-s', '60', '-N', `${when} UTC`, seedHex]));
    }
    await client.close();
  });

  it('enforces the admin PIN: retries persist, the token blocks, RESET (button) recovers', async () => {
    const { client, sim } = await start({ testMode: false });
    await client.authenticate('2468');
    const other = await TokenClient.open(sim.tokens[0]!.openTransport!(), { trustAnchors: [TEST_ATTESTATION_PUBLIC_KEY], timeoutMs: 2000 });
    await expect(other.putSlot({ slot: 0, touch: 'never', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } }, seed)).rejects.toMatchObject({ code: 'NOT_AUTHENTICATED' });
    for (let i = 0; i < 9; i++) await expect(other.authenticate('0000')).rejects.toMatchObject({ code: 'PIN_INVALID' });
    expect((await other.info()).pinRetries).toBe(1);
    await expect(other.authenticate('0000')).rejects.toMatchObject({ code: 'PIN_BLOCKED' });
    expect((await other.info()).state).toBe('PIN_BLOCKED');
    await expect(other.authenticate('2468')).rejects.toMatchObject({ code: 'PIN_BLOCKED' });
    // RESET waits for the button; press it while the request is pending.
    const pending = other.reset();
    await new Promise((r) => setTimeout(r, 100));
    expect(sim.tokens[0]!.token.device.waitingForPress).toBe(true);
    sim.tokens[0]!.press();
    await pending;
    const info = await other.info();
    expect(info.state).toBe('FACTORY');
    expect(info.pinRetries).toBe(10);
    await other.close();
    await client.close();
  });

  it('CALCULATE on a touch slot waits for the button; LOCK makes slots immutable', async () => {
    const { client, sim } = await start({ testMode: false });
    await client.authenticate('13579');
    await client.putSlot({ slot: 0, touch: 'always', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } }, seed);
    const p = client.calculate(0);
    await new Promise((r) => setTimeout(r, 100));
    expect(sim.tokens[0]!.token.device.waitingForPress).toBe(true);
    expect(sim.tokens[0]!.press()).toBe('755224');
    expect((await p).code).toBe('755224');
    await client.lock();
    expect((await client.info()).state).toBe('LOCKED');
    await expect(client.putSlot({ slot: 0, touch: 'never', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } }, seed)).rejects.toMatchObject({ code: 'SLOT_LOCKED' });
    await expect(client.deleteSlot(0)).rejects.toMatchObject({ code: 'SLOT_LOCKED' });
    await expect(client.lock()).rejects.toMatchObject({ code: 'WRONG_STATE' });
    await expect(client.getSlot(1)).rejects.toMatchObject({ code: 'NO_SUCH_SLOT' });
    // a stand-alone press shows the next code (counter 1 -> 287082, RFC 4226 App. D)
    expect(sim.tokens[0]!.press()).toBe('287082');
    await client.close();
  });

  it('SET_TIME has a rollback guard; a multi-slot key has no RTC until the host sets it', async () => {
    const { client } = await start({ profile: 'multi-slot-key' });
    const info = await client.info();
    expect(info.slotCount).toBe(18);
    expect(info.rtcTimeSec).toBeUndefined();
    await client.authenticate('0000');
    await client.putSlot({ slot: 3, touch: 'never', otp: { type: 'totp', algorithm: 'SHA256', digits: 8, periodSec: 30, t0Sec: 0n } }, seed);
    await expect(client.calculate(3)).rejects.toMatchObject({ code: 'RTC_INVALID' });
    await expect(client.putSlot({ slot: 0, touch: 'never', otp: { type: 'totp', algorithm: 'SHA1', digits: 6, periodSec: 30, t0Sec: 0n } }, seed)).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await client.setTime(2_000_000_000n);
    expect(await client.getTime()).toEqual({ timeSec: 2_000_000_000n, valid: true });
    await expect(client.setTime(1_999_999_000n)).rejects.toMatchObject({ code: 'TIME_ROLLBACK' });
    await client.setTime(1_999_999_000n, { allowRollback: true });
    const seed32 = Buffer.from('12345678901234567890123456789012');
    await client.putSlot({ slot: 4, touch: 'never', otp: { type: 'totp', algorithm: 'SHA256', digits: 8, periodSec: 30, t0Sec: 0n } }, seed32);
    await client.setTime(1_111_111_109n, { allowRollback: true });
    expect((await client.calculate(4)).code).toBe('68084774'); // RFC 6238 App. B, SHA256
    // OCRA on a HOTP/OCRA slot: RFC 6287 C.1 one-way challenge-response, OCRA-1:HOTP-SHA1-6:QN08, Q=00000000 -> 237653
    await client.putSlot({ slot: 1, touch: 'never', otp: { type: 'ocra', suite: 'OCRA-1:HOTP-SHA1-6:QN08' } }, seed);
    expect((await client.calculate(1, { challenge: '00000000' })).code).toBe('237653');
    await expect(client.calculate(1)).rejects.toMatchObject({ code: 'MISSING_PARAMETER' });
    await client.close();
  });

  it('virtual time runs at the chosen scale from the chosen start', async () => {
    const sim = await startSimulator({ link: 'memory', profile: 'totp-60s-fob', time: 'virtual', virtualStartMs: 2_000_000_000_000, timeScale: 3600, rng: new SeededRng(4) });
    sims.push(sim);
    const client = await TokenClient.open(sim.tokens[0]!.openTransport!(), { timeoutMs: 2000 });
    const a = await client.getTime();
    await new Promise((r) => setTimeout(r, 300));
    const b = await client.getTime();
    expect(a.timeSec).toBeGreaterThanOrEqual(2_000_000_000n);
    expect(b.timeSec - a.timeSec).toBeGreaterThanOrEqual(1000n); // >= 0.3 s x 3600, less the crystal error
    await client.close();
  });

  it('a multi-slot key holds all 18 slots with 64-byte SHA-512 seeds', async () => {
    const { client } = await start({ profile: 'multi-slot-key' });
    await client.authenticate('0000');
    const big = Buffer.alloc(64, 7);
    for (let s = 0; s < 18; s++) {
      const params = s < 3 ? ({ slot: s, touch: 'never', otp: { type: 'hotp', algorithm: 'SHA512', digits: 8, counter: 0n } } as const) : ({ slot: s, touch: 'never', otp: { type: 'totp', algorithm: 'SHA512', digits: 8, periodSec: 30, t0Sec: 0n } } as const);
      await client.putSlot(params, big);
    }
    const info = await client.info();
    expect(info.slotsUsed).toBe(18);
    for (let i = 0; i < 50; i++) await client.calculate(i % 3);
    expect((await client.getSlot(2)).params).toMatchObject({ otp: { counter: 16n } });
    await client.close();
  });

  it('keeps seeds, counters and settings across restarts in --state, and never writes a seed in clear', async () => {
    const stateDir = join(dir, 'state1');
    const a = await start({ stateDir });
    await a.client.authenticate('5555');
    await a.client.putSlot({ slot: 0, touch: 'never', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } }, seed);
    expect((await a.client.calculate(0)).code).toBe('755224');
    const serial = (await a.client.info()).serial;
    await a.client.close();
    await a.sim.close();
    const image = readFileSync(join(stateDir, 'token-0', 'flash.img'));
    expect(image.includes(seed)).toBe(false);
    const b = await start({ stateDir });
    const info = await b.client.info();
    expect(info.serial).toBe(serial);
    expect(info.state).toBe('PROVISIONED');
    expect((await b.client.calculate(0)).code).toBe('287082');
    await b.client.close();
  });

  it('refuses damaged state files with STATE / FLASH_IMAGE codes instead of running on garbage', async () => {
    const stateDir = join(dir, 'state-bad');
    const a = await start({ stateDir, profile: 'totp-60s-fob' });
    await a.client.close();
    await a.sim.close();
    const tokenDir = join(stateDir, 'token-0');
    const open = () => new SimToken({ profile: 'totp-60s-fob', stateDir: tokenDir, serialSeq: 1, clock: new ManualClock() });
    const good = { meta: readFileSync(join(tokenDir, 'token.json')), rtc: readFileSync(join(tokenDir, 'rtc.json')), flash: readFileSync(join(tokenDir, 'flash.img')) };
    const cases: [string, string, string | Uint8Array, string][] = [
      ['token.json not JSON', 'token.json', '{oops', 'STATE'],
      ['token.json wrong shape', 'token.json', '{"version":1,"profile":"totp-60s-fob","serialSeq":1,"unit":{"crystalPpm":"x"}}', 'STATE'],
      ['rtc.json wrong shape', 'rtc.json', '{"params":{},"valid":true}', 'STATE'],
      ['flash image truncated', 'flash.img', good.flash.subarray(0, 100), 'FLASH_IMAGE'],
    ];
    for (const [, name, content, code] of cases) {
      writeFileSync(join(tokenDir, name), content);
      expect(open).toThrow(expect.objectContaining({ code }));
      writeFileSync(join(tokenDir, 'token.json'), good.meta);
      writeFileSync(join(tokenDir, 'rtc.json'), good.rtc);
      writeFileSync(join(tokenDir, 'flash.img'), good.flash);
    }
    expect(() => new SimToken({ profile: 'hotp-fob', stateDir: tokenDir, serialSeq: 1, clock: new ManualClock() })).toThrow(expect.objectContaining({ code: 'STATE' }));
    expect(open().serial).toMatch(/^F6\d{9}$/);
  });
});
