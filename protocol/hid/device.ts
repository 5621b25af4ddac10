/**
 * The device engine of the report layer (docs/protocol.md §2.3-2.8), after FIDO CTAPHID (CTAP 2.1 §11.2):
 * `HidDevice` is the reusable DEVICE side — channel allocation with INIT, PING, WINK, CANCEL, KEEPALIVE and
 * the ERROR answers — over the pure pieces beside it (packet.ts: one packet; assembler.ts: message ⇄
 * packets). It hands each complete CBOR message to a callback. The firmware simulator and the reference
 * responder use it as-is. Time is the `nowMs` the caller passes in (the injected clock): the inter-packet
 * timeout and the KEEPALIVE interval are measured with it, never with a global clock.
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
 * them and return them from the device's next `tick` (see reference-responder.ts `press`). An exception
 * thrown by the handler is answered with status OTHER (the device never dies on a request).
 */
import {
  BROADCAST_CID,
  CTAPHID_PROTOCOL_VERSION,
  HID_CAPABILITY,
  HID_CMD,
  INIT_NONCE_SIZE,
  INIT_RESPONSE_SIZE,
  KEEPALIVE_INTERVAL_MS,
  MAX_MESSAGE_SIZE,
  RESERVED_CID,
  STATUS,
  type HidErrorName,
  type KeepaliveStatusName,
} from '../registry.ts';
import { ByteReader, ByteWriter } from '../bytes.ts';
import { MessageAssembler, splitMessage } from './assembler.ts';
import { errorReport, keepaliveReport, parsePacket } from './packet.ts';

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
      const cid = new ByteReader(this.#opts.rng(4), { endian: 'big', what: 'rng' }).u32();
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
        const r = new ByteWriter({ endian: 'big', what: 'INIT response', capacity: INIT_RESPONSE_SIZE })
          .bytes(payload)
          .u32(newCid)
          .u8(CTAPHID_PROTOCOL_VERSION)
          .u8(v.major & 0xff)
          .u8(v.minor & 0xff)
          .u8(v.build & 0xff)
          .u8(HID_CAPABILITY.WINK | HID_CAPABILITY.CBOR | HID_CAPABILITY.NMSG);
        return splitMessage(cid, HID_CMD.INIT, r.done());
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
