/**
 * Transports: how reports get to a token and back (docs/protocol.md §3, §7). Two levels, each a small contract:
 *
 * `ByteLink` — a bidirectional byte stream (a serial port, a TCP socket, an in-memory pipe). Rules:
 *   - `write(bytes)` resolves once the bytes are handed to the OS (not when the peer has read them); it
 *     rejects with ProtocolError CLOSED after `close()`, DISCONNECTED after the peer went away.
 *   - data arrives in chunks of ANY size (short reads are normal: a 71-byte frame may come as 71 chunks of 1
 *     byte, or two frames in one chunk); `onData` sees every chunk in order, exactly once.
 *   - `onClose(cause)` fires once, when the link ends for any reason (`cause` undefined after our own close()).
 *   - `close()` is idempotent and resolves when the OS resource is released.
 *
 * `Transport` — reports (64 bytes each) over a link, framed by serial.ts. Rules:
 *   - `send(reports)` writes all reports as one write (no interleaving with another send).
 *   - `receive(timeoutMs)` resolves with the next complete, CRC-checked report, or `undefined` when none
 *     arrived within `timeoutMs` (a timeout is an answer, not an error). Only one receive may be pending.
 *     It rejects with CLOSED / DISCONNECTED when the link ends (also when that happens while waiting).
 *   - Reports that arrive while nobody is receiving are queued, at most `maxQueuedReports` (default 256,
 *     i.e. more than the 129 reports of the largest message); beyond that the oldest are dropped and counted.
 *   - Corrupt frames (bad CRC, wrong length, overlong) are dropped and counted in `stats`, never delivered.
 *   - `drain()` discards queued reports (a client calls it before a new transaction).
 *
 * Implementations: `openSerialLink` (node `serialport`: any path — /dev/ttyACM*, /dev/ttyUSB*, a PTY),
 * `openTcpLink` (`tcp://host:port`, the same framed byte stream over a socket), `memoryLinkPair` (in-process,
 * optionally cutting the stream into random short chunks and dropping/corrupting bytes for fault tests).
 * `openTransport(target)` picks one from a target string. test/protocol-transport.test.ts runs one contract
 * suite against all three.
 */
import { connect, type Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { ProtocolError } from './errors.ts';
import { REPORT_SIZE } from './registry.ts';
import { encodeFrames, FrameDecoder, type FrameStats } from './serial.ts';

export interface ByteLink {
  /** Where the link goes, for messages: a path, tcp://host:port, or memory:<name>. */
  readonly target: string;
  write(bytes: Uint8Array): Promise<void>;
  /** Sets the one data listener (replacing any earlier one). */
  onData(listener: (chunk: Uint8Array) => void): void;
  /** Sets the one close listener; called once. `cause` is undefined when we closed the link ourselves. */
  onClose(listener: (cause?: Error) => void): void;
  close(): Promise<void>;
}

export interface TransportStats extends FrameStats {
  /** Reports dropped because the receive queue was full. */
  queueDrops: number;
  /** Bytes written and read on the link. */
  bytesOut: number;
  bytesIn: number;
}

export interface Transport {
  readonly target: string;
  send(reports: readonly Uint8Array[]): Promise<void>;
  receive(timeoutMs: number): Promise<Uint8Array | undefined>;
  drain(): void;
  close(): Promise<void>;
  readonly stats: TransportStats;
}

// ---------------------------------------------------------------------------------------------------------
// Framed transport over any link

export class FramedTransport implements Transport {
  readonly #link: ByteLink;
  readonly #decoder = new FrameDecoder();
  readonly #queue: Uint8Array[] = [];
  readonly #maxQueued: number;
  #waiter: { resolve(r: Uint8Array | undefined): void; reject(e: Error): void; timer: NodeJS.Timeout } | undefined;
  #ended: ProtocolError | undefined;
  #queueDrops = 0;
  #bytesOut = 0;
  #bytesIn = 0;

  constructor(link: ByteLink, options: { maxQueuedReports?: number } = {}) {
    this.#link = link;
    this.#maxQueued = options.maxQueuedReports ?? 256;
    link.onData((chunk) => this.#onData(chunk));
    link.onClose((cause) => {
      const err = cause
        ? new ProtocolError('DISCONNECTED', `${link.target}: the link closed (${cause.message})`, { cause })
        : new ProtocolError('CLOSED', `${link.target}: the transport is closed`);
      this.#ended ??= err;
      const w = this.#waiter;
      if (w) {
        this.#waiter = undefined;
        clearTimeout(w.timer);
        w.reject(this.#ended);
      }
    });
  }

  get target(): string {
    return this.#link.target;
  }

  get stats(): TransportStats {
    return { ...this.#decoder.stats, queueDrops: this.#queueDrops, bytesOut: this.#bytesOut, bytesIn: this.#bytesIn };
  }

  #onData(chunk: Uint8Array): void {
    this.#bytesIn += chunk.length;
    for (const report of this.#decoder.push(chunk)) {
      const w = this.#waiter;
      if (w) {
        this.#waiter = undefined;
        clearTimeout(w.timer);
        w.resolve(report);
      } else {
        this.#queue.push(report);
        if (this.#queue.length > this.#maxQueued) {
          this.#queue.shift();
          this.#queueDrops++;
        }
      }
    }
  }

  async send(reports: readonly Uint8Array[]): Promise<void> {
    if (this.#ended) throw this.#ended;
    for (const r of reports) if (r.length !== REPORT_SIZE) throw new ProtocolError('INVALID_ARGUMENT', `report: must be ${REPORT_SIZE} bytes`);
    const bytes = encodeFrames(reports);
    this.#bytesOut += bytes.length;
    await this.#link.write(bytes);
  }

  /** Writes raw bytes on the link, bypassing framing (conformance and fault tests only). */
  async sendRaw(bytes: Uint8Array): Promise<void> {
    if (this.#ended) throw this.#ended;
    this.#bytesOut += bytes.length;
    await this.#link.write(bytes);
  }

  receive(timeoutMs: number): Promise<Uint8Array | undefined> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#ended) return Promise.reject(this.#ended);
    if (this.#waiter) return Promise.reject(new ProtocolError('INVALID_ARGUMENT', 'receive: another receive is already pending'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        resolve(undefined);
      }, Math.max(0, timeoutMs));
      this.#waiter = { resolve, reject, timer };
    });
  }

  drain(): void {
    this.#queue.length = 0;
  }

  async close(): Promise<void> {
    this.#ended ??= new ProtocolError('CLOSED', `${this.#link.target}: the transport is closed`);
    const w = this.#waiter;
    if (w) {
      this.#waiter = undefined;
      clearTimeout(w.timer);
      w.reject(this.#ended);
    }
    await this.#link.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Serial ports (serialport), including PTYs

export async function openSerialLink(path: string, options: { baudRate?: number } = {}): Promise<ByteLink> {
  if (!existsSync(path)) throw new ProtocolError('PORT_NOT_FOUND', `${path}: no such serial port; check the path (ls /dev/ttyACM* /dev/ttyUSB*) or use tcp://host:port`);
  const port = new SerialPort({ path, baudRate: options.baudRate ?? 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    port.open((err) => {
      if (!err) return resolve();
      const notTty = /Inappropriate ioctl|Is a directory|ENOTTY|EISDIR/i.test(err.message);
      reject(
        new ProtocolError(
          'PORT_OPEN_FAILED',
          notTty
            ? `${path}: is not a serial device (not a tty); give a serial port such as /dev/ttyACM0, a PTY, or tcp://host:port`
            : `${path}: cannot open (${err.message}); check permissions (group dialout) and that no other program holds it`,
          { cause: err },
        ),
      );
    }),
  );
  let dataListener: (c: Uint8Array) => void = () => {};
  let closeListener: (cause?: Error) => void = () => {};
  let closing = false;
  let closed = false;
  port.on('data', (chunk: Buffer) => dataListener(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
  const finish = (cause?: Error): void => {
    if (closed) return;
    closed = true;
    closeListener(closing ? undefined : (cause ?? new Error('port closed')));
  };
  port.on('close', (err: Error | null) => finish(err ?? undefined));
  port.on('error', (err: Error) => finish(err));
  return {
    target: path,
    write(bytes) {
      if (closed) return Promise.reject(new ProtocolError(closing ? 'CLOSED' : 'DISCONNECTED', `${path}: port is closed`));
      return new Promise((resolve, reject) => {
        port.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), (err) => {
          if (err) reject(new ProtocolError('DISCONNECTED', `${path}: write failed (${err.message})`, { cause: err }));
          else resolve();
        });
      });
    },
    onData(l) {
      dataListener = l;
    },
    onClose(l) {
      closeListener = l;
    },
    close() {
      if (closed || closing) return Promise.resolve();
      closing = true;
      return new Promise((resolve) => {
        if (!port.isOpen) {
          finish();
          resolve();
          return;
        }
        port.close(() => {
          finish();
          resolve();
        });
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// TCP

export function parseTcpTarget(target: string): { host: string; port: number } | undefined {
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(target);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** A ByteLink over a connected socket (used by both the TCP client and servers). */
export function socketLink(socket: Socket, target: string): ByteLink {
  let dataListener: (c: Uint8Array) => void = () => {};
  let closeListener: (cause?: Error) => void = () => {};
  let closing = false;
  let closed = false;
  let lastError: Error | undefined;
  socket.setNoDelay(true);
  socket.on('data', (chunk: Buffer) => dataListener(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
  socket.on('error', (err) => {
    lastError = err;
  });
  socket.on('close', () => {
    if (closed) return;
    closed = true;
    closeListener(closing ? undefined : (lastError ?? new Error('peer closed the connection')));
  });
  return {
    target,
    write(bytes) {
      if (closed || socket.destroyed) return Promise.reject(new ProtocolError(closing ? 'CLOSED' : 'DISCONNECTED', `${target}: connection is closed`));
      return new Promise((resolve, reject) => {
        socket.write(bytes, (err) => (err ? reject(new ProtocolError('DISCONNECTED', `${target}: write failed (${err.message})`, { cause: err })) : resolve()));
      });
    },
    onData(l) {
      dataListener = l;
    },
    onClose(l) {
      closeListener = l;
    },
    close() {
      if (closed) return Promise.resolve();
      closing = true;
      return new Promise((resolve) => {
        socket.once('close', () => resolve());
        socket.destroy();
      });
    },
  };
}

export async function openTcpLink(target: string, options: { connectTimeoutMs?: number } = {}): Promise<ByteLink> {
  const t = parseTcpTarget(target);
  if (!t) throw new ProtocolError('INVALID_ARGUMENT', `${target}: not a tcp://host:port target`);
  const socket = connect({ host: t.host, port: t.port });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ProtocolError('TIMEOUT', `${target}: no TCP connection within ${options.connectTimeoutMs ?? 5000} ms`));
    }, options.connectTimeoutMs ?? 5000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ProtocolError('CONNECTION_REFUSED', `${target}: cannot connect (${err.code ?? err.message}); is the token server running?`, { cause: err }));
    });
  });
  return socketLink(socket, target);
}

// ---------------------------------------------------------------------------------------------------------
// In memory

export interface MemoryLinkOptions {
  /** Deliver writes in chunks of 1..maxChunk bytes (short reads). Default: whole writes. */
  maxChunk?: number;
  /** Random source for chunk sizes and faults (seed it in tests). Default Math.random. */
  random?: () => number;
  /** Probability per byte of flipping one bit on the way (fault injection). */
  bitFlipRate?: number;
  /** Probability per byte of dropping it on the way. */
  dropRate?: number;
}

/** Two connected in-memory links. Delivery is asynchronous (like a real port) and in order. */
export function memoryLinkPair(options: MemoryLinkOptions = {}, name = 'memory'): [ByteLink, ByteLink] {
  const random = options.random ?? Math.random;
  type End = { data: (c: Uint8Array) => void; close: (cause?: Error) => void; closed: boolean; peer?: End };
  const mk = (): End => ({ data: () => {}, close: () => {}, closed: false });
  const a = mk();
  const b = mk();
  a.peer = b;
  b.peer = a;
  const deliver = (to: End, bytes: Uint8Array): void => {
    let data = bytes;
    if (options.bitFlipRate || options.dropRate) {
      const out: number[] = [];
      for (const byte of bytes) {
        if (options.dropRate && random() < options.dropRate) continue;
        out.push(options.bitFlipRate && random() < options.bitFlipRate ? byte ^ (1 << Math.floor(random() * 8)) : byte);
      }
      data = Uint8Array.from(out);
    }
    const chunks: Uint8Array[] = [];
    if (options.maxChunk) {
      for (let o = 0; o < data.length; ) {
        const n = 1 + Math.floor(random() * options.maxChunk);
        chunks.push(data.slice(o, o + n));
        o += n;
      }
    } else chunks.push(data.slice());
    setImmediate(() => {
      for (const c of chunks) if (!to.closed) to.data(c);
    });
  };
  const link = (self: End, label: string): ByteLink => ({
    target: `memory:${name}/${label}`,
    write(bytes) {
      if (self.closed) return Promise.reject(new ProtocolError('CLOSED', `memory:${name}: link is closed`));
      if (self.peer!.closed) return Promise.reject(new ProtocolError('DISCONNECTED', `memory:${name}: peer closed`));
      deliver(self.peer!, bytes);
      return Promise.resolve();
    },
    onData(l) {
      self.data = l;
    },
    onClose(l) {
      self.close = l;
    },
    close() {
      if (self.closed) return Promise.resolve();
      self.closed = true;
      self.close(undefined);
      const peer = self.peer!;
      setImmediate(() => {
        if (!peer.closed) {
          peer.closed = true;
          peer.close(new Error('peer closed the link'));
        }
      });
      return Promise.resolve();
    },
  });
  return [link(a, 'a'), link(b, 'b')];
}

// ---------------------------------------------------------------------------------------------------------

/** Opens a report transport for a CLI-style target: `tcp://host:port`, or a serial device path. */
export async function openTransport(target: string, options: { baudRate?: number; connectTimeoutMs?: number } = {}): Promise<Transport> {
  if (target.startsWith('tcp://')) {
    const o: { connectTimeoutMs?: number } = {};
    if (options.connectTimeoutMs !== undefined) o.connectTimeoutMs = options.connectTimeoutMs;
    return new FramedTransport(await openTcpLink(target, o));
  }
  if (/^[a-z]+:\/\//i.test(target)) throw new ProtocolError('INVALID_ARGUMENT', `${target}: unknown scheme; use a serial path (/dev/ttyACM0) or tcp://host:port`);
  const o: { baudRate?: number } = {};
  if (options.baudRate !== undefined) o.baudRate = options.baudRate;
  return new FramedTransport(await openSerialLink(target, o));
}
