/**
 * node:http adapter for the handler: reads the body up to the route's limit (413 beyond it, without buffering
 * the rest), calls the handler, writes the response. `close()` stops accepting, lets in-flight requests finish,
 * and closes idle keep-alive connections (graceful shutdown on SIGINT/SIGTERM is wired by the CLI).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bodyLimitFor, errorResponse } from './handler.ts';
import type { HttpRequest, HttpResponse } from './types.ts';

export interface ServerOptions {
  host: string;
  port: number;
  bodyLimit?: number;
  handler: (req: HttpRequest) => Promise<HttpResponse>;
}

export interface RunningServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

function send(res: ServerResponse, r: HttpResponse, close = false): void {
  const headers: Record<string, string | number> = { ...r.headers, 'content-length': Buffer.byteLength(r.body) };
  if (close) headers['connection'] = 'close';
  res.writeHead(r.status, headers);
  res.end(r.body);
}

export function startServer(o: ServerOptions): Promise<RunningServer> {
  let inFlight = 0;
  let closing = false;
  let drained: (() => void) | null = null;
  const server = createServer({ keepAliveTimeout: 5000, requestTimeout: 30_000, headersTimeout: 10_000 }, (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    res.on('close', () => {
      inFlight--;
      if (closing && inFlight === 0) drained?.();
    });
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const limit = bodyLimitFor(path, o.bodyLimit);
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      send(res, errorResponse('PAYLOAD_TOO_LARGE', `request body is ${declared} bytes; the limit for this route is ${limit}`), true);
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      if (tooBig) return;
      size += c.length;
      if (size > limit) {
        tooBig = true;
        send(res, errorResponse('PAYLOAD_TOO_LARGE', `request body is over the limit of ${limit} bytes for this route`), true);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (tooBig) return;
      const body = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
      const request: HttpRequest = {
        method: req.method ?? 'GET',
        path,
        query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
        headers: req.headers,
        body,
      };
      o.handler(request).then(
        (r) => send(res, r, closing),
        () => send(res, errorResponse('INTERNAL', 'internal error'), true),
      );
    });
    req.on('error', () => undefined);
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve({
        url: `http://${host}:${a.port}`,
        server,
        close: () =>
          new Promise<void>((done) => {
            closing = true;
            server.close(() => done());
            server.closeIdleConnections();
            if (inFlight === 0) return;
            new Promise<void>((r) => (drained = r)).then(() => server.closeIdleConnections());
          }),
      });
    });
  });
}
