/**
 * Fault injection through the host shell (firmware-sim/host/sim-token.ts): power cuts at the Nth flash
 * operation (clean and torn) during manufacture, provisioning and presses — checked end to end over the wire:
 * a code that reached the host is never shown again and the counter never goes back; dropped and corrupted
 * link bytes (the client's retries recover); response delays; clock jumps.
 */
import { describe, expect, it } from 'vitest';
import { parsePacket } from '../../protocol/hid/packet.ts';
import { MessageAssembler, splitMessage } from '../../protocol/hid/assembler.ts';
import { decodeResponse, encodeRequest, type Request, type Response } from '../../protocol/messages.ts';
import { BROADCAST_CID, HID_CMD, type CommandName } from '../../protocol/registry.ts';
import { encodeFrames, FrameDecoder } from '../../protocol/serial.ts';
import { TokenClient } from '../../protocol/client.ts';
import { FramedTransport } from '../../protocol/framed-transport.ts';
import { memoryLinkPair } from '../../protocol/links/memory.ts';
import { wrapPin, wrapSeed } from '../../protocol/wrap.ts';
import { SimToken } from '../../firmware-sim/host/sim-token.ts';
import { ManualClock } from '../../firmware-sim/clocks.ts';
import { SeededRng } from '../../firmware-sim/seeded-rng.ts';
import type { Faults } from '../../firmware-sim/faults.ts';

const seed = Buffer.from('3132333435363738393031323334353637383930', 'hex');

/** A synchronous host on a SimToken's byte input: the token answers within `input()`. */
function rawHost(token: SimToken) {
  const dec = new FrameDecoder();
  let pending: Uint8Array[] = [];
  token.output = (b) => pending.push(...dec.push(b));
  const exchange = (cid: number, cmd: number, payload: Uint8Array): { cmd: number; payload: Uint8Array } | undefined => {
    pending = [];
    token.input(encodeFrames(splitMessage(cid, cmd, payload)));
    const asm = new MessageAssembler({ otherChannel: 'ignore' });
    for (const r of pending) {
      const ev = asm.push(parsePacket(r)!, 0);
      if (ev.kind === 'message' && ev.cmd !== HID_CMD.KEEPALIVE) return { cmd: ev.cmd, payload: ev.payload };
    }
    return undefined;
  };
  let cid = 0;
  return {
    open(): boolean {
      const a = exchange(BROADCAST_CID, HID_CMD.INIT, Uint8Array.of(9, 8, 7, 6, 5, 4, 3, 2));
      if (!a) return false;
      cid = ((a.payload[8]! << 24) >>> 0) + ((a.payload[9]! << 16) | (a.payload[10]! << 8) | a.payload[11]!);
      return true;
    },
    call<C extends CommandName>(req: Request & { command: C }): Response<C> | undefined {
      const a = exchange(cid, HID_CMD.CBOR, encodeRequest(req));
      if (!a) return undefined;
      const d = decodeResponse(req.command, a.payload);
      if (!d.ok) throw new Error(`bad response: ${d.reason}`);
      return d.value;
    },
  };
}

describe('power cuts over the wire', () => {
  it('at every flash operation of manufacture, provisioning and presses: no code shown twice, counter never back', () => {
    const rng = new SeededRng(77);
    let cutsFired = 0;
    for (let cut = 0; cut < 360; cut += 3) {
      const faults: Faults = { powerCutAtOp: cut, tornWrite: (cut / 3) % 2 === 1, rebootAfterMs: 0 };
      const token = new SimToken({ profile: 'hotp-fob', serialSeq: cut, clock: new ManualClock(), rng: new SeededRng(cut), testMode: true, faults });
      const host = rawHost(token);
      const shown: string[] = [];
      let provisioned = false;
      let maxCounter = -1n;
      const script = () => {
        if (!host.open()) return;
        const info = host.call({ command: 'GET_INFO' });
        if (info?.status !== 'OK') return;
        const { devicePublicKey, serial } = info.body;
        const rnd = (n: number) => {
          const b = new Uint8Array(n);
          rng.fill(b);
          return b;
        };
        if (host.call({ command: 'AUTHENTICATE', wrappedPin: wrapPin({ devicePublicKey, serial, pin: '1111', rng: rnd }) })?.status !== 'OK') return;
        const params = { slot: 0, touch: 'always' as const, otp: { type: 'hotp' as const, algorithm: 'SHA1' as const, digits: 6, counter: 0n } };
        if (host.call({ command: 'PUT_SLOT', params, wrappedSeed: wrapSeed({ devicePublicKey, serial, params, seed, rng: rnd }) })?.status !== 'OK') return;
        provisioned = true;
        for (let i = 0; i < 60; i++) {
          const r = host.call({ command: 'CALCULATE', slot: 0 });
          if (r?.status !== 'OK') return;
          shown.push(r.body.code);
          maxCounter = r.body.counter!;
        }
      };
      script();
      if (!token.device.dead) continue; // the cut index lay beyond this script
      cutsFired++;
      token.powerCycle();
      const after = rawHost(token);
      expect(after.open()).toBe(true);
      const slot = after.call({ command: 'GET_SLOT', slot: 0 })!;
      if (slot.status !== 'OK') {
        // Only possible if PUT_SLOT's answer never reached the host.
        expect(provisioned).toBe(false);
        continue;
      }
      const counter = (slot.body.params.otp as { counter: bigint }).counter;
      expect(counter).toBeGreaterThan(maxCounter);
      const next = after.call({ command: 'CALCULATE', slot: 0 })!;
      expect(next.status).toBe('OK');
      if (next.status === 'OK') {
        expect(shown).not.toContain(next.body.code);
        expect(next.body.counter).toBe(counter);
      }
    }
    expect(cutsFired).toBeGreaterThan(100);
  }, 120_000);
});

async function clientOn(token: SimToken, clock: ManualClock | undefined, opts: Partial<Parameters<typeof TokenClient.open>[1]> = {}) {
  const [host, dev] = memoryLinkPair({ maxChunk: 17, random: () => 0.5 }, 'faults');
  dev.onData((c) => token.input(c));
  token.output = (b) => void dev.write(b).catch(() => undefined);
  const timer = setInterval(() => {
    clock?.advance(20);
    token.tick();
  }, 10);
  timer.unref();
  const client = await TokenClient.open(new FramedTransport(host), { timeoutMs: 600, retries: 4, ...opts });
  return { client, stop: () => clearInterval(timer) };
}

describe('link faults, delays and clock jumps', () => {
  it('dropped and corrupted bytes are survived by the client retries; frames with bad CRCs are dropped', async () => {
    const token = new SimToken({ profile: 'hotp-fob', serialSeq: 1, clock: new ManualClock(), rng: new SeededRng(5), faults: { dropRate: 0.001, corruptRate: 0.001 } });
    const { client, stop } = await clientOn(token, undefined);
    try {
      let ok = 0;
      for (let i = 0; i < 15; i++) {
        try {
          if ((await client.info()).model === 'TF-FOBH') ok++;
        } catch {
          // a request whose every retry was damaged
        }
      }
      expect(ok).toBeGreaterThan(10);
      const s = client.transport.stats;
      expect(s.crcErrors + s.lengthErrors).toBeGreaterThan(0);
    } finally {
      await client.close();
      stop();
    }
  }, 60_000);

  it('a response delay slows answers down without breaking them', async () => {
    const token = new SimToken({ profile: 'hotp-fob', serialSeq: 1, clock: new ManualClock(), rng: new SeededRng(6), faults: { responseDelayMs: 300 } });
    const { client, stop } = await clientOn(token, undefined, { timeoutMs: 3000 });
    try {
      const t0 = performance.now();
      await client.info();
      expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    } finally {
      await client.close();
      stop();
    }
  }, 30_000);

  it('a brown-out resets the RTC: TOTP refuses until the host sets the time', () => {
    const clock = new ManualClock(1_800_000_000_000);
    const token = new SimToken({ profile: 'totp-60s-fob', serialSeq: 1, clock, rng: new SeededRng(9), faults: { brownOutAtSec: 10 } });
    const host = rawHost(token);
    expect(host.open()).toBe(true);
    expect(host.call({ command: 'GET_TIME' })).toMatchObject({ status: 'OK', body: { valid: true } });
    clock.advance(11_000);
    token.tick();
    expect(host.call({ command: 'GET_TIME' })).toEqual({ status: 'OK', body: { timeSec: 0n, valid: false } });
    const info = host.call({ command: 'GET_INFO' });
    expect(info?.status === 'OK' && info.body.rtcTimeSec).toBe(undefined);
    expect(host.call({ command: 'SELF_TEST' })).toEqual({ status: 'OK', body: { passed: false, failed: ['rtc'] } });
    expect(host.call({ command: 'SET_TIME', timeSec: 1_800_000_011n })?.status).toBe('OK');
    expect(host.call({ command: 'GET_TIME' })).toEqual({ status: 'OK', body: { timeSec: 1_800_000_011n, valid: true } });
  });

  it('a clock jump moves the RTC by the given seconds at the given time', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const token = new SimToken({ profile: 'totp-60s-fob', serialSeq: 1, clock, rng: new SeededRng(8), faults: { clockJumps: [{ atSec: 5, bySec: -3600 }] } });
    const before = token.device.rtc.nowMs() - clock.nowMs();
    clock.advance(4000);
    token.tick();
    expect(token.device.rtc.nowMs() - clock.nowMs()).toBeCloseTo(before + 4000 * token.device.unit.crystalPpm * 1e-6, 3);
    clock.advance(2000);
    token.tick();
    expect(token.device.rtc.nowMs() - clock.nowMs()).toBeCloseTo(before - 3_600_000 + 6000 * token.device.unit.crystalPpm * 1e-6, 3);
  });
});
