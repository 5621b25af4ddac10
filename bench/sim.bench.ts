/**
 * Simulator benchmarks (issue 4 "Performance"): a fleet of 10,000 tokens over one year of daily presses, each
 * press computing the real code with otp/engine.ts and checked by the two verifier models; and the full
 * firmware path (button press -> counter persisted in the flash store -> code on the display) of one token.
 * Prints medians of 3 runs (1 for the fleet, which is long) and rates.
 */
import { ManualClock } from '../firmware-sim/clocks.ts';
import { Device } from '../firmware-sim/device.ts';
import { simulateFleet } from '../firmware-sim/fleet.ts';
import { RamFlash } from '../firmware-sim/flash.ts';
import { AlwaysPressedButton, NULL_LOG, RecordingDisplay } from '../firmware-sim/peripherals.ts';
import { SeededRng } from '../firmware-sim/seeded-rng.ts';
import { loadProfile } from '../firmware-sim/profiles.ts';
import { TokenStore } from '../firmware-sim/token-state.ts';
import { KvStore } from '../firmware-sim/store.ts';
import { AesGcmVault } from '../firmware-sim/vault.ts';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function run(): Promise<void> {
  const count = Number(process.env['SIM_BENCH_TOKENS'] ?? 10_000);
  const days = Number(process.env['SIM_BENCH_DAYS'] ?? 365);
  console.log(`| fleet (${count} tokens x ${days} days) | seconds | presses/s | HMAC/s | accepted ±1 | accepted drift-tracking |`);
  console.log('|---|---|---|---|---|---|');
  for (const name of ['hotp-fob', 'totp-60s-fob']) {
    const t0 = performance.now();
    const r = simulateFleet({ count, days, profile: loadProfile(name), rng: new SeededRng(1) });
    const sec = (performance.now() - t0) / 1000;
    const t = r.totals;
    console.log(
      `| ${name} | ${sec.toFixed(2)} | ${Math.round(t.presses / sec).toLocaleString('en')} | ${Math.round(t.hmacs / sec).toLocaleString('en')} | ${((100 * t.acceptedPlain) / t.submitted).toFixed(2)}% | ${((100 * t.acceptedTracking) / t.submitted).toFixed(2)}% |`,
    );
  }

  // Full firmware path: stand-alone presses on a provisioned hotp-fob (flash record per press, compaction).
  const presses = 20_000;
  const rates: number[] = [];
  let compactions = 0;
  for (let rep = 0; rep < 3; rep++) {
    const profile = loadProfile('hotp-fob');
    const flash = new RamFlash(profile.flash);
    const rng = new SeededRng(rep);
    const huk = new Uint8Array(32).fill(9);
    // First boot manufactures the token (identity, device key); then a slot is written and the token rebooted.
    new Device({ profile, flash, clock: new ManualClock(), rng, button: new AlwaysPressedButton(), display: new RecordingDisplay(), log: NULL_LOG, huk, serialSeq: 1, testMode: true });
    const ts = new TokenStore(KvStore.open(flash), new AesGcmVault(huk, rng), rng);
    ts.putSlot(0, new TextEncoder().encode('12345678901234567890'), { otp: { type: 'hotp', algorithm: 'SHA1', digits: 6 }, touch: true }, 0n);
    const booted = new Device({ profile, flash, clock: new ManualClock(), rng, button: new AlwaysPressedButton(), display: new RecordingDisplay(), log: NULL_LOG, huk, serialSeq: 1, testMode: true });
    const t0 = performance.now();
    for (let i = 0; i < presses; i++) booted.pressStandalone(0);
    rates.push(presses / ((performance.now() - t0) / 1000));
    compactions = booted.flashStats.compactions;
  }
  console.log(`\n| firmware path | presses/s (median of 3 x ${presses}) | compactions per run |`);
  console.log('|---|---|---|');
  console.log(`| hotp-fob press: counter record in flash, then HOTP, then display | ${Math.round(median(rates)).toLocaleString('en')} | ${compactions} |`);
}
