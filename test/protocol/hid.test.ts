/**
 * Report layer: packet codec, assembler rules and the HidDevice (channels, PING/WINK/CANCEL, pending CBOR
 * requests with KEEPALIVE), all driven by an explicit clock value.
 */
import { describe, expect, it } from 'vitest';
import { bytesToHex } from '../../otp/hex.ts';
import { encodeContPacket, encodeInitPacket, parsePacket, type Packet } from '../../protocol/hid/packet.ts';
import { MessageAssembler, reportCount, splitMessage } from '../../protocol/hid/assembler.ts';
import { HidDevice } from '../../protocol/hid/device.ts';
import { seededRng } from '../../protocol/reference-responder.ts';
import { BROADCAST_CID, HID_CMD, HID_ERROR, MAX_MESSAGE_SIZE, STATUS } from '../../protocol/registry.ts';

const pkt = (r: Uint8Array): Packet => parsePacket(r)!;
const bytes = (n: number, seed = 1): Uint8Array => seededRng(seed)(n);

function decodeAnswers(reports: Uint8Array[]): Array<{ cid: number; cmd: number; payload: Uint8Array }> {
  const out: Array<{ cid: number; cmd: number; payload: Uint8Array }> = [];
  // answers may interleave channels only between messages; assemble per channel in order
  const byCid = new Map<number, MessageAssembler>();
  for (const r of reports) {
    const p = pkt(r);
    let a = byCid.get(p.cid);
    if (!a) byCid.set(p.cid, (a = new MessageAssembler({ otherChannel: 'ignore' })));
    const ev = a.push(p, 0);
    if (ev.kind === 'message') out.push({ cid: ev.cid, cmd: ev.cmd, payload: ev.payload });
    if (ev.kind === 'error') throw new Error(`answer stream damaged: ${ev.error}`);
  }
  return out;
}

describe('packet codec', () => {
  it('splits at 57 + n*59 bytes and reassembles', () => {
    for (const n of [0, 1, 57, 58, 116, 117, 1000, MAX_MESSAGE_SIZE]) {
      const data = bytes(n, n + 1);
      const reports = splitMessage(0x01020304, HID_CMD.PING, data);
      expect(reports.length).toBe(reportCount(n));
      for (const r of reports) expect(r.length).toBe(64);
      const [m] = decodeAnswers(reports);
      expect(m!.cmd).toBe(HID_CMD.PING);
      expect(bytesToHex(m!.payload)).toBe(bytesToHex(data));
    }
    expect(reportCount(MAX_MESSAGE_SIZE)).toBe(129); // 1 INIT + 128 CONT (SEQ 0..127)
  });

  it('lays out INIT and CONT packets big-endian', () => {
    const [init, cont] = splitMessage(0xa1b2c3d4, HID_CMD.CBOR, new Uint8Array(60).fill(0xee));
    expect(bytesToHex(init!.subarray(0, 8))).toBe('a1b2c3d4' + '90' + '003c' + 'ee');
    expect(bytesToHex(cont!.subarray(0, 9))).toBe('a1b2c3d4' + '00' + 'eeeeee' + '00');
  });

  it('refuses oversize messages and bad command numbers (caller bugs)', () => {
    expect(() => splitMessage(1, 1, new Uint8Array(MAX_MESSAGE_SIZE + 1))).toThrow(RangeError);
    expect(() => splitMessage(1, 0x80, new Uint8Array(0))).toThrow(RangeError);
  });

  it('encodes one INIT or CONT packet and parses it back', () => {
    const init = encodeInitPacket(0xffffffff, HID_CMD.INIT, 8, bytes(8, 3));
    expect(pkt(init)).toEqual({ kind: 'init', cid: 0xffffffff, cmd: HID_CMD.INIT, bcnt: 8, data: init.subarray(7) });
    expect(bytesToHex(init.subarray(15))).toBe('00'.repeat(49));
    const cont = encodeContPacket(0x01020304, 0x7f, new Uint8Array(59).fill(0xaa));
    expect(pkt(cont)).toEqual({ kind: 'cont', cid: 0x01020304, seq: 0x7f, data: cont.subarray(5) });
  });

  it('packet encoders refuse values their fields cannot hold (caller bugs)', () => {
    expect(() => encodeInitPacket(1, 0x80, 0, new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeInitPacket(1, 1, 0x10000, new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeInitPacket(1, 1, 58, new Uint8Array(58))).toThrow(RangeError);
    expect(() => encodeContPacket(1, 0x80, new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeContPacket(1, -1, new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeContPacket(1, 0, new Uint8Array(60))).toThrow(RangeError);
  });

  it('parsePacket rejects anything but 64 bytes', () => {
    expect(parsePacket(new Uint8Array(63))).toBeUndefined();
    expect(parsePacket(new Uint8Array(65))).toBeUndefined();
    expect(parsePacket(new Uint8Array(64))?.kind).toBe('cont');
  });
});

describe('MessageAssembler (device rules)', () => {
  const A = 0x11111111;
  const B = 0x22222222;
  const msg = (cid: number, n: number) => splitMessage(cid, HID_CMD.PING, bytes(n, cid & 0xff));

  it('skipped sequence → INVALID_SEQ and the assembly is dropped', () => {
    const a = new MessageAssembler({ otherChannel: 'busy' });
    const r = msg(A, 200);
    expect(a.push(pkt(r[0]!), 0).kind).toBe('partial');
    expect(a.push(pkt(r[2]!), 1)).toEqual({ kind: 'error', cid: A, error: 'INVALID_SEQ' });
    expect(a.busyCid).toBeUndefined();
  });

  it('spurious CONT is ignored', () => {
    const a = new MessageAssembler({ otherChannel: 'busy' });
    expect(a.push(pkt(msg(A, 200)[1]!), 0).kind).toBe('ignored');
  });

  it('another channel while assembling → CHANNEL_BUSY (device) or ignored (host); CANCEL from it is ignored', () => {
    const dev = new MessageAssembler({ otherChannel: 'busy' });
    const host = new MessageAssembler({ otherChannel: 'ignore' });
    for (const a of [dev, host]) a.push(pkt(msg(A, 200)[0]!), 0);
    expect(dev.push(pkt(msg(B, 4)[0]!), 1)).toEqual({ kind: 'error', cid: B, error: 'CHANNEL_BUSY' });
    expect(host.push(pkt(msg(B, 4)[0]!), 1).kind).toBe('ignored');
    expect(dev.push(pkt(splitMessage(B, HID_CMD.CANCEL, new Uint8Array(0))[0]!), 1).kind).toBe('ignored');
    expect(dev.busyCid).toBe(A);
  });

  it('INIT on the assembling channel resynchronises; CANCEL drops; other commands → INVALID_SEQ', () => {
    const a = new MessageAssembler({ otherChannel: 'busy' });
    a.push(pkt(msg(A, 200)[0]!), 0);
    const init = splitMessage(A, HID_CMD.INIT, bytes(8));
    expect(a.push(pkt(init[0]!), 1)).toMatchObject({ kind: 'message', cid: A, cmd: HID_CMD.INIT });
    a.push(pkt(msg(A, 200)[0]!), 2);
    expect(a.push(pkt(splitMessage(A, HID_CMD.CANCEL, new Uint8Array(0))[0]!), 3).kind).toBe('ignored');
    expect(a.busyCid).toBeUndefined();
    a.push(pkt(msg(A, 200)[0]!), 4);
    expect(a.push(pkt(msg(A, 4)[0]!), 5)).toEqual({ kind: 'error', cid: A, error: 'INVALID_SEQ' });
  });

  it('oversize BCNT → INVALID_LEN without allocating', () => {
    const a = new MessageAssembler({ otherChannel: 'busy' });
    const r = msg(A, 1)[0]!;
    r[5] = 0xff;
    r[6] = 0xff;
    expect(a.push(pkt(r), 0)).toEqual({ kind: 'error', cid: A, error: 'INVALID_LEN' });
  });

  it('inter-packet timeout is measured with the clock values passed in', () => {
    const a = new MessageAssembler({ otherChannel: 'busy', interPacketTimeoutMs: 500 });
    const r = msg(A, 200);
    a.push(pkt(r[0]!), 1000);
    expect(a.expire(1500)).toBeUndefined();
    a.push(pkt(r[1]!), 1500);
    expect(a.expire(2000)).toBeUndefined();
    expect(a.expire(2001)).toBe(A);
    expect(a.push(pkt(r[2]!), 2002).kind).toBe('ignored');
  });
});

function makeDevice(handle: (payload: Uint8Array) => Uint8Array | 'pending' | 'processing' = (p) => Uint8Array.of(STATUS.OK, ...p.subarray(1))) {
  const events: string[] = [];
  const dev = new HidDevice({
    rng: seededRng(42),
    handleCbor: (cid, payload) => handle(payload),
    onCancel: (cid, why) => events.push(`cancel:${why}`),
    onWink: () => events.push('wink'),
    onChannelClosed: (cid) => events.push(`closed:${cid.toString(16)}`),
    maxChannels: 3,
  });
  const send = (reports: Uint8Array[], now = 0) => decodeAnswers(reports.flatMap((r) => dev.handleReport(r, now)));
  const allocate = (now = 0): number => {
    const [m] = send(splitMessage(BROADCAST_CID, HID_CMD.INIT, bytes(8, 7)), now);
    const d = m!.payload;
    return ((d[8]! << 24) >>> 0) + ((d[9]! << 16) | (d[10]! << 8) | d[11]!);
  };
  return { dev, events, send, allocate };
}

describe('HidDevice', () => {
  it('allocates distinct channels; evicts the oldest beyond maxChannels and reports it', () => {
    const { allocate, events, dev } = makeDevice();
    const cids = [allocate(), allocate(), allocate(), allocate()];
    expect(new Set(cids).size).toBe(4);
    expect(dev.channels).toEqual(cids.slice(1));
    expect(events).toEqual([`closed:${cids[0]!.toString(16)}`]);
  });

  it('answers INIT with nonce, channel, version 2 and capabilities WINK|CBOR|NMSG', () => {
    const { send } = makeDevice();
    const nonce = bytes(8, 9);
    const [m] = send(splitMessage(BROADCAST_CID, HID_CMD.INIT, nonce));
    expect(m!.cid).toBe(BROADCAST_CID);
    expect(m!.payload.length).toBe(17);
    expect(bytesToHex(m!.payload.subarray(0, 8))).toBe(bytesToHex(nonce));
    expect(m!.payload[12]).toBe(2);
    expect(m!.payload[16]).toBe(0x0d);
  });

  it('is deterministic: same reports, same clock, same rng → same bytes', () => {
    const run = () => {
      const { dev } = makeDevice();
      const reps = [...splitMessage(BROADCAST_CID, HID_CMD.INIT, bytes(8)), ...splitMessage(BROADCAST_CID, HID_CMD.PING, bytes(3))];
      return reps.flatMap((r, i) => dev.handleReport(r, i * 10)).map(bytesToHex).join();
    };
    expect(run()).toBe(run());
  });

  it('PING echoes, WINK calls onWink, CBOR goes to the handler', () => {
    const { send, allocate, events } = makeDevice();
    const cid = allocate();
    const data = bytes(3000, 3);
    expect(bytesToHex(send(splitMessage(cid, HID_CMD.PING, data))[0]!.payload)).toBe(bytesToHex(data));
    expect(send(splitMessage(cid, HID_CMD.WINK, new Uint8Array(0)))[0]).toMatchObject({ cmd: HID_CMD.WINK });
    expect(events).toContain('wink');
    expect(bytesToHex(send(splitMessage(cid, HID_CMD.CBOR, Uint8Array.of(1, 0xa0)))[0]!.payload)).toBe('00a0');
  });

  it.each([
    ['channel 0', 0, HID_CMD.PING, 4, 'INVALID_CHANNEL'],
    ['broadcast PING', BROADCAST_CID, HID_CMD.PING, 4, 'INVALID_CHANNEL'],
    ['unallocated channel', 0x12345678, HID_CMD.PING, 4, 'INVALID_CHANNEL'],
    ['INIT of 7 bytes', BROADCAST_CID, HID_CMD.INIT, 7, 'INVALID_LEN'],
    ['empty CBOR', -1, HID_CMD.CBOR, 0, 'INVALID_LEN'],
    ['WINK with data', -1, HID_CMD.WINK, 1, 'INVALID_LEN'],
    ['unknown command', -1, 0x2f, 0, 'INVALID_CMD'],
    ['MSG (CTAP1)', -1, HID_CMD.MSG, 10, 'INVALID_CMD'],
    ['LOCK', -1, HID_CMD.LOCK, 1, 'INVALID_CMD'],
  ] as const)('%s → ERROR %s', (_name, cidIn, cmd, n, error) => {
    const { send, allocate } = makeDevice();
    const cid = cidIn === -1 ? allocate() : cidIn;
    const [m] = send(splitMessage(cid, cmd, bytes(n)));
    expect(m).toMatchObject({ cid, cmd: HID_CMD.ERROR });
    expect(m!.payload[0]).toBe(HID_ERROR[error]);
  });

  it('a handler that throws is answered with status OTHER, and the device keeps working', () => {
    const { send, allocate } = makeDevice(() => {
      throw new Error('boom');
    });
    const cid = allocate();
    expect(bytesToHex(send(splitMessage(cid, HID_CMD.CBOR, Uint8Array.of(1)))[0]!.payload)).toBe('7f');
    expect(send(splitMessage(cid, HID_CMD.PING, bytes(2)))[0]!.cmd).toBe(HID_CMD.PING);
  });

  it('MSG_TIMEOUT comes from tick() once the inter-packet timeout passes', () => {
    const { dev, allocate } = makeDevice();
    const cid = allocate(0);
    dev.handleReport(splitMessage(cid, HID_CMD.PING, bytes(100))[0]!, 1000);
    expect(dev.tick(1500)).toEqual([]);
    const [m] = decodeAnswers(dev.tick(1501));
    expect(m).toMatchObject({ cid, cmd: HID_CMD.ERROR });
    expect(m!.payload[0]).toBe(HID_ERROR.MSG_TIMEOUT);
  });

  it("'processing' answers KEEPALIVE PROCESSING until complete()", () => {
    const { dev, send, allocate } = makeDevice(() => 'processing');
    const cid = allocate();
    expect(send(splitMessage(cid, HID_CMD.CBOR, Uint8Array.of(1, 0xa0)), 0)).toEqual([{ cid, cmd: HID_CMD.KEEPALIVE, payload: Uint8Array.of(1) }]);
    expect(decodeAnswers(dev.tick(100))).toEqual([{ cid, cmd: HID_CMD.KEEPALIVE, payload: Uint8Array.of(1) }]);
    expect(decodeAnswers(dev.complete(cid, Uint8Array.of(0, 0xa0)))[0]!.cmd).toBe(HID_CMD.CBOR);
  });

  describe('pending requests (button)', () => {
    const setup = () => {
      const d = makeDevice((p) => (p[0] === 0x0b ? 'pending' : Uint8Array.of(0, 0xa0)));
      const a = d.allocate();
      const b = d.allocate();
      const first = d.send(splitMessage(a, HID_CMD.CBOR, Uint8Array.of(0x0b, 0xa0)), 0);
      return { ...d, a, b, first };
    };

    it('answers KEEPALIVE UPNEEDED at once and every 100 ms from tick', () => {
      const { dev, a, first } = setup();
      expect(first).toEqual([{ cid: a, cmd: HID_CMD.KEEPALIVE, payload: Uint8Array.of(2) }]);
      expect(dev.tick(50)).toEqual([]);
      expect(decodeAnswers(dev.tick(100))).toEqual([{ cid: a, cmd: HID_CMD.KEEPALIVE, payload: Uint8Array.of(2) }]);
      expect(dev.pending).toEqual({ cid: a });
    });

    it('complete() sends the response and frees the device', () => {
      const { dev, a, send } = setup();
      expect(dev.complete(a + 1, Uint8Array.of(0))).toEqual([]);
      expect(decodeAnswers(dev.complete(a, Uint8Array.of(0, 0xa0)))).toEqual([{ cid: a, cmd: HID_CMD.CBOR, payload: Uint8Array.of(0, 0xa0) }]);
      expect(dev.pending).toBeUndefined();
      expect(send(splitMessage(a, HID_CMD.PING, bytes(1)))[0]!.cmd).toBe(HID_CMD.PING);
    });

    it('other requests get CHANNEL_BUSY; broadcast INIT still allocates; CANCEL elsewhere is ignored', () => {
      const { send, a, b } = setup();
      expect(send(splitMessage(b, HID_CMD.PING, bytes(1)))[0]).toMatchObject({ cid: b, cmd: HID_CMD.ERROR, payload: Uint8Array.of(HID_ERROR.CHANNEL_BUSY) });
      expect(send(splitMessage(a, HID_CMD.PING, bytes(1)))[0]).toMatchObject({ cid: a, cmd: HID_CMD.ERROR, payload: Uint8Array.of(HID_ERROR.CHANNEL_BUSY) });
      expect(send(splitMessage(BROADCAST_CID, HID_CMD.INIT, bytes(8)))[0]!.cmd).toBe(HID_CMD.INIT);
      expect(send(splitMessage(b, HID_CMD.CANCEL, new Uint8Array(0)))).toEqual([]);
    });

    it('CANCEL on the pending channel answers KEEPALIVE_CANCEL and tells the core', () => {
      const { send, a, events, dev } = setup();
      expect(send(splitMessage(a, HID_CMD.CANCEL, new Uint8Array(0)))).toEqual([{ cid: a, cmd: HID_CMD.CBOR, payload: Uint8Array.of(STATUS.KEEPALIVE_CANCEL) }]);
      expect(events).toContain('cancel:cancel');
      expect(dev.pending).toBeUndefined();
      expect(dev.complete(a, Uint8Array.of(0))).toEqual([]);
    });

    it('INIT on the pending channel cancels it (resync) and answers INIT', () => {
      const { send, a, events, dev } = setup();
      expect(send(splitMessage(a, HID_CMD.INIT, bytes(8)))[0]!.cmd).toBe(HID_CMD.INIT);
      expect(events).toContain('cancel:resync');
      expect(events).toContain(`closed:${a.toString(16)}`);
      expect(dev.pending).toBeUndefined();
    });
  });
});
