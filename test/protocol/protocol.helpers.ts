/**
 * Test helpers for the protocol tests: a real PTY pair made by socat (Debian package `socat`), and a
 * reference responder served on one end of it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createReferenceResponder, seededRng, type ReferenceResponder } from '../../protocol/reference-responder.ts';
import { openSerialLink } from '../../protocol/links/serial.ts';
import { serveLink, type Endpoint } from '../../protocol/links/endpoint.ts';

export interface PtyPair {
  a: string;
  b: string;
  close(): Promise<void>;
}

/** `socat -d -d pty,raw,echo=0 pty,raw,echo=0`; the two device paths come from socat's stderr. */
export function socatPtyPair(): Promise<PtyPair> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const paths: string[] = [];
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`socat did not report two PTYs: ${err}`));
    }, 5000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      for (const m of d.toString().matchAll(/PTY is (\S+)/g)) paths.push(m[1]!);
      if (paths.length === 2 && /starting data transfer loop/.test(err)) {
        clearTimeout(timer);
        resolve({
          a: paths[0]!,
          b: paths[1]!,
          close: () =>
            new Promise<void>((res) => {
              if (child.exitCode !== null) return res();
              child.once('exit', () => res());
              child.kill('SIGTERM');
            }),
        });
      }
    });
  });
}

export interface ServedPty {
  /** Path to give to the host side. */
  hostPath: string;
  responder: ReferenceResponder;
  endpoint: Endpoint;
  close(): Promise<void>;
}

/** A reference responder on one end of a socat PTY pair; the other end is `hostPath`. */
export async function serveResponderOnPty(seed = 1): Promise<ServedPty> {
  const pair = await socatPtyPair();
  const responder = createReferenceResponder({ rng: seededRng(seed) });
  const endpoint = serveLink(await openSerialLink(pair.b), responder);
  return {
    hostPath: pair.a,
    responder,
    endpoint,
    async close() {
      await endpoint.close();
      await pair.close();
    },
  };
}
