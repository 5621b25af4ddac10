/**
 * Shared helpers of the provisioner tests: real child processes (the verifier, `sim serve --pty`) started
 * through the real CLI, and stopped/cleaned by the caller.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { builtCli } from '../../tools/build.ts';

export const CLI = builtCli(join(import.meta.dirname, '../..'));

export interface RunningVerifier {
  url: string;
  adminKey: string;
  verifyKey: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Runs `node dist/tokenforge.js ARGS` (the build) to completion. */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...opts.env }, input: opts.input ?? '', timeout: opts.timeoutMs ?? 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Spawns a long-running CLI process and resolves once a stdout line matches `ready`. */
export function startCli(args: string[], ready: RegExp, timeoutMs = 30_000): Promise<{ child: ChildProcess; match: RegExpMatchArray; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGKILL');
      reject(new Error(`timeout waiting for ${ready} from ${args.join(' ')}: ${out} ${err}`));
    }, timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.match(ready);
      if (m && !done) {
        done = true;
        clearTimeout(timer);
        resolve({ child, match: m, output: () => out });
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited ${code}: ${err}`));
    });
  });
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill(signal);
  });
}

/** Starts `tokenforge verifier serve` on a free port with a fresh SQLite database under `dir`. */
export async function startVerifier(dir: string): Promise<RunningVerifier> {
  const db = join(dir, 'verifier.db');
  const keyFile = join(dir, 'master.key');
  const mk = (role: string): string => {
    const r = runCli(['verifier', 'keys', 'create', '--db', db, '--role', role, '--label', `provision-test-${role}`]);
    if (r.status !== 0) throw new Error(`keys create: ${r.stderr}`);
    return r.stdout.trim();
  };
  const adminKey = mk('admin');
  const verifyKey = mk('verify');
  const { child, match } = await startCli(['verifier', 'serve', '--db', db, '--port', '0', '--master-key-file', keyFile, '--backoff-ms', '0'], /listening on (http:\/\/\S+)/);
  const url = match[1]!;
  return { url, adminKey, verifyKey, child, stop: () => stopChild(child) };
}

/** POST /v1/verify; returns the result string. */
export async function verifyCode(v: RunningVerifier, serial: string, code: string): Promise<string> {
  const res = await fetch(`${v.url}/v1/verify`, { method: 'POST', headers: { authorization: `Bearer ${v.verifyKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ serial, code }) });
  const j = (await res.json()) as { result?: string; error?: { code: string } };
  return j.result ?? `error:${j.error?.code ?? res.status}`;
}

export async function getToken(v: RunningVerifier, serial: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${v.url}/v1/tokens/${encodeURIComponent(serial)}`, { headers: { authorization: `Bearer ${v.adminKey}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Runs a test child script under tsx, collecting its stdout lines; SIGKILLs it after `killAfterLines` lines. */
export function runKillableChild(script: string, args: readonly string[], killAfterLines: number | null): Promise<{ lines: string[]; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let buf = '';
    let err = '';
    let killed = false;
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (killAfterLines !== null && !killed && lines.length >= killAfterLines) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL' || code === 0) resolve({ lines, killed: signal === 'SIGKILL' });
      else reject(new Error(`${script} exited ${code}: ${err}`));
    });
  });
}
