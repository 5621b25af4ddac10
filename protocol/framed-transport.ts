/**
 * `FramedTransport`: the Transport contract (transport.ts) over any ByteLink, with the serial carriage of
 * serial.ts (docs/protocol.md §3): each report travels as one COBS frame with a CRC-32. Pure plumbing between
 * the two: the frame codec decides what is a report, this class owns the receive queue, the single pending
 * receive and its timer, and the counters. Every rule it keeps is stated on `Transport`.
 */
import { ProtocolError } from './errors.ts';
import { REPORT_SIZE } from './registry.ts';
import { encodeFrames, FrameDecoder } from './serial.ts';
import type { ByteLink, Transport, TransportStats } from './transport.ts';

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
