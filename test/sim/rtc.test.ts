import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Device } from '../../firmware-sim/device.ts';
import { RamFlash } from '../../firmware-sim/flash.ts';
import { ManualClock } from '../../firmware-sim/clocks.ts';
import { AlwaysPressedButton, NULL_LOG, RecordingDisplay } from '../../firmware-sim/peripherals.ts';
import { SeededRng } from '../../firmware-sim/seeded-rng.ts';
import { loadProfile } from '../../firmware-sim/profiles.ts';
import { Rtc, YEAR_MS } from '../../firmware-sim/rtc.ts';
import { KvStore } from '../../firmware-sim/store.ts';
import { TokenStore } from '../../firmware-sim/token-state.ts';
import { AesGcmVault } from '../../firmware-sim/vault.ts';

describe('RTC model', () => {
  it('runs fast by exactly ppm x elapsed time', () => {
    const clock = new ManualClock(0);
    const rtc = new Rtc(clock, { crystalPpm: 20 });
    clock.advance(1_000_000_000);
    expect(rtc.nowMs()).toBeCloseTo(1_000_000_000 + 20_000, 3);
    const slow = new Rtc(clock, { crystalPpm: -5 });
    clock.advance(1_000_000);
    expect(slow.nowMs() - clock.nowMs()).toBeCloseTo(-5, 6);
  });

  it('integrates ageing exactly, matching a fine numeric integration', () => {
    const clock = new ManualClock(0);
    const rtc = new Rtc(clock, { crystalPpm: 3, agingPpmPerYear: 2 });
    // numeric: sum of (3 + 2*y) ppm over 10,000 slices of two years
    const n = 10_000;
    const total = 2 * YEAR_MS;
    let extra = 0;
    for (let i = 0; i < n; i++) extra += (total / n) * 1e-6 * (3 + 2 * ((i + 0.5) / n) * 2);
    clock.advance(total);
    expect(rtc.nowMs() - total).toBeCloseTo(extra, 0);
    expect(rtc.errorPpm()).toBeCloseTo(7, 9);
  });

  it('follows the parabolic temperature curve of a tuning-fork crystal', () => {
    const clock = new ManualClock(0);
    const rtc = new Rtc(clock, { crystalPpm: 0 });
    rtc.setTemperature(-5); // 30 °C below turnover: -0.034 * 900 = -30.6 ppm
    expect(rtc.errorPpm()).toBeCloseTo(-30.6, 9);
    clock.advance(1e9);
    expect(rtc.nowMs() - 1e9).toBeCloseTo(-30_600, 3);
  });

  it('a brown-out resets the RTC to the epoch and marks it invalid until set; jumps move it', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const rtc = new Rtc(clock, { crystalPpm: 0 });
    rtc.brownOut();
    expect(rtc.valid).toBe(false);
    expect(rtc.nowSec()).toBe(0n);
    clock.advance(5000);
    expect(rtc.nowSec()).toBe(5n);
    rtc.setMs(1_800_000_000_000);
    expect(rtc.valid).toBe(true);
    rtc.jump(-3_600_000);
    expect(rtc.nowMs()).toBe(1_800_000_000_000 - 3_600_000);
    const saved = rtc.save();
    const again = new Rtc(clock, { crystalPpm: 0 }, saved);
    expect(again.nowMs()).toBe(rtc.nowMs());
  });
});

describe('drift of a totp-60s-fob with +20 ppm over one simulated year', () => {
  it('is off by 20e-6 x 31,557,600 s ≈ 631 s ≈ 10 steps, and shows the code oathtool gives for that time', () => {
    const profile = loadProfile('totp-60s-fob');
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const rng = new SeededRng(5);
    const flash = new RamFlash(profile.flash);
    const huk = new Uint8Array(32).fill(3);
    const mk = () =>
      new Device({ profile, flash, clock, rng, button: new AlwaysPressedButton(), display: new RecordingDisplay(), log: NULL_LOG, huk, serialSeq: 7, testMode: true, unit: { crystalPpm: 20, agingPpmPerYear: 0, batteryLifeDays: 5000 } });
    mk();
    const seedHex = '3132333435363738393031323334353637383930';
    new TokenStore(KvStore.open(flash), new AesGcmVault(huk, rng), rng).putSlot(0, Buffer.from(seedHex, 'hex'), { otp: { type: 'totp', algorithm: 'SHA1', digits: 6, periodSec: 60, t0Sec: 0n }, touch: true }, 0n);
    const dev = mk();
    dev.rtc.setMs(clock.nowMs()); // set exactly at the start
    clock.advance(YEAR_MS);
    const offsetSec = (dev.rtc.nowMs() - clock.nowMs()) / 1000;
    expect(offsetSec).toBeCloseTo(631.152, 2);
    const trueStep = Math.floor(clock.nowMs() / 60_000);
    const tokenStep = Math.floor(dev.rtc.nowMs() / 60_000);
    expect(tokenStep - trueStep).toBeGreaterThanOrEqual(10);
    expect(tokenStep - trueStep).toBeLessThanOrEqual(11);
    const code = dev.pressStandalone();
    const rtcIso = new Date(Math.floor(dev.rtc.nowMs() / 1000) * 1000).toISOString().replace('T', ' ').slice(0, 19);
    expect(code).toBe(execFileSync('oathtool', ['--totp', '-s', '60', '-N', `${rtcIso} UTC`, seedHex], { encoding: 'utf8' }).trim());
    const trueIso = new Date(clock.nowMs()).toISOString().replace('T', ' ').slice(0, 19);
    expect(code).not.toBe(execFileSync('oathtool', ['--totp', '-s', '60', '-N', `${trueIso} UTC`, seedHex], { encoding: 'utf8' }).trim());
  });
});
