/** Spawns the real `tokenforge` CLI (node dist/tokenforge.js, the build) for the CLI tests; a few at a time to spare the CPU. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { builtCli } from '../../tools/build.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = builtCli(ROOT);

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: { input?: string; cwd?: string } = {}): Promise<RunResult> {
  return runProcess(process.execPath, [BIN, ...args], options);
}

export function runProcess(cmd: string, args: string[], options: { input?: string; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const stdin = options.input !== undefined ? 'pipe' : 'ignore';
    const child = spawn(cmd, args, { cwd: options.cwd ?? ROOT, stdio: [stdin, 'pipe', 'pipe'], env: { ...process.env, TOKENFORGE_DEBUG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', () => {}); // a child that exits without reading its input is not our failure
      child.stdin.end(options.input);
    }
  });
}

/** Runs `jobs` with at most `limit` in flight; results in order. */
export async function pool<T>(jobs: (() => Promise<T>)[], limit = 3): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}
