/**
 * Targets: where the tokens of a batch are plugged in, turned into `Target`s for the pipeline.
 *
 *   --port PATH        a serial device or a PTY (repeatable)           → "PATH"
 *   --tcp HOST:PORT    the framed byte stream over TCP (repeatable)    → "tcp://HOST:PORT"
 *   --discover         serial ports with a matching USB VID:PID        → each matching path
 *                      (protocol/links/usb-serial-list.ts: serialport's list, or sysfs where udev is absent)
 *   (--sim N           in-process simulated tokens: built by the CLI, which hands over Transports; the
 *                      provisioner never imports the simulator)
 *
 * A target opens a Transport (protocol/transport.ts) and wraps it in a `TokenSession` with the session
 * factory the caller gives (the protocol client); so the pipeline treats a hardware token, a PTY-served
 * simulator and an in-memory one alike.
 */
import { TokenClient, type TokenClientOptions } from '../protocol/client.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { openTransport } from '../protocol/links/open.ts';
import { parseTcpTarget } from '../protocol/links/tcp.ts';
import { listSerialPorts } from '../protocol/links/usb-serial-list.ts';
import type { Transport } from '../protocol/transport.ts';
import { ProvisionFault } from './faults.ts';
import type { Target, TokenSession } from './pipeline.ts';

export type TargetDescriptor = { kind: 'port'; path: string } | { kind: 'tcp'; hostPort: string };

/** Turns a transport into a session (the protocol client behind the pipeline's port). */
export type SessionFactory = (transport: Transport) => Promise<TokenSession>;

/** USB ids to look for with --discover: pid.codes' open-hardware VID 0x1209 with tokenforge's PID. */
export const DEFAULT_DISCOVER_IDS: readonly { vendorId: string; productId: string }[] = [{ vendorId: '1209', productId: '7f00' }];

export function parseTargetDescriptors(o: { ports?: readonly string[]; tcp?: readonly string[] }): TargetDescriptor[] {
  const out: TargetDescriptor[] = [];
  const seen = new Set<string>();
  const add = (name: string, d: TargetDescriptor): void => {
    if (seen.has(name)) throw new ProvisionFault('INVALID_ARGUMENT', `target ${name} is given twice`);
    seen.add(name);
    out.push(d);
  };
  for (const p of o.ports ?? []) {
    if (!p || p.startsWith('tcp://')) throw new ProvisionFault('INVALID_ARGUMENT', `--port ${JSON.stringify(p)}: give a device path such as /dev/ttyACM0 (use --tcp for tcp://)`);
    add(p, { kind: 'port', path: p });
  }
  for (const t of o.tcp ?? []) {
    const hostPort = t.replace(/^tcp:\/\//, '');
    if (!parseTcpTarget(`tcp://${hostPort}`)) throw new ProvisionFault('INVALID_ARGUMENT', `--tcp ${JSON.stringify(t)}: give HOST:PORT, e.g. 127.0.0.1:7000`);
    add(`tcp://${hostPort}`, { kind: 'tcp', hostPort });
  }
  return out;
}

/** Parses "VID:PID" (hex) for --discover-id. */
export function parseUsbId(s: string): { vendorId: string; productId: string } {
  const m = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/.exec(s.trim());
  if (!m) throw new ProvisionFault('INVALID_ARGUMENT', `--discover-id ${JSON.stringify(s)}: give VID:PID in hex, e.g. 1209:7f00`);
  return { vendorId: m[1]!.toLowerCase(), productId: m[2]!.toLowerCase() };
}

export interface PortInfoLike {
  path: string;
  vendorId?: string | undefined;
  productId?: string | undefined;
}

/** Serial ports whose USB ids match one of `ids` (the `list` port defaults to listSerialPorts, which works without udev). */
export async function discoverPorts(
  ids: readonly { vendorId: string; productId: string }[] = DEFAULT_DISCOVER_IDS,
  list: () => Promise<readonly PortInfoLike[]> = () => listSerialPorts(),
): Promise<TargetDescriptor[]> {
  const ports = await list();
  const want = new Set(ids.map((i) => `${i.vendorId.toLowerCase()}:${i.productId.toLowerCase()}`));
  return ports
    .filter((p) => p.vendorId !== undefined && p.productId !== undefined && want.has(`${p.vendorId.toLowerCase()}:${p.productId.toLowerCase()}`))
    .map((p) => p.path)
    .sort()
    .map((path): TargetDescriptor => ({ kind: 'port', path }));
}

/** A Target that opens `transport()` and wraps it with `session`. */
export function transportTarget(name: string, transport: () => Promise<Transport>, session: SessionFactory): Target {
  return {
    name,
    async open() {
      const t = await transport();
      try {
        return await session(t);
      } catch (e) {
        await t.close().catch(() => undefined);
        throw e;
      }
    },
  };
}

export function targetsFromDescriptors(ds: readonly TargetDescriptor[], session: SessionFactory, options: { connectTimeoutMs?: number; baudRate?: number } = {}): Target[] {
  return ds.map((d) => {
    const name = d.kind === 'port' ? d.path : `tcp://${d.hostPort}`;
    return transportTarget(name, () => openTransport(name, options), session);
  });
}

/**
 * The pipeline's TokenSession over the protocol client (protocol/client.ts). The client checks the device
 * key's attestation against `trustAnchors` before it wraps a PIN or a seed to it; an empty slot is `null`.
 */
export function clientSessionFactory(options: TokenClientOptions): SessionFactory {
  return async (transport) => {
    const c = await TokenClient.open(transport, options);
    return {
      getInfo: () => c.info(),
      async authenticate(pin) {
        await c.authenticate(pin);
      },
      async putSlot(params, seed) {
        return (await c.putSlot(params, seed)).kcv;
      },
      async getSlot(slot) {
        try {
          return await c.getSlot(slot);
        } catch (e) {
          if (e instanceof ProtocolError && (e.code === 'SLOT_EMPTY' || e.code === 'NO_SUCH_SLOT')) return null;
          throw e;
        }
      },
      lock: () => c.lock(),
      calculate: (slot) => c.calculate(slot),
      close: () => c.close(),
    };
  };
}
