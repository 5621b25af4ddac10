/**
 * Host runners: put SimTokens on a real pseudo-terminal (via socat), on TCP ports, or on in-memory links, and
 * tick them. `startSimulator` is the API the CLI (`tokenforge sim serve`), the provisioner tests and the demo
 * use:
 *
 *   const sim = await startSimulator({ count: 3, profile: 'hotp-fob', link: 'pty', testMode: true });
 *   sim.tokens[0].path     // '/dev/pts/7' — open it with serialport (any baud rate)
 *   sim.tokens[0].press()  // the button
 *   await sim.close()      // saves state, kills socat, closes sockets
 *
 * link 'tcp': `tokens[i].port` (consecutive from `tcpPort`, or OS-assigned when 0); 'memory': `tokens[i].link`
 * is the host end of an in-memory ByteLink and `tokens[i].openTransport()` a framed Transport on it, ready for
 * `TokenClient.open(...)`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, symlinkSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ReadStream } from 'node:tty';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { FramedTransport } from '../../protocol/framed-transport.ts';
import { memoryLinkPair } from '../../protocol/links/memory.ts';
import type { ByteLink, Transport } from '../../protocol/transport.ts';
import { ScaledClock } from '../clocks.ts';
import { SimError } from '../errors.ts';
import type { Faults } from '../faults.ts';
import type { Clock, Log, Rng } from '../ports.ts';
import { loadProfile } from '../profiles.ts';
import { SimToken } from './sim-token.ts';
import { CryptoRng, SystemClock } from './system.ts';

export type LinkKind = 'pty' | 'tcp' | 'memory';

export interface SimulatorOptions {
  count?: number;
  profile?: string;
  link: LinkKind;
  /** pty: symlink path for the device (with count > 1: PATH-0, PATH-1, ...). */
  linkPath?: string;
  /** tcp: first port (0 = let the OS choose each). */
  tcpPort?: number;
  tcpHost?: string;
  /** State directory: token i lives in DIR/token-i. In memory only when absent. */
  stateDir?: string;
  testMode?: boolean;
  /** 'real' = wall clock; 'virtual' = starts at `virtualStartMs` and runs `timeScale` times as fast. */
  time?: 'real' | 'virtual';
  virtualStartMs?: number;
  timeScale?: number;
  clock?: Clock;
  rng?: Rng;
  faults?: Faults;
  log?: Log;
  tickMs?: number;
  /** First serial sequence number (token i gets firstSerialSeq + i). Default: drawn from `rng`, so that two
   *  simulator runs do not make tokens with the same serial (registrations are keyed by serial). */
  firstSerialSeq?: number;
  userPresenceTimeoutMs?: number;
  /** pty: who owns the pseudo-terminal: socat, node-pty (no external binary), or auto (socat when on PATH). */
  ptyBackend?: PtyBackend;
}

export type PtyBackend = 'auto' | 'socat' | 'node-pty';

export interface RunningToken {
  index: number;
  serial: string;
  token: SimToken;
  /** pty: the device path to open. */
  path?: string;
  /** tcp: the port. */
  port?: number;
  /** memory: the host end of an in-memory byte link (protocol/transport.ts ByteLink, protocol/links/memory.ts). */
  link?: ByteLink;
  /** A framed report Transport to this token (memory links; for pty/tcp use protocol's openTransport). */
  openTransport?: () => Transport;
  press(slot?: number): string;
}

export interface Simulator {
  tokens: RunningToken[];
  clock: Clock;
  /** Human-readable endpoints, one per token (what `sim serve` prints). */
  endpoints(): string[];
  close(): Promise<void>;
}

function onPath(cmd: string): boolean {
  return (process.env['PATH'] ?? '').split(':').some((d) => d !== '' && existsSync(join(d, cmd)));
}

/**
 * Whether this machine can put a token on a pseudo-terminal, and how: socat on PATH, else node-pty's native
 * module (an optional dependency: it compiles from source and is skipped where no compiler is installed).
 */
export function ptySupport(): 'socat' | 'node-pty' | null {
  if (onPath('socat')) return 'socat';
  try {
    return (createRequire(import.meta.url)('node-pty') as { native: NativePty | null }).native ? 'node-pty' : null;
  } catch {
    return null;
  }
}

interface NativePty {
  open(cols: number, rows: number): { master: number; slave: number; pty: string };
}

/**
 * A PTY opened in this process through node-pty's native module (openpty(3)), for machines without socat.
 * We keep the slave descriptor open but never read it, so the host's open/close of the device never hangs up
 * the master; the line discipline goes raw through the master, which shares the slave's termios.
 */
async function openPtyNative(token: SimToken, linkPath: string | undefined): Promise<{ path: string; close: () => Promise<void> }> {
  let native: NativePty | null;
  try {
    native = (createRequire(import.meta.url)('node-pty') as { native: NativePty | null }).native;
  } catch (e) {
    throw new SimError('IO', `pty: node-pty is not usable (${(e as Error).message.split('\n')[0]}); install socat or run npm install`);
  }
  if (!native) throw new SimError('IO', 'pty: node-pty has no native PTY support on this platform; install socat');
  const { master, slave, pty } = native.open(80, 24);
  const stream = new ReadStream(master);
  stream.setRawMode(true);
  stream.on('data', (d: Buffer) => token.input(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
  stream.on('error', () => {});
  token.output = (bytes) => {
    if (!stream.destroyed) stream.write(bytes);
  };
  if (linkPath) {
    try {
      unlinkSync(linkPath);
    } catch {
      // no stale link
    }
    symlinkSync(pty, linkPath);
  }
  return {
    path: linkPath ?? pty,
    close: async () => {
      stream.destroy();
      try {
        closeSync(slave);
      } catch {
        // already closed
      }
      if (linkPath) {
        try {
          unlinkSync(linkPath);
        } catch {
          // removed by someone else
        }
      }
    },
  };
}

async function openPty(token: SimToken, linkPath: string | undefined, backend: PtyBackend = 'auto') {
  if (backend === 'node-pty' || (backend === 'auto' && !onPath('socat'))) return openPtyNative(token, linkPath);
  return openPtySocat(token, linkPath);
}

async function openPtySocat(token: SimToken, linkPath: string | undefined): Promise<{ path: string; close: () => Promise<void> }> {
  // socat owns the PTY pair: host writes to the slave come out of socat's stdout, our writes to its stdin go to
  // the host. raw,echo=0 puts the line discipline in raw mode so every byte (0x00, 0x11, 0x13...) passes.
  const ptyAddr = `pty,raw,echo=0${linkPath ? `,link=${linkPath}` : ''}`;
  let child: ChildProcess;
  try {
    child = spawn('socat', ['-d', '-d', ptyAddr, 'STDIO'], { stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    throw new SimError('IO', `pty: cannot start socat (${(e as Error).message}); install socat`);
  }
  const path = await new Promise<string>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new SimError('IO', `pty: socat did not report a PTY within 5 s (${err.trim().split('\n').pop() ?? ''})`)), 5000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new SimError('IO', `pty: cannot start socat (${e.message}); install socat (apt-get install socat)`));
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /PTY is (\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new SimError('IO', `pty: socat exited (${code}): ${err.trim().split('\n').pop() ?? ''}`));
    });
  });
  child.removeAllListeners('exit');
  child.stdout!.on('data', (d: Buffer) => token.input(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
  child.stdin!.on('error', () => {});
  token.output = (bytes) => {
    if (child.stdin!.writable) child.stdin!.write(bytes);
  };
  if (linkPath) {
    // socat reports the PTY before it creates the symlink; wait for the link (bounded).
    for (let i = 0; i < 100 && !existsSync(linkPath); i++) await new Promise((r) => setTimeout(r, 20));
  }
  return {
    path: linkPath && existsSync(linkPath) ? linkPath : path,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => {
          if (child.exitCode === null) child.kill('SIGKILL');
        }, 1000).unref();
      }),
  };
}

async function openTcp(token: SimToken, port: number, host: string): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let last: Socket | undefined;
  token.output = (bytes) => {
    if (last && !last.destroyed) last.write(bytes);
  };
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => {
      last = sock;
      token.input(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      sockets.delete(sock);
      if (last === sock) last = undefined;
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new SimError('IO', `tcp: cannot listen on ${host}:${port} (${e.code ?? e.message}); choose another --tcp port`)));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function openMemory(token: SimToken, index: number): { link: ByteLink; close: () => Promise<void> } {
  const [host, dev] = memoryLinkPair({}, `sim-${index}`);
  dev.onData((chunk) => token.input(chunk));
  token.output = (bytes) => {
    dev.write(bytes).catch(() => {});
  };
  return { link: host, close: () => dev.close() };
}

/** A random first sequence number such that `count` consecutive ones fit the format's {seq:N} field. */
export function drawFirstSerialSeq(serialFormat: string, count: number, rng: Rng): number {
  const m = /\{seq:(\d+)\}/.exec(serialFormat);
  if (!m) return 1;
  const max = Math.min(10 ** Number(m[1]) - 1, Number.MAX_SAFE_INTEGER);
  if (count > max) throw new SimError('INVALID_ARGUMENT', `count: ${count} tokens do not fit the serial format ${serialFormat}`);
  return 1 + rng.int(max - count + 1);
}

export async function startSimulator(o: SimulatorOptions): Promise<Simulator> {
  const count = o.count ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new SimError('INVALID_ARGUMENT', `count: ${count} must be 1..1000`);
  const clock = o.clock ?? (o.time === 'virtual' ? new ScaledClock(o.virtualStartMs ?? Date.now(), o.timeScale ?? 1, new SystemClock()) : new SystemClock());
  const rng = o.rng ?? new CryptoRng();
  const firstSeq = o.firstSerialSeq ?? drawFirstSerialSeq(loadProfile(o.profile ?? 'hotp-fob').serialFormat, count, rng);
  const tokens: RunningToken[] = [];
  const closers: (() => Promise<void>)[] = [];
  const timer = setInterval(() => {
    for (const t of tokens) {
      try {
        t.token.tick();
      } catch (e) {
        o.log?.log('warn', `token ${t.index}: tick failed (${(e as Error).message})`);
      }
    }
  }, o.tickMs ?? 20);
  const close = async () => {
    clearInterval(timer);
    for (const t of tokens) t.token.close();
    await Promise.all(closers.map((c) => c()));
  };
  try {
    for (let i = 0; i < count; i++) {
      const token = new SimToken({
        profile: o.profile ?? 'hotp-fob',
        ...(o.stateDir ? { stateDir: join(o.stateDir, `token-${i}`) } : {}),
        serialSeq: firstSeq + i,
        clock,
        rng,
        testMode: o.testMode ?? false,
        ...(o.faults ? { faults: o.faults } : {}),
        ...(o.log ? { log: o.log } : {}),
        ...(o.userPresenceTimeoutMs !== undefined ? { userPresenceTimeoutMs: o.userPresenceTimeoutMs } : {}),
      });
      const rt: RunningToken = { index: i, serial: token.serial, token, press: (slot) => token.press(slot) };
      tokens.push(rt);
      if (o.link === 'pty') {
        const linkPath = o.linkPath ? (count > 1 ? `${o.linkPath}-${i}` : o.linkPath) : undefined;
        const p = await openPty(token, linkPath, o.ptyBackend);
        rt.path = p.path;
        closers.push(p.close);
      } else if (o.link === 'tcp') {
        const base = o.tcpPort ?? 0;
        const p = await openTcp(token, base === 0 ? 0 : base + i, o.tcpHost ?? '127.0.0.1');
        rt.port = p.port;
        closers.push(p.close);
      } else {
        const m = openMemory(token, i);
        rt.link = m.link;
        rt.openTransport = () => new FramedTransport(m.link);
        closers.push(m.close);
      }
    }
  } catch (e) {
    await close();
    throw e;
  }
  timer.unref();
  return {
    tokens,
    clock,
    endpoints: () => tokens.map((t) => t.path ?? (t.port !== undefined ? `tcp://${o.tcpHost ?? '127.0.0.1'}:${t.port}` : `memory:${t.index}`)),
    close,
  };
}
