/**
 * The transport contract (docs/protocol.md §3, §7): how reports get to a token and back. This file holds only
 * the contract, the way serialport's `@serialport/bindings-interface` holds only its interface: two small
 * interfaces and the rules every implementation keeps. Implementations live elsewhere:
 *
 *   protocol/framed-transport.ts  FramedTransport: a Transport over any ByteLink, framed by serial.ts
 *   protocol/links/serial.ts      openSerialLink: node `serialport` (/dev/ttyACM*, /dev/ttyUSB*, a PTY)
 *   protocol/links/tcp.ts         openTcpLink / socketLink: the same framed byte stream over a TCP socket
 *   protocol/links/memory.ts      memoryLinkPair: in process, with forced short reads and byte faults
 *   protocol/links/open.ts        openTransport: a target string (path or tcp://host:port) → Transport
 *
 * test/protocol/transport.test.ts runs one contract suite against the memory, TCP and PTY implementations.
 *
 * Errors: every rejection is a ProtocolError (errors.ts) whose `code` is one of
 *   CLOSED             this side called close(); every later call (and a receive pending at that moment)
 *   DISCONNECTED       the peer or the OS ended the link (unplugged USB, peer closed the socket, write error)
 *   INVALID_ARGUMENT   a caller bug: a report that is not REPORT_SIZE bytes, a second pending receive
 * and, when opening a link (links/): PORT_NOT_FOUND, PORT_OPEN_FAILED, CONNECTION_REFUSED, TIMEOUT (no TCP
 * connection in time), INVALID_ARGUMENT (a target string that names no known link).
 */
import type { FrameStats } from './serial.ts';

/**
 * A bidirectional byte stream with no framing of its own: a serial port, a TCP socket, an in-memory pipe.
 *
 * Rules every implementation keeps:
 *  - Short reads are normal. Bytes arrive in chunks of ANY size: a 71-byte frame may come as 71 chunks of one
 *    byte, or two frames and half a third in one chunk. Chunk boundaries carry no meaning; a reader must not
 *    expect them to line up with frames. `onData` sees every chunk in order, exactly once.
 *  - Chunks that arrive before `onData` is called are dropped (set the listener straight after opening).
 *  - `write(bytes)` resolves once the bytes are handed to the OS (not when the peer has read them). Writes are
 *    delivered in the order they were called; one write is never interleaved with another. It rejects with
 *    ProtocolError CLOSED after our own `close()`, DISCONNECTED once the peer or the OS ended the link.
 *  - `onClose(cause)` fires exactly once, when the link ends for any reason: `cause` is undefined after our own
 *    `close()` and an Error (the disconnect) otherwise. No `onData` call follows it.
 *  - `close()` is idempotent; it resolves when the OS resource is released. It never rejects.
 *  - There are no timeouts at this level: a silent peer is simply silent.
 */
export interface ByteLink {
  /** Where the link goes, for messages: a path, tcp://host:port, or memory:<name>. */
  readonly target: string;
  /** Hands `bytes` to the OS; rejects with CLOSED / DISCONNECTED once the link has ended. */
  write(bytes: Uint8Array): Promise<void>;
  /** Sets the one data listener (replacing any earlier one). */
  onData(listener: (chunk: Uint8Array) => void): void;
  /** Sets the one close listener; called once. `cause` is undefined when we closed the link ourselves. */
  onClose(listener: (cause?: Error) => void): void;
  /** Releases the link; idempotent, never rejects. */
  close(): Promise<void>;
}

export interface TransportStats extends FrameStats {
  /** Reports dropped because the receive queue was full. */
  queueDrops: number;
  /** Bytes written and read on the link. */
  bytesOut: number;
  bytesIn: number;
}

/**
 * Whole reports (REPORT_SIZE = 64 bytes each) to and from one token.
 *
 * Rules every implementation keeps:
 *  - Framing is the transport's business: `receive` only ever yields complete, checked reports of exactly
 *    REPORT_SIZE bytes (over a byte stream: one COBS frame per report with a good CRC-32, serial.ts). Corrupt
 *    frames (bad CRC, wrong length, overlong) are dropped and counted in `stats`, never delivered, and never
 *    raise an error: the report layer above notices the loss by its own timeouts and sequence numbers.
 *  - `send(reports)` checks every report is REPORT_SIZE bytes (else INVALID_ARGUMENT, nothing sent) and writes
 *    them all as one write, so two sends never interleave on the wire. It resolves when the bytes are with
 *    the OS; it rejects with CLOSED / DISCONNECTED once the link has ended.
 *  - `receive(timeoutMs)` resolves with the next report, or `undefined` when none arrived within `timeoutMs`
 *    (a timeout is an answer, not an error; with `timeoutMs <= 0` it waits one timer turn).
 *    Only one receive may be pending (a second rejects with INVALID_ARGUMENT). Reports already queued are
 *    returned even after the link ended; once the queue is empty it rejects with CLOSED / DISCONNECTED,
 *    also when the link ends while it waits.
 *  - Reports that arrive while nobody is receiving are queued, at most a bounded number (FramedTransport:
 *    256, more than the 129 reports of the largest message); beyond that the oldest are dropped and counted
 *    in `stats.queueDrops`.
 *  - Cancellation: the transport has no per-call cancel. A caller stops waiting by letting its `timeoutMs`
 *    run out (TokenClient polls in short slices to watch its AbortSignal) and stops the token working with
 *    a report-layer CANCEL (docs/protocol.md §2.7); `close()` ends a pending receive with CLOSED.
 *  - `drain()` discards queued reports (a client calls it before a new transaction); it never touches the
 *    link.
 *  - `close()` is idempotent and closes the underlying link; it never rejects.
 */
export interface Transport {
  readonly target: string;
  send(reports: readonly Uint8Array[]): Promise<void>;
  receive(timeoutMs: number): Promise<Uint8Array | undefined>;
  drain(): void;
  close(): Promise<void>;
  readonly stats: TransportStats;
}
