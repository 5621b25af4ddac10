/**
 * Fuzz (issue 4 "Must show"): 100,000 random and mutated frames on the serial link of a provisioned token.
 * The simulator never throws, never sends a byte sequence containing the seed (or any 8-byte piece of it),
 * and afterwards still answers PING and GET_INFO and computes the right code. In memory for speed (the
 * SimToken's byte input is fed directly), plus a shorter run over a real PTY.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { TokenClient } from '../../protocol/client.ts';
import { parsePacket } from '../../protocol/hid/packet.ts';
import { splitMessage } from '../../protocol/hid/assembler.ts';
import { encodeRequest, type Request } from '../../protocol/messages.ts';
import { BROADCAST_CID, HID_CMD } from '../../protocol/registry.ts';
import { encodeFrame, encodeFrames, FrameDecoder } from '../../protocol/serial.ts';
import { TEST_ATTESTATION_PUBLIC_KEY } from '../../protocol/test-attestation-key.ts';
import { FramedTransport } from '../../protocol/framed-transport.ts';
import { memoryLinkPair } from '../../protocol/links/memory.ts';
import { openSerialLink } from '../../protocol/links/serial.ts';
import { keyCheckValue, wrapPin, wrapSeed } from '../../protocol/wrap.ts';
import { startSimulator } from '../../firmware-sim/host/runners.ts';
import { SimToken } from '../../firmware-sim/host/sim-token.ts';
import { ManualClock } from '../../firmware-sim/clocks.ts';
import { SeededRng } from '../../firmware-sim/seeded-rng.ts';

const seedHex = '3132333435363738393031323334353637383930a1b2c3d4';
const seed = Buffer.from(seedHex, 'hex');

function leaks(out: Buffer): boolean {
  for (let i = 0; i + 8 <= seed.length; i++) if (out.indexOf(seed.subarray(i, i + 8)) >= 0) return true;
  return false;
}

/** A client on a fresh in-memory link to `token` (ticks are driven by the caller's clock). */
async function clientFor(token: SimToken): Promise<TokenClient> {
  const [host, dev] = memoryLinkPair({}, 'fuzz');
  dev.onData((c) => token.input(c));
  token.output = (b) => void dev.write(b).catch(() => undefined);
  return TokenClient.open(new FramedTransport(host), { trustAnchors: [TEST_ATTESTATION_PUBLIC_KEY], timeoutMs: 3000 });
}

/** Valid request messages to mutate: every command, with real wrapped PIN and seed. */
function corpus(info: { devicePublicKey: Uint8Array; serial: string }, rng: SeededRng): Uint8Array[] {
  const r = (n: number) => {
    const b = new Uint8Array(n);
    rng.fill(b);
    return b;
  };
  const params = { slot: 0, touch: 'always' as const, otp: { type: 'hotp' as const, algorithm: 'SHA1' as const, digits: 6, counter: 100n } };
  const reqs: Request[] = [
    { command: 'GET_INFO' },
    { command: 'AUTHENTICATE', wrappedPin: wrapPin({ devicePublicKey: info.devicePublicKey, serial: info.serial, pin: '9999', rng: r }) },
    { command: 'PUT_SLOT', params, wrappedSeed: wrapSeed({ devicePublicKey: info.devicePublicKey, serial: info.serial, params, seed: r(20), rng: r }) },
    { command: 'GET_SLOT', slot: 0 },
    { command: 'DELETE_SLOT', slot: 0 },
    { command: 'LOCK' },
    { command: 'CALCULATE', slot: 0 },
    { command: 'CALCULATE', slot: 0, challenge: '12345678' },
    { command: 'SET_TIME', timeSec: 1_800_000_000n },
    { command: 'GET_TIME' },
    { command: 'SELF_TEST' },
    { command: 'RESET' },
  ];
  return reqs.map(encodeRequest);
}

describe('fuzzing the serial link', () => {
  it('100,000 random and mutated frames: no crash, no seed leak, still answers PING and GET_INFO', async () => {
    const clock = new ManualClock(1_750_000_000_000);
    const rng = new SeededRng(2026);
    const token = new SimToken({ profile: 'hotp-fob', serialSeq: 1, clock, rng: new SeededRng(7), userPresenceTimeoutMs: 40 });
    // Provision through the real protocol: PIN, a touch-policy HOTP slot with the seed.
    const tick = setInterval(() => token.tick(), 10);
    let info;
    try {
      const client = await clientFor(token);
      info = await client.verifiedInfo();
      await client.authenticate('4321');
      await client.putSlot({ slot: 0, touch: 'never', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } }, seed);
      await client.close();
    } finally {
      clearInterval(tick);
    }
    const messages = corpus(info, rng);
    const outputs: Buffer[] = [];
    let outBytes = 0;
    token.output = (b) => {
      outBytes += b.length;
      outputs.push(Buffer.from(b));
    };
    // Allocate a channel for the fuzzer so that mutated CBOR reaches the message decoder.
    token.input(encodeFrame(splitMessage(BROADCAST_CID, HID_CMD.INIT, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]))[0]!));
    const initReport = new FrameDecoder().push(outputs.pop()!)[0]!;
    const init = parsePacket(initReport)!;
    const liveCid = ((init.data[8]! << 24) >>> 0) + ((init.data[9]! << 16) | (init.data[10]! << 8) | init.data[11]!);
    const channels = [BROADCAST_CID, 0, 0x01020304, rng.int(0x1_0000_0000)];
    const frames = { random: 0, mutatedFrame: 0, mutatedCbor: 0, randomReport: 0 };
    const statuses = new Map<number, number>();
    const decoder = new FrameDecoder();
    const flush = () => {
      const all = Buffer.concat(outputs);
      expect(leaks(all)).toBe(false);
      for (const r of decoder.push(all)) {
        const p = parsePacket(r);
        if (p && p.kind === 'init' && p.cmd === HID_CMD.CBOR) statuses.set(p.data[0]!, (statuses.get(p.data[0]!) ?? 0) + 1);
      }
      outputs.length = 0;
    };
    const N = 100_000;
    for (let i = 0; i < N; i++) {
      const kind = rng.int(4);
      let bytes: Uint8Array;
      if (kind === 0) {
        bytes = new Uint8Array(1 + rng.int(160));
        rng.fill(bytes);
        frames.random++;
      } else if (kind === 1) {
        const report = new Uint8Array(64);
        rng.fill(report);
        bytes = encodeFrame(report);
        frames.randomReport++;
      } else {
        // A valid request on a live channel, with its CBOR mutated (or not), framed correctly...
        const msg = Uint8Array.from(messages[rng.int(messages.length)]!);
        const flips = rng.int(4);
        for (let f = 0; f < flips; f++) msg[rng.int(msg.length)]! ^= 1 << rng.int(8);
        const cut = rng.float() < 0.2 ? msg.subarray(0, rng.int(msg.length + 1)) : msg;
        const ch = rng.float() < 0.9 ? liveCid : channels[rng.int(channels.length)]!;
        let reports = splitMessage(ch, rng.float() < 0.9 ? HID_CMD.CBOR : rng.int(0x80), cut);
        if (rng.float() < 0.1 && reports.length > 1) reports = reports.filter((_, j) => j !== 1);
        bytes = encodeFrames(reports);
        if (kind === 3) {
          // ...and sometimes damaged on the wire.
          frames.mutatedFrame++;
          bytes = Uint8Array.from(bytes);
          const n = 1 + rng.int(3);
          for (let f = 0; f < n; f++) bytes[rng.int(bytes.length)]! ^= 1 << rng.int(8);
        } else frames.mutatedCbor++;
      }
      token.input(bytes);
      clock.advance(1 + rng.int(5));
      if (i % 16 === 0) token.tick();
      if (outputs.length > 2000) flush();
    }
    flush();
    // The fuzz reached the message layer: successes and many distinct rejection statuses came back.
    expect(statuses.get(0) ?? 0).toBeGreaterThan(100);
    expect(statuses.size).toBeGreaterThanOrEqual(6);
    expect(outBytes).toBeGreaterThan(100_000);
    expect(token.device.dead).toBe(false);
    // Still alive: PING, GET_INFO, and the right code.
    clock.advance(1000);
    token.tick();
    const tick2 = setInterval(() => {
      clock.advance(20);
      token.tick();
    }, 10);
    try {
      const client = await clientFor(token);
      const ping = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
      expect(Buffer.from(await client.ping(ping))).toEqual(Buffer.from(ping));
      const after = await client.info();
      expect(after.serial).toBe(info.serial);
      const slot = await client.getSlot(0).catch(() => undefined);
      if (slot && slot.params.otp.type === 'hotp') {
        const counter = slot.params.otp.counter;
        const want = execFileSync('oathtool', ['--hotp', '-c', String(counter), seedHex], { encoding: 'utf8' }).trim();
        // slot 0 may have been replaced by a replayed PUT_SLOT of the corpus (another seed): then the KCV differs
        const r = await client.calculate(0).catch(() => undefined);
        if (r && slot.params.touch === 'never' && Buffer.from(slot.kcv).equals(Buffer.from(keyCheckValue(seed)))) expect(r.code).toBe(want);
      }
      await client.close();
    } finally {
      clearInterval(tick2);
    }
    expect(frames.mutatedCbor).toBeGreaterThan(20_000);
  }, 300_000);

  it('a shorter run over a real PTY leaves the token answering', async () => {
    const sim = await startSimulator({ link: 'pty', profile: 'totp-60s-fob', rng: new SeededRng(3) });
    const rng = new SeededRng(99);
    const link = await openSerialLink(sim.tokens[0]!.path!);
    try {
      link.onData(() => {});
      for (let i = 0; i < 2000; i++) {
        const kind = rng.int(2);
        let bytes: Uint8Array;
        if (kind === 0) {
          bytes = new Uint8Array(1 + rng.int(100));
          rng.fill(bytes);
        } else {
          const report = new Uint8Array(64);
          rng.fill(report);
          bytes = encodeFrame(report);
          bytes[rng.int(bytes.length)]! ^= rng.float() < 0.5 ? 0 : 1 << rng.int(8);
        }
        await link.write(bytes);
      }
      await new Promise((r) => setTimeout(r, 600));
    } finally {
      await link.close();
    }
    const client = await TokenClient.open(new FramedTransport(await openSerialLink(sim.tokens[0]!.path!)), { timeoutMs: 3000 });
    try {
      expect(Buffer.from(await client.ping(Uint8Array.of(1, 2, 3)))).toEqual(Buffer.from([1, 2, 3]));
      expect((await client.info()).model).toBe('TF-FOB60');
    } finally {
      await client.close();
      await sim.close();
    }
  }, 120_000);
});
