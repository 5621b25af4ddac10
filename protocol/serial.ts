/**
 * The serial carriage (docs/protocol.md §3): how 64-byte reports travel over a byte stream (USB CDC-ACM, UART,
 * a PTY, a TCP socket).
 *
 *   on the wire:  0x00 | COBS(report | CRC-32(report)) | 0x00
 *
 * CRC-32 is the IEEE 802.3 / zlib CRC (crc32.ts: reflected polynomial 0xEDB88320, init and xorout
 * 0xFFFFFFFF, check value CRC-32("123456789") = 0xCBF43926), appended little-endian. COBS (Cheshire &
 * Baker 1999) removes every 0x00 from the 68-byte payload, so 0x00 only ever marks a frame boundary; the
 * encoded payload is always exactly 69 bytes, 71 with both delimiters. The leading delimiter lets a receiver
 * that saw line noise resynchronise before this frame rather than after it; empty frames (0x00 0x00) are
 * ignored.
 *
 * The decoder is a streaming state machine with a fixed 69-byte buffer: bytes after the 69th without a
 * delimiter mark the frame as overlong and are discarded up to the next 0x00. A frame is emitted only when it
 * is complete, decodes as COBS to exactly 68 bytes and its CRC matches; anything else is counted and dropped.
 * It never throws on input bytes and never emits a partial frame.
 */
import { ByteReader, ByteWriter } from './bytes.ts';
import { crc32 } from './crc32.ts';
import { FRAME_DELIMITER, FRAME_ENCODED_SIZE, FRAME_PAYLOAD_SIZE, REPORT_SIZE } from './registry.ts';

// ---------------------------------------------------------------------------------------------------------
// COBS

/** COBS-encodes `src` into `dst` at `off`; returns the number of bytes written (src.length + 1 for < 254 bytes). */
export function cobsEncodeInto(src: Uint8Array, dst: Uint8Array, off: number): number {
  let codePos = off;
  let w = off + 1;
  let code = 1;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === 0) {
      dst[codePos] = code;
      codePos = w++;
      code = 1;
    } else {
      dst[w++] = b;
      code++;
      if (code === 0xff) {
        dst[codePos] = code;
        codePos = w++;
        code = 1;
      }
    }
  }
  dst[codePos] = code;
  return w - off;
}

export function cobsEncode(src: Uint8Array): Uint8Array {
  const dst = new Uint8Array(src.length + Math.ceil(src.length / 254) + 1);
  const n = cobsEncodeInto(src, dst, 0);
  return dst.slice(0, n);
}

/**
 * Decodes COBS `src[0..len)` (which contains no 0x00) into `dst`; returns the decoded length, or -1 if the
 * input is malformed (a code byte pointing past the end, a 0x00 inside) or would exceed `dst`.
 */
export function cobsDecodeInto(src: Uint8Array, len: number, dst: Uint8Array): number {
  let r = 0;
  let w = 0;
  while (r < len) {
    const code = src[r++]!;
    if (code === 0 || r + code - 1 > len) return -1;
    for (let i = 1; i < code; i++) {
      const b = src[r++]!;
      if (b === 0 || w >= dst.length) return -1;
      dst[w++] = b;
    }
    if (code !== 0xff && r < len) {
      if (w >= dst.length) return -1;
      dst[w++] = 0;
    }
  }
  return w;
}

export function cobsDecode(src: Uint8Array, maxLength = 1 << 16): Uint8Array | undefined {
  const dst = new Uint8Array(Math.min(maxLength, src.length));
  const n = cobsDecodeInto(src, src.length, dst);
  return n < 0 ? undefined : dst.slice(0, n);
}

// ---------------------------------------------------------------------------------------------------------
// Frames

/** Bytes on the wire per report. */
export const FRAME_WIRE_SIZE = FRAME_ENCODED_SIZE + 2;

/** The wire bytes of one report: 0x00 | COBS(report | CRC-32 LE) | 0x00 (71 bytes). */
export function encodeFrame(report: Uint8Array): Uint8Array {
  if (report.length !== REPORT_SIZE) throw new RangeError(`report: must be ${REPORT_SIZE} bytes, got ${report.length}`);
  const payload = new ByteWriter({ endian: 'little', capacity: FRAME_PAYLOAD_SIZE }).bytes(report).u32(crc32(report)).done();
  const out = new Uint8Array(FRAME_WIRE_SIZE);
  out[0] = FRAME_DELIMITER;
  const n = cobsEncodeInto(payload, out, 1);
  out[1 + n] = FRAME_DELIMITER;
  return out;
}

/** Several reports back to back (one write). */
export function encodeFrames(reports: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(reports.length * FRAME_WIRE_SIZE);
  reports.forEach((r, i) => out.set(encodeFrame(r), i * FRAME_WIRE_SIZE));
  return out;
}

export interface FrameStats {
  /** Frames emitted. */
  frames: number;
  /** Frames dropped because their CRC did not match. */
  crcErrors: number;
  /** Frames dropped because they were not valid COBS of exactly 68 bytes (truncated, garbage). */
  lengthErrors: number;
  /** Frames dropped because more than 69 bytes arrived without a delimiter. */
  overflows: number;
}

/** Streaming frame decoder: push any chunking of the byte stream, get complete, CRC-checked reports. */
export class FrameDecoder {
  readonly #buf = new Uint8Array(FRAME_ENCODED_SIZE);
  readonly #payload = new Uint8Array(FRAME_PAYLOAD_SIZE);
  #len = 0;
  #overflow = false;
  readonly stats: FrameStats = { frames: 0, crcErrors: 0, lengthErrors: 0, overflows: 0 };

  /** Bytes of an incomplete frame currently held (never more than 69). */
  get buffered(): number {
    return this.#len;
  }

  /** Forget a partial frame (e.g. after reopening the port). */
  reset(): void {
    this.#len = 0;
    this.#overflow = false;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b !== FRAME_DELIMITER) {
        if (this.#len < FRAME_ENCODED_SIZE) this.#buf[this.#len++] = b;
        else this.#overflow = true;
        continue;
      }
      const report = this.#endFrame();
      if (report) out.push(report);
    }
    return out;
  }

  #endFrame(): Uint8Array | undefined {
    const len = this.#len;
    const overflow = this.#overflow;
    this.#len = 0;
    this.#overflow = false;
    if (overflow) {
      this.stats.overflows++;
      return undefined;
    }
    if (len === 0) return undefined; // empty frame between two delimiters
    const n = cobsDecodeInto(this.#buf, len, this.#payload);
    if (n !== FRAME_PAYLOAD_SIZE) {
      this.stats.lengthErrors++;
      return undefined;
    }
    const p = this.#payload;
    const got = new ByteReader(p.subarray(REPORT_SIZE), { endian: 'little', what: 'frame CRC' }).u32();
    if (got !== crc32(p, 0, REPORT_SIZE)) {
      this.stats.crcErrors++;
      return undefined;
    }
    this.stats.frames++;
    return p.slice(0, REPORT_SIZE);
  }
}
