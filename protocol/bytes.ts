/**
 * One bounds-checked byte reader and writer for every fixed binary layout in tokenforge: the report layer's
 * big-endian fields (docs/protocol.md §2.1: CID, BCNT, the INIT response), the serial carriage's
 * little-endian CRC (§3), the flash store's little-endian words and values (docs/flash-format.md §2-3) and
 * the flash image header (§1.2). CBOR has its own strict decoder (cbor.ts).
 *
 * Rules:
 *  - Endianness is stated once per reader or writer, in its constructor (`endian: 'big'` for the wire,
 *    `'little'` for flash); `u16`, `u32` and `u64` follow it. Every format here is single-endian.
 *  - Integers are unsigned: `u8`/`u16`/`u32` are numbers, `u64` is a bigint (an 8-byte counter does not fit
 *    a number's bit operations).
 *  - The reader never reads past its end and never returns `undefined` for a missing byte: a short value,
 *    a length prefix above the caller's limit, invalid UTF-8 and (at `end()`) trailing bytes all throw, and
 *    a length prefix is checked against what is left before anything is allocated. Byte strings it returns
 *    are copies, never views into the input.
 *  - The writer refuses values its fields cannot hold (a negative, fractional or too large integer, a string
 *    longer than its length prefix) instead of masking them.
 *  - Errors go through the `error` factory the caller passes, so each layer keeps its own error class and
 *    code (firmware-sim: SimError STORE_CORRUPT for a bad stored value); the default throws RangeError. The
 *    factory is told which fault it is, and gets a message that starts with the reader's `what`.
 */

/** What went wrong: the reader's faults are bad input; `out-of-range` is the writer's (a caller bug). */
export type ByteFault = 'truncated' | 'trailing' | 'over-limit' | 'invalid-utf8' | 'out-of-range';

/** Builds the error to throw for a fault; each layer maps it to its own error code. */
export type ByteErrorFactory = (fault: ByteFault, message: string) => Error;

export type Endian = 'big' | 'little';

export interface ByteCodecOptions {
  endian: Endian;
  /** What is being read, for messages: "slot config", "INIT response". Default "value". */
  what?: string;
  error?: ByteErrorFactory;
}

const rangeError: ByteErrorFactory = (_fault, message) => new RangeError(message);
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextEncoder();
const U64_MAX = (1n << 64n) - 1n;

export class ByteReader {
  readonly #b: Uint8Array;
  readonly #little: boolean;
  readonly #what: string;
  readonly #error: ByteErrorFactory;
  #off = 0;

  constructor(bytes: Uint8Array, options: ByteCodecOptions) {
    this.#b = bytes;
    this.#little = options.endian === 'little';
    this.#what = options.what ?? 'value';
    this.#error = options.error ?? rangeError;
  }

  /** Bytes read so far. */
  get offset(): number {
    return this.#off;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.#b.length - this.#off;
  }

  #need(n: number): number {
    const at = this.#off;
    if (n > this.#b.length - at) throw this.#error('truncated', `${this.#what}: truncated value`);
    this.#off = at + n;
    return at;
  }

  u8(): number {
    return this.#b[this.#need(1)]!;
  }

  u16(): number {
    const o = this.#need(2);
    const b = this.#b;
    return this.#little ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!;
  }

  u32(): number {
    const o = this.#need(4);
    const b = this.#b;
    return this.#little
      ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0
      : ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }

  u64(): bigint {
    const first = BigInt(this.u32());
    const second = BigInt(this.u32());
    return this.#little ? (second << 32n) | first : (first << 32n) | second;
  }

  /** `n` bytes (a copy). */
  bytes(n: number): Uint8Array {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`n: ${n} must be a non-negative integer`);
    const o = this.#need(n);
    return this.#b.slice(o, o + n);
  }

  /** A u8 length, then that many bytes (a copy); a length above `max` is refused before anything is read. */
  bytes8(max = 255): Uint8Array {
    const n = this.u8();
    if (n > max) throw this.#error('over-limit', `${this.#what}: length ${n} exceeds ${max}`);
    return this.bytes(n);
  }

  /** A u8 byte length, then that much strict UTF-8. */
  str8(maxBytes = 255): string {
    const raw = this.bytes8(maxBytes);
    try {
      return utf8Strict.decode(raw);
    } catch {
      throw this.#error('invalid-utf8', `${this.#what}: invalid UTF-8`);
    }
  }

  /** Checks that every byte was read. */
  end(): void {
    if (this.#off !== this.#b.length) throw this.#error('trailing', `${this.#what}: trailing bytes`);
  }
}

export class ByteWriter {
  #buf: Uint8Array;
  #len = 0;
  readonly #little: boolean;
  readonly #what: string;
  readonly #error: ByteErrorFactory;

  constructor(options: ByteCodecOptions & { capacity?: number }) {
    this.#buf = new Uint8Array(options.capacity ?? 64);
    this.#little = options.endian === 'little';
    this.#what = options.what ?? 'value';
    this.#error = options.error ?? rangeError;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#len;
  }

  #room(n: number): number {
    const at = this.#len;
    if (at + n > this.#buf.length) {
      const next = new Uint8Array(Math.max(this.#buf.length * 2, at + n));
      next.set(this.#buf.subarray(0, at));
      this.#buf = next;
    }
    this.#len = at + n;
    return at;
  }

  #uint(v: number, max: number, name: string): void {
    if (!Number.isInteger(v) || v < 0 || v > max) throw this.#error('out-of-range', `${this.#what}: ${name} ${v} is outside 0..${max}`);
  }

  u8(v: number): this {
    this.#uint(v, 0xff, 'u8');
    const o = this.#room(1); // may replace #buf: take the offset first
    this.#buf[o] = v;
    return this;
  }

  u16(v: number): this {
    this.#uint(v, 0xffff, 'u16');
    const o = this.#room(2);
    const b = this.#buf;
    if (this.#little) {
      b[o] = v & 0xff;
      b[o + 1] = v >>> 8;
    } else {
      b[o] = v >>> 8;
      b[o + 1] = v & 0xff;
    }
    return this;
  }

  u32(v: number): this {
    this.#uint(v, 0xffffffff, 'u32');
    const o = this.#room(4);
    const b = this.#buf;
    for (let i = 0; i < 4; i++) b[o + (this.#little ? i : 3 - i)] = (v >>> (8 * i)) & 0xff;
    return this;
  }

  u64(v: bigint): this {
    if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) throw this.#error('out-of-range', `${this.#what}: u64 ${String(v)} is outside 0..2^64-1`);
    const hi = Number(v >> 32n);
    const lo = Number(v & 0xffffffffn);
    return this.#little ? this.u32(lo).u32(hi) : this.u32(hi).u32(lo);
  }

  /** The bytes as they are (no length). */
  bytes(b: Uint8Array): this {
    const o = this.#room(b.length);
    this.#buf.set(b, o);
    return this;
  }

  /** A u8 length, then the bytes; more than `max` (at most 255) bytes is refused. */
  bytes8(b: Uint8Array, max = 255): this {
    if (b.length > Math.min(max, 255)) throw this.#error('out-of-range', `${this.#what} too long for a u8 length`);
    return this.u8(b.length).bytes(b);
  }

  /** A u8 byte length, then the UTF-8 of `s`. */
  str8(s: string, maxBytes = 255): this {
    return this.bytes8(utf8.encode(s), maxBytes);
  }

  /** Appends `fill` bytes until `length` bytes are written (fixed-size layouts, e.g. a 64-byte report). */
  padTo(length: number, fill = 0): this {
    if (!Number.isInteger(length) || length < this.#len) throw this.#error('out-of-range', `${this.#what}: ${this.#len} bytes already exceed the padded length ${length}`);
    const o = this.#room(length - this.#len);
    this.#buf.fill(fill, o, length);
    return this;
  }

  /** The bytes written so far (a copy; the writer stays usable). */
  done(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}
