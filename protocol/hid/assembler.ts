/**
 * The message assembler of the report layer (docs/protocol.md §2.5), after FIDO CTAPHID (CTAP 2.1 §11.2.4)
 * and google/OpenSK `ctap/hid/receive.rs` / `send.rs`: pure message ⇄ packets, no channels and no clock of
 * its own.
 *
 *  - `splitMessage`: a message (cid, cmd, payload) → INIT + CONT packets with SEQ 0, 1, … (zero padded).
 *  - `MessageAssembler`: packets → one message at a time, a deterministic function of (state, one packet,
 *    `nowMs`), with the CTAPHID rules: a skipped sequence number (INVALID_SEQ), a spurious CONT (ignored), a
 *    packet for another channel while busy (CHANNEL_BUSY on the device, ignored on the host), BCNT above
 *    MAX_MESSAGE_SIZE (INVALID_LEN), INIT on the assembling channel (resynchronises), CANCEL on the
 *    assembling channel (drops the message), another INIT-packet command where a CONT was due (INVALID_SEQ),
 *    and the inter-packet timeout (MSG_TIMEOUT, via `expire`) measured with the `nowMs` the caller passes in.
 *    Time never comes from a global clock.
 */
import { CONT_DATA_SIZE, HID_CMD, INIT_DATA_SIZE, INTER_PACKET_TIMEOUT_MS, MAX_MESSAGE_SIZE, type HidErrorName } from '../registry.ts';
import { encodeContPacket, encodeInitPacket, type Packet } from './packet.ts';

/** Number of reports a message of `length` bytes takes. */
export function reportCount(length: number): number {
  return length <= INIT_DATA_SIZE ? 1 : 1 + Math.ceil((length - INIT_DATA_SIZE) / CONT_DATA_SIZE);
}

/** Splits a message into reports (zero padded). Throws RangeError above MAX_MESSAGE_SIZE (a caller bug). */
export function splitMessage(cid: number, cmd: number, payload: Uint8Array): Uint8Array[] {
  if (payload.length > MAX_MESSAGE_SIZE) throw new RangeError(`payload: ${payload.length} bytes exceeds MAX_MESSAGE_SIZE ${MAX_MESSAGE_SIZE}`);
  if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0x7f) throw new RangeError(`cmd: ${cmd} is outside 0..0x7f`);
  const out: Uint8Array[] = [encodeInitPacket(cid, cmd, payload.length, payload.subarray(0, INIT_DATA_SIZE))];
  let off = INIT_DATA_SIZE;
  for (let seq = 0; off < payload.length; seq++) {
    out.push(encodeContPacket(cid, seq, payload.subarray(off, off + CONT_DATA_SIZE)));
    off += CONT_DATA_SIZE;
  }
  return out;
}

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
