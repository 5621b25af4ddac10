/**
 * The in-memory link (transport.ts ByteLink): two connected ends in one process, for tests, benches and the
 * simulator's memory runner. Delivery is asynchronous (a later turn, like a real port) and in order. For
 * fault tests it can cut every write into random short chunks (forcing the short reads the contract allows,
 * as serialport's binding-mock does) and drop or bit-flip bytes on the way; the randomness is injected so a
 * seeded run replays. Closing one end disconnects the other (its onClose sees an Error).
 */
import { ProtocolError } from '../errors.ts';
import type { ByteLink } from '../transport.ts';

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
