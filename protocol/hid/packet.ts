/**
 * The packet codec of the report layer (docs/protocol.md §2.1), after FIDO CTAPHID (CTAP 2.1 §11.2.4): pure
 * encode and decode of ONE 64-byte report, nothing about messages, channels or time.
 *
 *   INIT packet  CID(4, big-endian) | CMD(1, bit 7 set) | BCNT(2, big-endian) | DATA(57)
 *   CONT packet  CID(4, big-endian) | SEQ(1, 0x00..0x7F) | DATA(59)
 *
 * Bit 7 of byte 4 tells the two apart. Data shorter than the packet is zero padded. `parsePacket` never
 * throws and reads nothing beyond its 64 bytes; the encoders throw RangeError for values the fields cannot
 * hold (a caller bug, not input).
 */
import {
  CONT_DATA_SIZE,
  HID_CMD,
  HID_ERROR,
  INIT_DATA_SIZE,
  KEEPALIVE_STATUS,
  MAX_SEQ,
  REPORT_SIZE,
  type HidErrorName,
  type KeepaliveStatusName,
} from '../registry.ts';
import { ByteReader, ByteWriter } from '../bytes.ts';

export type Packet =
  | { kind: 'init'; cid: number; cmd: number; bcnt: number; data: Uint8Array }
  | { kind: 'cont'; cid: number; seq: number; data: Uint8Array };

/** Parses one report; `undefined` unless it is exactly REPORT_SIZE bytes. `cmd` is without bit 7. */
export function parsePacket(report: Uint8Array): Packet | undefined {
  if (!(report instanceof Uint8Array) || report.length !== REPORT_SIZE) return undefined;
  const r = new ByteReader(report, { endian: 'big', what: 'report' });
  const cid = r.u32();
  const b4 = r.u8();
  if (b4 & 0x80) return { kind: 'init', cid, cmd: b4 & 0x7f, bcnt: r.u16(), data: report.subarray(r.offset) };
  return { kind: 'cont', cid, seq: b4, data: report.subarray(r.offset) };
}

/** One INIT packet: `cmd` (0..0x7F, sent with bit 7 set), the message length `bcnt`, the first ≤ 57 data bytes. */
export function encodeInitPacket(cid: number, cmd: number, bcnt: number, data: Uint8Array): Uint8Array {
  if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0x7f) throw new RangeError(`cmd: ${cmd} is outside 0..0x7f`);
  if (!Number.isInteger(bcnt) || bcnt < 0 || bcnt > 0xffff) throw new RangeError(`bcnt: ${bcnt} is outside 0..0xffff`);
  if (data.length > INIT_DATA_SIZE) throw new RangeError(`data: ${data.length} bytes exceeds the ${INIT_DATA_SIZE} of an INIT packet`);
  return new ByteWriter({ endian: 'big', capacity: REPORT_SIZE }).u32(cid >>> 0).u8(0x80 | cmd).u16(bcnt).bytes(data).padTo(REPORT_SIZE).done();
}

/** One CONT packet: sequence number `seq` (0..0x7F) and ≤ 59 data bytes. */
export function encodeContPacket(cid: number, seq: number, data: Uint8Array): Uint8Array {
  if (!Number.isInteger(seq) || seq < 0 || seq > MAX_SEQ) throw new RangeError(`seq: ${seq} is outside 0..${MAX_SEQ}`);
  if (data.length > CONT_DATA_SIZE) throw new RangeError(`data: ${data.length} bytes exceeds the ${CONT_DATA_SIZE} of a CONT packet`);
  return new ByteWriter({ endian: 'big', capacity: REPORT_SIZE }).u32(cid >>> 0).u8(seq).bytes(data).padTo(REPORT_SIZE).done();
}

/** The one-report ERROR answer (docs/protocol.md §2.8). */
export function errorReport(cid: number, error: HidErrorName): Uint8Array {
  return encodeInitPacket(cid, HID_CMD.ERROR, 1, Uint8Array.of(HID_ERROR[error]));
}

/** The one-report KEEPALIVE (docs/protocol.md §2.6). */
export function keepaliveReport(cid: number, status: KeepaliveStatusName): Uint8Array {
  return encodeInitPacket(cid, HID_CMD.KEEPALIVE, 1, Uint8Array.of(KEEPALIVE_STATUS[status]));
}
