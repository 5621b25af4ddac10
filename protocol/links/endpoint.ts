/**
 * The device end of a link: feeds framed reports from a ByteLink into a report-level device (HidDevice or
 * anything with the same two methods) and writes its answers back as frames. Used by the reference responder
 * and by the firmware simulator's hosts (PTY, TCP, memory), so every emulated token speaks the serial
 * carriage through the same code.
 *
 * Time: `nowMs()` is read once per incoming chunk and per tick (default: a monotonic clock); the device itself
 * stays deterministic. `tickMs` (default 20 ms) drives inter-packet timeouts and KEEPALIVE.
 *
 * TCP: `serveTcp` accepts any number of connections to one device; an answer goes to the connection that last
 * used its channel (INIT answers on the broadcast channel go to the connection that sent the INIT).
 */
import { createServer, type Server } from 'node:net';
import { ByteReader } from '../bytes.ts';
import { parsePacket } from '../hid/packet.ts';
import { BROADCAST_CID } from '../registry.ts';
import { encodeFrames, FrameDecoder } from '../serial.ts';
import { socketLink } from './tcp.ts';
import type { ByteLink } from '../transport.ts';

export interface ReportDevice {
  handleReport(report: Uint8Array, nowMs: number): Uint8Array[];
  tick(nowMs: number): Uint8Array[];
}

export interface ServeOptions {
  nowMs?: () => number;
  tickMs?: number;
}

export interface Endpoint {
  /** Stops serving and closes the link(s). */
  close(): Promise<void>;
  /** Frames the device dropped (bad CRC etc.), summed over links. */
  readonly frameStats: { frames: number; crcErrors: number; lengthErrors: number; overflows: number };
}

const monotonicMs = (): number => Number(process.hrtime.bigint() / 1_000_000n);

function cidOf(report: Uint8Array): number {
  return new ByteReader(report, { endian: 'big', what: 'report' }).u32();
}

/** Serves `device` on several links at once, routing answers by channel. */
class Router {
  readonly device: ReportDevice;
  readonly nowMs: () => number;
  readonly links = new Map<ByteLink, FrameDecoder>();
  readonly owner = new Map<number, ByteLink>();
  readonly timer: NodeJS.Timeout;
  readonly totals = { frames: 0, crcErrors: 0, lengthErrors: 0, overflows: 0 };

  constructor(device: ReportDevice, options: ServeOptions) {
    this.device = device;
    this.nowMs = options.nowMs ?? monotonicMs;
    this.timer = setInterval(() => this.send(this.device.tick(this.nowMs()), undefined), options.tickMs ?? 20);
    this.timer.unref();
  }

  add(link: ByteLink): void {
    const decoder = new FrameDecoder();
    this.links.set(link, decoder);
    link.onData((chunk) => {
      const before = { ...decoder.stats };
      for (const report of decoder.push(chunk)) {
        const p = parsePacket(report);
        if (p && p.cid !== BROADCAST_CID) this.owner.set(p.cid, link);
        this.send(this.device.handleReport(report, this.nowMs()), link);
      }
      for (const k of Object.keys(this.totals) as (keyof typeof this.totals)[]) this.totals[k] += decoder.stats[k] - before[k];
    });
    link.onClose(() => {
      this.links.delete(link);
      for (const [cid, l] of this.owner) if (l === link) this.owner.delete(cid);
    });
  }

  send(reports: Uint8Array[], from: ByteLink | undefined): void {
    if (reports.length === 0) return;
    // Group consecutive reports by destination so a multi-report answer is one write.
    const byLink = new Map<ByteLink, Uint8Array[]>();
    for (const r of reports) {
      const cid = cidOf(r);
      const to = cid === BROADCAST_CID ? from : (this.owner.get(cid) ?? from);
      if (!to || !this.links.has(to)) continue;
      let list = byLink.get(to);
      if (!list) byLink.set(to, (list = []));
      list.push(r);
    }
    for (const [link, list] of byLink) link.write(encodeFrames(list)).catch(() => {});
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.links.keys()].map((l) => l.close()));
  }
}

export function serveLink(link: ByteLink, device: ReportDevice, options: ServeOptions = {}): Endpoint {
  const router = new Router(device, options);
  router.add(link);
  return {
    close: () => router.close(),
    get frameStats() {
      return { ...router.totals };
    },
  };
}

export interface TcpEndpoint extends Endpoint {
  /** tcp://host:port to give to a client. */
  readonly url: string;
  readonly port: number;
}

/** Listens on `host:port` (port 0 = any free port) and serves `device` to every connection. */
export async function serveTcp(device: ReportDevice, options: ServeOptions & { host?: string; port?: number } = {}): Promise<TcpEndpoint> {
  const router = new Router(device, options);
  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer((socket) => router.add(socketLink(socket, `tcp-peer:${socket.remotePort}`)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `tcp://${host}:${port}`,
    port,
    get frameStats() {
      return { ...router.totals };
    },
    async close() {
      await router.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
