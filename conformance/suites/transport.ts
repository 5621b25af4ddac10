/**
 * The `transport` conformance suite: does a token (real, simulated, or the reference responder) follow the
 * report layer and the serial carriage of docs/protocol.md? Modelled on the FIDO Alliance HID transport tests
 * (CTAP 2.1 §11.2): INIT allocation and echo, PING short/long, unknown command, empty payload, oversize
 * length, skipped sequence, resync by INIT, abort from another channel, inter-packet timeout, busy channel,
 * channel 0 and broadcast misuse; plus the serial carriage: bit flips, truncated frame, garbage between
 * frames, zero bytes inside data, byte-by-byte writes, overlong frames.
 *
 * Target: a serial path or tcp://host:port (`tokenforge conformance run --suite transport --target PORT`).
 * Tests call `runTransportCases(transport)` directly on any FramedTransport. Every case allocates its own
 * channel, so a failed case does not poison the next. The suite never sends a command that changes the token
 * (only INIT, PING, WINK, CANCEL and CBOR GET_INFO / malformed CBOR).
 */
import { HID_CMD, HID_ERROR, INIT_DATA_SIZE, INIT_RESPONSE_SIZE, MAX_MESSAGE_SIZE, BROADCAST_CID, COMMAND, STATUS, INTER_PACKET_TIMEOUT_MS } from '../../protocol/registry.ts';
import { parsePacket, type Packet } from '../../protocol/hid/packet.ts';
import { MessageAssembler, splitMessage } from '../../protocol/hid/assembler.ts';
import { decodeResponse } from '../../protocol/messages.ts';
import { encodeFrame } from '../../protocol/serial.ts';
import { FramedTransport } from '../../protocol/framed-transport.ts';
import { openTransport } from '../../protocol/links/open.ts';
import type { CaseResult, Suite, SuiteContext } from '../types.ts';

const SUITE = 'transport';
const CTAP = 'CTAP 2.1 §11.2 (CTAPHID); docs/protocol.md §2';
const SERIAL = 'docs/protocol.md §3 (serial carriage)';

class CaseFailure extends Error {}
function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new CaseFailure(message);
}

/** Deterministic bytes for payloads (the suite must not depend on Math.random to be reproducible). */
function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}

/** Raw access to a token: reports in, reports out, on chosen channels. */
class Probe {
  readonly t: FramedTransport;
  readonly timeoutMs: number;
  #nonceSeed = 1;
  constructor(t: FramedTransport, timeoutMs: number) {
    this.t = t;
    this.timeoutMs = timeoutMs;
  }

  send(reports: Uint8Array[]): Promise<void> {
    return this.t.send(reports);
  }

  /** Next packet on `cid`, skipping others; undefined if none within `timeoutMs`. */
  async next(cid: number, timeoutMs = this.timeoutMs): Promise<Packet | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      const r = await this.t.receive(left);
      if (!r) return undefined;
      const p = parsePacket(r);
      if (p && p.cid === cid) return p;
    }
  }

  /** Next complete message on `cid` (KEEPALIVEs skipped). */
  async message(cid: number, timeoutMs = this.timeoutMs): Promise<{ cmd: number; payload: Uint8Array } | undefined> {
    const asm = new MessageAssembler({ otherChannel: 'ignore', interPacketTimeoutMs: timeoutMs });
    for (;;) {
      const p = await this.next(cid, timeoutMs);
      if (!p) return undefined;
      const ev = asm.push(p, Date.now());
      if (ev.kind === 'message') {
        if (ev.cmd === HID_CMD.KEEPALIVE) continue;
        return { cmd: ev.cmd, payload: ev.payload };
      }
      if (ev.kind === 'error') throw new CaseFailure(`answer on ${hex(cid)} is damaged (${ev.error})`);
    }
  }

  async expectError(cid: number, error: keyof typeof HID_ERROR, what: string): Promise<void> {
    const m = await this.message(cid);
    check(m, `${what}: expected ERROR ${error}, got no answer`);
    check(m.cmd === HID_CMD.ERROR, `${what}: expected ERROR ${error}, got command ${hex(m.cmd)}`);
    check(m.payload[0] === HID_ERROR[error], `${what}: expected ERROR ${error} (${hex(HID_ERROR[error])}), got ${hex(m.payload[0] ?? -1)}`);
  }

  async expectSilence(cid: number, ms: number, what: string): Promise<void> {
    const p = await this.next(cid, ms);
    check(!p, `${what}: expected no answer, got a packet`);
  }

  nonce(): Uint8Array {
    return pattern(8, 0x5eed + this.#nonceSeed++);
  }

  /** INIT on broadcast; retries once after the inter-packet timeout in case the token is still busy. */
  async allocate(): Promise<number> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const nonce = this.nonce();
      this.t.drain();
      await this.send(splitMessage(BROADCAST_CID, HID_CMD.INIT, nonce));
      const m = await this.message(BROADCAST_CID);
      if (m && m.cmd === HID_CMD.INIT && m.payload.length === INIT_RESPONSE_SIZE && m.payload.subarray(0, 8).every((b, i) => b === nonce[i])) {
        const d = m.payload;
        return ((d[8]! << 24) >>> 0) + ((d[9]! << 16) | (d[10]! << 8) | d[11]!);
      }
      await new Promise((r) => setTimeout(r, INTER_PACKET_TIMEOUT_MS + 200));
    }
    throw new CaseFailure('could not allocate a channel with INIT');
  }

  async ping(cid: number, data: Uint8Array, what: string): Promise<void> {
    await this.send(splitMessage(cid, HID_CMD.PING, data));
    const m = await this.message(cid);
    check(m, `${what}: no answer to PING`);
    check(m.cmd === HID_CMD.PING, `${what}: PING answered with command ${hex(m.cmd)}`);
    check(m.payload.length === data.length && m.payload.every((b, i) => b === data[i]), `${what}: PING echo differs (${m.payload.length} of ${data.length} bytes)`);
  }
}

interface CaseDef {
  group: 'hid' | 'cbor' | 'serial';
  name: string;
  source: string;
  run(p: Probe): Promise<void>;
}

const CASES: CaseDef[] = [
  {
    group: 'hid',
    name: 'init allocates a channel and echoes the nonce',
    source: `${CTAP} §11.2.9.1.3`,
    async run(p) {
      const nonce = p.nonce();
      await p.send(splitMessage(BROADCAST_CID, HID_CMD.INIT, nonce));
      const m = await p.message(BROADCAST_CID);
      check(m && m.cmd === HID_CMD.INIT, 'no INIT answer on the broadcast channel');
      check(m.payload.length === INIT_RESPONSE_SIZE, `INIT answer has ${m.payload.length} bytes, expected 17`);
      check(m.payload.subarray(0, 8).every((b, i) => b === nonce[i]), 'INIT answer does not echo the nonce');
      const cid = ((m.payload[8]! << 24) >>> 0) + ((m.payload[9]! << 16) | (m.payload[10]! << 8) | m.payload[11]!);
      check(cid !== 0 && cid !== BROADCAST_CID, `allocated channel ${hex(cid)} is reserved`);
      check(m.payload[12] === 2, `CTAPHID protocol version ${m.payload[12]}, expected 2`);
    },
  },
  {
    group: 'hid',
    name: 'init on an allocated channel resynchronises it and keeps the id',
    source: `${CTAP} §11.2.9.1.3`,
    async run(p) {
      const cid = await p.allocate();
      const nonce = p.nonce();
      await p.send(splitMessage(cid, HID_CMD.INIT, nonce));
      const m = await p.message(cid);
      check(m && m.cmd === HID_CMD.INIT && m.payload.length === INIT_RESPONSE_SIZE, 'no INIT answer on the channel');
      check(m.payload.subarray(0, 8).every((b, i) => b === nonce[i]), 'nonce not echoed');
      const back = ((m.payload[8]! << 24) >>> 0) + ((m.payload[9]! << 16) | (m.payload[10]! << 8) | m.payload[11]!);
      check(back === cid, `resync returned channel ${hex(back)} instead of ${hex(cid)}`);
    },
  },
  {
    group: 'hid',
    name: 'init with a wrong length gets INVALID_LEN',
    source: `${CTAP} §11.2.9.1.3`,
    async run(p) {
      const cid = await p.allocate();
      await p.send(splitMessage(cid, HID_CMD.INIT, pattern(7, 3)));
      await p.expectError(cid, 'INVALID_LEN', 'INIT with 7 bytes');
    },
  },
  {
    group: 'hid',
    name: 'ping with an empty payload',
    source: `${CTAP} §11.2.9.1.4`,
    run: async (p) => p.ping(await p.allocate(), new Uint8Array(0), 'empty PING'),
  },
  {
    group: 'hid',
    name: 'ping of exactly one INIT packet (57 bytes) and one more (58)',
    source: `${CTAP} §11.2.4`,
    async run(p) {
      const cid = await p.allocate();
      await p.ping(cid, pattern(INIT_DATA_SIZE, 4), '57-byte PING');
      await p.ping(cid, pattern(INIT_DATA_SIZE + 1, 5), '58-byte PING');
    },
  },
  {
    group: 'hid',
    name: `long ping (${MAX_MESSAGE_SIZE} bytes, 129 packets)`,
    source: `${CTAP} §11.2.4`,
    run: async (p) => p.ping(await p.allocate(), pattern(MAX_MESSAGE_SIZE, 6), 'maximum PING'),
  },
  {
    group: 'hid',
    name: 'unknown command gets INVALID_CMD',
    source: `${CTAP} §11.2.9.1.6`,
    async run(p) {
      const cid = await p.allocate();
      await p.send(splitMessage(cid, 0x2f, new Uint8Array(0)));
      await p.expectError(cid, 'INVALID_CMD', 'command 0x2f');
    },
  },
  {
    group: 'hid',
    name: 'oversize length (BCNT 7610) gets INVALID_LEN',
    source: `${CTAP} §11.2.4`,
    async run(p) {
      const cid = await p.allocate();
      const r = splitMessage(cid, HID_CMD.PING, new Uint8Array(0))[0]!;
      r[5] = (MAX_MESSAGE_SIZE + 1) >> 8;
      r[6] = (MAX_MESSAGE_SIZE + 1) & 0xff;
      await p.send([r]);
      await p.expectError(cid, 'INVALID_LEN', 'BCNT 7610');
      await p.ping(cid, pattern(10, 7), 'PING after INVALID_LEN');
    },
  },
  {
    group: 'hid',
    name: 'skipped sequence number gets INVALID_SEQ',
    source: `${CTAP} §11.2.4`,
    async run(p) {
      const cid = await p.allocate();
      const reports = splitMessage(cid, HID_CMD.PING, pattern(200, 8)); // INIT + CONT 0,1,2
      await p.send([reports[0]!, reports[2]!]);
      await p.expectError(cid, 'INVALID_SEQ', 'CONT seq 1 after INIT');
      await p.ping(cid, pattern(100, 9), 'PING after INVALID_SEQ');
    },
  },
  {
    group: 'hid',
    name: 'a new INIT-packet command in the middle of a message gets INVALID_SEQ',
    source: `${CTAP} §11.2.4`,
    async run(p) {
      const cid = await p.allocate();
      await p.send([splitMessage(cid, HID_CMD.PING, pattern(200, 10))[0]!, splitMessage(cid, HID_CMD.PING, pattern(5, 11))[0]!]);
      await p.expectError(cid, 'INVALID_SEQ', 'PING INIT packet where CONT was due');
    },
  },
  {
    group: 'hid',
    name: 'INIT resynchronises a channel in the middle of a message',
    source: `${CTAP} §11.2.9.1.3`,
    async run(p) {
      const cid = await p.allocate();
      await p.send([splitMessage(cid, HID_CMD.PING, pattern(300, 12))[0]!]);
      const nonce = p.nonce();
      await p.send(splitMessage(cid, HID_CMD.INIT, nonce));
      const m = await p.message(cid);
      check(m && m.cmd === HID_CMD.INIT, 'no INIT answer after an interrupted message');
      await p.ping(cid, pattern(120, 13), 'PING after resync');
    },
  },
  {
    group: 'hid',
    name: 'busy channel: another channel gets CHANNEL_BUSY and the first message completes',
    source: `${CTAP} §11.2.5.3`,
    async run(p) {
      const a = await p.allocate();
      const b = await p.allocate();
      const data = pattern(200, 14);
      const reports = splitMessage(a, HID_CMD.PING, data);
      await p.send([reports[0]!, reports[1]!]);
      await p.send(splitMessage(b, HID_CMD.PING, pattern(4, 15)));
      await p.expectError(b, 'CHANNEL_BUSY', 'PING on B while A assembles');
      await p.send(reports.slice(2));
      const m = await p.message(a);
      check(m && m.cmd === HID_CMD.PING && m.payload.length === data.length && m.payload.every((x, i) => x === data[i]), 'message on A was not completed intact');
    },
  },
  {
    group: 'hid',
    name: 'abort from another channel: CANCEL on B does not disturb A',
    source: `${CTAP} §11.2.9.1.5`,
    async run(p) {
      const a = await p.allocate();
      const b = await p.allocate();
      const data = pattern(150, 16);
      const reports = splitMessage(a, HID_CMD.PING, data);
      await p.send([reports[0]!]);
      await p.send(splitMessage(b, HID_CMD.CANCEL, new Uint8Array(0)));
      await p.expectSilence(b, 200, 'CANCEL on B');
      await p.send(reports.slice(1));
      const m = await p.message(a);
      check(m && m.cmd === HID_CMD.PING && m.payload.every((x, i) => x === data[i]), 'message on A was disturbed');
    },
  },
  {
    group: 'hid',
    name: 'CANCEL with nothing pending is ignored',
    source: `${CTAP} §11.2.9.1.5`,
    async run(p) {
      const cid = await p.allocate();
      await p.send(splitMessage(cid, HID_CMD.CANCEL, new Uint8Array(0)));
      await p.expectSilence(cid, 200, 'CANCEL');
      await p.ping(cid, pattern(3, 17), 'PING after CANCEL');
    },
  },
  {
    group: 'hid',
    name: 'inter-packet timeout gets MSG_TIMEOUT and frees the device',
    source: `${CTAP} §11.2.4`,
    async run(p) {
      const cid = await p.allocate();
      await p.send([splitMessage(cid, HID_CMD.PING, pattern(100, 18))[0]!]);
      const m = await p.message(cid, INTER_PACKET_TIMEOUT_MS + 1500);
      check(m && m.cmd === HID_CMD.ERROR && m.payload[0] === HID_ERROR.MSG_TIMEOUT, `expected ERROR MSG_TIMEOUT after ${INTER_PACKET_TIMEOUT_MS} ms of silence`);
      await p.ping(cid, pattern(20, 19), 'PING after MSG_TIMEOUT');
    },
  },
  {
    group: 'hid',
    name: 'spurious CONT packet is ignored',
    source: `${CTAP} §11.2.4`,
    async run(p) {
      const cid = await p.allocate();
      const cont = splitMessage(cid, HID_CMD.PING, pattern(100, 20))[1]!;
      await p.send([cont]);
      await p.expectSilence(cid, 200, 'spurious CONT');
      await p.ping(cid, pattern(5, 21), 'PING after spurious CONT');
    },
  },
  {
    group: 'hid',
    name: 'channel 0 is invalid',
    source: `${CTAP} §11.2.3`,
    async run(p) {
      await p.send(splitMessage(0, HID_CMD.PING, pattern(4, 22)));
      await p.expectError(0, 'INVALID_CHANNEL', 'PING on channel 0');
      await p.send(splitMessage(0, HID_CMD.INIT, p.nonce()));
      await p.expectError(0, 'INVALID_CHANNEL', 'INIT on channel 0');
    },
  },
  {
    group: 'hid',
    name: 'broadcast channel accepts only INIT',
    source: `${CTAP} §11.2.3`,
    async run(p) {
      await p.send(splitMessage(BROADCAST_CID, HID_CMD.PING, pattern(4, 23)));
      await p.expectError(BROADCAST_CID, 'INVALID_CHANNEL', 'PING on broadcast');
      await p.send(splitMessage(BROADCAST_CID, HID_CMD.CBOR, Uint8Array.of(COMMAND.GET_INFO, 0xa0)));
      await p.expectError(BROADCAST_CID, 'INVALID_CHANNEL', 'CBOR on broadcast');
    },
  },
  {
    group: 'hid',
    name: 'an unallocated channel is invalid',
    source: `${CTAP} §11.2.3`,
    async run(p) {
      const cid = 0x5a5a0001;
      await p.send(splitMessage(cid, HID_CMD.PING, pattern(4, 24)));
      await p.expectError(cid, 'INVALID_CHANNEL', 'PING on an unallocated channel');
    },
  },
  {
    group: 'hid',
    name: 'WINK answers with an empty WINK',
    source: `${CTAP} §11.2.9.2.1`,
    async run(p) {
      const cid = await p.allocate();
      await p.send(splitMessage(cid, HID_CMD.WINK, new Uint8Array(0)));
      const m = await p.message(cid);
      check(m && m.cmd === HID_CMD.WINK && m.payload.length === 0, 'no empty WINK answer');
    },
  },
  {
    group: 'cbor',
    name: 'empty CBOR message gets INVALID_LEN',
    source: `${CTAP} §11.2.9.1.2`,
    async run(p) {
      const cid = await p.allocate();
      await p.send(splitMessage(cid, HID_CMD.CBOR, new Uint8Array(0)));
      await p.expectError(cid, 'INVALID_LEN', 'empty CBOR');
    },
  },
  {
    group: 'cbor',
    name: 'GET_INFO answers OK with a well-formed map',
    source: 'docs/protocol.md §5.1',
    async run(p) {
      const cid = await p.allocate();
      await p.send(splitMessage(cid, HID_CMD.CBOR, Uint8Array.of(COMMAND.GET_INFO, 0xa0)));
      const m = await p.message(cid);
      check(m && m.cmd === HID_CMD.CBOR, 'no CBOR answer to GET_INFO');
      const r = decodeResponse('GET_INFO', m.payload);
      check(r.ok, `GET_INFO answer does not parse: ${r.ok ? '' : r.reason}`);
      check(r.value.status === 'OK', `GET_INFO status ${r.value.status}`);
    },
  },
  {
    group: 'cbor',
    name: 'malformed requests get the codec status (trailing byte, unknown key, unknown command)',
    source: 'docs/protocol.md §4.1',
    async run(p) {
      const cid = await p.allocate();
      const cases: Array<[Uint8Array, keyof typeof STATUS]> = [
        [Uint8Array.of(COMMAND.GET_INFO, 0xa0, 0x00), 'INVALID_CBOR'],
        [Uint8Array.of(COMMAND.GET_INFO, 0xa1, 0x01, 0x01), 'UNKNOWN_KEY'],
        [Uint8Array.of(COMMAND.GET_INFO, 0x80), 'UNEXPECTED_TYPE'],
        [Uint8Array.of(COMMAND.GET_INFO, 0xb8, 0x00), 'INVALID_CBOR'],
        [Uint8Array.of(0x7e, 0xa0), 'INVALID_COMMAND'],
      ];
      for (const [msg, status] of cases) {
        await p.send(splitMessage(cid, HID_CMD.CBOR, msg));
        const m = await p.message(cid);
        check(m && m.cmd === HID_CMD.CBOR, `no CBOR answer to ${Buffer.from(msg).toString('hex')}`);
        check(m.payload.length === 1 && m.payload[0] === STATUS[status], `${Buffer.from(msg).toString('hex')}: expected status ${status}, got ${Buffer.from(m.payload.subarray(0, 4)).toString('hex')}`);
      }
    },
  },
  {
    group: 'serial',
    name: 'a frame with a flipped bit is dropped; the next frame is answered',
    source: SERIAL,
    async run(p) {
      const cid = await p.allocate();
      for (const bit of [0, 9, 100, 300, 550]) {
        const f = encodeFrame(splitMessage(cid, HID_CMD.PING, pattern(30, bit))[0]!);
        const pos = 1 + Math.floor(bit / 8) % (f.length - 2);
        f[pos]! ^= 1 << (bit % 8);
        await p.t.sendRaw(f);
        await p.expectSilence(cid, 150, `frame with bit ${bit} flipped`);
      }
      await p.ping(cid, pattern(30, 25), 'PING after bit flips');
    },
  },
  {
    group: 'serial',
    name: 'a truncated frame is dropped; the next frame is answered',
    source: SERIAL,
    async run(p) {
      const cid = await p.allocate();
      const f = encodeFrame(splitMessage(cid, HID_CMD.PING, pattern(30, 26))[0]!);
      await p.t.sendRaw(Uint8Array.of(...f.subarray(0, 40), 0x00));
      await p.expectSilence(cid, 150, 'truncated frame');
      await p.ping(cid, pattern(30, 27), 'PING after a truncated frame');
    },
  },
  {
    group: 'serial',
    name: 'garbage between frames does not lose the next frame',
    source: SERIAL,
    async run(p) {
      const cid = await p.allocate();
      const garbage = pattern(37, 28).map((b) => b | 1); // no 0x00: pure line noise
      const data = pattern(80, 29);
      const frames = splitMessage(cid, HID_CMD.PING, data).map(encodeFrame);
      await p.t.sendRaw(Uint8Array.of(...garbage, ...frames[0]!, ...garbage, ...frames[1]!));
      const m = await p.message(cid);
      check(m && m.cmd === HID_CMD.PING && m.payload.every((b, i) => b === data[i]), 'message with garbage between its frames was not answered intact');
    },
  },
  {
    group: 'serial',
    name: 'zero and 0xFF bytes inside data survive COBS',
    source: SERIAL,
    async run(p) {
      const cid = await p.allocate();
      const data = new Uint8Array(600);
      for (let i = 0; i < data.length; i++) data[i] = i % 3 === 0 ? 0x00 : i % 3 === 1 ? 0xff : 0x00;
      await p.ping(cid, data, 'PING of zeros and 0xFF');
      await p.ping(cid, new Uint8Array(300), 'PING of all zeros');
    },
  },
  {
    group: 'serial',
    name: 'a frame written one byte at a time is answered',
    source: SERIAL,
    async run(p) {
      const cid = await p.allocate();
      const data = pattern(40, 30);
      const f = encodeFrame(splitMessage(cid, HID_CMD.PING, data)[0]!);
      for (const b of f) await p.t.sendRaw(Uint8Array.of(b));
      const m = await p.message(cid);
      check(m && m.cmd === HID_CMD.PING && m.payload.every((b, i) => b === data[i]), 'byte-by-byte frame was not answered');
    },
  },
  {
    group: 'serial',
    name: 'an overlong run without a delimiter is discarded; the next frame is answered',
    source: SERIAL,
    async run(p) {
      const cid = await p.allocate();
      await p.t.sendRaw(pattern(1000, 31).map((b) => b | 0x80));
      await p.ping(cid, pattern(30, 32), 'PING after 1000 bytes of noise');
    },
  },
];

/** Runs every case on an open framed transport (the caller owns and closes it). */
export async function runTransportCases(transport: FramedTransport, options: { timeoutMs: number; log?: (m: string) => void }): Promise<CaseResult[]> {
  const probe = new Probe(transport, options.timeoutMs);
  const results: CaseResult[] = [];
  for (const c of CASES) {
    const started = Date.now();
    let status: CaseResult['status'] = 'pass';
    let message: string | undefined;
    try {
      transport.drain();
      await c.run(probe);
    } catch (e) {
      status = 'fail';
      message = e instanceof Error ? e.message : String(e);
      // Let the token forget whatever half-message the failed case left behind.
      await new Promise((r) => setTimeout(r, INTER_PACKET_TIMEOUT_MS + 100));
    }
    const r: CaseResult = { suite: SUITE, group: c.group, name: c.name, status, durationMs: Date.now() - started, source: c.source };
    if (message !== undefined) r.message = message;
    options.log?.(`${status === 'pass' ? 'ok  ' : 'FAIL'} ${c.group}: ${c.name}${message ? ` — ${message}` : ''}`);
    results.push(r);
  }
  return results;
}

export const transportSuite: Suite = {
  name: SUITE,
  description: 'Report layer (CTAPHID rules) and serial carriage (COBS/CRC-32) of a token on a serial port or tcp://',
  target: 'transport',
  async run(ctx: SuiteContext): Promise<CaseResult[]> {
    if (!ctx.target) throw new Error('the transport suite needs --target PATH or tcp://HOST:PORT');
    const t = await openTransport(ctx.target);
    try {
      if (!(t instanceof FramedTransport)) throw new Error('transport suite: the target is not a framed transport');
      return await runTransportCases(t, { timeoutMs: ctx.timeoutMs, log: (m) => ctx.log(m) });
    } finally {
      await t.close();
    }
  },
};
