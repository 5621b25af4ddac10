/**
 * Model-based power-cut property test (STYLE.md rule 10; issue 4 "Must show"): >= 10,000 random power cuts,
 * torn writes and torn erases included, during provisioning, button presses, time sets, PIN changes, resets
 * and compaction. After every reboot the store equals the state just before or just after the interrupted
 * operation, no HOTP counter moves backwards, and no HOTP code is ever displayed twice.
 */
import { describe, expect, it } from 'vitest';
import { hotpReference } from '../../otp/reference.ts';
import { isPowerCut } from '../../firmware-sim/errors.ts';
import { RamFlash } from '../../firmware-sim/flash.ts';
import { SeededRng } from '../../firmware-sim/seeded-rng.ts';
import { KvStore, type StoreOp } from '../../firmware-sim/store.ts';
import { TokenStore } from '../../firmware-sim/token-state.ts';
import { AesGcmVault } from '../../firmware-sim/vault.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const snap = (m: Map<number, Uint8Array>) => JSON.stringify([...m].sort((a, b) => a[0] - b[0]).map(([k, v]) => [k, hex(v)]));
function applyOps(before: Map<number, Uint8Array>, ops: readonly StoreOp[]): Map<number, Uint8Array> {
  const m = new Map(before);
  for (const { key, value } of ops) {
    if (value === null) m.delete(key);
    else m.set(key, value);
  }
  return m;
}

type OpName = 'provision' | 'press' | 'time' | 'pin' | 'delete' | 'reset' | 'compact';

function runCampaign(seed: number, targetCuts: number) {
  const rng = new SeededRng(seed);
  const huk = new Uint8Array(32).fill(7);
  const flash = new RamFlash({ pageSize: 1024, pageCount: 5, maxWritesPerWord: 2 });
  const boot = () => {
    const kv = KvStore.open(flash);
    return new TokenStore(kv, new AesGcmVault(huk, rng), rng);
  };
  let tok = boot();
  tok.manufacture('TF-000001', 'hotp-fob', new Uint8Array(32).fill(1));
  let model = tok.kv.snapshot();
  // per slot incarnation (the sealed seed identifies it): highest counter seen, counters whose code was shown
  const seeds = new Map<string, Uint8Array>();
  const highest = new Map<string, bigint>();
  const shown = new Map<string, Set<string>>();
  let cuts = 0;
  let torn = 0;
  let bootCuts = 0;
  let displayed = 0;
  const opsCut: Record<OpName, number> = { provision: 0, press: 0, time: 0, pin: 0, delete: 0, reset: 0, compact: 0 };
  let timeSec = 1_700_000_000n;

  const incarnation = (slot: number) => {
    const c = tok.state.slots.get(slot);
    return c ? `${slot}:${hex(c.sealedSeed)}` : undefined;
  };

  const checkCounters = () => {
    for (const [slot, counter] of tok.state.counters) {
      const inc = incarnation(slot)!;
      const prev = highest.get(inc);
      if (prev !== undefined && counter < prev) throw new Error(`counter of ${inc} moved backwards: ${prev} -> ${counter}`);
      highest.set(inc, counter);
    }
  };

  while (cuts < targetCuts) {
    const r = rng.float();
    const emptySlots = [0, 1, 2].filter((s) => !tok.state.slots.has(s));
    const fullSlots = [0, 1, 2].filter((s) => tok.state.slots.has(s));
    let op: OpName;
    if (emptySlots.length > 0 && r < 0.25) op = 'provision';
    else if (fullSlots.length > 0 && r < 0.75) op = 'press';
    else if (r < 0.82) op = 'time';
    else if (r < 0.87) op = 'pin';
    else if (r < 0.9 && fullSlots.length > 0) op = 'delete';
    else if (r < 0.91) op = 'reset';
    else op = 'compact';

    const before = model;
    const armed = rng.float() < 0.7;
    const isTorn = rng.float() < 0.5;
    if (armed) flash.armPowerCut({ afterOps: rng.int(op === 'compact' ? 200 : 40), torn: isTorn, rng });
    let planned: readonly StoreOp[] = [];
    let cut = false;
    try {
      switch (op) {
        case 'provision': {
          const slot = emptySlots[rng.int(emptySlots.length)]!;
          const seed = new Uint8Array(20);
          rng.fill(seed);
          tok.putSlot(slot, seed, { otp: { type: 'hotp', algorithm: 'SHA1', digits: 6 }, touch: true }, BigInt(rng.int(1000)));
          planned = tok.lastPlanned;
          seeds.set(incarnation(slot)!, seed);
          break;
        }
        case 'press': {
          const slot = fullSlots[rng.int(fullSlots.length)]!;
          const inc = incarnation(slot)!;
          const counter = tok.advanceCounter(slot);
          planned = tok.lastPlanned;
          // Display only after the counter is persisted.
          const code = hotpReference(seeds.get(inc)!, counter);
          const set = shown.get(inc) ?? new Set<string>();
          if (set.has(counter.toString())) throw new Error(`counter ${counter} of ${inc} displayed twice (code ${code})`);
          set.add(counter.toString());
          shown.set(inc, set);
          displayed++;
          break;
        }
        case 'time':
          timeSec += BigInt(1 + rng.int(100_000));
          tok.setTimeGuard(timeSec);
          planned = tok.lastPlanned;
          break;
        case 'pin':
          tok.setPin(new TextEncoder().encode(String(rng.int(1_000_000)).padStart(6, '0')));
          planned = tok.lastPlanned;
          break;
        case 'delete':
          tok.deleteSlot(fullSlots[rng.int(fullSlots.length)]!);
          planned = tok.lastPlanned;
          break;
        case 'reset':
          tok.reset();
          planned = tok.lastPlanned;
          break;
        case 'compact':
          tok.kv.compact();
          planned = [];
          break;
      }
    } catch (e) {
      if (!isPowerCut(e)) throw e;
      cut = true;
      planned = tok.lastPlanned;
      if (op === 'compact') planned = [];
    }
    flash.disarmPowerCut();
    const after = applyOps(before, op === 'compact' ? [] : planned);
    if (cut) {
      cuts++;
      opsCut[op]++;
      if (isTorn) torn++;
      // Sometimes cut the power again while the store repairs itself at boot.
      if (rng.float() < 0.2) {
        flash.armPowerCut({ afterOps: rng.int(4), torn: rng.float() < 0.5, rng });
        try {
          tok = boot();
        } catch (e) {
          if (!isPowerCut(e)) throw e;
          bootCuts++;
        }
        flash.disarmPowerCut();
      }
      tok = boot();
      const now = snap(tok.kv.snapshot());
      if (now !== snap(before) && now !== snap(after)) {
        throw new Error(`after a cut during ${op} the store is neither the state before nor after it`);
      }
    } else if (snap(tok.kv.snapshot()) !== snap(after)) {
      throw new Error(`${op} without a cut did not produce the planned state`);
    }
    model = tok.kv.snapshot();
    checkCounters();
  }
  // A final clean reboot agrees with the model.
  expect(snap(boot().kv.snapshot())).toBe(snap(model));
  return { cuts, torn, bootCuts, displayed, opsCut, erases: flash.stats.erases };
}

describe('power cuts against the model', () => {
  it('10,000 random cuts (torn included): before-or-after state, monotonic counters, no code shown twice', () => {
    const result = runCampaign(20261128, 10_000);
    expect(result.cuts).toBeGreaterThanOrEqual(10_000);
    expect(result.torn).toBeGreaterThan(3_000);
    for (const n of Object.values(result.opsCut)) expect(n).toBeGreaterThan(50);
    expect(result.bootCuts).toBeGreaterThan(100);
    expect(result.displayed).toBeGreaterThan(1000);
    expect(result.erases).toBeGreaterThan(100);
  }, 120_000);
});
