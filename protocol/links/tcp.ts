/**
 * The TCP link (transport.ts ByteLink): the same framed byte stream as a serial port, over a socket. Targets
 * are written `tcp://host:port` (IPv6 hosts in brackets). `socketLink` wraps an already connected socket, so
 * servers (endpoint.ts serveTcp) and clients share one implementation of the ByteLink rules; Nagle is turned
 * off so a report goes out when it is written.
 *
 * Errors: INVALID_ARGUMENT (not a tcp:// target), CONNECTION_REFUSED (refused or unreachable), TIMEOUT (no
 * connection within `connectTimeoutMs`, default 5000); after connecting, CLOSED / DISCONNECTED.
 */
import { connect, type Socket } from 'node:net';
import { ProtocolError } from '../errors.ts';
import type { ByteLink } from '../transport.ts';

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
