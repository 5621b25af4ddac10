/**
 * The report layer (docs/protocol.md §2), modelled on FIDO CTAPHID (CTAP 2.1 §11.2) and on the shape of
 * google/OpenSK `ctap/hid/receive.rs`: assembly is a deterministic function of (state, one packet, now).
 *
 *   INIT packet  CID(4, big-endian) | CMD(1, bit 7 set) | BCNT(2, big-endian) | DATA(57)
 *   CONT packet  CID(4, big-endian) | SEQ(1, 0x00..0x7F) | DATA(59)
 *
 * Pieces, from the bottom up (all pure except where a class owns state with a lifecycle):
 *  - `parsePacket` / `splitMessage` / `errorReports` / `keepaliveReport`: the packet codec.
 *  - `MessageAssembler`: one message at a time, with the CTAPHID error rules — skipped sequence (INVALID_SEQ),
 *    spurious CONT (ignored), a packet for another channel while busy (CHANNEL_BUSY, or ignored on the host),
 *    oversize BCNT (INVALID_LEN), INIT on the assembling channel (resynchronises), CANCEL on the assembling
 *    channel (drops the message), inter-packet timeout (MSG_TIMEOUT) measured with the `nowMs` the caller
 *    passes in. Time never comes from a global clock.
 *  - `HidDevice`: the reusable DEVICE side of the report layer (channel allocation with INIT, PING, WINK,
 *    CANCEL, KEEPALIVE, ERROR answers). It hands each complete CBOR message to a callback. The firmware
 *    simulator and the reference responder use it as-is.
 *
 * HidDevice API (deterministic: same reports, same `nowMs`, same rng → same output):
 *
 *   const hid = new HidDevice({
 *     rng: (n) => Uint8Array,                       // channel ids come from here (seed it in tests)
 *     handleCbor: (cid, payload, ctx) => Uint8Array | 'pending' | 'processing',
 *     onCancel?: (cid, reason) => void,              // a 'pending' request was cancelled / superseded
 *     onWink?: (cid, nowMs) => void,
 *     onChannelClosed?: (cid) => void,               // INIT resync or eviction: drop per-channel state (auth)
 *     version?: { major, minor, build }, maxChannels?: number,
 *   });
 *   hid.handleReport(report, nowMs) → Uint8Array[]   // reports to send back, in order
 *   hid.tick(nowMs)                 → Uint8Array[]   // call periodically: inter-packet timeouts, KEEPALIVE
 *   hid.complete(cid, response)     → Uint8Array[]   // finish a request the handler answered 'pending'
 *   hid.pending                     → { cid } | undefined
 *
 * `handleCbor` receives the CBOR message (command byte | map) and returns the response message (status byte |
 * map) or the string 'pending' when it must wait for the user (button). While a request is pending the device
 * answers KEEPALIVE(UPNEEDED) immediately and every KEEPALIVE_INTERVAL_MS from `tick`, answers CHANNEL_BUSY
 * to every other request, and on CANCEL from the pending channel calls `onCancel(cid, 'cancel')` and answers
 * the request with status KEEPALIVE_CANCEL. The core later calls `complete(cid, response)` (button pressed,
 * or its own user-presence timeout with status USER_ACTION_TIMEOUT) and must send the reports `complete`
 * returns; when the device is served by endpoint.ts (which only sends what handleReport/tick return), queue
 * them and return them from the device's next `tick` (see reference-responder.ts `press`). An exception thrown by the handler is
 * answered with status OTHER (the device never dies on a request).
 */
import {
  BROADCAST_CID,
  CONT_DATA_SIZE,
  CTAPHID_PROTOCOL_VERSION,
  HID_CAPABILITY,
  HID_CMD,
  HID_ERROR,
  INIT_DATA_SIZE,
  INIT_NONCE_SIZE,
  INIT_RESPONSE_SIZE,
  INTER_PACKET_TIMEOUT_MS,
  KEEPALIVE_INTERVAL_MS,
  KEEPALIVE_STATUS,
  MAX_MESSAGE_SIZE,
  REPORT_SIZE,
  RESERVED_CID,
  STATUS,
  type HidErrorName,
  type KeepaliveStatusName,
} from './registry.ts';

// ---------------------------------------------------------------------------------------------------------
// Packet codec

export type Packet =
  | { kind: 'init'; cid: number; cmd: number; bcnt: number; data: Uint8Array }
  | { kind: 'cont'; cid: number; seq: number; data: Uint8Array };

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) >>> 0) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}
function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Parses one report; `undefined` unless it is exactly REPORT_SIZE bytes. `cmd` is without bit 7. */
export function parsePacket(report: Uint8Array): Packet | undefined {
  if (!(report instanceof Uint8Array) || report.length !== REPORT_SIZE) return undefined;
  const cid = readU32(report, 0);
  const b4 = report[4]!;
  if (b4 & 0x80) return { kind: 'init', cid, cmd: b4 & 0x7f, bcnt: (report[5]! << 8) | report[6]!, data: report.subarray(7) };
  return { kind: 'cont', cid, seq: b4, data: report.subarray(5) };
}

/** Number of reports a message of `length` bytes takes. */
export function reportCount(length: number): number {
  return length <= INIT_DATA_SIZE ? 1 : 1 + Math.ceil((length - INIT_DATA_SIZE) / CONT_DATA_SIZE);
}

/** Splits a message into reports (zero padded). Throws RangeError above MAX_MESSAGE_SIZE (a caller bug). */
export function splitMessage(cid: number, cmd: number, payload: Uint8Array): Uint8Array[] {
  if (payload.length > MAX_MESSAGE_SIZE) throw new RangeError(`payload: ${payload.length} bytes exceeds MAX_MESSAGE_SIZE ${MAX_MESSAGE_SIZE}`);
  if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0x7f) throw new RangeError(`cmd: ${cmd} is outside 0..0x7f`);
  const out: Uint8Array[] = [];
  const first = new Uint8Array(REPORT_SIZE);
  writeU32(first, 0, cid >>> 0);
  first[4] = 0x80 | cmd;
  first[5] = payload.length >>> 8;
  first[6] = payload.length & 0xff;
  first.set(payload.subarray(0, INIT_DATA_SIZE), 7);
  out.push(first);
  let off = INIT_DATA_SIZE;
  for (let seq = 0; off < payload.length; seq++) {
    const r = new Uint8Array(REPORT_SIZE);
    writeU32(r, 0, cid >>> 0);
    r[4] = seq;
    r.set(payload.subarray(off, off + CONT_DATA_SIZE), 5);
    out.push(r);
    off += CONT_DATA_SIZE;
  }
  return out;
}

/** The one-report ERROR answer. */
export function errorReport(cid: number, error: HidErrorName): Uint8Array {
  return splitMessage(cid, HID_CMD.ERROR, Uint8Array.of(HID_ERROR[error]))[0]!;
}

/** The one-report KEEPALIVE. */
export function keepaliveReport(cid: number, status: KeepaliveStatusName): Uint8Array {
  return splitMessage(cid, HID_CMD.KEEPALIVE, Uint8Array.of(KEEPALIVE_STATUS[status]))[0]!;
}

// ---------------------------------------------------------------------------------------------------------
// Assembler

export type AssemblyEvent =
  /** Packet consumed; the message is not complete yet. */
  | { kind: 'partial' }
  /** Packet dropped without an answer (spurious CONT, CANCEL of an assembly, other channel on the host). */
  | { kind: 'ignored'; reason: string }
  /** A complete message. */
  | { kind: 'message'; cid: number; cmd: number; payload: Uint8Array }
  /** Answer ERROR(`error`) on `cid`; any assembly that `cid` had is dropped. */
  | { kind: 'error'; cid: number; error: HidErrorName };

export interface AssemblerOptions {
  /** 'busy': a packet for another channel while assembling gets CHANNEL_BUSY (device). 'ignore': host. */
  otherChannel: 'busy' | 'ignore';
  interPacketTimeoutMs?: number;
}

interface Assembly {
  cid: number;
  cmd: number;
  buf: Uint8Array;
  filled: number;
  nextSeq: number;
  lastMs: number;
}

/**
 * Reassembles one message at a time. `buf` is allocated from BCNT only after BCNT <= MAX_MESSAGE_SIZE is
 * checked, so the largest allocation is MAX_MESSAGE_SIZE bytes whatever the input. A message of at most
 * MAX_MESSAGE_SIZE bytes needs at most 128 CONT packets, so SEQ never exceeds 0x7F and never wraps.
 */
export class MessageAssembler {
  #cur: Assembly | undefined;
  readonly #otherChannel: 'busy' | 'ignore';
  readonly #timeoutMs: number;

  constructor(options: AssemblerOptions) {
    this.#otherChannel = options.otherChannel;
    this.#timeoutMs = options.interPacketTimeoutMs ?? INTER_PACKET_TIMEOUT_MS;
  }

  /** The channel whose message is being assembled, if any. */
  get busyCid(): number | undefined {
    return this.#cur?.cid;
  }

  /** Drops the assembly in progress (e.g. a resync from outside). */
  abort(): void {
    this.#cur = undefined;
  }

  /** If the assembly in progress has waited longer than the inter-packet timeout at `nowMs`, drops it and returns its channel. */
  expire(nowMs: number): number | undefined {
    const cur = this.#cur;
    if (cur && nowMs - cur.lastMs > this.#timeoutMs) {
      this.#cur = undefined;
      return cur.cid;
    }
    return undefined;
  }

  push(packet: Packet, nowMs: number): AssemblyEvent {
    const cur = this.#cur;
    if (packet.kind === 'cont') {
      if (!cur || cur.cid !== packet.cid) return { kind: 'ignored', reason: 'CONT packet without a message in progress' };
      if (packet.seq !== cur.nextSeq) {
        this.#cur = undefined;
        return { kind: 'error', cid: packet.cid, error: 'INVALID_SEQ' };
      }
      const n = Math.min(CONT_DATA_SIZE, cur.buf.length - cur.filled);
      cur.buf.set(packet.data.subarray(0, n), cur.filled);
      cur.filled += n;
      cur.nextSeq++;
      cur.lastMs = nowMs;
      if (cur.filled === cur.buf.length) {
        this.#cur = undefined;
        return { kind: 'message', cid: cur.cid, cmd: cur.cmd, payload: cur.buf };
      }
      return { kind: 'partial' };
    }
    // INIT packet
    if (cur) {
      if (cur.cid !== packet.cid) {
        if (this.#otherChannel === 'ignore') return { kind: 'ignored', reason: 'packet for another channel' };
        if (packet.cmd === HID_CMD.CANCEL) return { kind: 'ignored', reason: 'CANCEL from another channel' };
        return { kind: 'error', cid: packet.cid, error: 'CHANNEL_BUSY' };
      }
      // Same channel: INIT resynchronises (start over with this packet), CANCEL drops the message, anything
      // else is an INIT packet where a CONT was expected.
      this.#cur = undefined;
      if (packet.cmd === HID_CMD.CANCEL) return { kind: 'ignored', reason: 'message cancelled' };
      if (packet.cmd !== HID_CMD.INIT) return { kind: 'error', cid: packet.cid, error: 'INVALID_SEQ' };
    }
    if (packet.bcnt > MAX_MESSAGE_SIZE) return { kind: 'error', cid: packet.cid, error: 'INVALID_LEN' };
    if (packet.bcnt <= INIT_DATA_SIZE) {
      return { kind: 'message', cid: packet.cid, cmd: packet.cmd, payload: packet.data.slice(0, packet.bcnt) };
    }
    const buf = new Uint8Array(packet.bcnt);
    buf.set(packet.data.subarray(0, INIT_DATA_SIZE));
    this.#cur = { cid: packet.cid, cmd: packet.cmd, buf, filled: INIT_DATA_SIZE, nextSeq: 0, lastMs: nowMs };
    return { kind: 'partial' };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Device side

/**
 * What `handleCbor` returns: the response message, 'pending' (waiting for the user: KEEPALIVE UPNEEDED), or
 * 'processing' (busy without the user, e.g. a slow flash erase: KEEPALIVE PROCESSING). Both pending forms
 * end with `complete()`; CANCEL and INIT resync apply to both.
 */
export type CborHandlerResult = Uint8Array | 'pending' | 'processing';

export interface CborContext {
  nowMs: number;
}

export interface HidDeviceOptions {
  /** Returns `n` random bytes; channel ids are drawn from it. Inject a seeded RNG in tests. */
  rng(n: number): Uint8Array;
  /** Handles one CBOR request (command byte | map); returns the response (status | map) or 'pending'. */
  handleCbor(cid: number, payload: Uint8Array, ctx: CborContext): CborHandlerResult;
  /** The pending request on `cid` is gone: 'cancel' (host CANCEL) or 'resync' (INIT on that channel). */
  onCancel?(cid: number, reason: 'cancel' | 'resync'): void;
  /** WINK received: identify the device (blink an LED, flash the display). */
  onWink?(cid: number, nowMs: number): void;
  /** `cid` was resynchronised or evicted: drop per-channel state such as an authenticated session. */
  onChannelClosed?(cid: number): void;
  /** Firmware version bytes in the INIT response. */
  version?: { major: number; minor: number; build: number };
  /** Allocated channels kept at once; the oldest is evicted beyond this. Default 16. */
  maxChannels?: number;
}

interface Pending {
  cid: number;
  lastKeepaliveMs: number;
  status: KeepaliveStatusName;
}

export class HidDevice {
  readonly #opts: HidDeviceOptions;
  readonly #assembler = new MessageAssembler({ otherChannel: 'busy' });
  readonly #channels = new Set<number>();
  readonly #maxChannels: number;
  #pending: Pending | undefined;

  constructor(options: HidDeviceOptions) {
    this.#opts = options;
    this.#maxChannels = options.maxChannels ?? 16;
  }

  /** The request waiting for the user, if any. */
  get pending(): { cid: number } | undefined {
    return this.#pending ? { cid: this.#pending.cid } : undefined;
  }

  /** Allocated channel ids, oldest first. */
  get channels(): number[] {
    return [...this.#channels];
  }

  /** Inter-packet timeouts and keepalives due at `nowMs`. */
  tick(nowMs: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const expired = this.#assembler.expire(nowMs);
    if (expired !== undefined) out.push(errorReport(expired, 'MSG_TIMEOUT'));
    const p = this.#pending;
    if (p && nowMs - p.lastKeepaliveMs >= KEEPALIVE_INTERVAL_MS) {
      p.lastKeepaliveMs = nowMs;
      out.push(keepaliveReport(p.cid, p.status));
    }
    return out;
  }

  /** Completes the pending request on `cid` with `response`; [] if nothing is pending there. */
  complete(cid: number, response: Uint8Array): Uint8Array[] {
    if (!this.#pending || this.#pending.cid !== cid) return [];
    this.#pending = undefined;
    return splitMessage(cid, HID_CMD.CBOR, response);
  }

  handleReport(report: Uint8Array, nowMs: number): Uint8Array[] {
    const out = this.tick(nowMs);
    const packet = parsePacket(report);
    if (!packet) return out; // not a report: nothing to answer (the serial layer drops malformed frames first)
    // Channel checks that need no state change come first.
    if (packet.kind === 'init') {
      const bad = this.#channelError(packet.cid, packet.cmd);
      if (bad) {
        out.push(errorReport(packet.cid, bad));
        return out;
      }
      // A request pending on the button blocks every channel, except INIT and CANCEL on its own channel.
      const p = this.#pending;
      if (p) {
        if (packet.cid === p.cid && packet.cmd === HID_CMD.CANCEL) {
          this.#pending = undefined;
          this.#opts.onCancel?.(p.cid, 'cancel');
          out.push(...splitMessage(p.cid, HID_CMD.CBOR, Uint8Array.of(STATUS.KEEPALIVE_CANCEL)));
          return out;
        }
        if (packet.cid === p.cid && packet.cmd === HID_CMD.INIT) {
          this.#pending = undefined;
          this.#opts.onCancel?.(p.cid, 'resync');
        } else if (packet.cmd === HID_CMD.CANCEL) {
          return out; // CANCEL from another channel: ignored
        } else if (!(packet.cid === BROADCAST_CID && packet.cmd === HID_CMD.INIT)) {
          out.push(errorReport(packet.cid, 'CHANNEL_BUSY'));
          return out;
        }
      }
    }
    const ev = this.#assembler.push(packet, nowMs);
    switch (ev.kind) {
      case 'partial':
      case 'ignored':
        return out;
      case 'error':
        out.push(errorReport(ev.cid, ev.error));
        return out;
      case 'message':
        out.push(...this.#dispatch(ev.cid, ev.cmd, ev.payload, nowMs));
        return out;
    }
  }

  #channelError(cid: number, cmd: number): HidErrorName | undefined {
    if (cid === RESERVED_CID) return 'INVALID_CHANNEL';
    if (cid === BROADCAST_CID) return cmd === HID_CMD.INIT ? undefined : 'INVALID_CHANNEL';
    return this.#channels.has(cid) ? undefined : 'INVALID_CHANNEL';
  }

  #allocate(): number {
    for (;;) {
      const b = this.#opts.rng(4);
      const cid = readU32(b, 0);
      if (cid !== RESERVED_CID && cid !== BROADCAST_CID && !this.#channels.has(cid)) {
        this.#channels.add(cid);
        while (this.#channels.size > this.#maxChannels) {
          const oldest = this.#channels.values().next().value as number;
          this.#channels.delete(oldest);
          this.#opts.onChannelClosed?.(oldest);
        }
        return cid;
      }
    }
  }

  #dispatch(cid: number, cmd: number, payload: Uint8Array, nowMs: number): Uint8Array[] {
    switch (cmd) {
      case HID_CMD.INIT: {
        if (payload.length !== INIT_NONCE_SIZE) return [errorReport(cid, 'INVALID_LEN')];
        let newCid: number;
        if (cid === BROADCAST_CID) newCid = this.#allocate();
        else {
          newCid = cid; // resync: the channel stays, its state goes
          this.#opts.onChannelClosed?.(cid);
        }
        const v = this.#opts.version ?? { major: 0, minor: 0, build: 0 };
        const r = new Uint8Array(INIT_RESPONSE_SIZE);
        r.set(payload, 0);
        writeU32(r, 8, newCid);
        r[12] = CTAPHID_PROTOCOL_VERSION;
        r[13] = v.major & 0xff;
        r[14] = v.minor & 0xff;
        r[15] = v.build & 0xff;
        r[16] = HID_CAPABILITY.WINK | HID_CAPABILITY.CBOR | HID_CAPABILITY.NMSG;
        return splitMessage(cid, HID_CMD.INIT, r);
      }
      case HID_CMD.PING:
        return splitMessage(cid, HID_CMD.PING, payload);
      case HID_CMD.WINK:
        if (payload.length !== 0) return [errorReport(cid, 'INVALID_LEN')];
        this.#opts.onWink?.(cid, nowMs);
        return splitMessage(cid, HID_CMD.WINK, new Uint8Array(0));
      case HID_CMD.CANCEL:
        return []; // nothing pending on this channel: ignored
      case HID_CMD.CBOR: {
        if (payload.length === 0) return [errorReport(cid, 'INVALID_LEN')];
        let res: CborHandlerResult;
        try {
          res = this.#opts.handleCbor(cid, payload, { nowMs });
        } catch {
          res = Uint8Array.of(STATUS.OTHER);
        }
        if (res === 'pending' || res === 'processing') {
          const status = res === 'pending' ? 'UPNEEDED' : 'PROCESSING';
          this.#pending = { cid, lastKeepaliveMs: nowMs, status };
          return [keepaliveReport(cid, status)];
        }
        if (res.length > MAX_MESSAGE_SIZE) res = Uint8Array.of(STATUS.OTHER);
        return splitMessage(cid, HID_CMD.CBOR, res);
      }
      default:
        return [errorReport(cid, 'INVALID_CMD')];
    }
  }
}
