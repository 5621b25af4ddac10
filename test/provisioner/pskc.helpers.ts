/** Helpers for the PSKC/provisioner-source tests: real processes (the CLI, python3-pskc, pskctool) and temp dirs. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { builtCli } from '../../tools/build.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const VECTORS = resolve(ROOT, 'conformance/vectors/pskc');
const BIN = builtCli(ROOT);
/** Debian's python3 (python3-pskc lives there, not in a pyenv interpreter). */
export const PYTHON = '/usr/bin/python3';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], input = ''): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TOKENFORGE_DEBUG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined); // the child may exit before reading its input (EPIPE)
    child.stdin.end(input);
  });
}

export const tokenforge = (args: string[], input = ''): Promise<Run> => run(process.execPath, [BIN, ...args], input);

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
