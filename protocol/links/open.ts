/**
 * The opener: turns a CLI-style target string into a Transport over the right link.
 *
 *   tcp://host:port      links/tcp.ts
 *   any other path       links/serial.ts (/dev/ttyACM0, /dev/ttyUSB0, a PTY, COM3)
 *   other://...          INVALID_ARGUMENT (an unknown scheme is refused, not opened as a path)
 */
import { FramedTransport } from '../framed-transport.ts';
import { ProtocolError } from '../errors.ts';
import type { Transport } from '../transport.ts';
import { openSerialLink } from './serial.ts';
import { openTcpLink } from './tcp.ts';

export interface OpenTransportOptions {
  /** Serial ports only. Default 115200. */
  baudRate?: number;
  /** tcp:// only. Default 5000. */
  connectTimeoutMs?: number;
}

/** Opens a report transport for a CLI-style target: `tcp://host:port`, or a serial device path. */
export async function openTransport(target: string, options: OpenTransportOptions = {}): Promise<Transport> {
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
